"""The continual-learning family: metric definitions, scenario specs, and what the protocol shows a
method (and what it never shows it)."""

import textwrap

import numpy as np
import pytest
import torch

from benchmark.data import load
from benchmark.errors import BenchmarkError
from benchmark.families import continual
from benchmark.method import Method, Output
from benchmark.metrics import DIAGNOSTICS
from benchmark.metrics import continual as m
from benchmark.models import seed_everything
from benchmark.shifts import permutations
from benchmark.tasks import parse_task
from tests.helpers import cli

# -- metrics on a hand-written accuracy matrix -----------------------------------------------------------
# R[i][j]: accuracy on experience j after training experience i. R[0][1] = 0.99 is a lucky guess on
# experience 1 before it was learned; R[1][0] = 0.95 is the best accuracy ever reached on experience 0.
R = [[0.90, 0.99, 0.00],
     [0.95, 0.80, 0.20],
     [0.50, 0.70, 0.95]]
B = [0.10, 0.15, 0.05]


def test_acc_is_the_mean_of_the_last_row():
    assert m.acc(R) == pytest.approx((0.50 + 0.70 + 0.95) / 3)


def test_bwt_compares_the_end_with_just_after_learning():
    assert m.bwt(R) == pytest.approx(((0.50 - 0.90) + (0.70 - 0.80)) / 2)


def test_forgetting_is_the_drop_from_the_best_accuracy_since_learning():
    # j=0: best 0.95 (after experience 1, not 0.90 just after learning it); j=1: the 0.99 before it was
    # learned does not count, so 0.80 - 0.70
    assert m.forgetting(R) == pytest.approx(((0.95 - 0.50) + (0.80 - 0.70)) / 2)


def test_fwt_compares_the_row_before_learning_with_the_untrained_model():
    assert m.fwt(R, B) == pytest.approx(((0.99 - 0.15) + (0.20 - 0.05)) / 2)


def test_single_experience_and_bad_shapes():
    assert m.acc([[0.7]]) == pytest.approx(0.7)
    assert m.bwt([[0.7]]) == m.forgetting([[0.7]]) == m.fwt([[0.7]], [0.1]) == 0.0
    with pytest.raises(ValueError, match="square"):
        m.acc([[0.1, 0.2]])
    with pytest.raises(ValueError, match="untrained"):
        m.fwt(R, [0.1])


# -- scenario specs and bad input --------------------------------------------------------------------------
SPLITS = [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]


def task(kind="class_incremental", epochs=1, limit=400, **scenario):
    if kind == "domain_incremental":
        scenario.setdefault("permutations", 3)
    else:
        scenario.setdefault("classes", SPLITS)
    raw = {"family": "continual", "data": {"source": "digits", "limit": limit},
           "model": {"name": "mlp", "options": {"width": 32}},
           "train": {"epochs": epochs, "batch_size": 32, "lr": 0.01},
           "scenario": {"kind": kind, "replay_budget": 20, **scenario}}
    return parse_task(raw, "tasks/cl_test.yaml")


@pytest.mark.parametrize("classes,fragment", [
    ([[0, 1], [1, 2]], "classes [1] appear more than once"),
    ([[0, 1], []], "experience 1 is empty"),
    ([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]], "expected at least 2"),
])
def test_classes_that_are_not_a_partition_fail_at_parse_time(classes, fragment):
    with pytest.raises(BenchmarkError) as err:
        task(classes=classes)
    message = str(err.value)
    assert "\n" not in message and "tasks/cl_test.yaml" in message and "scenario.classes" in message
    assert fragment in message


@pytest.mark.parametrize("kind,fields,fragment", [
    ("domain_incremental", {"classes": SPLITS}, "takes 'permutations'"),
    ("class_incremental", {"permutations": 5}, "takes 'classes'"),
])
def test_scenario_fields_must_match_the_kind(kind, fields, fragment):
    with pytest.raises(BenchmarkError, match=fragment):
        parse_task({"family": "continual", "data": {"source": "digits"}, "model": {"name": "mlp"},
                    "train": {"epochs": 1}, "scenario": {"kind": kind, **fields}}, "tasks/cl_test.yaml")


def run(spec, method_cls, seed=0):
    return continual.run(method_cls, {}, spec, seed, torch.device("cpu"), seed_everything(seed))


def test_classes_must_cover_every_class_of_the_data():
    with pytest.raises(BenchmarkError) as err:
        run(task(classes=[[0, 1], [2, 3]]), Spy)
    assert "classes [4, 5, 6, 7, 8, 9] are in no experience" in str(err.value)
    assert "scenario.classes" in str(err.value) and "\n" not in str(err.value)


def test_replay_budget_larger_than_the_data_is_a_one_line_error(tmp_path):
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "cl_big_memory.yaml").write_text(textwrap.dedent("""\
        family: continual
        data: {source: digits}
        model: {name: mlp}
        train: {epochs: 1}
        scenario: {kind: domain_incremental, permutations: 2, replay_budget: 100000}
        """))
    result = cli("run", "--method", "erm", "--task", "cl_big_memory", "--seeds", "0", "--profile", "smoke",
                 "--out", str(tmp_path / "out"), "--quiet", env={"BENCHMARK_TASKS_DIR": str(tasks)})
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "scenario.replay_budget = 100000" in lines[0] and "at most 480" in lines[0]


