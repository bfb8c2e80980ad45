"""What a method pull request holds, and the `grid` and `scope` lines of `check` that hold it to that.

A pull request adding or changing method NAME holds methods/NAME.py, tests/methods/test_NAME.py, both
generated grids (grid.yaml, full/grid.yaml) and the method's records (results/records/<task>/NAME.json),
nothing else (CONTRIBUTING.md).
"""

from __future__ import annotations

import os
import subprocess
from contextlib import contextmanager

from benchmark import ROOT
from benchmark.errors import BenchmarkError
from benchmark.submission.lines import FAIL, PASS, Line


def _rel(name: str) -> str:
    return f"methods/{name}.py"


FULL_GRID = "full/grid.yaml"
FULL_COMMAND = "python -m benchmark grid --tasks-dir full/tasks --file full/grid.yaml"


@contextmanager
def _tasks_from(directory):
    """Compute cells against another task folder (the real-data profile's full/tasks)."""
    previous = os.environ.get("BENCHMARK_TASKS_DIR")
    os.environ["BENCHMARK_TASKS_DIR"] = str(directory)
    try:
        yield
    finally:
        os.environ.pop("BENCHMARK_TASKS_DIR") if previous is None else os.environ.update(
            BENCHMARK_TASKS_DIR=previous)


def _grid_problem(name: str, path, command: str) -> tuple[str | None, list[str]]:
    from benchmark.grid import compute_cells, grid_drift, read_cells

    own = sorted(compute_cells([name]))
    listed = read_cells(path) if path.exists() else {}
    missing = [c for c in own if c not in listed]
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        return (f"{path.relative_to(ROOT)} lacks {len(missing)} cell(s) of '{name}' ({shown}); run "
                f"`{command}` and commit it"), own
    drift = grid_drift(path)
    if drift:
        drift = drift.replace(path.name, str(path.relative_to(ROOT)), 1)
        drift = drift.replace("`python -m benchmark grid`", f"`{command}`")
    return drift, own


def grid_line(name: str) -> Line:
    """Both generated grids list the method's cells: grid.yaml (embedded) and full/grid.yaml (real data)."""
    from benchmark.grid import GRID_FILE

    full_tasks = ROOT / "full" / "tasks"
    try:
        problem, own = _grid_problem(name, GRID_FILE, "python -m benchmark grid")
        if problem is None and (ROOT / FULL_GRID).exists() and full_tasks.is_dir():
            with _tasks_from(full_tasks):
                problem, full = _grid_problem(name, ROOT / FULL_GRID, FULL_COMMAND)
        else:
            full = []
    except BenchmarkError as exc:
        return Line("grid", FAIL, str(exc))
    if problem:
        return Line("grid", FAIL, problem)
    also = f" and {FULL_GRID} its {len(full)}" if full else ""
    return Line("grid", PASS, f"{GRID_FILE.name} lists its {len(own)} cell(s){also}, matching the registry; "
                              f"`python -m benchmark train` writes results/records/<task>/{name}.json for each")


def changed_files(base: str, root=ROOT) -> list[str]:
    """Files changed since the merge base of `base` and HEAD: committed, uncommitted and untracked."""
    def git(*args):
        r = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
        if r.returncode:
            raise BenchmarkError(f"--base {base}: git {args[0]} failed: {(r.stderr or r.stdout).strip()}")
        return r.stdout.split()

    merge_base = git("merge-base", base, "HEAD")[0]
    untracked = git("ls-files", "--others", "--exclude-standard")
    return sorted(set(git("diff", "--name-only", merge_base)) | set(untracked))


SUBMISSION = "the method, its test, grid.yaml, full/grid.yaml and the method's records"


def submitted(path: str, names: list[str]) -> bool:
    """Whether a method pull request may change `path` (CONTRIBUTING.md, "What a pull request holds")."""
    if path in ("grid.yaml", "full/grid.yaml"):
        return True
    parts = path.split("/")
    return any(path in (_rel(n), f"tests/methods/test_{n}.py") or (
        len(parts) == 4 and parts[:2] == ["results", "records"] and parts[3] == f"{n}.json") for n in names)


def scope_line(names: list[str], changed: list[str], base: str) -> Line:
    extra = [p for p in changed if not submitted(p, names)]
    if extra:
        return Line("scope", FAIL, f"changed since {base} beyond {SUBMISSION}: {', '.join(extra)}; a method "
                                   "pull request hand-edits nothing else (open engine changes separately)")
    return Line("scope", PASS, f"changed since {base}: {', '.join(changed) or 'nothing'}")
