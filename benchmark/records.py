"""Run records: what one (method, task, seed, hparam draw) produced, with its provenance."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RECORD_SCHEMA = 1


@dataclass
class Metric:
    """One number. `selection` says which rule chose the checkpoint/draw it comes from;
    `scorer` names the OOD scorer; `domain` a per-domain/per-experience/per-OOD-set breakdown.
    Empty strings mean 'not applicable' (they group cleanly in pandas)."""

    metric: str
    value: float
    selection: str = ""
    scorer: str = ""
    domain: str = ""


@dataclass
class Result:
    metrics: list[Metric]
    details: dict[str, Any] = field(default_factory=dict)
    """Curves, accuracy matrices, ROC points...: kept in the record for the site, not in the leaderboard."""
    parameters: int = 0


def search_result(val_acc: float, selection: str, by_domain: dict[str, float] | None = None) -> Result:
    """What a search run records: its validation score (overall and per domain), nothing that saw test data."""
    rows = [Metric("val_acc", val_acc, selection=selection)]
    rows += [Metric("val_acc", v, selection=selection, domain=d) for d, v in (by_domain or {}).items()]
    return Result(metrics=rows)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    raise TypeError(f"cannot store {type(value).__name__} in a run record")


PHASES = ("search", "final")
"""A search run scores a hyperparameter draw on the search seeds; a final run reports, on fresh seeds."""


def run_key(record: dict) -> tuple[str, int, int]:
    """What identifies a run inside its cell: phase, seed, hyperparameter draw."""
    return record.get("phase", "final"), int(record["seed"]), int(record.get("hparam_draw", 0))


def read_cell(path: Path) -> list[dict]:
    """The records of a cell file; [] when the file is missing or unreadable (it is then rerun)."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    records = payload.get("records") if isinstance(payload, dict) else None
    return [r for r in records if isinstance(r, dict) and "seed" in r] if isinstance(records, list) else []


def write_cell(path: Path, task: str, method: str, records: list[dict]) -> bool:
    """Write a cell file with its records in run order; False (and no write) when nothing changed, so an
    unchanged cell keeps its file, and git status shows exactly the cells that moved."""
    order = sorted(records, key=lambda r: (PHASES.index(run_key(r)[0]), *run_key(r)[1:]))
    # One compact line per run: a grid of ten thousand runs stays small in git, and adding a run to a cell
    # changes one line of its file, not the whole file.
    lines = ",\n".join(json.dumps(r, separators=(",", ":"), default=_jsonable) for r in order)
    head = json.dumps({"task": task, "method": method}, separators=(",", ":"))[:-1]
    text = f'{head},"records":[\n{lines}\n]}}\n'
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return True


def merge_records(existing: list[dict], new: list[dict]) -> list[dict]:
    """`existing` with every run of `new` added or replaced (same phase, seed and draw)."""
    merged = {run_key(r): r for r in existing}
    merged.update((run_key(r), r) for r in new)
    return list(merged.values())


def clean_temporary(folder: Path) -> int:
    """Remove the `.<cell>.json.<pid>.tmp` files a killed writer left behind; how many there were."""
    stale = list(Path(folder).rglob(".*.json.*.tmp")) if Path(folder).exists() else []
    for tmp in stale:
        tmp.unlink(missing_ok=True)
    return len(stale)


def plain(record: dict) -> dict:
    """A record as JSON would give it back (metrics as dicts): what crosses between processes."""
    return json.loads(json.dumps(record, default=_jsonable))