# -- what the protocol shows a method -----------------------------------------------------------------------
class Spy(Method):
    """Plain cross-entropy training that records every batch and every experience hand-over."""

    name = "spy"

    def setup(self):
        self.batches, self.handed = [], []
        Spy.last = self  # the instance the protocol built, for the test to inspect

    def step(self, batch):
        self.batches.append(batch)
        return super().step(batch)

    def on_experience_end(self, experience, data):
        first = [b.index.clone() for b in data]
        again = [b.index.clone() for b in data]
        assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True)), "re-iterable, same order"
        self.handed.append((experience, torch.cat(first), len(data), {b.logit_mask is None for b in data}))


def test_run_records_the_matrix_and_every_metric():
    result = run(task(), Spy)
    R = np.array(result.details["acc_matrix"])
    assert R.shape == (5, 5) and len(result.details["untrained_acc"]) == 5
    rows = {(r.metric, r.domain): r for r in result.metrics}
    assert {"acc", "forgetting", "bwt", "fwt", "val_acc"} <= {k[0] for k in rows}
    assert rows[("acc", "")].value == pytest.approx(m.acc(R))
    assert rows[("forgetting", "")].value == pytest.approx(m.forgetting(R))
    assert rows[("val_acc", "")].selection == "seen_experiences_val"
    assert [rows[("acc", f"exp{j}")].value for j in range(5)] == pytest.approx(R[-1])
    assert all(rows[(c, "")].selection == "final" and rows[(c, "")].value >= 0 for c in ("ece", "nll", "brier"))
    assert {r.metric for r in result.metrics if r.selection == "last"} == DIAGNOSTICS


def test_batches_index_the_union_and_each_experience_sees_only_its_own_data():
    spec = task(epochs=2)
    result = run(spec, Spy)
    method = Spy.last
    sizes = result.details["experience_sizes"]
    num_train = sum(sizes)
    seen = {}
    for batch in method.batches:
        exp = int(batch.experience[0])
        assert (batch.experience == exp).all() and batch.logit_mask is None
        assert set(batch.y.tolist()) <= set(SPLITS[exp]), "a batch holds its own experience's classes only"
        assert int(batch.index.max()) < num_train
        seen.setdefault(exp, []).append(batch.index)
    for exp, indices in seen.items():
        flat = torch.cat(indices)
        assert len(flat) == 2 * sizes[exp] and len(set(flat.tolist())) == sizes[exp]  # 2 epochs, each once
    per_exp = [set(torch.cat(v).tolist()) for v in seen.values()]
    assert all(a.isdisjoint(b) for i, a in enumerate(per_exp) for b in per_exp[i + 1:])
    # the hook gets exactly the experience's training samples, once each, nothing else
    for exp, index, length, _ in method.handed:
        assert sorted(index.tolist()) == sorted(per_exp[exp]) and length == sizes[exp]


class FirstClass(Method):
    """Ignores its input and always ranks class 0 first, then 1, 2, ...: it can only be right more
    often than by chance if the protocol restricts its logits to the experience's classes."""

    name = "first_class"

    def step(self, batch):
        return {"loss": torch.zeros(())}

    @torch.no_grad()
    def predict(self, x):
        logits = -torch.arange(self.ctx.num_classes, dtype=torch.float).expand(len(x), -1)
        return Output(logits=logits, features=torch.zeros(len(x), 1))


def test_class_incremental_never_reveals_the_task_at_test_time():
    R = np.array(run(task(), FirstClass).details["acc_matrix"])
    assert 0.15 < R[-1, 0] < 0.85  # class 0 is about half of experience 0
    assert (R[:, 1:] == 0).all()  # classes 2..9 are never predicted: no head picks them for it


def test_task_incremental_gives_each_experience_its_head():
    R = np.array(run(task("task_incremental"), FirstClass).details["acc_matrix"])
    assert (R > 0.15).all() and (R < 0.85).all()  # the first class of each head: about half right
    result = run(task("task_incremental"), Spy)
    for batch in Spy.last.batches:
        exp = int(batch.experience[0])
        assert torch.equal(batch.logit_mask.nonzero().flatten(), torch.tensor(SPLITS[exp]))
    assert all(masks == {False} for *_, masks in Spy.last.handed)
    assert result.details["scenario"] == "task_incremental"


def test_domain_incremental_permutes_each_experience_differently():
    spec = task("domain_incremental")
    data = load("digits")
    stream = continual.build_stream(data, spec.scenario, 0.2, 0.2, "digits", np.random.default_rng(0))
    pieces = [stream.train.x[stream.train_exp == k] for k in range(3)]
    labels = [stream.train.y[stream.train_exp == k] for k in range(3)]
    assert all(np.array_equal(labels[0], y) for y in labels)  # same samples, same classes
    flat = [p.reshape(len(p), -1) for p in pieces]
    assert all(np.array_equal(np.sort(flat[0], 1), np.sort(f, 1)) for f in flat)  # same pixels...
    assert not np.array_equal(flat[0], flat[1]) and not np.array_equal(flat[1], flat[2])  # ...moved
    assert stream.classes == [list(range(10))] * 3


def test_permutation_is_a_fixed_bijection():
    rng = np.random.default_rng(0)
    order = permutations.permutation((1, 8, 8), rng)
    assert sorted(order) == list(range(64))
    x = np.arange(2 * 64, dtype=np.float32).reshape(2, 1, 8, 8)
    y = permutations.permute(x, order)
    assert y.shape == x.shape and np.array_equal(y.reshape(2, -1), x.reshape(2, -1)[:, order])


def test_same_seed_same_numbers():
    spec = task("domain_incremental")
    a, b = run(spec, Spy), run(spec, Spy)
    assert a.details["acc_matrix"] == b.details["acc_matrix"]
    assert a.details["untrained_acc"] == b.details["untrained_acc"]
    c = run(spec, Spy, seed=1)
    assert c.details["acc_matrix"] != a.details["acc_matrix"]
