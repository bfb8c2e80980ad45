"""`python -m benchmark calibrate`: does ERM show each task's trouble, within the cost budget?

A task earns its place only if plain ERM suffers from the trouble it stands for; otherwise no method
can be seen to help. Per family the measure, over ERM's seeds (mean), against its threshold:
  noisy_labels            memorization >= 0.30 (share of corrupted training labels fit at the last epoch)
                          and best-epoch minus last-epoch clean test accuracy (oracle_test_acc - last_acc)
                          >= 0.05
  domain_generalization   in-domain validation minus held-out-domain accuracy (val_acc - test_acc) >= 0.10
  continual               fine-tuning forgetting >= 0.30
  ood                     MSP AUROC, mean over the task's test sets, within [0.65, 0.92]; and over all OOD
                          tasks, far sets easier than near sets (mean MSP AUROC of each kind's sets)
Cost: CPU seconds per ERM run (process time when this command trains, else the record's wall_seconds);
the mean over tasks at most 1.5 s and no task above 3 s.

The measures are pure functions of run records (tested on hand-made ones); `main` trains or reads them.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from benchmark.errors import BenchmarkError

MEMORIZATION = 0.30
NOISY_DROP = 0.05
DG_GAP = 0.10
FORGETTING = 0.30
AUROC_WINDOW = (0.65, 0.92)
MEAN_COST = 1.5
MAX_COST = 3.0


@dataclass
class Check:
    measure: str
    value: float
    wanted: str
    ok: bool


def metric(record: dict, name: str, scorer: str = "", domain: str = "") -> float:
    """The value of one overall metric of a record (first match; selection is fixed per metric)."""
    for m in record["metrics"]:
        if m["metric"] == name and m.get("scorer", "") == scorer and m.get("domain", "") == domain:
            return float(m["value"])
    raise BenchmarkError(f"record of task '{record.get('task')}' seed {record.get('seed')}: no metric "
                         f"'{name}' (scorer '{scorer}', domain '{domain}'); expected an ERM run record")


def _mean(records: list[dict], value) -> float:
    return float(np.mean([value(r) for r in records]))


def at_least(measure: str, value: float, threshold: float) -> Check:
    return Check(measure, value, f">= {threshold:g}", value >= threshold)


def trouble(records: list[dict]) -> list[Check]:
    """The family's trouble measures over a task's ERM records (mean over seeds)."""
    family = records[0]["family"]
    if family == "noisy_labels":
        return [at_least("memorization", _mean(records, lambda r: metric(r, "memorization")), MEMORIZATION),
                at_least("best-last test acc",
                         _mean(records, lambda r: metric(r, "oracle_test_acc") - metric(r, "last_acc")),
                         NOISY_DROP)]
    if family == "domain_generalization":
        return [at_least("in-domain val - held-out acc",
                         _mean(records, lambda r: metric(r, "val_acc") - metric(r, "test_acc")), DG_GAP)]
    if family == "continual":
        return [at_least("forgetting", _mean(records, lambda r: metric(r, "forgetting")), FORGETTING)]
    if family == "ood":
        low, high = AUROC_WINDOW
        auroc = _mean(records, lambda r: metric(r, "auroc", scorer="msp", domain="mean"))
        return [Check("MSP AUROC (mean of sets)", auroc, f"in [{low:g}, {high:g}]", low <= auroc <= high)]
    raise BenchmarkError(f"family '{family}': no calibration measure; expected one of noisy_labels, "
                         "domain_generalization, continual, ood")


def ladder(ood_records: list[dict]) -> list[Check]:
    """Near-OOD harder than far-OOD: MSP AUROC of far sets minus near sets, each the mean over the OOD tasks'
    ERM records of their sets of that kind (a task without the kind adds nothing to it)."""
    def kind_mean(kind: str) -> float | None:
        values = [float(m["value"]) for r in ood_records for m in r["metrics"]
                  if m["metric"] == "auroc" and m.get("scorer") == "msp" and m.get("domain") == kind]
        return float(np.mean(values)) if values else None

    near, far = kind_mean("near"), kind_mean("far")
    if near is None or far is None:
        return []
    return [Check("MSP AUROC far - near (all OOD tasks)", far - near, "> 0", far > near)]


def cost(record: dict) -> float:
    """CPU seconds of one run: process time where this command measured it, else wall time."""
    provenance = record["provenance"]
    return float(provenance.get("cpu_seconds", provenance["wall_seconds"]))


def budget(costs: dict[str, float]) -> list[Check]:
    """The cost budget over tasks' mean ERM cost per run."""
    worst = max(costs, key=costs.get)
    return [Check("mean ERM cost per run (s)", float(np.mean(list(costs.values()))), f"<= {MEAN_COST:g}",
                  float(np.mean(list(costs.values()))) <= MEAN_COST),
            Check(f"max ERM cost per run (s), {worst}", costs[worst], f"<= {MAX_COST:g}", costs[worst] <= MAX_COST)]


