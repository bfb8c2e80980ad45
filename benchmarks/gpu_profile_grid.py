"""The embedded grid's runs on one GPU, k worker processes sharing it, against one CPU core (one worker).

Both sides are the production worker pool (benchmark/workers.py): spawned processes that import torch once
and then call run_one run after run; only BENCHMARK_DEVICE differs. The runs are a few cells of the grid
(default profile) over seeds, the same mix of cells on every side. Throughput = runs finished per second,
clocked once every worker has finished one warm-up run: start-up (torch import, CUDA context, the first
data load) is paid once per worker in a grid, not per run. Target: the GPU's best >= 10x one CPU core.

Run by benchmarks/gpu_profile.py in a child process. This module's top level imports no torch: spawned
workers re-import the main module, and torch must come after a worker has pinned its environment
(benchmark/kernel.py), as under the real scheduler, whose parent never imports torch either.

    python benchmarks/gpu_profile_grid.py --device cuda --workers 1,8,16 [--profile default] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmark.workers import Job, Pool  # noqa: E402  (torch-free: the parent never imports torch)

# One cell per family, each with a method that costs more than ERM (the grid's mix, roughly).
CELLS = ("noisy_digits_sym40:sam", "dg_rotated_digits:fishr", "cl_split_digits_class:agem",
         "ood_digits_near:outlier_exposure")
RUN_LIMIT_S = 600.0


def throughput(device: str, workers: int, cells: list[str], profile: str, jobs_per_worker: int) -> dict:
    """Runs per second of `workers` processes on `device`, over whole seeds of `cells`."""
    pairs = [c.split(":") for c in cells]
    seeds = max(1, math.ceil(jobs_per_worker * workers / len(pairs)))
    measured = [Job(m, t, s, 0, "final", profile) for s in range(seeds) for t, m in pairs]
    task, method = pairs[0]
    warm_up = [Job(method, task, 10_000 + i, 0, "final", profile) for i in range(workers)]
    pool = Pool(workers, time_limit=lambda job: RUN_LIMIT_S)
    pool.env = {**pool.env, "BENCHMARK_DEVICE": device}
    clock = {"warm": 0, "start": None, "end": None, "ok": 0, "problems": []}

    def done(outcome):
        record = outcome.record or {}
        problem = outcome.user_error or outcome.lost or (record.get("error") if record.get("status") != "ok"
                                                         else None)
        if problem:
            clock["problems"].append(f"{outcome.job.describe()}: {problem}")
        if outcome.job.seed >= 10_000:  # a warm-up run
            clock["warm"] += 1
            if clock["warm"] == workers:
                clock["start"] = time.perf_counter()
                return measured
            return None
        clock["ok"] += not problem
        clock["end"] = time.perf_counter()
        return None

    started = time.perf_counter()
    pool.run(warm_up, done)
    seconds = clock["end"] - clock["start"]
    return {"device": device, "workers": workers, "runs": len(measured), "ok": clock["ok"],
            "seconds": round(seconds, 2), "runs_per_s": round(len(measured) / seconds, 3),
            "wall_with_start_up_s": round(time.perf_counter() - started, 2), "problems": clock["problems"][:3]}


def compare(device: str, workers: list[int], cells: list[str], profile: str, jobs_per_worker: int) -> dict:
    cpu = throughput("cpu", 1, cells, profile, jobs_per_worker)
    pools = [throughput(device, k, cells, profile, jobs_per_worker) for k in workers]
    best = max(pools, key=lambda p: p["runs_per_s"])
    return {"cells": cells, "profile": profile, "cpu_one_core": cpu, "device_pools": pools,
            "speedup_vs_one_core": round(best["runs_per_s"] / cpu["runs_per_s"], 2), "best_workers": best["workers"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda", help="the device the k-worker pools train on")
    p.add_argument("--workers", default="1,8,16", help="comma-separated worker counts on --device")
    p.add_argument("--cells", default=",".join(CELLS), help="comma-separated task:method cells")
    p.add_argument("--profile", default="default", help="task profile of the runs (default | smoke)")
    p.add_argument("--jobs-per-worker", type=int, default=4, help="measured runs per worker (whole seeds)")
    p.add_argument("--json", help="write the numbers here")
    args = p.parse_args()
    result = compare(args.device, [int(k) for k in args.workers.split(",")], args.cells.split(","),
                     args.profile, args.jobs_per_worker)
    text = json.dumps(result, indent=1)
    if args.json:
        Path(args.json).write_text(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
