"""Load `tasks/<name>.yaml` into a validated spec. A task is named by its file stem."""

from __future__ import annotations

import hashlib
import json
import os
from functools import cache
from pathlib import Path

import yaml
from pydantic import ValidationError

from benchmark import FAMILIES, ROOT
from benchmark.errors import BenchmarkError
from benchmark.spec import TaskSpec, deep_merge, describe_error


def tasks_dir() -> Path:
    """`tasks/`, or BENCHMARK_TASKS_DIR (the real-data profile keeps its tasks in full/tasks/)."""
    return Path(os.environ.get("BENCHMARK_TASKS_DIR", ROOT / "tasks"))


PROFILES = {
    "default": {},
    # A few seconds per cell: proves every path runs, measures nothing.
    "smoke": {"train": {"epochs": 1}, "data": {"limit": 400}},
}


def task_names(directory: Path | None = None) -> list[str]:
    return sorted(p.stem for p in (directory or tasks_dir()).glob("*.yaml"))


def task_path(name: str, directory: Path | None = None) -> Path:
    directory = directory or tasks_dir()
    path = directory / f"{name}.yaml"
    if not path.exists():
        known = ", ".join(task_names(directory)) or "(none)"
        raise BenchmarkError(f"unknown task '{name}'; known tasks: {known}")
    return path


class UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (plain YAML keeps the last silently)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first at line {seen[key] + 1})", key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, UniqueKeyLoader.construct_mapping)


def read_yaml(path: Path) -> dict:
    try:
        raw = yaml.load(path.read_bytes().decode("utf-8"), Loader=UniqueKeyLoader)  # noqa: S506 (a safe loader)
    except UnicodeDecodeError as exc:
        raise BenchmarkError(f"{_rel(path)}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
                             f"{exc.start}); save it as UTF-8") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise BenchmarkError(f"{_rel(path)}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from exc
    except OSError as exc:
        raise BenchmarkError(f"{_rel(path)}: cannot read: {exc.strerror}") from exc
    if not isinstance(raw, dict):
        raise BenchmarkError(f"{_rel(path)}: expected a mapping of keys (family, data, model, train, ...), "
                             f"got {type(raw).__name__}")
    return raw


def parse_task(raw: dict, where: str, profile: str = "default") -> TaskSpec:
    from benchmark.families import spec_class

    family = raw.get("family")
    if family not in FAMILIES:
        raise BenchmarkError(f"{where}: field 'family' = {family!r}: expected one of {', '.join(FAMILIES)}")
    if profile not in PROFILES:
        raise BenchmarkError(f"unknown profile '{profile}'; known profiles: {', '.join(PROFILES)}")
    cls = spec_class(family)
    try:
        cls.model_validate(raw)  # validate the file as written before merging overrides
        merged = deep_merge(deep_merge(raw, PROFILES[profile]), raw.get("profiles", {}).get(profile, {}))
        return cls.model_validate(merged)
    except ValidationError as exc:
        raise BenchmarkError(f"{where}: {describe_error(exc)}") from None


def load_task(name: str, profile: str = "default") -> TaskSpec:
    return _load(task_path(name), profile)


@cache
def _load(path: Path, profile: str) -> TaskSpec:
    return parse_task(read_yaml(path), _rel(path), profile)


def spec_hash(spec: TaskSpec) -> str:
    return hashlib.sha256(json.dumps(spec.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:12]


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)
