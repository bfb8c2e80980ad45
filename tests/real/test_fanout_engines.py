"""The fan-out under its real engines, on this machine: scripts/fanout/ray_launch.py on a private Ray
instance and scripts/fanout/slurm.py through submitit's local executor run the grid of
tests/real/fanout_grid.py in two shards against a local-directory DVC remote. The shard holding
`wobbly` is killed on its first attempt and submitted again; the aggregate restores every cell from
the remote's run cache without training, and its parquet equals that of a single-machine `dvc repro`.

Ray and submitit are the optional `fanout` extra: the set-up installs it (under constraints.txt) when
missing, and the tests skip, with pip's reason, only when that install fails.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
import yaml

from benchmark import ROOT
from tests.real.fanout_grid import DVC, ENV, NEEDS, make_origin, sh, target

# Each engine on CPU, sized for one machine; --retries 1 resubmits the killed shard once.
ENGINES = {
    "ray": ["ray_launch.py", "--address", "local", "--gpus", "0"],
    "submitit": ["slurm.py", "--cluster", "local", "--gpus", "0", "--cpus", "1", "--mem-gb", "1",
                 "--timeout-min", "10"],
}
PARQUETS = ("runs", "leaderboard", "profile", "details", "methods")
CLOCK = ["wall_seconds", "finished", "search_seconds", "cost_x_erm"]  # when and how long, not what


@contextmanager
def once_per_run(tmp_path_factory, name: str):
    """A folder shared by this run's xdist workers (`python -m pytest -n 2`), held under a lock while the
    block fills it: the first worker installs and builds, the other waits and reuses."""
    root = tmp_path_factory.getbasetemp()
    root = root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield root / name


@pytest.fixture(scope="module")
def fanout_extra(tmp_path_factory) -> None:
    with once_per_run(tmp_path_factory, "fanout-extra"):  # two pip installs at once would collide
        importlib.invalidate_caches()
        if all(importlib.util.find_spec(m) for m in ("ray", "submitit")):
            return
        extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["fanout"]
        r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-c", str(ROOT / "constraints.txt"),
                            *extra], capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        reason = "".join((r.stderr or r.stdout).strip().splitlines()[-1:])
        pytest.skip(f"the fanout extra ({', '.join(extra)}) cannot be installed: {reason}")


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    """The grid's repository, and the results of a single-machine `dvc repro` of it (no remote involved)."""
    with once_per_run(tmp_path_factory, "fanout-grid") as tmp:
        single = tmp / "single" / "full" / "results"
        if not (tmp / "done").exists():
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            origin, _ = make_origin(tmp)
            sh("git", "clone", "-q", origin, tmp / "single", cwd=tmp)
            sh(*DVC, "--cd", "full", "repro", cwd=tmp / "single", env=ENV)
            (tmp / "done").touch()
    return tmp / "origin", single


