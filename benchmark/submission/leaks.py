"""The permuted world: `check` runs a method again where every held-out label it could reach is permuted.

It runs in a fresh process (`python -m benchmark.submission.leaks`, a request on stdin), so nothing of the clean
run lingers in memory and the method's module is imported inside the world. What is permuted:

  loaders    benchmark.data.load, every registered data source (through the registry or its module),
             sklearn.datasets.load_digits, mnist1d's make_dataset / get_dataset and numpy.load (the
             .npz caches): called from the method's code (a frame of methods/ on the stack, or any call
             once the method exists), every label they return is permuted, and the call is noted.
  splits     the protocol's held-out TensorSets: labels permuted in place, so the protocol's arrays
             that share their memory follow; a read of them from the method's code is noted.
  the rest   when the method is created, every (x, y) pair the protocol's frames hold: the labels of
             rows that no training set contains are permuted among themselves, and training rows take
             the label the training set gives them (a corrupted sample's clean label disappears).

The metrics of that run are scored against permuted labels, so what is compared with the clean run is
everything a metric is computed from: every step loss, the trained weights, and every output of
`predict` and `score`. An honest method reproduces all of them bit for bit.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmark import ROOT

PERMUTATION_SEED = 2718
LABEL_KEYS = ("y", "y_test", "target", "noisy_y", "labels")
STATE = {"armed": False, "depth": 0, "trace": None, "read": []}


@dataclass
class Plan:
    """What the clean run showed of one task: which sets are held out, the training rows' labels."""

    held: set[int]
    training: set[int]
    train_labels: dict[int, int] = field(default_factory=dict)


# -- who is asking -----------------------------------------------------------------------------------------
def _method_frame():
    frame, inside = sys._getframe(1), str(ROOT / "methods")
    while frame is not None:
        if frame.f_code.co_filename.startswith(inside):
            return frame
        frame = frame.f_back
    return None


def _where(frame) -> str:
    return f"{Path(frame.f_code.co_filename).name}:{frame.f_lineno}" if frame else "after the method started"


def _note(text: str, frame=None) -> None:
    """Record a touch; one made while method modules import is kept with its file (only the checked
    method's own count)."""
    trace = STATE["trace"]
    if trace is not None:
        trace.read.append(text)
    else:
        STATE["read"].append((frame.f_code.co_filename if frame else "", text))


def _shuffle(y):
    y = np.asarray(y)
    return y[np.random.default_rng(PERMUTATION_SEED).permutation(len(y))] if y.ndim else y


# -- loaders -------------------------------------------------------------------------------------------------
def _loader(fn, what: str, relabel):
    """`fn`, returning permuted labels when the method's code calls it (directly: nested calls pass)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        frame = _method_frame()
        active = STATE["depth"] == 0 and (STATE["armed"] or frame is not None)
        STATE["depth"] += 1
        try:
            result = fn(*args, **kwargs)
        finally:
            STATE["depth"] -= 1
        if not active:
            return result
        shown = ", ".join([*map(repr, args[:1]), *(f"{k}={v!r}" for k, v in kwargs.items())])
        _note(f"{what}({shown}) at {_where(frame)}", frame)
        return relabel(result)

    return wrapper


def _relabel_arrays(a):
    from benchmark.data import Arrays

    extra = {k: _shuffle(v) if k in LABEL_KEYS else v for k, v in a.extra.items()}
    return Arrays(a.x, _shuffle(a.y), extra)


def _relabel_mapping(m):
    out = type(m)(**m) if hasattr(m, "keys") and type(m) is not dict else dict(m)
    for key in LABEL_KEYS:
        if key in out:
            out[key] = _shuffle(out[key])
    return out


class _Npz(dict):
    """An .npz file's arrays with permuted labels; usable as `with np.load(path) as f`."""

    files = property(lambda self: list(self))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def close(self):
        pass


