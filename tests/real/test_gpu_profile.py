"""benchmarks/gpu_profile.py on the CPU with --tiny: every path runs; the CUDA-only numbers say n/a."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from benchmark import ROOT
from benchmark.scorers import SCORERS
from benchmarks.gpu_profile import agreement
from benchmarks.gpu_profile_train import ROWS


@pytest.mark.slow
def test_tiny_profile_runs_every_path_on_the_cpu(tmp_path):
    out = tmp_path / "profile.json"
    done = subprocess.run([sys.executable, "benchmarks/gpu_profile.py", "--tiny", "--json", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=240,
                          env={**os.environ, "BENCHMARK_DEVICE": "cpu"})
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["device"] == "cpu" and "errors" not in result
    rows = result["throughput"]
    assert [(r["model"], r["method"], r["amp"]) for r in rows] == [
        (model, name, amp) for model in ("resnet18", "resnet50") for name, _, amp in ROWS]
    for r in rows:
        assert "error" not in r and r["images_per_s"] > 0
        assert r["busy_kernel"] is None and r["busy_nvml"] is None and r["peak_gib"] is None  # CUDA only
    assert {s["scorer"] for s in result["scorers"]} == {"(forward passes)", *SCORERS.names()}
    (cell,) = result["cells"]
    assert cell["agree"] and cell["against"] == "cpu bf16" and cell["status"] == ["ok", "ok"]
    grid = result["grid"]
    for pool in [grid["cpu_one_core"], *grid["device_pools"]]:
        assert pool["ok"] == pool["runs"] > 0 and pool["runs_per_s"] > 0, pool["problems"]
    assert grid["device_pools"][0]["workers"] == 1
    assert all(t["value"] is None and t["met"] is None for t in result["targets"].values())
    assert "not available" in done.stdout and "resnet50" in done.stdout


def record(values: dict, status: str = "ok") -> dict:
    return {"status": status, "primary": "test_acc", "details": {},
            "metrics": [{"metric": k, "value": v, "selection": "s", "scorer": "", "domain": ""}
                        for k, v in values.items()]}


def test_agreement_judges_metrics_by_the_stated_tolerance_and_leaves_diagnostics_out():
    cpu = record({"test_acc": 0.80, "nll": 1.0, "hessian_top_eig": 10.0})
    near = record({"test_acc": 0.82, "nll": 1.04, "hessian_top_eig": 14.0})  # fp32: 0.03 + 0.05 |cpu|
    c = agreement(cpu, near, "off")
    assert c["agree"] and c["primary"] == "test_acc/s" and c["diagnostics_worst_rel"] == 0.4
    assert not agreement(cpu, record({"test_acc": 0.70, "nll": 1.0, "hessian_top_eig": 10.0}), "off")["agree"]
    assert agreement(cpu, record({"test_acc": 0.70, "nll": 1.0, "hessian_top_eig": 10.0}), "bf16")["agree"]
    assert not agreement(cpu, record({"test_acc": 0.80, "nll": 1.0}), "off")["agree"]  # a metric missing
    assert not agreement(cpu, record({"test_acc": 0.80, "nll": 1.0, "hessian_top_eig": 10.0}, "failed"),
                         "off")["agree"]
