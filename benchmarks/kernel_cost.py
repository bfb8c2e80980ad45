"""What a cross-vendor kernel pin would cost: ERM runs under the pinned MKL branch against MKL_CBWR=COMPATIBLE.

MKL keeps `MKL_CBWR=AVX2` (the grid's pin, benchmark/kernel.py) on Intel CPUs only; elsewhere it dispatches by
itself, so committed numbers are bit-identical only on CPUs of the vendor that recorded them. COMPATIBLE is
MKL's SSE2 path on every x86-64 CPU. Per task, one fresh process per branch trains ERM (seed 0, the task's
settings) with the rest of the pinned environment, and prints the CPU seconds of the run alone (start-up and
imports excluded; median of --repeats, the branches alternating), their ratio, and whether the two branches
give the same numbers on this machine.

    python benchmarks/kernel_cost.py [--tasks cl_permuted_digits ...] [--branches AVX2 COMPATIBLE] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmark.kernel import cpu_model, worker_env  # noqa: E402

CHILD = r"""
import json, sys, time
import torch
from benchmark.runner import prepare_process, run_one
prepare_process(torch.device("cpu"))
start = time.process_time()
record = run_one("erm", sys.argv[1], 0)
print(json.dumps({"seconds": time.process_time() - start, "values": [m.value for m in record["metrics"]]}))
"""


def run(task: str, branch: str) -> dict:
    env = {**os.environ, **worker_env(), "MKL_CBWR": branch}
    out = subprocess.run([sys.executable, "-c", CHILD, task], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    from benchmark.tasks import task_names

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=None)
    parser.add_argument("--branches", nargs=2, default=["AVX2", "COMPATIBLE"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    base, other = args.branches
    print(f"CPU: {cpu_model()}; ERM seed 0 per task, CPU seconds of the run (median of {args.repeats}): "
          f"{base} vs {other}")
    ratios = []
    for task in args.tasks or task_names():
        pairs = [(run(task, base), run(task, other)) for _ in range(args.repeats)]
        a, b = (statistics.median(p[i]["seconds"] for p in pairs) for i in (0, 1))
        ratios.append(b / a)
        same = "same numbers" if pairs[0][0]["values"] == pairs[0][1]["values"] else "other numbers"
        print(f"  {task:30} {a:6.2f} s  {b:6.2f} s  x{ratios[-1]:.2f}  ({same})", flush=True)
    print(f"{other} / {base}: median x{statistics.median(ratios):.2f}, max x{max(ratios):.2f} over {len(ratios)} tasks")


if __name__ == "__main__":
    main()