@pytest.mark.slow
@NEEDS
@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_engine_retries_a_killed_shard_and_aggregates_what_one_machine_computes(engine, fanout_extra, grid,
                                                                                  tmp_path):
    origin, single = grid
    script, *options = ENGINES[engine]
    remote, killed = tmp_path / "remote", tmp_path / "killed-once"
    # Workers' clones and the aggregate's go under TMPDIR; Ray's sockets need a short path of their own.
    ray_tmp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    env = {**ENV, "BENCHMARK_DVC_REMOTE": str(remote), "FANOUT_FAIL_ONCE": str(killed), "TMPDIR": str(tmp_path),
           "RAY_TMPDIR": ray_tmp}
    if engine == "submitit":
        options += ["--folder", str(tmp_path / "submitit" / "%j")]
    # The launcher plans in a checkout of its own (a login node's), the workers clone that checkout.
    checkout = tmp_path / "checkout"
    sh("git", "clone", "-q", origin, checkout, cwd=tmp_path)
    try:
        run = sh(sys.executable, checkout / "scripts" / "fanout" / script, "--shards", "2", "--retries", "1",
                 "--aggregate", *options, cwd=tmp_path, env=env, timeout=600)
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
    log = f"{run.stdout[-4000:]}\n{run.stderr[-4000:]}"

    # Shards ran as engine tasks; the killed one ran again, restoring its finished cell and training the other.
    attempts = [json.loads(line) for line in run.stderr.splitlines() if line.startswith("{")]
    by = {(a["attempt"], tuple(a["targets"])): a for a in attempts}
    first, second = (target("erm"), target("wobbly")), (target("gce"),)
    assert set(by) == {(1, first), (1, second), (2, first)}, log
    assert by[1, first]["rc"] != 0 and (by[1, first]["trained"], by[1, first]["push_rc"]) == (2, 0), log
    assert by[1, second]["rc"] == 0 and by[1, second]["trained"] == 1, log
    assert by[2, first]["rc"] == 0 and (by[2, first]["trained"], by[2, first]["restored"]) == (1, 1), log
    assert killed.exists() and "2/2 shard(s) succeeded, 1 retried attempt(s)" in run.stderr, log

    # The aggregate restored every cell: DVC says so, and each record is an object the workers pushed
    # (a retrained record would differ in its wall time and finish stamp, so would not be in the remote).
    found = re.search(r"^aggregate in (\S+): ok", run.stderr, re.M)
    assert found, log
    work = Path(found[1]) / "full"
    assert len(re.findall(r"^Stage 'train@.*' is cached - skipping run", run.stdout, re.M)) == 3, log
    assert not re.search(r"^Running stage 'train@", run.stdout, re.M), log
    lock = yaml.safe_load((work / "dvc.lock").read_text())["stages"]
    cells = {name: stage["outs"][0]["md5"] for name, stage in lock.items() if name.startswith("train@")}
    assert len(cells) == 3 and all((remote / "files" / "md5" / md5[:2] / md5[2:]).is_file()
                                   for md5 in cells.values()), cells

    # The same tables as a single-machine `dvc repro`, up to the clock.
    for name in PARQUETS:
        fanned, alone = (pd.read_parquet(root / f"{name}.parquet") for root in (work / "results", single))
        keep = [c for c in alone.columns if c not in CLOCK]
        pd.testing.assert_frame_equal(fanned[keep], alone[keep], obj=f"{name}.parquet")
    print(json.dumps({"engine": engine, "attempts": attempts}))


@pytest.fixture
def launch():
    """scripts/fanout/launch.py as a module (it puts its folder on sys.path to import plan.py)."""
    path = list(sys.path)
    sys.path.insert(0, str(ROOT / "scripts" / "fanout"))
    try:
        yield importlib.import_module("launch")
    finally:
        sys.path[:] = path
        for name in ("launch", "plan"):
            sys.modules.pop(name, None)


def test_run_shards_submits_failed_and_lost_shards_again_and_only_them(launch, capsys):
    ok, crashed, lost = {"rc": 0}, {"rc": 1}, RuntimeError("node lost")
    outcome = {1: {"a": lost, "b": crashed, "c": ok}, 2: {"a": ok, "b": crashed}, 3: {"b": ok}}  # by attempt
    calls = []

    def submit(pending):
        calls.append(pending)
        return [outcome[len(calls)][targets[0]] for targets in pending]

    assert launch.run_shards(submit, [["a"], ["b"], ["c"]], retries=2) == 0
    assert calls == [[["a"], ["b"], ["c"]], [["a"], ["b"]], [["b"]]]
    assert "3/3 shard(s) succeeded, 3 retried attempt(s)" in capsys.readouterr().err

    calls.clear()
    assert launch.run_shards(submit, [["a"], ["b"], ["c"]], retries=1) == 1
    err = capsys.readouterr().err
    assert calls == [[["a"], ["b"], ["c"]], [["a"], ["b"]]] and "2/3 shard(s) succeeded" in err
    assert '"error": "RuntimeError: node lost"' in err