def ok_records(task: str, records: list[dict]) -> list[dict]:
    good = [r for r in records if r.get("status") == "ok"]
    if not good:
        raise BenchmarkError(f"task '{task}': no successful ERM run record; expected at least one")
    return good


def train_records(task: str, seeds: int, profile: str) -> list[dict]:
    from benchmark.runner import run_one

    records = []
    for seed in range(seeds):
        start = time.process_time()
        record = run_one("erm", task, seed, profile=profile)
        record["provenance"]["cpu_seconds"] = time.process_time() - start
        records.append(record | {"metrics": [asdict(m) for m in record["metrics"]]})  # as a record file holds them
    return records


def read_records(task: str, directory: Path, seeds: int) -> list[dict]:
    from benchmark.records import read_cell
    from benchmark.runner import cell_path

    path = cell_path(directory, task, "erm")
    finals = [r for r in read_cell(path) if r.get("phase", "final") == "final"]  # search runs: val_acc only
    records = sorted(finals, key=lambda r: r["seed"])[:seeds]
    if not records:
        raise BenchmarkError(f"--records {directory}: no ERM records of task '{task}' at {path}; "
                             "expected a cell file written by `python -m benchmark run`")
    return records


def task_lines(task: str, checks: list[Check], cost_per_run: float, seeds: int) -> list[str]:
    return [f"{task:28} {c.measure:30} {c.value:7.3f} {c.wanted:14} {'ok' if c.ok else 'MISS':4}"
            f"  (ERM, {seeds} seeds, {cost_per_run:.2f} s/run)" for c in checks]


def report(checks: dict[str, list[Check]], costs: dict[str, float], seeds: dict[str, int],
           ood_records: list[dict] = ()) -> tuple[str, bool]:
    lines = [line for task in checks for line in task_lines(task, checks[task], costs[task], seeds[task])]
    totals = ladder(list(ood_records)) + budget(costs)
    lines += [f"{'(all tasks)':28} {c.measure:45} {c.value:7.3f} {c.wanted:14} {'ok' if c.ok else 'MISS'}"
              for c in totals]
    return "\n".join(lines), all(c.ok for c in [*totals, *(c for cs in checks.values() for c in cs)])


def main(tasks: list[str] | None, seeds: int, records_dir: Path | None, profile: str = "default") -> int:
    from benchmark.runner import prepare_process
    from benchmark.tasks import task_names
    from benchmark.train import pick_device

    if seeds < 1:
        raise BenchmarkError(f"--seeds {seeds}: expected a number of seeds, at least 1")
    names = tasks or task_names()
    if records_dir is None:
        prepare_process(pick_device())  # one torch thread, as the grid's workers run
    checks, costs, counts, ood_records = {}, {}, {}, []
    for task in names:
        raw = read_records(task, records_dir, seeds) if records_dir else train_records(task, seeds, profile)
        records = ok_records(task, raw)
        checks[task] = trouble(records)
        costs[task] = float(np.mean([cost(r) for r in records]))
        counts[task] = len(records)
        ood_records += [r for r in records if r["family"] == "ood"]
        print("\n".join(task_lines(task, checks[task], costs[task], counts[task])), flush=True)
    text, all_ok = report(checks, costs, counts, ood_records)
    print("\n" + text)
    return 0 if all_ok else 1
