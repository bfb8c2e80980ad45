"""`python -m benchmark verify`: re-run committed cells and compare them with their records.

Every run of a chosen cell is trained again exactly as recorded (phase, seed, draw, profile) on the pinned
kernel path, and each metric is judged:
  exact      bit-identical (what the same code, packages and kernel path give on CPUs of the same vendor);
  noise      differs by at most NOISE x the metric's standard deviation across the cell's recorded seeds
             (a different machine class or package build: numbers move by far less than seed noise);
  differs    anything more: the record does not come from this code. The command exits 1.
Records from another CPU vendor (Intel vs AMD) cannot be bit-identical: MKL keeps the pinned AVX2 branch on
Intel CPUs only and falls back to its own dispatch elsewhere, and one rounding apart a run can take another
trajectory. Such a cell is judged by its means instead: each primary metric's mean over the final seeds must
stay within CROSS_VENDOR standard errors of the recorded one, else the command exits 1.
`--stale` re-runs nothing: it lists cells whose records no longer match their code (fingerprint).
"""

from __future__ import annotations

import math
import statistics
import subprocess
from pathlib import Path

from benchmark import ROOT
from benchmark.errors import BenchmarkError
from benchmark.kernel import cpu_model
from benchmark.records import read_cell, run_key
from benchmark.scheduler import Cell, load_cells
from benchmark.workers import Job, Pool

NOISE = 0.25
"""A re-run within this share of one across-seed standard deviation counts as seed-level noise, not a
difference (e.g. 0.25 x std 0.012 of test accuracy = 0.003)."""


CROSS_VENDOR = 3.0
"""Tolerance for a cell recorded on another CPU vendor, in standard errors of a difference of two means over
n seeds (sd x sqrt(2/n), sd across the recorded seeds; at least 0.001)."""


def metric_key(m: dict) -> tuple[str, str, str, str]:
    return m["metric"], m["selection"], m["scorer"], m["domain"]


def vendor(cpu: str) -> str:
    low = cpu.lower()
    return "Intel" if "intel" in low else "AMD" if "amd" in low else cpu


def other_vendor(recorded: list[dict], here: str) -> str | None:
    """The vendors the cell was recorded on, when any differs from this machine's."""
    vendors = sorted({vendor(r.get("provenance", {}).get("cpu", "")) for r in recorded})
    return None if vendors == [vendor(here)] else "+".join(vendors)


def moved_means(recorded: list[dict], rerun: dict[tuple, dict]) -> list[str]:
    """Primary metrics whose mean over the cell's final seeds moved by more than CROSS_VENDOR standard errors."""
    old: dict[tuple, list[float]] = {}
    new: dict[tuple, list[float]] = {}
    for r in recorded:
        fresh = rerun.get(run_key(r))
        if r.get("phase", "final") != "final" or r["status"] != "ok" or not fresh or fresh["status"] != "ok":
            continue
        now = {metric_key(m): m["value"] for m in fresh["metrics"]}
        for m in r["metrics"]:
            key = metric_key(m)
            if m["metric"] == r.get("primary") and key in now:
                old.setdefault(key, []).append(m["value"])
                new.setdefault(key, []).append(now[key])
    lines = []
    for key, values in old.items():
        if len(values) < 2:
            continue
        a, b = statistics.fmean(values), statistics.fmean(new[key])
        if abs(a - b) > max(CROSS_VENDOR * statistics.stdev(values) * math.sqrt(2 / len(values)), 1e-3):
            lines.append(f"{'/'.join(filter(None, key))}: mean over {len(values)} seeds {a:.4g} recorded, {b:.4g} now")
    return lines


