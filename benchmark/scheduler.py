"""`python -m benchmark train`: bring every cell of grid.yaml up to date, on every core.

A cell is up to date when its record file holds every run params.yaml asks for, each stamped with the
cell's current fingerprint (benchmark/fingerprint.py): its method's code, its task, the engine code of its
family, the profile and the kernel path. Only the missing runs train, in a pool of worker processes
(benchmark/workers.py); each finished run is merged into its cell's file at once, so a killed grid resumes
where it stopped. DVC calls this as the `train` stage; what DVC records (dvc.lock) and what each record says
(its fingerprint) are then the same fact at two grains.

Phases (docs/stats.md): with `hparam_draws` > 1 a cell first runs every draw on the search seeds, picks the
draw by validation alone, then runs that draw on the final seeds; with 1 draw it runs the defaults on the
final seeds. The chosen draw and the rule are written into every final record.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmark import ROOT
from benchmark.errors import BenchmarkError
from benchmark.fingerprint import cell_fingerprint
from benchmark.grid import Params, read_cells
from benchmark.kernel import PINNED, worker_env
from benchmark.records import clean_temporary, read_cell, run_key, write_cell
from benchmark.tasks import task_path
from benchmark.workers import Job, Outcome, Pool

DEFAULT_RULE = "defaults (no search)"


@dataclass
class Cell:
    task: str
    method: str
    family: str
    path: Path
    fingerprint: str
    runs: dict = field(default_factory=dict)  # run key -> record, current fingerprint only

    @property
    def key(self) -> str:
        return f"{self.task}--{self.method}"


def val_score(record: dict) -> float | None:
    """A run's validation accuracy: its all-domain `val_acc` row, else the mean of its rows. No test value."""
    rows = [m for m in record.get("metrics", []) if m["metric"] == "val_acc"]
    rows = [m for m in rows if m.get("domain", "") == ""] or rows
    return sum(m["value"] for m in rows) / len(rows) if rows else None


def choose_draw(search: list[dict]) -> int:
    """The draw with the fewest failed runs, then the best mean validation score over the search seeds,
    then the lowest index (ties keep the defaults, draw 0)."""
    return ranked_draws(search)[0]


def ranked_draws(search: list[dict]) -> list[int]:
    """The draws of `search`, best first by `choose_draw`'s order."""
    by_draw: dict[int, list[dict]] = {}
    for r in search:
        by_draw.setdefault(int(r["hparam_draw"]), []).append(r)

    def order(draw: int):
        runs = by_draw[draw]
        scores = [s for r in runs if r["status"] == "ok" and (s := val_score(r)) is not None]
        failed = sum(r["status"] != "ok" for r in runs)
        return failed, -(sum(scores) / len(scores)) if scores else float("inf"), draw

    return sorted(by_draw, key=order)


class Plan:
    """What params.yaml asks of one cell, and what of it is still missing.

    The search is successive halving over the search seeds (docs/stats.md §1): rung 0 runs every draw on the
    first search seed; the best `search_keep` draws of rung 0 by validation go on to every further search
    seed; the chosen draw is `choose_draw` over the survivors' runs on all search seeds. `search_keep` = 0
    (or at least the number of draws) runs every draw on every search seed."""

    def __init__(self, params: Params):
        self.params = params
        self.search = params.hparam_draws > 1
        draws = params.hparam_draws
        self.keep = draws if not params.search_keep or params.search_keep >= draws else params.search_keep
        self.halving = self.search and self.keep < draws and len(params.search_seeds) > 1
        self.rule = (f"best mean val_acc over search seeds {params.search_seeds} among {draws} draws"
                     + (f", the best {self.keep} of seed {params.search_seeds[0]} going on to the other seeds"
                        if self.halving else "")
                     + " (fewest failures first, ties to the lower draw)")

    def _rung0(self) -> list[tuple]:
        """Every draw on the first search seed; on every search seed when not halving."""
        seeds = self.params.search_seeds[:1] if self.halving else self.params.search_seeds
        return [("search", s, d) for s in seeds for d in range(self.params.hparam_draws)]

    def survivors(self, cell: Cell) -> list[int] | None:
        """The draws that go on past rung 0, best first; None while rung 0 is incomplete."""
        rung0 = self._rung0()
        if any(k not in cell.runs for k in rung0):
            return None
        return ranked_draws([cell.runs[k] for k in rung0])[:self.keep]

    def search_keys(self, cell: Cell) -> list[tuple]:
        """The search runs known to be wanted now (later rungs once rung 0 is complete)."""
        if not self.search:
            return []
        survivors = self.survivors(cell) if self.halving else None
        later = [("search", s, d) for s in self.params.search_seeds[1:] for d in sorted(survivors or [])]
        return self._rung0() + later

    def chosen(self, cell: Cell) -> tuple[int, str] | None:
        """(draw, rule) once the cell's search is complete; draw 0 without a search."""
        if not self.search:
            return 0, DEFAULT_RULE
        survivors = self.survivors(cell)
        keys = self.search_keys(cell)
        if survivors is None or any(k not in cell.runs for k in keys):
            return None
        return choose_draw([cell.runs[k] for k in keys if k[2] in survivors]), self.rule

    def final_keys(self, draw: int) -> list[tuple]:
        return [("final", s, draw) for s in self.params.seeds]

    def wanted(self, cell: Cell) -> list[tuple]:
        chosen = self.chosen(cell)
        return self.search_keys(cell) + (self.final_keys(chosen[0]) if chosen else [])

    def stage(self, cell: Cell) -> int:
        """0: rung 0 running; 1: later rungs running; 2: final runs (the draw is known)."""
        return 2 if self.chosen(cell) else 1 if self.halving and self.survivors(cell) is not None else 0

    def missing(self, cell: Cell) -> list[Job]:
        """Runs that can start now: those of the cell's current stage not yet recorded."""
        chosen = self.chosen(cell)
        keys = [k for k in (self.final_keys(chosen[0]) if chosen else self.search_keys(cell)) if k not in cell.runs]
        return [Job(cell.method, cell.task, seed, draw, phase, self.params.profile) for phase, seed, draw in keys]

    def outstanding(self, cell: Cell) -> int:
        """Runs still to train, later rungs and final runs counted before they are known."""
        if self.chosen(cell):
            return len(self.missing(cell))
        later = 0 if not self.halving or self.survivors(cell) is not None else (
            self.keep * (len(self.params.search_seeds) - 1))
        return sum(k not in cell.runs for k in self.search_keys(cell)) + later + len(self.params.seeds)


