"""results/methods.parquet: what the site shows about each method (it cannot import methods: they import torch)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pandas as pd

from benchmark.registry import METHODS

CITATION = ("title", "authors", "venue", "url", "bibtex")
"""Citation metadata every method class declares (benchmark/method.py); "" where one does not yet."""


def method_catalog() -> pd.DataFrame:
    rows = []
    for name in METHODS.names():
        cls = METHODS.get(name)
        hparams = {k: {"default": hp.default, "space": str(hp.space), "doc": hp.doc} for k, hp in cls.hparams.items()}
        rows.append({
            "method": name,
            "families": ",".join(cls.families),
            "paper": cls.paper,
            "doc": (importlib.import_module(cls.__module__).__doc__ or "").strip(),
            "hparams": json.dumps(hparams),
            "extra_cost": cls.extra_cost,
            "needs_domains": cls.needs_domains,
            "source_file": cls.source_file,
            **{name: getattr(cls, name, "") or "" for name in CITATION},
            "year": int(getattr(cls, "year", 0) or 0),
            "uses": ",".join(getattr(cls, "uses", ()) or ()),
        })
    return pd.DataFrame(rows)


def write_catalog(out_dir: Path) -> Path:
    from benchmark.results.aggregate import write_parquet

    path = Path(out_dir) / "methods.parquet"
    write_parquet(method_catalog(), path)
    return path