def changed_files(base: str) -> set[str]:
    try:
        out = subprocess.run(["git", "diff", "--name-only", base, "--"], cwd=ROOT, capture_output=True,
                             text=True, timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise BenchmarkError(f"--changed-since {base}: git cannot compare with it ({exc})") from None
    return set(out.split())


def select(cells: dict[str, Cell], grid: dict[str, dict], names: list[str] | None, method: str | None,
           since: str | None) -> list[Cell]:
    if names:
        unknown = [n for n in names if n not in cells]
        if unknown:
            raise BenchmarkError(f"--cells: unknown cell {unknown[0]!r}; cells are TASK--METHOD as in grid.yaml")
        return [cells[n] for n in names]
    if method:
        chosen = [c for c in cells.values() if c.method == method]
        if not chosen:
            raise BenchmarkError(f"--method {method!r}: no cell of grid.yaml runs it")
        return chosen
    if since:
        from benchmark.fingerprint import engine_files, method_files

        changed = changed_files(since)
        out = []
        for key, cell in cells.items():
            inputs = {*method_files(ROOT / grid[key].get("source", f"methods/{cell.method}.py")),
                      *engine_files(cell.family), f"tasks/{cell.task}.yaml",
                      str(cell.path.resolve().relative_to(ROOT)) if cell.path.resolve().is_relative_to(ROOT) else ""}
            if inputs & changed:
                out.append(cell)
        return out
    return list(cells.values())


def judge(old: float, new: float, spread: float) -> str:
    if old == new or (math.isnan(old) and math.isnan(new)):
        return "exact"
    return "noise" if abs(old - new) <= NOISE * spread else "differs"


def compare(cell: Cell, recorded: list[dict], rerun: dict[tuple, dict]) -> tuple[dict[str, int], list[str], list[str]]:
    """Counts of exact / noise / differs metric values; a line per run whose status changed, and one per
    differing value."""
    values: dict[tuple, list[float]] = {}
    for r in recorded:
        for m in r.get("metrics", []):
            values.setdefault(metric_key(m), []).append(m["value"])
    spread = {k: statistics.stdev(v) if len(v) > 1 else 0.0 for k, v in values.items()}
    counts = {"exact": 0, "noise": 0, "differs": 0}
    status, lines = [], []
    for r in recorded:
        new = rerun.get(run_key(r))
        if new is None or new["status"] != r["status"]:
            counts["differs"] += 1
            status.append(f"{cell.key} seed {r['seed']}: status {r['status']} recorded, "
                         f"{new['status'] if new else 'no run'} now")
            continue
        fresh = {metric_key(m): m["value"] for m in new["metrics"]}
        for m in r.get("metrics", []):
            key = metric_key(m)
            verdict = judge(m["value"], fresh.get(key, float("nan")), spread[key])
            counts[verdict] += 1
            if verdict == "differs":
                lines.append(f"{cell.key} {r['phase']} seed {r['seed']} {'/'.join(filter(None, key))}: "
                             f"recorded {m['value']:.6g}, now {fresh.get(key, float('nan')):.6g}")
    return counts, status, lines


def verify(params, grid_path: Path, records: Path, names=None, method=None, since=None, stale_only=False,
           jobs: int | None = None) -> int:
    from benchmark.grid import read_cells

    grid = read_cells(grid_path)
    cells = load_cells(grid, records, params.profile)
    chosen = select(cells, grid, names, method, since)
    stale = [c for c in chosen if any(r.get("fingerprint") != c.fingerprint for r in read_cell(c.path))
             or not read_cell(c.path)]
    for c in stale:
        print(f"stale: {c.key} (its records do not match its code: rerun with `dvc repro`)")
    if stale_only:
        print(f"{len(chosen)} cells checked, {len(stale)} stale")
        return 1 if stale else 0
    fresh = [c for c in chosen if c not in stale]
    recorded = {c.key: read_cell(c.path) for c in fresh}
    jobs_list = [Job(c.method, c.task, r["seed"], r.get("hparam_draw", 0), r.get("phase", "final"), params.profile)
                 for c in fresh for r in recorded[c.key]]
    rerun: dict[str, dict[tuple, dict]] = {c.key: {} for c in fresh}

    def done(outcome):
        if outcome.user_error:
            raise BenchmarkError(outcome.user_error)
        if outcome.record is not None:
            rerun[f"{outcome.job.task}--{outcome.job.method}"][run_key(outcome.record)] = outcome.record

    if jobs_list:
        from benchmark.scheduler import cpu_count

        Pool(min(jobs or params.jobs or cpu_count(), len(jobs_list)), lambda j: params.limits.run_seconds,
             params.limits.memory_mb).run(jobs_list, done)
    total = {"exact": 0, "noise": 0, "differs": 0}
    failed, here = 0, cpu_model()
    for c in fresh:
        counts, status, values = compare(c, recorded[c.key], rerun[c.key])
        for k, v in counts.items():
            total[k] += v
        word = "differs" if counts["differs"] else "within seed noise" if counts["noise"] else "exact"
        lines = status + values
        crossed = other_vendor(recorded[c.key], here)
        if crossed and counts["differs"]:  # another vendor's kernels: judge the means, not each value
            lines = status + moved_means(recorded[c.key], rerun[c.key])
            moved = "means moved" if lines else "means within noise"
            word = f"recorded on {crossed}, re-run on {vendor(here)}: {moved}"
        failed += bool(lines)
        print(f"{word}: {c.key} ({counts['exact']} exact, {counts['noise']} within noise, "
              f"{counts['differs']} differ)")
        for line in lines[:10]:
            print(f"  {line}")
    print(f"{len(fresh)} cells re-run: {total['exact']} metric values exact, {total['noise']} within "
          f"{NOISE:g} x seed std, {total['differs']} differ; {failed} cells fail; {len(stale)} cells stale")
    return 1 if failed or stale else 0
