"""The scheduler's plan on hand-made records: which runs are missing, the search/final phases, and a draw chosen
by validation alone."""

import copy

import pytest

from benchmark.errors import BenchmarkError
from benchmark.grid import Params, load_params
from benchmark.hparams import TRAINING_KNOBS, training_knobs, with_knobs
from benchmark.scheduler import Cell, Plan, choose_draw, order_cells, val_score
from benchmark.spec import TrainSpec


def record(seed, draw, val, test, phase="search", status="ok"):
    return {"seed": seed, "hparam_draw": draw, "phase": phase, "status": status,
            "metrics": [{"metric": "val_acc", "value": val, "selection": "noisy_val", "scorer": "", "domain": ""},
                        {"metric": "test_acc", "value": test, "selection": "noisy_val", "scorer": "", "domain": ""}]}


SEARCH = [record(s, d, val, test) for s, d, val, test in [
    (100, 0, 0.70, 0.90), (101, 0, 0.72, 0.91),  # defaults: best on test, not on validation
    (100, 1, 0.80, 0.60), (101, 1, 0.78, 0.61),  # best on validation
    (100, 2, 0.79, 0.99), (101, 2, 0.60, 0.99)]]


def test_the_draw_is_chosen_by_validation_and_poisoned_test_values_do_not_move_it():
    assert choose_draw(SEARCH) == 1
    poisoned = copy.deepcopy(SEARCH)
    for r in poisoned:
        for m in r["metrics"]:
            if m["metric"] != "val_acc":
                m["value"] = float("nan") if r["hparam_draw"] == 1 else 1e9
    assert choose_draw(poisoned) == 1


def test_failures_come_first_then_ties_keep_the_lower_draw():
    failed = [*SEARCH[:4], record(100, 2, 0.99, 0.99), record(101, 2, 0.99, 0.99, status="failed")]
    assert choose_draw(failed) == 1, "a draw with a failed run loses to one without"
    tie = [record(100, 0, 0.5, 0.1), record(100, 3, 0.5, 0.9)]
    assert choose_draw(tie) == 0


def test_val_score_prefers_the_all_domain_row():
    r = record(0, 0, 0.5, 0.5)
    r["metrics"].append({"metric": "val_acc", "value": 0.1, "selection": "x", "scorer": "", "domain": "15"})
    assert val_score(r) == 0.5


def test_plan_searches_first_then_runs_the_chosen_draw_on_fresh_seeds():
    params = Params(profile="smoke", seeds=[0, 1, 2], hparam_draws=3, search_seeds=[100, 101])
    plan, cell = Plan(params), Cell("t", "m", "noisy_labels", None, "fp")
    assert {(j.phase, j.seed, j.draw) for j in plan.missing(cell)} == {
        ("search", s, d) for s in (100, 101) for d in range(3)}
    assert plan.outstanding(cell) == 6 + 3
    for r in SEARCH:
        cell.runs[("search", r["seed"], r["hparam_draw"])] = r
    assert plan.chosen(cell)[0] == 1
    finals = plan.missing(cell)
    assert {(j.phase, j.seed, j.draw) for j in finals} == {("final", s, 1) for s in (0, 1, 2)}
    assert not {j.seed for j in finals} & set(params.search_seeds), "final seeds are disjoint from search seeds"


def keys(jobs):
    return {(j.phase, j.seed, j.draw) for j in jobs}


def test_successive_halving_takes_the_best_of_the_first_seed_on_by_validation_alone():
    params = Params(seeds=list(range(10)), hparam_draws=8, search_seeds=[100, 101], search_keep=2)
    plan, cell = Plan(params), Cell("t", "m", "noisy_labels", None, "fp")
    assert keys(plan.missing(cell)) == {("search", 100, d) for d in range(8)}
    assert plan.outstanding(cell) == 8 + 2 + 10 and plan.stage(cell) == 0
    vals = [0.50, 0.70, 0.60, 0.90, 0.10, 0.80, 0.20, 0.30]  # draws 3 and 5 are the best on seed 100
    for d, v in enumerate(vals):
        cell.runs[("search", 100, d)] = record(100, d, v, test=1.0 - v)  # test values ranked the other way
        assert plan.stage(cell) == (1 if d == 7 else 0)
    assert plan.survivors(cell) == [3, 5]
    assert keys(plan.missing(cell)) == {("search", 101, 3), ("search", 101, 5)}
    assert plan.chosen(cell) is None and plan.outstanding(cell) == 2 + 10
    cell.runs[("search", 101, 3)] = record(101, 3, 0.60, 0.0)
    cell.runs[("search", 101, 5)] = record(101, 5, 0.79, 0.0)
    draw, rule = plan.chosen(cell)
    assert draw == 5 and "best 2 of seed 100" in rule  # mean 0.795 beats 0.75
    assert keys(plan.missing(cell)) == {("final", s, 5) for s in range(10)} and plan.stage(cell) == 2
    assert set(plan.wanted(cell)) == set(cell.runs) | {("final", s, 5) for s in range(10)}


def test_cells_run_erm_first_then_method_by_method_over_the_tasks():
    cells = [Cell(t, m, "ood", None, "fp") for m in ("sam", "erm", "elr") for t in ("b", "a")]
    assert [(c.method, c.task) for c in order_cells(cells)] == [
        ("erm", "a"), ("erm", "b"), ("elr", "a"), ("elr", "b"), ("sam", "a"), ("sam", "b")]


def test_training_knobs_are_shared_by_every_method_and_draw_0_keeps_the_task_settings():
    train = TrainSpec(epochs=3, batch_size=8, lr=0.01, weight_decay=5e-4)
    assert training_knobs(0, train) == {"lr_scale": 1.0, "weight_decay": 5e-4}
    assert with_knobs(train, training_knobs(0, train)) == train
    draws = [training_knobs(k, train) for k in range(1, 9)]
    assert all(TRAINING_KNOBS["lr_scale"].space.contains(d["lr_scale"]) for d in draws)
    assert len({d["lr_scale"] for d in draws}) == 8 and len({d["weight_decay"] for d in draws}) > 1
    tuned = with_knobs(train, draws[0])
    assert tuned.lr == pytest.approx(0.01 * draws[0]["lr_scale"]) and tuned.weight_decay == draws[0]["weight_decay"]


def test_without_a_search_the_defaults_run_on_the_final_seeds():
    plan, cell = Plan(Params(seeds=[0, 1])), Cell("t", "m", "ood", None, "fp")
    assert plan.chosen(cell) == (0, "defaults (no search)")
    assert {(j.phase, j.seed, j.draw) for j in plan.missing(cell)} == {("final", 0, 0), ("final", 1, 0)}


@pytest.mark.parametrize("text,message", [
    ("seeds: [0, 1]\nhparam_draws: 4\n", "field 'search_seeds': expected at least one seed"),
    ("seeds: [0, 1]\nhparam_draws: 4\nsearch_seeds: [1, 2]\n", "seed 1 is also a final seed"),
    ("seeds: [0, 0]\n", "seed 0 appears more than once"),
])
def test_params_refuse_a_search_that_could_see_reported_seeds(tmp_path, text, message):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(BenchmarkError, match=message):
        load_params(path)
