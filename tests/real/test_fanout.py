"""The fan-out, locally: two workers in separate clones share a local-directory DVC remote; the aggregate
restores every cell from the run cache without training; a cell that failed is the only one retrained;
after the lock is committed, the planner lists only cells whose inputs changed.

The grid is full/dvc.yaml itself over a tiny embedded task (smoke profile, one seed) and three cells;
one method crashes its process when FANOUT_FAIL is set, as a killed or preempted job would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark import ROOT

NO_DVC = subprocess.run([sys.executable, "-c", "import dvc"], capture_output=True).returncode != 0
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(NO_DVC or shutil.which("git") is None or shutil.which("bash") is None,
                       reason="the fan-out needs dvc, git and bash"),
]

TASK = "noisy_tiny"
WOBBLY = '''"""ERM whose process dies when FANOUT_FAIL is set: a killed or preempted job."""
import os

from benchmark.method import Method
from benchmark.registry import register_method


@register_method("wobbly")
class Wobbly(Method):
    families = ("noisy_labels",)

    def setup(self):
        if os.environ.get("FANOUT_FAIL"):
            os._exit(3)
'''


def sh(*cmd, cwd, env=None, check=True) -> subprocess.CompletedProcess:
    r = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=300,
                       env={**os.environ, **(env or {})})
    if check and r.returncode != 0:
        raise AssertionError(f"{cmd} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r


def make_origin(tmp: Path) -> tuple[Path, str]:
    from benchmark.grid import render

    origin = tmp / "origin"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("benchmark", "methods", "scripts"):
        shutil.copytree(ROOT / name, origin / name, ignore=ignore)
    for name in ("pyproject.toml", ".gitignore", ".dvcignore", "full/dvc.yaml", "full/checksums/README.md",
                 "full/.dvcignore", "full/.dvc/config", "full/.dvc/.gitignore"):
        (origin / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, origin / name)
    (origin / "methods" / "wobbly.py").write_text(WOBBLY)
    (origin / "full" / "tasks").mkdir()
    (origin / "full" / "tasks" / f"{TASK}.yaml").write_text(
        "family: noisy_labels\ndata: {source: digits, limit: 120}\nmodel: {name: mlp, options: {width: 16}}\n"
        "train: {epochs: 1, batch_size: 32}\nnoise: {kind: symmetric, rate: 0.2}\n")
    (origin / "full" / "params.yaml").write_text("profile: default\nseeds: [0]\nhparam_draws: 1\n")
    cells = {f"{TASK}--{m}": {"task": TASK, "method": m, "family": "noisy_labels"}
             for m in ("erm", "gce", "wobbly")}
    (origin / "full" / "grid.yaml").write_text(render(cells))
    sh("git", "init", "-q", cwd=origin)
    sh("git", "config", "user.email", "fanout@test", cwd=origin)
    sh("git", "config", "user.name", "fanout test", cwd=origin)
    sh(*DVC, "init", "-q", cwd=origin)
    for project in (origin, origin / "full"):  # full/ is a DVC project of its own
        sh(*DVC, "remote", "add", "-d", "shared", tmp / "remote", cwd=project)
    sh("git", "add", "-A", cwd=origin)
    sh("git", "commit", "-qm", "grid", cwd=origin)
    return origin, sh("git", "rev-parse", "HEAD", cwd=origin).stdout.strip()


DVC = [sys.executable, "-m", "dvc"]
ENV = {"DVC": f"{sys.executable} -m dvc", "PYTHON": sys.executable, "BENCHMARK_DEVICE": "cpu",
       "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def target(method: str) -> str:
    return f"full/dvc.yaml:train@{TASK}--{method}"


def worker(origin, rev, tmp, name, targets, **env):
    timings = tmp / f"{name}.json"
    cmd = ["bash", origin / "scripts" / "fanout" / "worker.sh", origin, rev, *targets]
    proc = subprocess.Popen([str(c) for c in cmd], cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env={**os.environ, **ENV, "BENCHMARK_WORKDIR": str(tmp / name),
                                            "BENCHMARK_TIMINGS": str(timings), **env})
    return proc, timings


def finish(proc, timings) -> tuple[int, dict, str]:
    out, _ = proc.communicate(timeout=300)
    return proc.returncode, json.loads(timings.read_text()), out


def records(clone: Path) -> dict[str, bytes]:
    folder = clone / "full" / "results" / "records" / TASK
    return {p.stem: p.read_bytes() for p in sorted(folder.glob("*.json"))}


def test_two_workers_aggregate_without_training_and_retrain_only_the_failed_cell(tmp_path):
    origin, rev = make_origin(tmp_path)
    plan = sh(sys.executable, origin / "scripts" / "fanout" / "plan.py", "shards", "--shards", "2",
              "--github", cwd=origin, env=ENV)
    matrix = json.loads(plan.stdout)["include"]
    shards = [m["targets"].split() for m in matrix]
    assert shards == [[target("erm"), target("wobbly")], [target("gce")]]

    # Attempt 1: both workers at once; on the first one, one cell's process dies.
    first = worker(origin, rev, tmp_path, "w1", shards[0], FANOUT_FAIL="1")
    second = worker(origin, rev, tmp_path, "w2", shards[1])
    rc1, t1, log1 = finish(*first)
    rc2, t2, log2 = finish(*second)
    assert rc1 != 0 and (t1["trained"], t1["push_rc"]) == (2, 0), log1
    assert rc2 == 0 and t2["trained"] == 1, log2
    trained = {**records(tmp_path / "w1"), **records(tmp_path / "w2")}
    assert set(trained) == {"erm", "gce"}

    # The aggregate restores what exists, trains nothing, and names the missing cell.
    sh("git", "clone", "-q", origin, tmp_path / "agg1", cwd=tmp_path)
    agg = sh("bash", "scripts/fanout/aggregate.sh", cwd=tmp_path / "agg1", env=ENV, check=False)
    assert agg.returncode == 1
    assert f"missing from the run cache (training is forbidden here): {TASK}--wobbly" in agg.stderr
    assert "training is forbidden here" in agg.stdout + agg.stderr
    assert records(tmp_path / "agg1") == trained  # restored byte for byte, not retrained

    # Planning again with the run cache probed: the failed cell is the only stale one.
    sh("git", "clone", "-q", origin, tmp_path / "planner", cwd=tmp_path)
    plan = sh(sys.executable, "scripts/fanout/plan.py", "shards", "--per-shard", "8", "--probe-run-cache",
              cwd=tmp_path / "planner", env=ENV)
    assert plan.stdout.split() == [target("wobbly")]

    # Attempt 2, even given every cell: only the failed one trains; the others come from the run cache.
    every = [target(m) for m in ("erm", "gce", "wobbly")]
    rc3, t3, log3 = finish(*worker(origin, rev, tmp_path, "w3", every))
    assert rc3 == 0 and (t3["trained"], t3["restored"]) == (1, 2), log3

    sh("git", "clone", "-q", origin, tmp_path / "agg2", cwd=tmp_path)
    sh("bash", "scripts/fanout/aggregate.sh", cwd=tmp_path / "agg2", env=ENV)
    final = records(tmp_path / "agg2")
    assert set(final) == {"erm", "gce", "wobbly"} and {k: final[k] for k in trained} == trained
    lock = (tmp_path / "agg2" / "full" / "dvc.lock").read_text()
    assert lock.count("train@") == 3 and "aggregate:" in lock
    assert (tmp_path / "agg2" / "full" / "results" / "leaderboard.parquet").exists()

    # Once the aggregate's lock is committed, only cells whose inputs change are stale again.
    shutil.copy2(tmp_path / "agg2" / "full" / "dvc.lock", origin / "full" / "dvc.lock")
    sh("git", "add", "full/dvc.lock", cwd=origin)
    sh("git", "commit", "-qm", "results", cwd=origin)
    sh("git", "clone", "-q", origin, tmp_path / "later", cwd=tmp_path)
    plan_later = [sys.executable, "scripts/fanout/plan.py", "shards", "--shards", "2"]
    assert sh(*plan_later, cwd=tmp_path / "later", env=ENV).stdout.split() == []
    with open(tmp_path / "later" / "methods" / "gce.py", "a") as f:
        f.write("# changed\n")
    assert sh(*plan_later, cwd=tmp_path / "later", env=ENV).stdout.split() == [target("gce")]

    # Overhead of a worker (clone, data, push) against the training inside its repro.
    seconds = [json.loads(v)["records"][0]["provenance"]["wall_seconds"] for v in final.values()]
    summary = {"worker_attempt1": t1, "worker_attempt1_b": t2, "worker_retry": t3, "train_wall_s": seconds}
    (tmp_path / "fanout_timings.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary))
