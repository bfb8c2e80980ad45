"""The run-record file schema (pydantic): what aggregate accepts, checked file by file.

results/records/<task>/<method>.json = {"task", "method", "records": [record, ...]}. Unknown keys
are allowed (records grow new fields); what the tables need is required and typed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from benchmark.errors import BenchmarkError


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class MetricRow(_Open):
    metric: str
    value: float | None
    selection: str = ""
    scorer: str = ""
    domain: str = ""


class Provenance(_Open):
    wall_seconds: float | None = None
    git_rev: str | None = ""
    protocol_version: str = ""
    spec_hash: str = ""
    device: str = ""


class RunRecord(_Open):
    family: str
    task: str
    method: str
    seed: int = Field(ge=0)
    hparam_draw: int = Field(ge=0)
    hparams: dict[str, Any]
    profile: str
    status: Literal["ok", "failed"]
    error: str | None = None
    metrics: list[MetricRow]
    details: dict[str, Any] = {}
    parameters: int = 0
    primary: str
    provenance: Provenance
    phase: Literal["search", "final"] = "final"
    selection_rule: str | None = None


class CellFile(_Open):
    task: str
    method: str
    records: list[RunRecord]


def read_cell_file(path: Path) -> list[dict]:
    """The records of one cell file, validated; any problem is one BenchmarkError naming the file."""
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BenchmarkError(f"{path}: corrupt run record ({exc.msg} at line {exc.lineno}); "
                             "rerun its cell") from None
    except UnicodeDecodeError:
        raise BenchmarkError(f"{path}: not UTF-8 text; rerun its cell") from None
    if not isinstance(payload, dict):
        raise BenchmarkError(f"{path}: expected a JSON object with task, method and records, "
                             f"got a JSON {type(payload).__name__}; rerun its cell")
    try:
        cell = CellFile.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise BenchmarkError(f"{path}: field {where!r}: {first['msg']}; rerun its cell") from None
    return [record.model_dump() for record in cell.records]
