"""`python -m benchmark check NAME`: verify a method by re-running it, not by trust.

One line per check, in this order; each is PASS, FAIL, or SKIP (cannot be judged because an
earlier check failed). Any FAIL makes the command exit with status 1.

  registers      methods/NAME.py imports and registers the name NAME (duplicates are refused)
  tests          tests/methods/test_NAME.py exists and defines a test
  defaults       every hyperparameter default lies inside its search space, and so do draws from it
  runs           one smoke task per declared family trains on CPU within the per-run time limit
  deterministic  two runs with the same seed give identical losses, weights and metrics
  finite         no NaN or infinite loss or metric
  sensitive      moving any one hyperparameter to an end of its space changes the result
  no test data   the trained method holds no reference to the held-out splits; training is unchanged
                 when they are replaced by noise; and in a world where every held-out label the process
                 could reach is permuted (splits, data sources, caches, loaders: benchmark/submission/leaks.py),
                 every loss, the weights and every output of predict and score are unchanged, and the
                 method's code touched none of those labels
  grid           grid.yaml and full/grid.yaml list the method's cells and agree with the registry
  scope          (with --base REV) nothing but the method, its test, grid.yaml, full/grid.yaml and
                 the method's records (results/records/<task>/NAME.json) changed

The runs themselves are traced by benchmark/submission/tracing.py.
"""

from __future__ import annotations

import json
import keyword
import math
import re
from collections.abc import Iterator
from typing import Any

from benchmark import FAMILIES, ROOT
from benchmark.errors import BenchmarkError
from benchmark.submission.isolation import isolation_line
from benchmark.submission.lines import FAIL, PASS, SKIP, Line
from benchmark.submission.pull_request import changed_files, grid_line, scope_line  # noqa: F401 (re-exported)
from benchmark.submission.scaffold import NAME_RE
from benchmark.submission.tracing import SEED, TIME_LIMIT, run_traced

EPOCHS = 2  # the smoke profile's single epoch would hide on_epoch_end and schedules
TRAINING = ["runs", "deterministic", "finite", "sensitive", "no test data"]


def _rel(name: str) -> str:
    return f"methods/{name}.py"


def registration(name: str, load_error: str | None) -> tuple[type | None, list[Line]]:
    """The `registers` line (and `defaults`, when the registry refused a default), and the class."""
    from benchmark.registry import METHODS

    rel = _rel(name)
    refuse = lambda text: Line("registers", FAIL, text)
    if not NAME_RE.match(name) or keyword.iskeyword(name):
        return None, [refuse(f"'{name}': a method name is lowercase letters, digits and underscores, "
                             "starting with a letter (and not a Python keyword)")]
    if not (METHODS.directory / f"{name}.py").exists():
        return None, [refuse(f"no file {rel}; create it with `python -m benchmark new-method {name}`")]
    if load_error:
        if load_error.startswith(rel) and "outside its search space" in load_error:
            return None, [refuse("the registry refused it: a default lies outside its space (see defaults)"),
                          Line("defaults", FAIL, load_error)]
        return None, [refuse(load_error)]
    names = METHODS.names()
    if name not in names:
        found = [repr(n) for n in names if METHODS.source(n) == rel]
        said = f"registers {', '.join(found)}" if found else "registers no method"
        return None, [refuse(f"{rel} {said}; expected @register_method(\"{name}\"): a method's name is its "
                             "file's name")]
    if METHODS.source(name) != rel:
        return None, [refuse(f"'{name}' is registered in {METHODS.source(name)}, not {rel}: a method's name "
                             "is its file's name")]
    cls = METHODS.get(name)
    if not cls.families:
        return None, [refuse(f"{rel}: 'families' is empty; expected some of {', '.join(FAMILIES)}")]
    return cls, [Line("registers", PASS, f"'{name}' from {rel}; families: {', '.join(cls.families)}")]


def tests_line(name: str) -> Line:
    """Its own test file, or (methods tested together) a test module under tests/methods naming it."""
    own = ROOT / "tests" / "methods" / f"test_{name}.py"
    if own.exists() and (n := len(re.findall(r"^def test_\w+\(", own.read_text(), re.M))):
        return Line("tests", PASS, f"tests/methods/test_{name}.py defines {n} test(s)")
    quoted = re.compile(rf"[\"']{name}[\"']")
    for path in sorted((ROOT / "tests" / "methods").glob("test_*.py")):
        if path != own and quoted.search(path.read_text()):
            return Line("tests", PASS, f"tests/methods/{path.name} tests it by name")
    return Line("tests", FAIL, f"tests/methods/test_{name}.py: missing or without a `def test_...`; expected "
                               "a test of the method's defining behaviour (`python -m benchmark new-method` "
                               "writes one)")