def _relabel_npz(loaded):
    if not hasattr(loaded, "files"):
        return loaded
    with loaded:
        return _Npz({k: _shuffle(loaded[k]) if k in LABEL_KEYS else loaded[k] for k in loaded.files})


def install_loaders() -> None:
    """Patch every loader a method could call to reach labels (once per process, before any import of
    the method's code)."""
    import benchmark.data as data

    data._import_sources()
    for name, fn in list(data.SOURCES._items.items()):
        module = sys.modules.get(fn.__module__)
        if module is not None and getattr(module, fn.__name__, None) is fn:
            setattr(module, fn.__name__, _loader(fn, f"data source {name}", _relabel_arrays))
    plain_get = data.SOURCES.get

    def get(name):
        fn = plain_get(name)
        if STATE["depth"] or not (STATE["armed"] or _method_frame()):
            return fn  # benchmark.data.load's own lookup keys its cache by the source's file
        return _loader(fn, f"SOURCES.get({name!r})", _relabel_arrays)

    data.SOURCES.get = get
    data.load = _loader(data.load, "benchmark.data.load", _relabel_arrays)
    np.load = _loader(np.load, "numpy.load", _relabel_npz)
    import sklearn.datasets
    import sklearn.datasets._base as base

    sklearn.datasets.load_digits = base.load_digits = _loader(base.load_digits, "sklearn load_digits",
                                                             _relabel_mapping)
    try:
        import mnist1d.data as m1d
    except ImportError:
        return
    for fn_name in ("make_dataset", "get_dataset"):
        if hasattr(m1d, fn_name):
            setattr(m1d, fn_name, _loader(getattr(m1d, fn_name), f"mnist1d {fn_name}", _relabel_mapping))


# -- the protocol's own sets and arrays ------------------------------------------------------------------------
def _watched(tensor_set, trace, k: int) -> None:
    """Make reads of a held-out set's labels from the method's code visible."""
    base = type(tensor_set)

    def read(self):
        frame = _method_frame()
        if frame is not None:
            _note(f"labels of {trace.names.get(k, f'held-out set {k}')} at {_where(frame)}", frame)
        return self.__dict__["y"]

    def write(self, value):
        self.__dict__["y"] = value

    tensor_set.__class__ = type(base.__name__, (base,), {"y": property(read, write)})


def _pairs(roots, depth: int = 3) -> Iterator:
    """Every object with `x` and integer-label `y` of equal length reachable from `roots`."""
    seen, stack = set(), [(r, 0) for r in roots]
    while stack:
        obj, d = stack.pop()
        if id(obj) in seen or isinstance(obj, str | bytes | int | float | type) or callable(obj):
            continue
        seen.add(id(obj))
        x, y = getattr(obj, "x", None), obj.__dict__.get("y") if hasattr(obj, "__dict__") else None
        if _labels(y) is not None and hasattr(x, "shape") and len(x) == len(y) > 0:
            yield obj
        if d >= depth:
            continue
        if isinstance(obj, dict):
            stack.extend((v, d + 1) for v in obj.values())
        elif isinstance(obj, list | tuple):
            stack.extend((v, d + 1) for v in obj)
        elif hasattr(obj, "__dict__") and type(obj).__module__.startswith("benchmark"):
            stack.extend((v, d + 1) for v in vars(obj).values())


def _labels(y) -> np.ndarray | None:
    """A writable numpy view of integer labels (a CPU tensor's memory), else None."""
    if hasattr(y, "detach") and y.device.type == "cpu" and not y.is_floating_point():
        y = y.detach().numpy()
    if isinstance(y, np.ndarray) and y.ndim == 1 and np.issubdtype(y.dtype, np.integer):
        return y
    return None


