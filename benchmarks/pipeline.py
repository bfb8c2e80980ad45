"""What the pipeline costs: no-op `dvc repro`, a whole-grid run, and the cost of a bigger sweep.

    python benchmarks/pipeline.py noop [--repeats 5]          # this checkout: `dvc repro` with nothing changed
    python benchmarks/pipeline.py synthetic [--cells 1000]     # the same on a generated grid of that many cells
    python benchmarks/pipeline.py grid [--records DIR] [--wall S --workers W]
                                       # from records: core-seconds in training, per family, training share
    python benchmarks/pipeline.py estimate [--records DIR] [--workers W]
                                       # wall time of the sweep params.yaml asks for, from measured run costs

Targets (issue tracker): no-op <= 2 s on the default grid and <= 5 s on 1,000 cells; a whole-grid rerun
spends >= 90% of its core-seconds inside training and evaluation; the tuned sweep <= 2.5 h wall here.
A whole-grid run prints "trained N runs on W workers in T s": pass T and W to `grid` for the share.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DVC = [sys.executable, "-m", "dvc"]


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def noop(cwd: Path, repeats: int) -> list[float]:
    timed([*DVC, "status"], cwd)  # warm DVC's state database once
    return [timed([*DVC, "repro"], cwd) for _ in range(repeats)]


def cmd_noop(args) -> None:
    status = subprocess.run([*DVC, "status", "--json"], cwd=ROOT, capture_output=True, text=True)
    if status.stdout.strip() not in ("{}", ""):
        sys.exit("error: the pipeline is not up to date here (dvc status); a no-op needs a finished repro")
    times = noop(ROOT, args.repeats)
    print(f"no-op dvc repro, default grid: median {statistics.median(times):.2f} s over {len(times)} "
          f"(min {min(times):.2f}, max {max(times):.2f}); target <= 2 s")


def cmd_synthetic(args) -> None:
    """A copy of the project with `--cells` cells (copies of ERM over the tasks) and a record per cell, made
    up to date by one real `dvc repro` whose scheduler finds every record current; then the no-op."""
    sys.path.insert(0, str(ROOT))
    from benchmark.grid import render
    from benchmark.tasks import load_task, task_names
    from tests.helpers import copy_project

    work = Path(tempfile.mkdtemp(prefix="pipeline-synthetic."))
    try:
        copy = copy_project(work / "project")
        tasks = task_names()
        families = {t: load_task(t).family for t in tasks}
        erm = (copy / "methods" / "erm.py").read_text()
        cells = {}
        for i in range(args.cells):
            task, method = tasks[i % len(tasks)], f"erm_{i // len(tasks):03d}"
            if not (copy / "methods" / f"{method}.py").exists():
                (copy / "methods" / f"{method}.py").write_text(erm.replace('"erm"', f'"{method}"'))
            cells[f"{task}--{method}"] = {"task": task, "method": method, "family": families[task],
                                          "source": f"methods/{method}.py"}
        (copy / "grid.yaml").write_text(render(cells))
        for cell in cells.values():  # a stand-in record per cell: the no-op never reads them
            path = copy / "results" / "records" / cell["task"] / f"{cell['method']}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"task": cell["task"], "method": cell["method"], "records": []}))
        for name in ("runs", "leaderboard", "profile", "details", "methods"):  # stand-in aggregate outputs
            (copy / "results" / f"{name}.parquet").write_bytes(b"")
        subprocess.run([*DVC, "init", "--no-scm", "-q"], cwd=copy, check=True)
        # Record the stages as run (the stand-in records are the outputs) without training anything.
        subprocess.run([*DVC, "commit", "-f", "-q"], cwd=copy, check=True, capture_output=True)
        times = noop(copy, args.repeats)
        print(f"no-op dvc repro, {len(cells)} cells: median {statistics.median(times):.2f} s over "
              f"{len(times)}; target <= 5 s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def load_records(folder: Path) -> list[dict]:
    out = []
    for path in sorted(folder.rglob("*.json")):
        out.extend(json.loads(path.read_text())["records"])
    return out


def cmd_grid(args) -> None:
    records = load_records(Path(args.records))
    if not records:
        sys.exit(f"error: no run records under {args.records}")
    seconds = [r["provenance"].get("wall_seconds", 0.0) for r in records]
    per_family: dict[str, list[float]] = {}
    for r, s in zip(records, seconds, strict=True):
        per_family.setdefault(r.get("family", "?"), []).append(s)
    print(f"{len(records)} runs, {sum(seconds):.0f} core-seconds inside training and evaluation "
          f"(mean {statistics.mean(seconds):.2f} s per run)")
    for family, s in sorted(per_family.items()):
        print(f"  {family:<24} {len(s):>5} runs  {sum(s):>7.0f} core-s  mean {statistics.mean(s):.2f} s")
    if args.wall:
        share = sum(seconds) / (args.wall * args.workers)
        print(f"wall {args.wall:.0f} s on {args.workers} workers: training share {share:.1%} of wall x cores "
              "(target >= 90%)")


def search_cost_ratio(seed: int = 100, draw: int = 1) -> dict[str, float]:
    """Per family: CPU seconds of ERM's search run over its final run (same seed and draw), summed over the
    family's tasks. A search run stops at validation (no test split, scorer or diagnostic), so it is cheaper."""
    import torch

    from benchmark.runner import prepare_process, run_one
    from benchmark.tasks import load_task, task_names

    prepare_process(torch.device("cpu"))
    spent: dict[str, list[float]] = {}
    for task in task_names():
        family = load_task(task).family
        for phase in ("final", "search"):
            start = time.process_time()
            run_one("erm", task, seed, draw, phase=phase)
            spent.setdefault(family, [0.0, 0.0])[phase == "search"] += time.process_time() - start
    return {family: search / final for family, (final, search) in spent.items()}


