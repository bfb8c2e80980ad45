"""What a cell's numbers depend on, as one hash: its method's code, its task, the engine code its family runs
and the settings that change a run. Computed from files alone (no torch import), so the scheduler can tell
in a second which cells are stale, and `verify --stale` can say which committed records no longer match.

The engine part is the static import closure of the runner and of the family's protocol module inside the
`benchmark` package (plus the packages a run loads by name: data sources, shifts, metrics, scorers), so an
edit to the aggregation, the CLI or the site changes no fingerprint, and an edit to one family's protocol
changes only that family's cells. tests/test_fingerprint.py checks the closure covers every module a run
really imports.
"""

from __future__ import annotations

import ast
import hashlib
import json
from functools import cache
from pathlib import Path

from benchmark import PROTOCOL_VERSION, ROOT

PACKAGE = ROOT / "benchmark"
METHODS_DIR = ROOT / "methods"
# Packages a run imports by name at run time (registries, data sources), so no static import names them all.
LOADED_BY_NAME = ("benchmark/data", "benchmark/shifts", "benchmark/metrics", "benchmark/scorers")
NOT_TRAINING = ("benchmark/data/real",)  # real-data adapters: never read by an embedded task
ENTRY = "benchmark/runner.py"


def _module_file(name: str) -> Path | None:
    """The file of a dotted module name inside this repository (a package's __init__), else None."""
    parts = name.split(".")
    if parts[0] not in ("benchmark", "methods"):
        return None
    base = ROOT.joinpath(*parts)
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _imports(path: Path) -> set[Path]:
    """Repository files a module imports statically (absolute and relative imports)."""
    tree = ast.parse(path.read_bytes(), filename=str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts) if path.is_relative_to(ROOT) else ""
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            for i in range(1, len(name.split(".")) + 1):  # a package's __init__ runs too
                file = _module_file(".".join(name.split(".")[:i]))
                if file is not None:
                    found.add(file)
    return found


def closure(*starts: Path) -> set[Path]:
    """Every repository file reachable from `starts` by static imports."""
    seen: set[Path] = set()
    todo = [p.resolve() for p in starts]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        todo.extend(p.resolve() for p in _imports(path) if p.resolve() not in seen)
    return seen


def _excluded(rel: str) -> bool:
    return any(rel == x or rel.startswith(x + "/") for x in NOT_TRAINING)


@cache
def engine_files(family: str) -> tuple[str, ...]:
    """The engine files (repository-relative) a run of `family` depends on. Other families' protocol
    modules are left out: the families package maps names to modules and imports them lazily."""
    files = closure(ROOT / ENTRY, PACKAGE / "families" / f"{family}.py")
    for folder in LOADED_BY_NAME:
        files |= {p.resolve() for p in (ROOT / folder).rglob("*.py")}
    rel = {str(p.relative_to(ROOT)) for p in files}
    other = {f"benchmark/families/{f.stem}.py" for f in (PACKAGE / "families").glob("*.py")} - {
        f"benchmark/families/{family}.py", "benchmark/families/__init__.py"}
    return tuple(sorted(r for r in rel - other if not r.startswith("methods/") and not _excluded(r)))


@cache
def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def method_files(method_file: Path) -> tuple[str, ...]:
    """The method's own file and every repository file it imports (other methods, engine helpers such as
    benchmark/memory.py that only some methods use)."""
    own = Path(method_file).resolve()
    files = closure(own) | {own}
    return tuple(sorted(str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p) for p in files))


def cell_fingerprint(method_file: Path, family: str, task_file: Path, settings: dict) -> str:
    """One hash of everything that can move a cell's numbers. The task file as written (its defaults and
    profiles are engine code, hashed with the engine); `settings`: profile and kernel path."""
    parts = {
        "protocol": PROTOCOL_VERSION,
        "method": {f: _file_hash(ROOT / f) for f in method_files(method_file)},
        "engine": {f: _file_hash(ROOT / f) for f in engine_files(family)},
        "task": hashlib.sha256(Path(task_file).read_bytes()).hexdigest(),
        "settings": settings,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:20]

