"""Result sets on disk: where they are, reading their parquet files (checked and cached).

Reads parquet only: no torch, no `benchmark` import. A file that is missing, unreadable, of an
unknown schema version or lacking columns becomes a one-line problem the pages show.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import streamlit as st

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_KEY = b"benchmark_schema_version"
SCHEMAS = {"1"}
"""Schema versions this site understands."""
ENV = "BENCHMARK_RESULTS"
WRITTEN_KEYS = (b"benchmark_written", b"written_at", b"created_at")
"""Parquet metadata keys that may carry when the aggregation wrote the file (ISO 8601)."""
REVISION_KEYS = (b"benchmark_git_rev", b"git_rev")

# file -> columns it must have; the other columns of the data contract are optional.
REQUIRED = {
    "runs": ["family", "task", "method", "seed", "metric", "value"],
    "leaderboard": ["family", "task", "method", "metric", "mean"],
    "profile": ["method", "family"],
    "details": ["family", "task", "method", "seed", "name", "json"],
    "methods": ["method"],
}
# optional columns and the value they take when absent
DEFAULTS = {
    "runs": {
        "selection": "",
        "scorer": "",
        "domain": "",
        "status": "ok",
        "error": "",
        "hparam_draw": 0,
        "primary": "",
        "hparams": "{}",
        "wall_seconds": float("nan"),
        "parameters": float("nan"),
        "profile": "",
        "git_rev": "",
        "protocol_version": "",
        "spec_hash": "",
        "device": "",
    },
    "leaderboard": {
        "selection": "",
        "scorer": "",
        "domain": "",
        "std": float("nan"),
        "n": 0,
        "n_failed": 0,
        "error": "",
        "gain_vs_erm": float("nan"),
        "wall_seconds": float("nan"),
        "parameters": float("nan"),
    },
    "details": {"hparam_draw": 0},
    "profile": {},
    "methods": {},
}
TEXT = {
    "family",
    "task",
    "method",
    "metric",
    "selection",
    "scorer",
    "domain",
    "status",
    "error",
    "primary",
    "hparams",
    "profile",
    "git_rev",
    "protocol_version",
    "spec_hash",
    "device",
    "name",
    "json",
    "verdict",
    "selection_rule",
    "phase",
    "title",
    "authors",
    "venue",
    "url",
    "bibtex",
    "uses",
}


def result_sets() -> dict[str, Path]:
    """Label -> directory of every result set: `results/` (or $BENCHMARK_RESULTS) first, then the sets
    beside it (`results-<profile>/`) and inside it (`results/<profile>/`, e.g. the real-data pipeline's
    `results/full/`) that hold a leaderboard or runs file."""
    env = os.environ.get(ENV)
    main = Path(env).expanduser() if env else ROOT / "results"
    sets = {f"{main.name} (default)": main}
    beside = sorted(main.parent.glob(f"{main.name}-*")) if main.parent.is_dir() else []
    inside = sorted(main.iterdir()) if main.is_dir() else []
    for path in beside + inside:
        if path.is_dir() and any((path / f"{name}.parquet").exists() for name in ("leaderboard", "runs")):
            sets.setdefault(path.name[len(main.name) + 1 :] if path in beside else path.name, path)
    return sets


@dataclass
class ResultSet:
    path: Path
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    written: datetime | None = None
    written_from: str = ""
    """Where `written` comes from: the files' metadata or the commit that holds them (never file times)."""
    meta: dict = field(default_factory=dict)
    """Parquet metadata per file (benchmark keys only)."""
    memo: dict = field(default_factory=dict)
    """Views derived from the frames, computed once per loaded set (see `derived`)."""

    def get(self, name: str) -> pd.DataFrame | None:
        return self.frames.get(name)

    def derived(self, key, compute):
        if key not in self.memo:
            self.memo[key] = compute()
        return self.memo[key]


def load(path: Path) -> ResultSet:
    """The result set in `path`, cached until one of its files changes."""
    stamps = tuple((name, _stamp(path / f"{name}.parquet")) for name in REQUIRED)
    return _load(str(path), stamps)


