"""The DVC-native review of results works on the committed default grid: metrics, plots, experiments."""

import json
import shutil
import subprocess
import sys

import pytest
import yaml

from benchmark import FAMILIES, ROOT

pytestmark = pytest.mark.skipif(
    shutil.which("git") is None or subprocess.run([sys.executable, "-c", "import dvc"]).returncode != 0
    or not (ROOT / ".git").exists(), reason="needs dvc and a git checkout")


def dvc(*args: str) -> str:
    r = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_dvc_yaml_declares_the_summary_and_the_curves():
    aggregate = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["aggregate"]
    assert [next(iter(m)) for m in aggregate["metrics"]] == ["results/summary.json"]
    assert {next(iter(p)) for p in aggregate["plots"]} == {
        "results/plots/noisy_curves.csv", "results/plots/cl_accuracy.csv", "results/plots/roc.csv"}


def test_metrics_show_lists_every_family():
    shown = json.loads(dvc("metrics", "show", "--json"))
    summary = next(iter(shown.values()))["data"]["results/summary.json"]["data"]
    assert set(summary) == set(FAMILIES)
    assert all("erm" in methods for methods in summary.values())
    dvc("metrics", "diff", "HEAD")


def test_plots_show_renders_each_plot():
    out = json.loads(dvc("plots", "show", "--json", "--split"))["data"]
    assert {"results/plots/noisy_curves.csv", "results/plots/roc.csv", "results/plots/cl_accuracy.csv"} <= set(out)


def test_exp_show_has_metric_columns():
    workspace = json.loads(dvc("exp", "show", "--json", "--no-fetch"))[0]
    assert workspace["rev"] == "workspace"
    assert set(workspace["data"]["metrics"]["results/summary.json"]["data"]) == set(FAMILIES)