def defaults_line(cls) -> Line:
    from benchmark.hparams import HParam, draw

    if not cls.hparams:
        return Line("defaults", PASS, "no hyperparameters declared")
    problems, shown = [], []
    for n, hp in cls.hparams.items():
        if not isinstance(hp, HParam):
            problems.append(f"'{n}' is a {type(hp).__name__}; expected HParam(default, space, doc)")
            continue
        if not hp.space.contains(hp.default):
            problems.append(f"'{n}': default {hp.default!r} lies outside its search space {hp.space}")
            continue
        try:
            json.dumps(hp.default)
            outside = [(k, v) for k in range(1, 6) if not hp.space.contains(v := draw({n: hp}, k)[n])]
        except (TypeError, ValueError) as exc:
            problems.append(f"'{n}': {type(exc).__name__}: {exc}")
            continue
        if outside:
            problems.append(f"'{n}': draw {outside[0][0]} gives {outside[0][1]!r}, outside its own space "
                            f"{hp.space}")
        shown.append(f"{n} {hp.default!r} in {hp.space}")
    if problems:
        return Line("defaults", FAIL, f"{cls.source_file}: " + "; ".join(problems))
    return Line("defaults", PASS, ", ".join(shown))


def moved(hp) -> Any:
    """A value of the space far from the default: the farther end of a range, another option of a choice"""
    from benchmark.hparams import Choice, IntUniform, LogUniform, Uniform, draw

    s, d = hp.space, hp.default
    if isinstance(s, Choice):
        return next((o for o in s.options if o != d), None)
    if isinstance(s, LogUniform):
        lo, hi = 10 ** s.low_exp, 10 ** s.high_exp
        value = hi if abs(s.high_exp - math.log10(d)) >= abs(math.log10(d) - s.low_exp) else lo
        value = type(d)(round(value)) if isinstance(d, int) else value
    elif isinstance(s, Uniform | IntUniform):
        value = s.high if abs(s.high - d) >= abs(d - s.low) else s.low
    else:
        value = next((v for k in range(1, 21) if (v := draw({"x": hp}, k)["x"]) != d), d)
    return None if value == d else value


def smoke_tasks(cls) -> tuple[dict[str, str], list[str]]:
    """One task per declared family (the first in tasks/ it applies to); notes on families without one."""
    from benchmark.families import available, protocol
    from benchmark.tasks import load_task, read_yaml, task_names, task_path

    families = {t: read_yaml(task_path(t)).get("family") for t in task_names()}
    have = available()
    chosen, notes = {}, []
    for family in (f for f in FAMILIES if f in cls.families):
        candidates = [t for t, f in families.items() if f == family]
        if family not in have or not candidates:
            notes.append(f"{family}: no task yet")
            continue
        fit = [t for t in candidates if protocol(family).applies(cls, load_task(t)) is None]
        if fit:
            chosen[family] = fit[0]
        else:
            notes.append(f"{family}: no task it applies to")
    return chosen, notes


def smoke_spec(task: str):
    from benchmark.tasks import load_task

    spec = load_task(task, "smoke")
    train = spec.train.model_copy(update={"epochs": max(spec.train.epochs, EPOCHS)})
    return spec.model_copy(update={"train": train})


