"""`python -m benchmark check`: each check fails, on its own line, for the mistake it exists to catch.

Bad methods are written into temporary copies of the project (one task, ERM), never into methods/.
"""

import math
import shutil
import subprocess
import sys

import pytest
import torch

from benchmark import ROOT
from benchmark.errors import BenchmarkError
from benchmark.hparams import Choice, HParam, IntUniform, LogUniform, Uniform
from benchmark.method import Method
from benchmark.submission.check import FAIL, PASS, TRAINING, changed_files, moved, scope_line, smoke_spec
from benchmark.submission.tracing import Trace, holds, run_traced
from tests.helpers import cli

TASK = "noisy_digits_asym40_per_class"
HEADER = "from benchmark.hparams import HParam, Uniform\nfrom benchmark.method import Method\n" \
         "from benchmark.registry import register_method\n"

BAD = {
    "unused_hparam": """
@register_method("unused_hparam")
class UnusedHparam(Method):
    hparams = {"alpha": HParam(0.5, Uniform(0.1, 0.9), "declared, never read")}
""",
    "nan_loss": """
@register_method("nan_loss")
class NanLoss(Method):
    def loss(self, batch, out):
        return super().loss(batch, out) * float("nan")
""",
    "unseeded": """
import random

@register_method("unseeded")
class Unseeded(Method):
    def loss(self, batch, out):
        return super().loss(batch, out) * (1 + 0.01 * random.random())
""",
    # Finds the protocol's test split up the call stack and keeps a number computed from its labels.
    "peeking": """
import sys

@register_method("peeking")
class Peeking(Method):
    def setup(self):
        frame = sys._getframe()
        while "test_t" not in frame.f_locals:
            frame = frame.f_back
        self.test_mean = float(frame.f_locals["test_t"].y.float().mean())

    def loss(self, batch, out):
        return super().loss(batch, out) + 1e-3 * self.test_mean
""",
    # Trains on the whole data source, test rows included (setup loads it itself).
    "all_digits": """
import torch
import benchmark.data

@register_method("all_digits")
class AllDigits(Method):
    def setup(self):
        data = benchmark.data.load("digits")
        self.all_x, self.all_y = torch.as_tensor(data.x), torch.as_tensor(data.y)

    def loss(self, batch, out):
        extra = torch.nn.functional.cross_entropy(self.model(self.all_x[:256]).logits, self.all_y[:256])
        return super().loss(batch, out) + extra
""",
    # Answers from the embedded data source when it knows the input.
    "lookup": """
from benchmark.data import load

@register_method("lookup")
class Lookup(Method):
    def predict(self, x):
        source = load("digits")
        known = {row.tobytes(): int(y) for row, y in zip(source.x.reshape(len(source.y), -1), source.y)}
        out = super().predict(x)
        for i, row in enumerate(x.reshape(len(x), -1).numpy()):
            if row.tobytes() in known:
                out.logits[i] = -10.0
                out.logits[i, known[row.tobytes()]] = 10.0
        return out
""",
    # predict() walks up the call stack to the protocol's test split and answers its labels.
    "frame_walk": """
import inspect

@register_method("frame_walk")
class FrameWalk(Method):
    def predict(self, x):
        out = super().predict(x)
        frame = inspect.currentframe().f_back
        while frame is not None and "test_t" not in frame.f_locals:
            frame = frame.f_back
        test = frame.f_locals["test_t"] if frame is not None else None
        if test is not None and len(test.x) == len(x) and bool((test.x == x).all()):
            out.logits[:] = -10.0
            out.logits[range(len(x)), test.y] = 10.0
        return out
""",
    # Keeps a reference to the test split without using it in training.
    "hoarding": """
import sys

@register_method("hoarding")
class Hoarding(Method):
    def setup(self):
        frame = sys._getframe()
        while "test_t" not in frame.f_locals:
            frame = frame.f_back
        self.kept = {"labels": frame.f_locals["test_t"].y}
""",
}


