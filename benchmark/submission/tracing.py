"""Traced training runs: what `check` observes of a method without trusting it.

`run_traced` trains a method once on CPU with a fixed seed and records every step loss, a digest of
the trained state, a digest of every output of `predict` and `score`, the metrics, and every TensorSet
the protocol builds. Held-out splits are found, not declared: a set whose rows the training batches
never cover, and that the context does not hand to the method, is held out. `poison` replaces chosen
sets by noise; `holds` finds references to them; benchmark/submission/leaks.py runs the method again in a world
whose held-out labels are permuted.
"""

from __future__ import annotations

import hashlib
import math
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark import ROOT

SEED = 0
TIME_LIMIT = 60.0
POISON_SEED = 12345


class RunTimeout(BaseException):
    """Raised by the alarm inside a run; a BaseException, so a method's `except Exception` cannot eat it."""


@contextmanager
def time_limit(seconds: float):
    """Interrupt the block after `seconds` (Unix main thread; elsewhere the time is only measured)."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def fire(signum, frame):
        raise RunTimeout

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Trace:
    """What one run of a method showed: its step losses, final state, metrics, and the data it met."""

    task: str
    losses: list[float] = field(default_factory=list)
    state: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None
    sets: list = field(default_factory=list)
    seen: set[int] = field(default_factory=set)
    outputs: list[tuple[str, str]] = field(default_factory=list)
    """(what the method was asked about, digest of its answer), one per predict or score call."""
    read: list[str] = field(default_factory=list)
    """In the permuted world: each permuted label channel the method's code touched, in words."""
    method: Any = None
    ctx: Any = None
    names: dict[int, str] = field(default_factory=dict)
    on_start: Any = None
    """Called with the method object before its own __init__ runs (the permuted world arms there)."""
    """The protocol's own names of its sets (test_t, val_t...), found in its frames."""

    def nonfinite(self) -> str | None:
        for i, loss in enumerate(self.losses):
            if not math.isfinite(loss):
                return f"loss is {loss} at step {i + 1}"
        bad = [k for k, v in self.metrics.items() if not math.isfinite(v)]
        return f"metric {bad[0]} is {self.metrics[bad[0]]}" if bad else None

    def difference(self, other: Trace, metrics: bool = True, outputs: bool = True) -> str | None:
        """None when both runs trained identically, else the first difference, in words."""
        for i, (a, b) in enumerate(zip(self.losses, other.losses, strict=False)):
            if a != b and not (math.isnan(a) and math.isnan(b)):
                return f"step {i + 1} loss {a:.9g} vs {b:.9g}"
        if len(self.losses) != len(other.losses):
            return f"{len(self.losses)} vs {len(other.losses)} training steps"
        if self.state != other.state:
            return "same losses but different trained weights"
        for i, (a, b) in enumerate(zip(self.outputs, other.outputs, strict=False) if outputs else ()):
            if a[1] != b[1]:
                return f"{b[0]} differ (evaluation call {i + 1})"
        if outputs and len(self.outputs) != len(other.outputs):
            return f"{len(self.outputs)} vs {len(other.outputs)} evaluation calls"
        if metrics:
            for k in self.metrics.keys() | other.metrics.keys():
                a, b = self.metrics.get(k, math.nan), other.metrics.get(k, math.nan)
                if a != b and not (math.isnan(a) and math.isnan(b)):
                    return f"metric {k} {a:.9g} vs {b:.9g}"
        return None


def row_hashes(x) -> list[int]:
    """A stable 64-bit hash of each row (the same in every process: the permuted world runs apart)."""
    flat = x.detach().cpu().reshape(len(x), -1).numpy() if hasattr(x, "detach") else x.reshape(len(x), -1)
    return [int.from_bytes(hashlib.blake2b(row.tobytes(), digest_size=8).digest(), "little") for row in flat]


def _rows(x) -> set[int]:
    return set(row_hashes(x))


def _name_sets(trace: Trace, frame) -> None:
    """Name each set as the protocol does (test_t, val_t...), from the locals of its frames."""
    while frame is not None:
        for name, value in frame.f_locals.items():
            for k, s in enumerate(trace.sets):
                if value is s:
                    trace.names.setdefault(k, name)
        frame = frame.f_back