def order_cells(cells: list[Cell]) -> list[Cell]:
    """ERM's cells first (every verdict needs them), then method by method with the tasks in turn."""
    return sorted(cells, key=lambda c: (c.method != "erm", c.method, c.task))


def load_cells(cells: dict[str, dict], records: Path, profile: str) -> dict[str, Cell]:
    settings = {"profile": profile, "kernel": in_effect_for_workers()}
    loaded = {}
    for key, c in cells.items():
        source = ROOT / c.get("source", f"methods/{c['method']}.py")
        fp = cell_fingerprint(source, c["family"], task_path(c["task"]), settings)
        path = records / c["task"] / f"{c['method']}.json"
        current = {run_key(r): r for r in read_cell(path) if r.get("fingerprint") == fp}
        loaded[key] = Cell(c["task"], c["method"], c["family"], path, fp, current)
    return loaded


def in_effect_for_workers() -> dict:
    """The kernel settings the workers will run with (what their records' fingerprints will say)."""
    env = {**os.environ, **worker_env()}
    return {k: env[k] for k in PINNED if k in env}


def save(cell: Cell, plan: Plan) -> None:
    wanted = set(plan.wanted(cell))
    write_cell(cell.path, cell.task, cell.method, [r for k, r in cell.runs.items() if k in wanted])


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def train(params: Params, grid: Path, records: Path, jobs: int | None = None, dry_run: bool = False,
          progress: bool = True) -> int:
    """Train every stale run of the grid; return the exit status (0, or 1 when runs were lost)."""
    records.mkdir(parents=True, exist_ok=True)
    clean_temporary(records)
    plan = Plan(params)
    cells = load_cells(read_cells(grid), records, params.profile)
    todo = {k: c for k, c in cells.items() if plan.outstanding(c)}
    total = sum(plan.outstanding(c) for c in todo.values())
    print(f"{len(cells)} cells, {len(cells) - len(todo)} up to date, {len(todo)} to run ({total} runs)", flush=True)
    if dry_run:
        for key in sorted(todo):
            print(f"  stale: {key} ({plan.outstanding(todo[key])} runs)")
        return 0
    for cell in cells.values():  # prune runs params.yaml no longer asks for (fewer seeds, another draw)
        if cell.key not in todo:
            save(cell, plan)
    if not todo:
        return 0
    workers = jobs or params.jobs or cpu_count()
    by_key = {c.key: c for c in todo.values()}
    lost: list[str] = []
    failed: list[str] = []
    finished = dict.fromkeys(todo, False)
    from tqdm import tqdm

    bar = tqdm(total=total, unit="run", desc="grid", disable=not progress or None, smoothing=0.05,
               file=sys.stderr, mininterval=1.0)

    def done(outcome: Outcome) -> list[Job]:
        if outcome.user_error:
            raise BenchmarkError(outcome.user_error)
        cell = by_key[f"{outcome.job.task}--{outcome.job.method}"]
        bar.update(1)
        finished[cell.key] = plan.outstanding(cell) <= 1 and not outcome.lost
        bar.set_postfix_str(f"{sum(finished.values())}/{len(todo)} cells", refresh=False)
        if outcome.lost:
            lost.append(f"{outcome.job.describe()}: {outcome.lost}")
            return []
        record = outcome.record
        if record.get("phase") == "final":
            record["selection_rule"] = plan.chosen(cell)[1]
        record["fingerprint"] = cell.fingerprint
        stage = plan.stage(cell)
        cell.runs[run_key(record)] = record
        if record["status"] != "ok":
            failed.append(f"{outcome.job.describe()}: {record.get('error')}")
        save(cell, plan)
        return plan.missing(cell) if plan.stage(cell) != stage else []  # the next rung, or the final runs

    limits = params.limits
    pool = Pool(min(workers, total), lambda job: limits.run_seconds, limits.memory_mb)
    start = time.perf_counter()
    try:
        pool.run([job for c in order_cells(list(todo.values())) for job in plan.missing(c)], done)
    finally:
        bar.close()
    print(f"trained {total - len(lost)} runs on {pool.size} workers in {time.perf_counter() - start:.1f} s; "
          f"{len(failed)} failed (recorded as the method's result)", flush=True)
    for line in failed[:20]:
        print(f"  failed: {line}", file=sys.stderr)
    if lost:
        print(f"error: {len(lost)} runs did not finish (rerun to retry only them):", file=sys.stderr)
        for line in lost:
            print(f"  {line}", file=sys.stderr)
        return 1
    return 0