def cmd_estimate(args) -> None:
    """Per cell: the measured cost of its final runs (the committed records) times the runs params.yaml asks
    for, search runs at their family's measured search/final ratio; spread on the workers."""
    from benchmark.grid import load_params
    from benchmark.scheduler import Plan

    params = load_params()
    plan = Plan(params)
    search_runs = 0
    if plan.search:
        later = plan.keep if plan.halving else params.hparam_draws
        search_runs = params.hparam_draws + later * (len(params.search_seeds) - 1)
    records = [r for r in load_records(Path(args.records)) if r.get("status") == "ok"
               and r.get("phase", "final") == "final"]
    cost: dict[tuple, list[float]] = {}
    for r in records:
        cost.setdefault((r["family"], r["task"], r["method"]), []).append(r["provenance"]["wall_seconds"])
    ratio = search_cost_ratio() if search_runs else {}
    for family, value in sorted(ratio.items()):
        print(f"  {family:<24} search run / final run (ERM, CPU time): {value:.2f}")
    core_s = sum(statistics.mean(v) * (len(params.seeds) + search_runs * ratio.get(key[0], 1.0))
                 for key, v in cost.items())
    wall = core_s / args.workers
    rule = plan.rule if plan.search else "no search"
    print(f"{len(cost)} cells x ({search_runs} search + {len(params.seeds)} final runs; {rule}): "
          f"{core_s / 3600:.2f} core-hours, about {wall / 3600:.2f} h wall on {args.workers} workers (target <= 2.5 h)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    n = sub.add_parser("noop")
    n.add_argument("--repeats", type=int, default=5)
    n.set_defaults(func=cmd_noop)
    s = sub.add_parser("synthetic")
    s.add_argument("--cells", type=int, default=1000)
    s.add_argument("--repeats", type=int, default=5)
    s.set_defaults(func=cmd_synthetic)
    g = sub.add_parser("grid")
    g.add_argument("--records", default=str(ROOT / "results" / "records"))
    g.add_argument("--wall", type=float, help="wall seconds of the run")
    g.add_argument("--workers", type=int, default=os.cpu_count())
    g.set_defaults(func=cmd_grid)
    e = sub.add_parser("estimate")
    e.add_argument("--records", default=str(ROOT / "results" / "records"))
    e.add_argument("--workers", type=int, default=os.cpu_count())
    e.set_defaults(func=cmd_estimate)
    args = p.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