def _scrub(trace, plan: Plan, frames) -> None:
    from benchmark.submission.tracing import row_hashes

    kept = [_labels(trace.sets[k].y) for k in plan.training if k < len(trace.sets)]
    roots = [v for f in frames for v in f.f_locals.values()]
    for obj in _pairs(roots):
        y = _labels(obj.__dict__["y"])
        if not y.flags.writeable or any(k is not None and np.shares_memory(y, k) for k in kept):
            continue
        hashes = row_hashes(obj.x)
        train = [i for i, h in enumerate(hashes) if h in plan.train_labels]
        rest = np.array([i for i, h in enumerate(hashes) if h not in plan.train_labels], dtype=np.int64)
        y[train] = [plan.train_labels[hashes[i]] for i in train]
        y[rest] = _shuffle(y[rest])


def _scrub_masks(frames) -> None:
    """Boolean arrays the protocol keeps in its locals (the noise mask, say) say which training labels
    are wrong: permute them too."""
    for frame in frames:
        for value in frame.f_locals.values():
            if isinstance(value, np.ndarray) and value.dtype == bool and value.ndim == 1 and value.flags.writeable:
                value[:] = _shuffle(value)


def world(plan: Plan, source: str = ""):
    """The per-run part of the permuted world, for `run_traced(world=...)`."""
    from benchmark.train import TensorSet

    @contextmanager
    def permuted(trace):
        watch = TensorSet.__init__

        def init(self, *args, **kwargs):
            n = len(trace.sets)
            watch(self, *args, **kwargs)
            if len(trace.sets) > n and n in plan.held:
                labels = _labels(self.y)
                if labels is not None and len(labels):
                    labels[:] = _shuffle(labels)
                _watched(self, trace, n)

        def start(method):
            frames, frame = [], sys._getframe(1)
            while frame is not None:
                if not frame.f_code.co_filename.startswith((str(ROOT / "methods"), __file__)):
                    frames.append(frame)
                frame = frame.f_back
            protocol = [f for f in frames if f.f_code.co_filename.startswith(str(ROOT / "benchmark" / "families"))]
            _scrub(trace, plan, frames)
            _scrub_masks(protocol)
            STATE["armed"] = True

        trace.on_start, STATE["trace"] = start, trace
        trace.read.extend(text for file, text in STATE["read"] if source and file.endswith(source))
        TensorSet.__init__ = init
        try:
            yield
        finally:
            TensorSet.__init__ = watch
            STATE["armed"], STATE["trace"] = False, None

    return permuted


# -- the two processes ---------------------------------------------------------------------------------------------
def permuted_runs(method: str, plans: dict[str, Plan], hp: dict, limit: float) -> dict[str, dict]:
    """Run `method` on each task in the permuted world, in a fresh process; {task: summary}."""
    request = {"method": method, "hp": hp, "limit": limit,
               "tasks": {t: {"held": sorted(p.held), "training": sorted(p.training),
                             "train_labels": [[h, v] for h, v in p.train_labels.items()]}
                         for t, p in plans.items()}}
    budget = 60 + 4 * limit * max(len(plans), 1)
    done = subprocess.run([sys.executable, "-m", "benchmark.submission.leaks"], cwd=ROOT, input=json.dumps(request),
                          capture_output=True, text=True, timeout=budget)
    if done.returncode:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {t: {"error": f"the permuted run failed: {last}"} for t in plans}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    import torch

    request = json.load(sys.stdin)
    install_loaders()
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.set_num_threads(1)
    from benchmark.registry import METHODS
    from benchmark.submission.check import smoke_spec
    from benchmark.submission.tracing import run_traced

    cls = METHODS.get(request["method"])
    out = {}
    for task, p in request["tasks"].items():
        plan = Plan(set(p["held"]), set(p["training"]), {h: v for h, v in p["train_labels"]})
        trace = run_traced(cls, task, smoke_spec(task), request["hp"], request["limit"],
                           world=world(plan, cls.source_file))
        out[task] = {"losses": trace.losses, "state": trace.state, "outputs": trace.outputs,
                     "error": trace.error, "read": list(dict.fromkeys(trace.read))}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