def _digest(*tensors) -> str:
    h = hashlib.sha256()
    for t in tensors:
        if t is not None:
            h.update(t.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _asked(trace: Trace, x) -> str:
    """Which set an evaluation input comes from: the protocol predicts on slices of its sets."""
    try:
        ptr = x.untyped_storage().data_ptr()
    except (AttributeError, RuntimeError):
        return "outputs"
    for k, s in enumerate(trace.sets):
        if s.x.untyped_storage().data_ptr() == ptr:
            return f"outputs on {trace.names.get(k, f'set {k}')} ({len(s)} rows)"
    return f"outputs on other inputs ({len(x)} rows)"


def _instrument(method_cls: type, trace: Trace) -> type:
    """A subclass recording the method object, its context, each step's loss and the rows it trains on."""

    class Traced(method_cls):
        def __init__(self, ctx, hp):
            trace.method, trace.ctx = self, ctx
            _name_sets(trace, sys._getframe(1))
            if trace.on_start:
                trace.on_start(self)
            super().__init__(ctx, hp)

        def step(self, batch):
            trace.seen |= _rows(batch.x)
            out = super().step(batch)
            trace.losses.append(float(out["loss"]))
            return out

        def predict(self, x):
            out = super().predict(x)
            trace.outputs.append((_asked(trace, x), _digest(out.logits, out.features)))
            return out

        def score(self, out):
            scores = super().score(out)
            if scores is not None:
                trace.outputs.append(("own OOD scores", _digest(scores)))
            return scores

    Traced.__name__ = Traced.__qualname__ = method_cls.__name__
    return Traced


@contextmanager
def _watch_sets(trace: Trace, poison: frozenset[int]):
    """Record every TensorSet the protocol builds, in order; replace those numbered in `poison` by noise."""
    import benchmark.train as train_module
    from benchmark.train import TensorSet

    original = TensorSet.__init__
    methods_dir = str(ROOT / "methods")

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        frame = sys._getframe(1)
        while frame and frame.f_code.co_filename == train_module.__file__:
            frame = frame.f_back
        if frame and frame.f_code.co_filename.startswith(methods_dir):
            return  # the method's own sets (a replay memory, say) are its business
        if len(trace.sets) in poison:
            _poison(self, POISON_SEED + len(trace.sets))
        trace.sets.append(self)

    TensorSet.__init__ = init
    try:
        yield
    finally:
        TensorSet.__init__ = original


def _poison(tensor_set, seed: int) -> None:
    """Fresh noise inputs and random labels of the same shapes (new tensors: shared memory stays intact)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    x, y = tensor_set.x, tensor_set.y
    if x.is_floating_point():
        tensor_set.x = torch.randn(x.shape, generator=g, dtype=x.dtype).to(x.device)
    elif x.numel():
        x_new = torch.randint(int(x.min()), int(x.max()) + 1, x.shape, generator=g, dtype=x.dtype)
        tensor_set.x = x_new.to(x.device)
    if not y.is_floating_point() and y.numel() and int(y.max()) >= 1:
        tensor_set.y = torch.randint(0, int(y.max()) + 1, y.shape, generator=g, dtype=y.dtype).to(y.device)


def _state_digest(method) -> str:
    """A hash of every module's state and every tensor attribute of the trained method."""
    import torch

    h = hashlib.sha256()
    for name, value in sorted(vars(method).items()):
        tensors = value.state_dict().items() if isinstance(value, torch.nn.Module) else (
            [("", value)] if isinstance(value, torch.Tensor) else [])
        for key, t in tensors:
            h.update(f"{name}.{key}".encode())
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _where(exc: BaseException) -> str:
    """The innermost frame of the traceback inside methods/, else the innermost frame."""
    frames = traceback.extract_tb(exc.__traceback__)
    inside = [f for f in frames if f.filename.startswith(str(ROOT / "methods"))]
    f = (inside or frames)[-1]
    return f"{type(exc).__name__}: {exc} (at {Path(f.filename).name}:{f.lineno})"


def run_traced(method_cls: type, task: str, spec, hp: dict, limit: float = TIME_LIMIT,
               poison: frozenset[int] = frozenset(), world=None) -> Trace:
    """Train `method_cls` once on `spec`, on CPU, with the fixed check seed. `world(trace)`, if given,
    is a context manager that changes what the run's data looks like (benchmark/submission/leaks.py)."""
    import torch

    # The first optimizer imports torch's compiler stack (seconds): import it before the clock starts, so
    # the time limit's alarm can never leave a half-imported module (sympy) behind for later runs.
    import torch._dynamo  # noqa: F401

    from benchmark.families import protocol
    from benchmark.seeding import run_streams

    trace = Trace(task)
    traced = _instrument(method_cls, trace)
    start = time.perf_counter()
    try:
        with _watch_sets(trace, poison), world(trace) if world else nullcontext(), time_limit(limit):
            generator = run_streams(SEED)
            result = protocol(spec.family).run(traced, hp, spec, SEED, torch.device("cpu"), generator)
        trace.metrics = {"/".join(filter(None, (m.metric, m.selection, m.scorer, m.domain))): float(m.value)
                         for m in result.metrics}
    except RunTimeout:
        trace.error = f"timed out after {limit:g} s"
    except Exception as exc:  # the method's fault (or an invalid task): reported, never a traceback
        trace.error = _where(exc)
    trace.seconds = time.perf_counter() - start
    if trace.method is not None:
        trace.state = _state_digest(trace.method)
    return trace


# -- test-data isolation -------------------------------------------------------------------------------


def _children(obj) -> Iterator[tuple[str, Any]]:
    if isinstance(obj, dict):
        yield from ((f"[{k!r}]", v) for k, v in obj.items())
    elif isinstance(obj, list | tuple | set | frozenset):
        yield from ((f"[{i}]", v) for i, v in enumerate(obj))
    elif hasattr(obj, "__func__") and hasattr(obj, "__self__"):  # a bound method
        yield ".__self__", obj.__self__
        yield from _children(obj.__func__)
    elif callable(obj) and getattr(obj, "__closure__", None):
        yield from ((f".<closure {i}>", c.cell_contents) for i, c in enumerate(obj.__closure__)
                    if c.cell_contents is not None)
    elif hasattr(obj, "__dict__") and not isinstance(obj, type):
        yield from ((f".{k}", v) for k, v in vars(obj).items())


def _span(obj) -> tuple[int, int] | None:
    import numpy as np
    import torch

    try:
        if isinstance(obj, torch.Tensor):
            storage = obj.untyped_storage()
            return (storage.data_ptr(), storage.data_ptr() + storage.nbytes()) if storage.nbytes() else None
        if isinstance(obj, np.ndarray) and obj.nbytes:
            return np.byte_bounds(obj)
    except (RuntimeError, TypeError, ValueError):
        return None
    return None


def holds(root, held_out: list, depth: int = 8) -> str | None:
    """The attribute path by which `root` reaches memory of a held-out set, or None."""
    import numpy as np
    import torch

    targets = {id(s) for s in held_out}
    spans = [sp for s in held_out for sp in (_span(s.x), _span(s.y)) if sp]
    atoms = (str, bytes, int, float, bool, type(None), type, torch.Generator, torch.device, torch.dtype)
    visited, stack = set(), [(root, "method", 0)]
    while stack:
        obj, path, d = stack.pop()
        if id(obj) in visited or isinstance(obj, atoms) or type(obj).__name__ == "module":
            continue
        visited.add(id(obj))
        if id(obj) in targets:
            return path
        if isinstance(obj, torch.Tensor | np.ndarray):
            span = _span(obj)
            if span and any(span[0] < hi and lo < span[1] for lo, hi in spans):
                return path
            continue
        if d < depth:
            stack.extend((child, path + name, d + 1) for name, child in _children(obj))
    return None


def _reachable(root, depth: int = 4) -> set[int]:
    seen, stack = set(), [(root, 0)]
    while stack:
        obj, d = stack.pop()
        if id(obj) not in seen:
            seen.add(id(obj))
            stack.extend((child, d + 1) for _, child in (_children(obj) if d < depth else ()))
    return seen


def held_out_sets(trace: Trace) -> tuple[list[int], list[int]]:
    """(training, held-out) set numbers: a set is training if the step batches covered half its rows
    or the context hands it to the method."""
    given = _reachable(trace.ctx.extra) if trace.ctx is not None else set()
    training, held = [], []
    for k, s in enumerate(trace.sets):
        rows = _rows(s.x) if len(s.x) else set()
        covered = len(rows & trace.seen) >= 0.5 * len(rows)
        (training if id(s) in given or covered else held).append(k)
    return training, held