def _stamp(file: Path) -> tuple[int, int] | None:
    try:
        s = file.stat()
    except OSError:
        return None
    return s.st_mtime_ns, s.st_size


@st.cache_resource(show_spinner="Loading results…", max_entries=16)
def _load(path: str, stamps: tuple) -> ResultSet:
    # cache_resource hands out the same frames to every session: pages must never modify them in place.
    rs = ResultSet(Path(path))
    for name, stamp in stamps:
        file = rs.path / f"{name}.parquet"
        if stamp is None:
            rs.problems[name] = f"`{file}` does not exist: `dvc repro` produces it (or set ${ENV})."
            continue
        frame, problem = read(file, name)
        if problem:
            rs.problems[name] = problem
        else:
            rs.frames[name] = frame
            rs.meta[name] = _metadata(file)
    rs.written, rs.written_from = written(rs)
    return rs


def _metadata(file: Path) -> dict:
    meta = pq.read_schema(file).metadata or {}
    wanted = {*WRITTEN_KEYS, *REVISION_KEYS}
    return {
        k.decode(): v.decode(errors="replace") for k, v in meta.items() if k.startswith(b"benchmark") or k in wanted
    }


def written(rs: ResultSet) -> tuple[datetime | None, str]:
    """When the results were written: a metadata key of the aggregation's files, else the time of the git
    commit that holds runs.parquet (a fresh clone's file times are the clone's, not the results')."""
    for name in ("leaderboard", "runs"):
        for key in WRITTEN_KEYS:
            text = rs.meta.get(name, {}).get(key.decode())
            try:
                return datetime.fromisoformat(text), f"{name}.parquet metadata"
            except (TypeError, ValueError):
                continue
    for name in ("runs", "leaderboard"):
        when = _commit_time(rs.path / f"{name}.parquet")
        if when:
            return when, f"git commit of {name}.parquet"
    return None, ""


def _commit_time(file: Path) -> datetime | None:
    if not file.exists():
        return None
    try:
        out = subprocess.run(
            ["git", "log", "-1", "--format=%cI", "--", file.name],
            cwd=file.parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
        return datetime.fromisoformat(out) if out else None
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def revision(rs: ResultSet) -> list[str]:
    """Git revisions the results come from: the files' metadata, else the runs' provenance column."""
    for name in ("leaderboard", "runs"):
        for key in REVISION_KEYS:
            if rs.meta.get(name, {}).get(key.decode()):
                return [rs.meta[name][key.decode()]]
    runs = rs.frames.get("runs")
    if runs is None or "git_rev" not in runs:
        return []
    return sorted(r for r in runs["git_rev"].unique() if r)


def read(file: Path, name: str) -> tuple[pd.DataFrame | None, str | None]:
    """(frame, None) or (None, what is wrong with the file)."""
    try:
        parquet = pq.ParquetFile(file)
        meta = parquet.schema_arrow.metadata or {}
    except Exception as exc:  # pyarrow raises several types for damaged files
        return None, f"`{file}` is not a readable parquet file ({type(exc).__name__}: {exc})."
    version = meta.get(SCHEMA_KEY)
    if version is None:
        return None, (
            f"`{file}` carries no schema version: it was written by an older benchmark. "
            "Regenerate it with `dvc repro aggregate`."
        )
    if version.decode(errors="replace") not in SCHEMAS:
        return None, (
            f"`{file}` has schema version {version.decode(errors='replace')}; this site understands "
            f"version {', '.join(sorted(SCHEMAS))}. Update the site or regenerate the results."
        )
    try:
        frame = parquet.read().to_pandas()
    except Exception as exc:
        return None, f"`{file}` could not be read ({type(exc).__name__}: {exc})."
    missing = [c for c in REQUIRED[name] if c not in frame.columns]
    if missing:
        return None, f"`{file}` lacks the column(s) {', '.join(missing)}."
    return _normalize(frame, name), None


def _normalize(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    for column, default in DEFAULTS[name].items():
        if column not in frame.columns:
            frame[column] = default
    for column in TEXT & set(frame.columns):
        frame[column] = frame[column].fillna("").astype(str)
    for column in ("value", "mean", "std", "wall_seconds", "parameters"):
        if column in frame.columns:
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame
