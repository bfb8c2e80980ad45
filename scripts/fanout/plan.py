"""Plan a fan-out: list the stale cells of a DVC grid and cut them into shards for the workers.

  python scripts/fanout/plan.py shards [--dvc-file full/dvc.yaml] (--shards N | --per-shard K)
                                       [--probe-run-cache] [--github] [--out DIR]
  python scripts/fanout/plan.py data TARGET...

A cell is stale when `dvc status` finds its command, dependencies or parameters changed since the
committed dvc.lock, or it is not in the lock yet; missing outputs alone do not count (they live in
the remote). With --probe-run-cache the planner first restores every stale cell it can from the run
cache, training forbidden, so only cells that truly need a GPU are planned: after a failed attempt
that is exactly the cells that failed.

Output: one target per line (stdout), or --github a job matrix {"include": [{"shard", "targets"}]},
or --out DIR one shard-NNN.txt per shard. `data` lists the .dvc files of the data the targets' tasks
read (scripts/fanout/worker.sh pulls them).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # this checkout's package, whatever is installed


def dvc(*args: str, env: dict | None = None, check: bool = True, project: str = ".") -> subprocess.CompletedProcess:
    """Run DVC inside `project`, a pipeline folder that is a DVC project of its own (full/)."""
    cmd = [*os.environ.get("DVC", "dvc").split(), "--cd", project, *args]
    r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if check and r.returncode != 0:
        sys.exit(f"error: {' '.join(cmd[:3])} ... failed: {(r.stderr or r.stdout).strip().splitlines()[-1:]}")
    return r


def stale(dvc_file: str) -> list[str]:
    """Train stages of `dvc_file` whose inputs changed since dvc.lock (or that are not in it)."""
    project = str(Path(dvc_file).parent)
    status = json.loads(dvc("status", "--json", Path(dvc_file).name, project=project).stdout or "{}")
    found = []
    for stage, changes in status.items():
        if "train@" not in stage:
            continue
        if any(not (isinstance(c, dict) and set(c) == {"changed outs"}) for c in changes):
            found.append(f"{dvc_file}:{stage.rpartition(':')[2]}")
    return sorted(found)


def probe(targets: list[str]) -> None:
    """Restore what the run cache holds; a cell that would have to train fails fast and stays stale."""
    if targets:
        dvc_file = targets[0].rpartition(":")[0]
        local = [f"{Path(dvc_file).name}:{t.rpartition(':')[2]}" for t in targets]
        dvc("repro", "--pull", "--keep-going", *local, env={"BENCHMARK_NO_TRAINING": "1"}, check=False,
            project=str(Path(dvc_file).parent))


def cut(targets: list[str], shards: int | None, per_shard: int | None) -> list[list[str]]:
    """Round-robin over the sorted cells, so every shard mixes tasks (and their costs)."""
    if not targets:
        return []
    n = min(len(targets), shards or math.ceil(len(targets) / per_shard))
    return [targets[i::n] for i in range(n)]


def data_targets(targets: list[str]) -> list[str]:
    """The .dvc files (relative to the repo) of every data directory or weights file the cells read."""
    import yaml

    from benchmark.data.real.catalog import task_roots

    paths = set()
    for target in targets:
        dvc_file, _, stage = target.rpartition(":")
        task = stage.removeprefix("train@").split("--")[0]
        tasks = (REPO / (dvc_file or "dvc.yaml")).parent / "tasks"
        raw = yaml.safe_load((tasks / f"{task}.yaml").read_text())
        paths.update(task_roots(raw))
    found = set()
    for path in paths:
        if Path(f"{path}.dvc").is_file():
            found.add(Path(f"{path}.dvc"))
        if path.is_dir():
            found.update(path.rglob("*.dvc"))
    return sorted(str(p.relative_to(REPO)) for p in found if p.is_relative_to(REPO))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="plan.py", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    sh = sub.add_parser("shards", help="stale cells, cut into shards")
    sh.add_argument("--dvc-file", default="full/dvc.yaml")
    size = sh.add_mutually_exclusive_group(required=True)
    size.add_argument("--shards", type=int, help="this many shards (fewer if fewer cells)")
    size.add_argument("--per-shard", type=int, help="at most this many cells per shard")
    sh.add_argument("--probe-run-cache", action="store_true", help="restore cached cells, plan the rest")
    sh.add_argument("--github", action="store_true", help="print a GitHub Actions job matrix")
    sh.add_argument("--out", type=Path, help="write shard-NNN.txt files here")
    da = sub.add_parser("data", help=".dvc files of the data the targets read")
    da.add_argument("targets", nargs="+")
    args = p.parse_args(argv)

    if args.command == "data":
        print("\n".join(data_targets(args.targets)))
        return 0
    if (args.shards or args.per_shard or 0) < 1:
        p.error("--shards / --per-shard must be at least 1")
    targets = stale(args.dvc_file)
    if args.probe_run_cache and targets:
        probe(targets)
        targets = stale(args.dvc_file)
    shards = cut(targets, args.shards, args.per_shard)
    print(f"{len(targets)} stale cell(s) in {args.dvc_file}, {len(shards)} shard(s)", file=sys.stderr)
    if args.github:
        include = [{"shard": str(i), "targets": " ".join(s)} for i, s in enumerate(shards)]
        print(json.dumps({"include": include}))
    elif args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        for i, s in enumerate(shards):
            (args.out / f"shard-{i:03d}.txt").write_text("\n".join(s) + "\n")
    else:
        print("\n".join(targets))
    return 0


if __name__ == "__main__":
    sys.exit(main())