def training_lines(cls, limit: float) -> Iterator[Line]:
    """runs, deterministic, finite, sensitive, no test data."""
    from benchmark.hparams import draw

    chosen, notes = smoke_tasks(cls)
    specs = {t: smoke_spec(t) for t in chosen.values()}
    defaults = draw(cls.hparams, 0)
    base = {t: run_traced(cls, t, spec, defaults, limit) for t, spec in specs.items()}
    setting = f"smoke profile, {EPOCHS} epochs, seed {SEED}, 1 CPU thread, limit {limit:g} s per run"
    crashed = {t: b.error for t, b in base.items() if b.error and not b.nonfinite()}
    later = TRAINING[1:]
    if not base:
        yield Line("runs", FAIL, f"nothing to run: {'; '.join(notes)} (in tasks/); its families: "
                                 f"{', '.join(cls.families)}")
        yield from (Line(c, SKIP, "no run") for c in later)
        return
    if crashed:
        yield Line("runs", FAIL, "; ".join(f"{t}: {e}" for t, e in crashed.items()) + f" ({setting})")
    else:
        done = [f"{t} {b.seconds:.1f} s" + (" (stopped by a non-finite loss)" if b.nonfinite() else "")
                for t, b in base.items()]
        yield Line("runs", PASS, ", ".join(done) + f" ({setting})" + "".join(f"; {n}" for n in notes))
    finished = {t: b for t, b in base.items() if t not in crashed}
    if not finished:
        yield from (Line(c, SKIP, "no run finished") for c in later)
        return

    steady, unsteady = [], []
    for t, b in finished.items():
        if b.nonfinite():
            continue
        again = run_traced(cls, t, specs[t], defaults, limit)
        why = again.error or b.difference(again)
        (unsteady if why else steady).append(f"{t}: {why}" if why else t)
    if unsteady:
        yield Line("deterministic", FAIL, f"two runs with seed {SEED} differ: {'; '.join(unsteady)}; draw "
                                          "randomness from self.generator or torch's seeded generator, never "
                                          "Python's random, numpy's global state or the clock")
    elif steady:
        yield Line("deterministic", PASS, f"two runs with seed {SEED} agree bit for bit (losses, weights, "
                                          f"metrics) on {', '.join(steady)}")
    else:
        yield Line("deterministic", SKIP, "no finite run to repeat")

    nonfinite = [f"{t}: {b.nonfinite()}" for t, b in finished.items() if b.nonfinite()]
    if nonfinite:
        yield Line("finite", FAIL, "; ".join(nonfinite))
    else:
        n_loss = sum(len(b.losses) for b in finished.values())
        n_metric = sum(len(b.metrics) for b in finished.values())
        yield Line("finite", PASS, f"all {n_loss} step losses and {n_metric} metrics are finite")

    if not steady:
        yield from (Line(c, SKIP, "needs a finite, deterministic run") for c in later[2:])
        return
    yield _sensitive_line(cls, steady, specs, defaults, {t: base[t] for t in steady}, limit)
    yield isolation_line(cls, steady, specs, defaults, base, limit)


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else repr(value)


def _sensitive_line(cls, tasks, specs, defaults, base, limit) -> Line:
    if not cls.hparams:
        return Line("sensitive", PASS, "no hyperparameters declared")
    problems, changed = [], []
    for n, hp in cls.hparams.items():
        value = moved(hp)
        if value is None:
            problems.append(f"'{n}': its space {hp.space} holds only its default; make it a constant")
            continue
        what = f"'{n}' {_fmt(hp.default)} -> {_fmt(value)} (an end of {hp.space})"
        for t in tasks:
            trace = run_traced(cls, t, specs[t], {**defaults, n: value}, limit)
            if trace.error or trace.nonfinite():
                problems.append(f"{what} breaks training on {t}: {trace.error or trace.nonfinite()}")
                break
            if base[t].difference(trace):
                changed.append(f"{n} {_fmt(hp.default)} -> {_fmt(value)}")
                break
        else:
            problems.append(f"{what} leaves losses, weights and metrics unchanged on {', '.join(tasks)}; "
                            "use it in a hook or remove it")
    if problems:
        return Line("sensitive", FAIL, "; ".join(problems))
    return Line("sensitive", PASS, "each hyperparameter changes the result: " + ", ".join(changed))


def check(name: str, limit: float = TIME_LIMIT, load_error: str | None = None,
          scope: Line | None = None) -> Iterator[Line]:
    """Every check line for method `name`, as soon as it is known."""
    cls, lines = registration(name, load_error)
    yield from lines[:1]
    yield tests_line(name)
    yield from lines[1:]
    if cls is None:
        rest = ["defaults"] * (len(lines) == 1) + [*TRAINING, "grid"]
        yield from (Line(c, SKIP, "not registered") for c in rest)
    else:
        yield defaults_line(cls)
        import torch

        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.set_num_threads(1)  # smoke-sized models: one thread is as fast, and steady on a busy machine
        yield from training_lines(cls, limit)
        yield grid_line(name)
    if scope:
        yield scope


def load_methods() -> str | None:
    """Import every method file once; the registry's refusal, if any, as one line."""
    from benchmark.registry import METHODS

    try:
        METHODS.load()
    except BenchmarkError as exc:
        return str(exc)
    return None