def project(dest, methods: dict[str, str]):
    """A copy with ERM, one noisy-label task, and the given extra method files."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "benchmark", dest / "benchmark", ignore=ignore)
    for name in ("params.yaml", "grid.yaml", "dvc.yaml", "pyproject.toml"):
        shutil.copy2(ROOT / name, dest / name)
    (dest / "methods").mkdir()
    (dest / "tasks").mkdir()
    (dest / "tests" / "methods").mkdir(parents=True)
    for path in ("methods/__init__.py", "methods/erm.py", f"tasks/{TASK}.yaml", "tests/conftest.py",
                 "tests/methods/__init__.py"):
        if (ROOT / path).exists():
            shutil.copy2(ROOT / path, dest / path)
    for name, body in methods.items():
        (dest / "methods" / f"{name}.py").write_text(HEADER + body)
    return dest


def report(output: str) -> dict[str, dict[str, tuple[str, str]]]:
    """{method: {check: (status, text)}} from the printed report."""
    out, current = {}, None
    for line in output.splitlines():
        if line.startswith("check '"):
            current = out.setdefault(line.split("'")[1], {})
        elif line.startswith("  ") and current is not None:
            status, rest = line.strip().split(None, 1)
            check = next(c for c in ("registers", "tests", "defaults", *TRAINING, "grid", "scope")
                         if rest.startswith(c))
            current[check] = (status, rest[len(check):].strip())
    return out


def failing(lines: dict) -> set[str]:
    return {c for c, (status, _) in lines.items() if status == FAIL}


MISTAKES = {  # method: (the line that must fail, words it must say)
    "unused_hparam": ("sensitive", "'alpha' 0.5 -> 0.9 (an end of U(0.1, 0.9)) leaves losses, weights and "
                                   "metrics unchanged"),
    "nan_loss": ("finite", f"{TASK}: loss is nan at step 1"),
    "unseeded": ("deterministic", f"two runs with seed 0 differ: {TASK}: step 1 loss"),
    "peeking": ("no test data", f"{TASK}: training changed when its held-out splits were replaced by noise"),
    "hoarding": ("no test data", f"{TASK}: the trained method holds held-out data at method.kept['labels']"),
    "all_digits": ("no test data", (f"{TASK}: with every held-out label permuted, step 1 loss",
                                    "it read benchmark.data.load('digits') at all_digits.py:11")),
    "lookup": ("no test data", (f"{TASK}: with every held-out label permuted, outputs on val_t (80 rows) "
                                "differ", "it read benchmark.data.load('digits') at lookup.py:10")),
    "frame_walk": ("no test data", (f"{TASK}: with every held-out label permuted, outputs on test_t (80 rows) "
                                    "differ", "it read labels of test_t at frame_walk.py:")),
    "nosuch": ("registers", "no file methods/nosuch.py; create it with `python -m benchmark new-method"),
}


def test_the_scaffold_passes_and_each_mistake_fails_its_own_line(tmp_path):
    """One copy, one check run (one process: the runs are cheap, the start-up is not)."""
    copy = project(tmp_path, BAD)
    assert cli("new-method", "scaffolded", cwd=copy).returncode == 0
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            "tests/methods/test_scaffolded.py"], cwd=copy, capture_output=True, text=True,
                           timeout=300)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    result = cli("check", "scaffolded", *MISTAKES, cwd=copy)
    lines = report(result.stdout)
    assert result.returncode == 1 and "check failed for" in result.stderr

    ok = lines["scaffolded"]
    assert list(ok) == ["registers", "tests", "defaults", *TRAINING, "grid"]
    assert failing(ok) == {"grid"}, result.stdout  # the grid is not regenerated yet: the line says how
    assert "lacks 1 cell(s) of 'scaffolded'" in ok["grid"][1] and "python -m benchmark grid" in ok["grid"][1]
    assert ok["sensitive"] == (PASS, "each hyperparameter changes the result: weight 0.1 -> 0.001")

    for name, (check, words) in MISTAKES.items():
        status, text = lines[name][check]
        for said in (words,) if isinstance(words, str) else words:
            assert status == FAIL and said in text, f"{name}: {check} must fail with {said!r}\n{result.stdout}"
        assert failing(lines[name]) - {check, "tests", "grid"} == set(), f"{name}\n{result.stdout}"
    nan_runs = lines["nan_loss"]["runs"]
    assert nan_runs[0] == PASS and "stopped by a non-finite loss" in nan_runs[1], result.stdout


@pytest.mark.parametrize("name, source, line, words", [
    ("bad_default", 'HParam(5.0, Uniform(0.0, 1.0), "a share")', "defaults",
     "methods/bad_default.py: method 'bad_default' hyperparameter 'share': default 5.0 lies outside its "
     "search space U(0, 1)"),
    ("copied", None, "registers",
     "duplicate method name 'erm': registered in methods/copied.py and in methods/erm.py"),
])
def test_registry_refusals_become_lines_not_tracebacks(tmp_path, name, source, line, words):
    body = (f'\n@register_method("{name}")\nclass Bad(Method):\n    hparams = {{"share": {source}}}\n'
            if source else '\n@register_method("erm")\nclass Copied(Method):\n    pass\n')
    copy = project(tmp_path, {name: body})
    result = cli("check", name, cwd=copy)
    lines = report(result.stdout)[name]
    assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr
    assert lines[line][0] == FAIL and words in lines[line][1], result.stdout
    assert lines["runs"][0] == "SKIP"


def test_a_run_past_the_time_limit_is_stopped_and_reported():
    class Slow(Method):
        name = "slow"

        def loss(self, batch, out):
            __import__("time").sleep(30)
            return super().loss(batch, out)

    trace = run_traced(Slow, TASK, smoke_spec(TASK), {}, limit=0.5)
    assert trace.error == "timed out after 0.5 s" and trace.seconds < 5


def test_moved_values_lie_at_the_far_end_of_the_space():
    assert moved(HParam(3.0, LogUniform(-1, 1))) == pytest.approx(0.1)
    assert moved(HParam(0.2, Uniform(0.0, 1.0))) == 1.0
    assert moved(HParam(12, IntUniform(1, 15))) == 1
    assert moved(HParam(100, LogUniform(1, 3))) == 1000 and type(moved(HParam(100, LogUniform(1, 3)))) is int
    assert moved(HParam("a", Choice("a", "b"))) == "b"
    assert moved(HParam("a", Choice("a"))) is None


def test_holds_finds_views_and_containers_but_not_copies():
    held = type("Split", (), {})()
    held.x, held.y = torch.randn(10, 3), torch.arange(10)
    owner = type("M", (), {})()
    owner.ok = [torch.arange(10).clone(), {"x": held.x.clone()}]
    assert holds(owner, [held]) is None
    owner.bad = {"rows": held.x[2:5]}
    assert holds(owner, [held]) == "method.bad['rows']"
    owner.bad = lambda: held
    assert holds(owner, [held]) == "method.bad.<closure 0>"


def test_trace_differences_are_named():
    a = Trace("t", losses=[1.0, 2.0], state="s", metrics={"acc": 0.5})
    assert a.difference(Trace("t", losses=[1.0, 2.0], state="s", metrics={"acc": 0.5})) is None
    assert a.difference(Trace("t", losses=[1.0, 2.5], state="s")) == "step 2 loss 2 vs 2.5"
    assert a.difference(Trace("t", [1.0, 2.0], "z")) == "same losses but different trained weights"
    other = Trace("t", losses=[1.0, 2.0], state="s", metrics={"acc": 0.6})
    assert a.difference(other) == "metric acc 0.5 vs 0.6" and a.difference(other, metrics=False) is None
    assert Trace("t", losses=[1.0, math.nan]).nonfinite() == "loss is nan at step 2"


def test_scope_allows_only_the_method_its_test_both_grids_and_its_records(tmp_path):
    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True,
                       capture_output=True)

    (tmp_path / "grid.yaml").write_text("cells: {}\n")
    (tmp_path / "benchmark").mkdir()
    (tmp_path / "benchmark" / "train.py").write_text("")
    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "base")
    git("tag", "base")
    for path in ("methods/squeeze.py", "tests/methods/test_squeeze.py", "grid.yaml", "full/grid.yaml",
                 "results/records/noisy_digits_sym40/squeeze.json"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("changed\n")
    git("add", "methods")
    git("commit", "-qm", "a method")
    line = scope_line(["squeeze"], changed_files("base", tmp_path), "base")
    assert line.status == PASS and "methods/squeeze.py" in line.text and "full/grid.yaml" in line.text
    assert "results/records/noisy_digits_sym40/squeeze.json" in line.text
    for path in ("benchmark/train.py", "results/records/noisy_digits_sym40/erm.json", "results/runs.parquet"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("# tweak\n")
    line = scope_line(["squeeze"], changed_files("base", tmp_path), "base")
    assert line.status == FAIL and line.text.startswith(
        "changed since base beyond the method, its test, grid.yaml, full/grid.yaml and the method's records: "
        "benchmark/train.py, results/records/noisy_digits_sym40/erm.json, results/runs.parquet")
    with pytest.raises(BenchmarkError, match="--base nowhere: git merge-base failed"):
        changed_files("nowhere", tmp_path)
