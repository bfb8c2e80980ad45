"""Shared by the SLURM and Ray launchers: plan the shards here, run worker.sh on each, aggregate.

Both launchers submit the very script the GitHub workflow runs (scripts/fanout/worker.sh) with the
same arguments (repository, pinned revision, targets), so a cell computed anywhere lands in the same
DVC run cache and any aggregate can restore it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import plan  # noqa: E402  (scripts/fanout/plan.py)


def arguments(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--repo", default=str(plan.REPO), help="URL or path the workers clone (default: here)")
    p.add_argument("--rev", help="pinned revision (default HEAD of this checkout)")
    p.add_argument("--dvc-file", default="full/dvc.yaml")
    p.add_argument("--shards", type=int, default=8)
    p.add_argument("--probe-run-cache", action="store_true", help="restore cached cells before planning")
    p.add_argument("--retries", type=int, default=1, help="submit a failed shard again, this many times at "
                   "most: the retry restores the shard's finished cells from the run cache, trains the rest")
    p.add_argument("--aggregate", action="store_true", help="aggregate in a fresh clone after the workers")
    return p


def shards(args) -> tuple[str, list[list[str]]]:
    rev = args.rev or subprocess.run(["git", "rev-parse", "HEAD"], cwd=plan.REPO, capture_output=True,
                                     text=True, check=True).stdout.strip()
    targets = plan.stale(args.dvc_file)
    if args.probe_run_cache and targets:
        plan.probe(targets)
        targets = plan.stale(args.dvc_file)
    cut = plan.cut(targets, args.shards, None)
    print(f"{len(targets)} stale cell(s) at {rev[:10]}, {len(cut)} shard(s)", file=sys.stderr)
    return rev, cut


def worker_task():
    """What each compute node runs: worker.sh with the shard's arguments. Built as a closure so that
    cloudpickle (submitit, Ray) ships it by value, script text included: nodes need only bash, git,
    dvc and the project's Python environment, not this directory."""
    script = (HERE / "worker.sh").read_text()

    def run(repo: str, rev: str, targets: list[str]) -> dict:
        import json
        import subprocess
        import tempfile
        from pathlib import Path

        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "worker.sh").write_text(script)
            timings = Path(tmp) / "timings.json"
            rc = subprocess.run(["bash", str(Path(tmp) / "worker.sh"), repo, rev, *targets],
                                env={**os.environ, "BENCHMARK_TIMINGS": str(timings)}).returncode
            phases = json.loads(timings.read_text()) if timings.exists() else {}
            return {"rc": rc, "targets": targets, **phases}

    return run


def aggregate(repo: str, rev: str, dvc_file: str) -> int:
    work = tempfile.mkdtemp(prefix="benchmark-aggregate.")
    subprocess.run(["git", "clone", "--quiet", repo, work], check=True)
    subprocess.run(["git", "checkout", "--quiet", "--detach", rev], cwd=work, check=True)
    rc = subprocess.run(["bash", "scripts/fanout/aggregate.sh", dvc_file], cwd=work).returncode
    lock = dvc_file.replace("dvc.yaml", "dvc.lock")
    print(f"aggregate in {work}: {f'ok, commit its {lock}' if rc == 0 else 'failed'}", file=sys.stderr)
    return rc


def run_shards(submit, cut: list[list[str]], retries: int) -> int:
    """Run every shard, then submit the failed ones again, up to `retries` times. `submit` takes a list
    of shards and returns, in order, each one's result or the exception that stopped it: a crashed cell
    (rc != 0) and a lost task (killed, preempted, node gone) are retried alike."""
    results, pending = [], cut
    for attempt in range(1, max(retries, 0) + 2):
        failed = []
        for targets, out in zip(pending, submit(pending), strict=True):
            if isinstance(out, BaseException):
                out = {"rc": -1, "targets": targets, "error": f"{type(out).__name__}: {out}"}
            results.append({"attempt": attempt, **out})
            if out.get("rc") != 0:
                failed.append(targets)
        pending = failed
        if not pending:
            break
    return report(results, len(cut), pending)


def settle(get, handles) -> list:
    """Each handle's result, or the exception its engine raised for it (Ray's ray.get, submitit's result)."""
    out = []
    for handle in handles:
        try:
            out.append(get(handle))
        except Exception as exc:
            out.append(exc)
    return out


def report(results: list[dict], total: int, failed: list[list[str]]) -> int:
    for r in results:
        print(json.dumps(r), file=sys.stderr)
    retried = sum(r["attempt"] > 1 for r in results)
    print(f"{total - len(failed)}/{total} shard(s) succeeded, {retried} retried attempt(s)", file=sys.stderr)
    return 1 if failed else 0
