"""A pool of long-lived training processes with a wall-clock limit and a memory ceiling per run.

Each worker imports torch once, with the CPU kernel path pinned (benchmark/kernel.py) and one thread, and
then trains run after run, so a grid pays the start-up once per core, not once per cell. The parent never
imports torch. A run past its time limit or memory ceiling is killed with its worker (a fresh worker takes
its place) and comes back as a failed record saying why: a hang or a leak is the method's fault and the
grid goes on. A worker that dies of anything else (killed from outside) loses only its running run, which
is reported as unfinished, not as the method's failure.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path

from benchmark import kernel


@dataclass(frozen=True)
class Job:
    method: str
    task: str
    seed: int
    draw: int
    phase: str
    profile: str

    def describe(self) -> str:
        return f"{self.task}--{self.method} {self.phase} seed {self.seed} draw {self.draw}"


@dataclass
class Outcome:
    job: Job
    record: dict | None = None  # a run record (status ok or failed)
    user_error: str | None = None  # a BenchmarkError: the configuration is wrong, nothing is recorded
    lost: str | None = None  # the worker died under the run; nothing is recorded, a rerun retries it


def _serve(conn, env: dict[str, str]) -> None:
    """A worker's life: set the environment before torch is imported, then run jobs until told to stop."""
    os.environ.update(env)
    from benchmark.errors import BenchmarkError
    from benchmark.records import plain
    from benchmark.runner import prepare_process, run_one
    from benchmark.train import pick_device

    device = pick_device()
    prepare_process(device)
    conn.send("ready")  # start-up (torch, the registry) is over: from now on the clock is the run's
    while True:
        job = conn.recv()
        if job is None:
            return
        try:
            started = lambda skeleton: conn.send(("started", skeleton))  # noqa: B023
            record = run_one(job.method, job.task, job.seed, job.draw, job.profile, device, job.phase, started)
            conn.send(Outcome(job, record=plain(record)))
        except BenchmarkError as exc:
            conn.send(Outcome(job, user_error=str(exc)))
        except BaseException:  # outside the method's code: an engine bug, say where
            conn.send(Outcome(job, lost=traceback.format_exc(limit=-3).strip().splitlines()[-1]))


@dataclass
class _Worker:
    process: mp.Process
    conn: object
    job: Job | None = None
    ready: bool = False
    started: float = 0.0
    skeleton: dict = field(default_factory=dict)  # the record as the run began: family, fingerprint, hparams


def _rss_mb(pid: int) -> float | None:
    """Resident memory of a process in MiB (Linux); None where /proc is not available."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return None


def failed_record(worker: _Worker, reason: str, seconds: float) -> dict:
    """The record of a run the pool had to stop: the method's fault, kept like any failed run."""
    job = worker.job
    record = {"task": job.task, "method": job.method, "seed": job.seed, "hparam_draw": job.draw,
              "phase": job.phase, "profile": job.profile, "metrics": [], "details": {}, **worker.skeleton}
    record.update(status="failed", error=reason)
    record["provenance"] = {**record.get("provenance", {}), "wall_seconds": seconds}
    return record


class Pool:
    """`run(jobs, done)`: trains every job on `workers` processes; `done(outcome)` is called in the parent
    as each finishes and may return more jobs (a cell's final runs once its search is complete)."""

    def __init__(self, workers: int, time_limit: Callable[[Job], float], memory_mb: float | None = None):
        self.size = max(1, workers)
        self.time_limit = time_limit
        self.memory_mb = memory_mb
        self.context = mp.get_context("spawn")
        self.env = kernel.worker_env()
        self.workers: list[_Worker] = []

    def _start(self) -> _Worker:
        parent, child = self.context.Pipe()
        process = self.context.Process(target=_serve, args=(child, self.env), daemon=True)
        process.start()
        child.close()
        return _Worker(process, parent)

    def _replace(self, worker: _Worker) -> None:
        worker.process.kill()
        worker.process.join()
        self.workers[self.workers.index(worker)] = self._start()

    def run(self, jobs: Iterable[Job], done: Callable[[Outcome], Iterable[Job] | None]) -> None:
        pending = deque(jobs)
        self.workers = [self._start() for _ in range(min(self.size, max(1, len(pending))))]
        try:
            while pending or any(w.job for w in self.workers):
                for worker in self.workers:
                    if worker.ready and worker.job is None and pending:
                        worker.job, worker.started = pending.popleft(), time.monotonic()
                        worker.conn.send(worker.job)
                starting = [w for w in self.workers if not w.ready]
                busy = [w for w in self.workers if w.job]
                ready = wait([w.conn for w in busy + starting] + [w.process.sentinel for w in busy + starting],
                             timeout=0.25)
                for worker in starting:
                    self._start_up(worker, ready)
                for worker in busy:
                    outcome = self._collect(worker, ready)
                    if outcome is not None:
                        worker.job = None
                        # a cell's next stage goes ahead of new cells: a stopped grid leaves whole cells
                        pending.extendleft(reversed(list(done(outcome) or ())))
        finally:
            self.close()

    def _start_up(self, worker: _Worker, ready: list) -> None:
        """A starting worker says it is ready, or died starting: that is no run's fault, so stop the grid."""
        if worker.conn in ready:
            try:
                worker.ready = worker.conn.recv() == "ready"
                return
            except (EOFError, OSError):
                pass
        if worker.process.sentinel in ready or not worker.process.is_alive():
            raise RuntimeError(f"a training worker failed to start (exit status {worker.process.exitcode}); "
                               "run `python -m benchmark run` on one cell to see why")

    def _collect(self, worker: _Worker, ready: list) -> Outcome | None:
        job, elapsed = worker.job, time.monotonic() - worker.started
        if worker.conn in ready:
            try:
                message = worker.conn.recv()
                if not isinstance(message, tuple):
                    return message
                worker.skeleton, worker.started = message[1], time.monotonic()  # the clock starts with training
                return None
            except (EOFError, OSError):
                pass  # it died while sending: handled below
        if worker.conn in ready or worker.process.sentinel in ready or not worker.process.is_alive():
            code = worker.process.exitcode
            self._replace(worker)
            return Outcome(job, lost=f"the worker process died (exit status {code}) during the run")
        limit = self.time_limit(job)
        if elapsed > limit:
            self._replace(worker)
            return Outcome(job, record=failed_record(
                worker, f"stopped: ran past the run time limit of {limit:g} s (params.yaml limits)", elapsed))
        rss = _rss_mb(worker.process.pid) if self.memory_mb else None
        if rss is not None and rss > self.memory_mb:
            self._replace(worker)
            return Outcome(job, record=failed_record(
                worker, f"stopped: used {rss:.0f} MiB, past the memory ceiling of {self.memory_mb:g} MiB "
                     "(params.yaml limits)", elapsed))
        return None

    def close(self) -> None:
        for worker in self.workers:
            if worker.process.is_alive():
                try:
                    worker.conn.send(None)
                except (OSError, BrokenPipeError):
                    pass
        for worker in self.workers:
            worker.process.join(timeout=2)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
        self.workers = []
