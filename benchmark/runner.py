"""Run one cell of the grid -- a (method, task) pair -- over seeds and hyperparameter draws, in one process.

Each (seed, draw) yields one run record. A method that raises or diverges marks only its own
record failed (with the reason); the cell file is still written and the grid goes on. The grid as a whole
runs in worker processes (benchmark/scheduler.py, benchmark/workers.py), each calling `run_one`.
"""

from __future__ import annotations

import inspect
import os
import platform
import subprocess
import tempfile
import time
import traceback
from datetime import UTC, datetime
from functools import cache
from importlib import metadata
from pathlib import Path

import torch

from benchmark import PROTOCOL_VERSION, ROOT, kernel
from benchmark.errors import BenchmarkError
from benchmark.families import protocol
from benchmark.fingerprint import cell_fingerprint
from benchmark.hparams import draw as draw_hparams
from benchmark.hparams import training_knobs, with_knobs
from benchmark.metrics import metric_problem
from benchmark.records import RECORD_SCHEMA, merge_records, read_cell, write_cell
from benchmark.registry import METHODS
from benchmark.seeding import run_streams
from benchmark.tasks import load_task, spec_hash, task_path
from benchmark.train import pick_device

PACKAGES = ("torch", "numpy", "scikit-learn", "pydantic", "mnist1d")


def cell_path(out: Path, task: str, method: str) -> Path:
    return Path(out) / task / f"{method}.json"


@cache
def provenance() -> dict:
    def version(pkg):
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return None

    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        rev = None
    return {"git_rev": rev, "protocol_version": PROTOCOL_VERSION, "python": platform.python_version(),
            "packages": {p: version(p) for p in PACKAGES}}


def ensure_writable(out: Path) -> None:
    """Fail before any training if the records cannot be written (nothing computed is then lost)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise BenchmarkError(f"run directory '{out}': cannot write run records there ({exc.strerror}); "
                             "pass a writable --out") from None


def prepare_process(device: torch.device) -> None:
    """Once per training process. One thread on CPU: the embedded models are small, so one is as fast
    and workers can share the cores. Deterministic algorithms on GPU only: on CPU the kernels already
    are, and switching the flag on imports torch's compiler stack (about 2 CPU-seconds)."""
    if device.type == "cpu":
        torch.set_num_threads(int(os.environ.get("BENCHMARK_THREADS", "1")))
    else:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
    # Building an optimizer imports torch's compiler stack on first use (~2 CPU-s): pay it here, once, so it
    # is neither in the first run's wall time nor against its time limit.
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])


def run_settings(profile: str) -> dict:
    """The settings besides code and task that move a run's numbers (part of its fingerprint)."""
    return {"profile": profile, "kernel": kernel.in_effect()}


def fingerprint_of(method_name: str, task_name: str, family: str, profile: str) -> str:
    source = Path(inspect.getfile(METHODS.get(method_name)))  # the file that defines the method's class
    return cell_fingerprint(source, family, task_path(task_name), run_settings(profile))


def run_one(method_name: str, task_name: str, seed: int, draw: int = 0, profile: str = "default",
            device: torch.device | None = None, phase: str = "final", on_start=None) -> dict:
    """Train and evaluate one (method, task, seed, draw); return its run record. A fault of the method's
    own code, a non-finite or out-of-range metric mark the record failed; a user mistake raises."""
    spec = load_task(task_name, profile)
    family = protocol(spec.family)
    method_cls = METHODS.get(method_name)
    reason = family.applies(method_cls, spec)
    if reason:
        raise BenchmarkError(f"{reason} (task '{task_name}')")
    device = device or pick_device()
    hp = draw_hparams(method_cls.hparams, draw)
    knobs = training_knobs(draw, spec.train)
    trained = spec.model_copy(update={"train": with_knobs(spec.train, knobs)})
    record = {
        "schema": RECORD_SCHEMA, "family": spec.family, "task": task_name, "method": method_name,
        "seed": seed, "hparam_draw": draw, "phase": phase, "hparams": {**knobs, **hp}, "profile": profile,
        "status": "ok", "error": None, "metrics": [], "details": {}, "parameters": 0,
        "primary": family.PRIMARY, "fingerprint": fingerprint_of(method_name, task_name, spec.family, profile),
        "provenance": {"spec_hash": spec_hash(spec), "device": str(device), "cpu": kernel.cpu_model(),
                       "kernel": kernel.in_effect(), "threads": torch.get_num_threads()},
    }
    if on_start is not None:  # the worker pool keeps this to write a record if it must stop the run
        on_start(record)
    start = time.perf_counter()
    try:
        generator = run_streams(seed, draw)
        # A search run evaluates validation data only: the draw is chosen without a test value in reach.
        result = family.run(method_cls, hp, trained, seed, device, generator, search=phase == "search")
        record.update(metrics=result.metrics, details=result.details, parameters=result.parameters)
        problem = metric_problem(result.metrics)
        if problem:
            record.update(status="failed", error=problem)
    except BenchmarkError:
        raise
    except Exception as exc:  # the method's fault: keep going, say why in the record
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        record.update(status="failed",
                      error=f"{type(exc).__name__}: {exc} (at {Path(frame.filename).name}:{frame.lineno})")
    record["provenance"]["wall_seconds"] = time.perf_counter() - start
    record["provenance"]["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    record["provenance"].update(provenance())
    return record


def check_run_request(seeds: list[int], draws: int) -> None:
    if not seeds:
        raise BenchmarkError("seeds: expected at least one seed, got none")
    bad = [s for s in seeds if s < 0]
    if bad:
        raise BenchmarkError(f"seeds: expected non-negative integers, got {bad[0]}")
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise BenchmarkError(f"seeds: expected each seed once, got {repeated[0]} {seeds.count(repeated[0])} times")
    if draws < 1:
        raise BenchmarkError(f"hparam draws: expected at least 1, got {draws}")


def run_cell(method: str, task: str, seeds: list[int], draws: int = 1, profile: str = "default",
             out: Path = ROOT / "results" / "records", progress: bool = True) -> Path:
    """Run one cell in this process, serially. Each finished run is merged into the cell's file at once
    (a kill loses at most the running one; runs of other seeds already there are kept)."""
    check_run_request(seeds, draws)
    METHODS.get(method)
    load_task(task, profile)
    out = Path(out)
    ensure_writable(out)
    device = pick_device()
    prepare_process(device)
    path = cell_path(out, task, method)
    from tqdm import tqdm

    runs = [(seed, d) for seed in seeds for d in range(draws)]
    for seed, d in tqdm(runs, desc=f"{method} on {task}", disable=not progress or None, unit="run", leave=False):
        record = run_one(method, task, seed, d, profile, device)
        write_cell(path, task, method, merge_records(read_cell(path), [record]))
    return path
