"""Run records: determinism, provenance, and failures that stay inside their own cell."""

import json

import pytest
import torch

from benchmark.method import Method
from benchmark.registry import METHODS
from benchmark.results.aggregate import aggregate
from benchmark.runner import run_cell, run_one
from benchmark.seeding import init_seed


def metrics(record):
    return {(m.metric, m.selection): m.value for m in record["metrics"]}


def test_same_seed_same_numbers_other_seed_other_numbers():
    a = run_one("elr", "noisy_digits_sym40", seed=3, profile="smoke")
    b = run_one("elr", "noisy_digits_sym40", seed=3, profile="smoke")
    c = run_one("elr", "noisy_digits_sym40", seed=4, profile="smoke")
    assert metrics(a) == metrics(b)
    assert a["details"]["curves"] == b["details"]["curves"]
    assert metrics(a) != metrics(c)


def test_record_carries_provenance(tmp_path):
    path = run_cell("erm", "noisy_digits_sym40", [0], profile="smoke", out=tmp_path, progress=False)
    record = json.loads(path.read_text())["records"][0]
    prov = record["provenance"]
    for key in ("git_rev", "protocol_version", "spec_hash", "packages", "device", "wall_seconds"):
        assert key in prov
    assert prov["packages"]["torch"] and prov["wall_seconds"] > 0
    assert record["status"] == "ok" and record["hparams"] == {"lr_scale": 1.0, "weight_decay": 0.0}


class Exploding(Method):
    def loss(self, batch, out):
        raise RuntimeError("the method broke")


class Diverging(Method):
    def loss(self, batch, out):
        return super().loss(batch, out) * float("nan")


@pytest.fixture
def broken_methods(monkeypatch):
    for name, cls in {"exploding": Exploding, "diverging": Diverging}.items():
        cls.name = name
        monkeypatch.setitem(METHODS._items, name, cls)
        monkeypatch.setitem(METHODS._files, name, "tests/test_runner.py")


def test_failures_are_recorded_and_the_grid_goes_on(tmp_path, broken_methods):
    for method in ("erm", "exploding", "diverging"):
        run_cell(method, "noisy_digits_sym40", [0, 1], profile="smoke", out=tmp_path / "records", progress=False)
    records = {m: json.loads((tmp_path / "records" / "noisy_digits_sym40" / f"{m}.json").read_text())["records"]
               for m in ("exploding", "diverging")}
    assert all(r["status"] == "failed" for rs in records.values() for r in rs)
    assert "the method broke" in records["exploding"][0]["error"]
    assert "non-finite loss" in records["diverging"][0]["error"]

    cells = {f"noisy_digits_sym40--{m}": {"task": "noisy_digits_sym40", "method": m, "family": "noisy_labels"}
             for m in ("erm", "exploding", "diverging")}
    aggregate(cells, tmp_path / "records", tmp_path)
    import pandas as pd

    board = pd.read_parquet(tmp_path / "leaderboard.parquet")
    failed = board[(board.method == "diverging") & (board.metric == "test_acc")].iloc[0]
    assert failed["n_failed"] == 2 and "non-finite loss" in failed["error"]
    ok = board[(board.method == "erm") & (board.metric == "test_acc") & (board.selection == "noisy_val")].iloc[0]
    assert ok["n"] == 2 and ok["n_failed"] == 0


def test_nothing_computed_is_lost_when_one_seed_fails(tmp_path, broken_methods):
    class FailsOnSeedOne(Method):
        def setup(self):
            if torch.initial_seed() == init_seed(1, 0):
                raise RuntimeError("seed one")

    FailsOnSeedOne.name = "flaky"
    METHODS._items["flaky"] = FailsOnSeedOne
    try:
        path = run_cell("flaky", "noisy_digits_sym40", [0, 1], profile="smoke", out=tmp_path, progress=False)
    finally:
        del METHODS._items["flaky"]
    statuses = [r["status"] for r in json.loads(path.read_text())["records"]]
    assert statuses == ["ok", "failed"]
