"""End to end: `dvc repro` and `python -m benchmark train` on small smoke grids in temporary copies."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from tests.helpers import cli, copy_project

pytestmark = pytest.mark.slow
TASKS = ("noisy_digits_sym40", "cl_split_digits_task")
NO_DVC = shutil.which("dvc") is None and subprocess.run(
    [sys.executable, "-c", "import dvc"], capture_output=True).returncode != 0


def dvc(*args, cwd):
    r = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout + r.stderr


def stages_run(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


def trained(output: str) -> tuple[int, int]:
    """(cells to run, runs) from the scheduler's first line."""
    found = re.search(r"(\d+) to run \((\d+) runs\)", output)
    assert found, output
    return int(found[1]), int(found[2])


def project(tmp_path, methods, tasks=TASKS, seeds="[0, 1]", jobs=2, extra=""):
    copy = copy_project(tmp_path / "project")
    (copy / "params.yaml").write_text(f"profile: smoke\nseeds: {seeds}\nhparam_draws: 1\njobs: {jobs}\n{extra}")
    regrid(copy, methods, tasks)
    return copy


def regrid(copy, methods, tasks=TASKS):
    r = cli("grid", "--methods", *methods, "--tasks", *tasks, cwd=copy)
    assert r.returncode == 0, r.stderr


def values(records_dir):
    """Every metric of every record, keyed by cell, run and metric: what must not depend on scheduling."""
    out = {}
    for path in sorted(records_dir.rglob("*.json")):
        for r in json.loads(path.read_text())["records"]:
            for m in r["metrics"]:
                out[(path.parent.name, path.stem, r["phase"], r["seed"], m["metric"], m["selection"], m["scorer"],
                     m["domain"])] = m["value"]
    return out


@pytest.mark.skipif(NO_DVC, reason="dvc is not installed")
def test_repro_noop_edit_and_add_and_parallel_equals_serial(tmp_path):
    copy = project(tmp_path, ["erm", "label_smoothing"])
    dvc("init", "--no-scm", "-q", cwd=copy)

    first = dvc("repro", cwd=copy)
    assert stages_run(first) == {"train", "aggregate"} and trained(first) == (4, 8)
    board = pd.read_parquet(copy / "results" / "leaderboard.parquet")
    assert set(board.method) == {"erm", "label_smoothing"}

    assert stages_run(dvc("repro", cwd=copy)) == set(), "a second repro must be a no-op"

    erm_files = {p: p.read_bytes() for p in (copy / "results" / "records").rglob("erm.json")}
    smooth = copy / "methods" / "label_smoothing.py"
    smooth.write_text(smooth.read_text() + "\n# an edit\n")
    assert trained(dvc("repro", cwd=copy)) == (2, 4), "editing one method reruns only its cells"
    assert {p: p.read_bytes() for p in erm_files} == erm_files, "other cells' files are not rewritten"

    src = (copy / "methods" / "label_smoothing.py").read_text()
    (copy / "methods" / "smooth_more.py").write_text(
        src.replace('"label_smoothing"', '"smooth_more"').replace("HParam(0.1,", "HParam(0.3,"))
    regrid(copy, ["erm", "label_smoothing", "smooth_more"])
    assert trained(dvc("repro", cwd=copy)) == (2, 4), "adding a method adds only its cells"
    assert set(pd.read_parquet(copy / "results" / "runs.parquet").method) == {"erm", "label_smoothing",
                                                                             "smooth_more"}

    serial = cli("train", "--jobs", "1", "--records", str(tmp_path / "serial"), "--quiet", cwd=copy)
    assert serial.returncode == 0, serial.stderr
    assert values(tmp_path / "serial") == values(copy / "results" / "records"), "jobs=2 must equal jobs=1"


def test_a_killed_grid_resumes_with_only_the_missing_runs_and_the_same_results(tmp_path):
    copy = project(tmp_path, ["erm", "label_smoothing"], seeds="[0, 1, 2]")
    records = copy / "results" / "records"
    proc = subprocess.Popen([sys.executable, "-m", "benchmark", "train", "--quiet"], cwd=copy,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    records.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        done = sum(len(json.loads(p.read_text())["records"]) for p in records.rglob("*.json"))
        if done >= 3:
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the scheduler and its workers, mid-grid
    proc.wait()
    (records / TASKS[0]).mkdir(parents=True, exist_ok=True)
    (records / TASKS[0] / ".erm.json.999999.tmp").write_text("{half a file")  # what a killed writer leaves

    resumed = cli("train", "--quiet", cwd=copy)
    assert resumed.returncode == 0, resumed.stderr
    cells, runs = trained(resumed.stdout)
    assert 0 < runs < 12, resumed.stdout
    assert not list(records.rglob("*.tmp")), "stale temporary files are cleaned"

    whole = cli("train", "--quiet", "--records", str(tmp_path / "whole"), cwd=copy)
    assert whole.returncode == 0, whole.stderr
    for out, recs in (("a", records), ("b", tmp_path / "whole")):
        r = cli("aggregate", "--records", str(recs), "--out", str(tmp_path / out), cwd=copy)
        assert r.returncode == 0, r.stderr
    for name in ("runs", "leaderboard"):
        a, b = (pd.read_parquet(tmp_path / d / f"{name}.parquet") for d in ("a", "b"))
        skip = ("wall_seconds", "search_seconds", "git_rev", "cost_x_erm", "finished")
        cols = [c for c in a.columns if c not in skip]
        pd.testing.assert_frame_equal(a[cols], b[cols])


FAULTS = '''
import time

import torch

from benchmark.method import Method
from benchmark.registry import register_method


@register_method("raises_at_step")
class RaisesAtStep(Method):
    def setup(self):
        self.steps = 0

    def loss(self, batch, out):
        self.steps += 1
        if self.steps == 3:
            raise RuntimeError("broke at step 3")
        return super().loss(batch, out)


@register_method("nan_at_eval")
class NanAtEval(Method):
    def predict(self, x):
        out = super().predict(x)
        return type(out)(logits=out.logits * float("nan"), features=out.features)


@register_method("sleeps")
class Sleeps(Method):
    def setup(self):
        time.sleep(600)
'''


def test_faults_mark_only_their_own_runs_and_the_grid_completes(tmp_path):
    copy = project(tmp_path, ["erm"], tasks=TASKS[:1], seeds="[0]", extra="limits: {run_seconds: 30}\n")
    (copy / "methods" / "faults.py").write_text(FAULTS)
    regrid(copy, ["erm", "raises_at_step", "nan_at_eval", "sleeps"], TASKS[:1])
    r = cli("train", "--quiet", cwd=copy)
    assert r.returncode == 0, r.stdout + r.stderr
    folder = copy / "results" / "records" / TASKS[0]
    status = {p.stem: json.loads(p.read_text())["records"][0] for p in folder.glob("*.json")}
    assert status["erm"]["status"] == "ok"
    assert "broke at step 3" in status["raises_at_step"]["error"]
    assert "non-finite" in status["nan_at_eval"]["error"]
    assert "run time limit of 30 s" in status["sleeps"]["error"]
    assert all(status[m]["status"] == "failed" for m in ("raises_at_step", "nan_at_eval", "sleeps"))
    agg = cli("aggregate", cwd=copy)
    assert agg.returncode == 0, agg.stderr
    board = pd.read_parquet(copy / "results" / "leaderboard.parquet")
    assert set(board[board.n_failed > 0].method) == {"raises_at_step", "nan_at_eval", "sleeps"}
