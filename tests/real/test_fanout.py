"""The fan-out, locally: two workers in separate clones share a local-directory DVC remote; the aggregate
restores every cell from the run cache without training; a cell that failed is the only one retrained;
after the lock is committed, the planner lists only cells whose inputs changed.

The grid (tests/real/fanout_grid.py) is full/dvc.yaml itself over a tiny embedded task and three cells;
one method crashes its process when FANOUT_FAIL is set, as a killed or preempted job would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.real.fanout_grid import ENV, NEEDS, TASK, make_origin, records, sh, target

pytestmark = [pytest.mark.slow, NEEDS]


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
