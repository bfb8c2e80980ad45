"""Domain generalization protocol: domains, leave-one-domain-out splits, the balanced sampler, selection
rules, records, and the one-line errors for bad tasks."""

import json

import numpy as np
import pytest
import torch

from benchmark.errors import BenchmarkError
from benchmark.families import domain_generalization as dg
from benchmark.grid import compute_cells
from benchmark.metrics import DIAGNOSTICS
from benchmark.registry import METHODS
from benchmark.runner import run_one
from benchmark.shifts import domains as shifts
from benchmark.tasks import load_task, parse_task, read_yaml, task_names, tasks_dir
from benchmark.train import TensorSet

DG_TASKS = [t for t in task_names() if load_task(t).family == dg.FAMILY]
DG_METHODS = [m for m in METHODS.names() if METHODS.get(m).families == (dg.FAMILY,)]


def raw(task="dg_colored_digits", **override):
    return {**read_yaml(tasks_dir() / f"{task}.yaml"), **override}


def rows(data) -> set[bytes]:
    return {np.ascontiguousarray(r).tobytes() for r in data.x}


# -- the tasks ---------------------------------------------------------------------------------------------
def test_at_least_three_dg_tasks_with_the_required_domains():
    assert {"dg_rotated_digits", "dg_colored_digits", "dg_mnist1d_knobs"} <= set(DG_TASKS)
    rotated = load_task("dg_rotated_digits")
    assert [d.rotate for d in rotated.domains] == [0, 25, 50, 75] and rotated.resize is None
    coloured = load_task("dg_colored_digits")
    assert [d.colour.agree for d in coloured.domains] == [0.9, 0.8, 0.1]
    assert all(d.colour.label_noise == 0.25 and d.colour.threshold == 5 for d in coloured.domains)
    knobs = load_task("dg_mnist1d_knobs")
    assert len(knobs.domains) >= 4 and all(d.options for d in knobs.domains)


def test_default_profile_tests_every_domain_and_smoke_fewer():
    for task in DG_TASKS:
        assert load_task(task).test_domains is None
        smoke = load_task(task, "smoke")
        assert smoke.test_domains and len(smoke.test_domains) < len(smoke.domains)


# -- domains and splits ------------------------------------------------------------------------------------
@pytest.mark.parametrize("task", DG_TASKS)
def test_domains_are_disjoint_shares_of_the_source(task):
    spec = load_task(task, "smoke")
    domains = dg.build_domains(spec, np.random.default_rng(0))
    positions = np.concatenate([d.positions for d in domains])
    assert len(positions) == len(set(positions.tolist())), "a source sample appears in two domains"
    assert [d.name for d in domains] == [d.name for d in spec.domains]
    assert len({d.data.x.shape[1:] for d in domains}) == 1


@pytest.mark.parametrize("task", DG_TASKS)
def test_lodo_never_leaks_the_test_domain_into_training_or_validation(task):
    spec = load_task(task, "smoke")
    domains = dg.build_domains(spec, np.random.default_rng(1))
    for held_out, test_domain in enumerate(domains):
        split = dg.lodo(domains, held_out)
        held = rows(test_domain.data)
        assert not rows(split.train) & held and not rows(split.val) & held
        assert rows(split.test) | rows(split.oracle) == held
        assert not rows(split.test) & rows(split.oracle)
        assert test_domain.name not in split.training_domains
        assert len(split.training_domains) == len(domains) - 1
        assert sorted(set(split.train_domain.tolist())) == list(range(len(domains) - 1))
        assert len(split.train) + len(split.val) == sum(len(d.data) for d in domains) - len(test_domain.data)
        # 20% of each domain held out: validation when training on it, oracle selection when testing on it
        assert len(split.oracle) == round(spec.split.val * len(test_domain.data))


def test_training_domain_ids_follow_the_training_domains():
    spec = load_task("dg_colored_digits")
    domains = dg.build_domains(spec, np.random.default_rng(0))
    split = dg.lodo(domains, 0)
    for i, d in enumerate(domains[1:]):
        assert rows(split.train.take(split.train_domain == i)) == rows(d.data.take(~d.out))


def test_balanced_batches_hold_equal_shares_of_each_domain_and_unique_indices():
    domain = torch.tensor([0] * 50 + [1] * 30 + [2] * 20)
    data = TensorSet(x=torch.arange(100.0)[:, None], y=torch.zeros(100, dtype=torch.long), domain=domain,
                     experience=torch.zeros(100, dtype=torch.long))
    per, steps = dg.balanced_plan([50, 30, 20], 8)
    batches = list(dg.balanced_batches(data, 3, 8, torch.Generator().manual_seed(0)))
    assert len(batches) == steps == 5 and per == 8  # a full batch of 8 per domain; ceil(100 / (8 x 3))
    for b in batches:
        assert torch.bincount(b.domain, minlength=3).tolist() == [8, 8, 8]
        assert len(set(b.index.tolist())) == len(b.index) and int(b.index.max()) < 100
        assert torch.equal(data.domain[b.index], b.domain) and torch.equal(b.x[:, 0], b.index.float())
    seen = torch.cat([b.index for b in batches])
    small = seen[domain[seen] == 2]
    assert torch.bincount(small - 80).tolist() == [2] * 20, "40 draws from 20 samples: two whole passes"


def test_balanced_batches_with_a_domain_smaller_than_its_share():
    per, steps = dg.balanced_plan([40, 3], 32)
    assert per == 3 and steps == 8
    assert dg.balanced_plan([240] * 5, 64) == (64, 4), "DomainBed: 64 per domain, an epoch a domain's pass"


# -- shifts -----------------------------------------------------------------------------------------------
def test_rotation_is_about_the_centre_and_zero_is_the_identity():
    x = np.random.default_rng(0).random((5, 1, 16, 16)).astype(np.float32)
    assert np.array_equal(shifts.rotate(x, 0), x)
    quarter = shifts.rotate(x, 90)
    assert np.allclose(quarter, np.rot90(x, k=1, axes=(2, 3)), atol=1e-5)
    assert not np.allclose(shifts.rotate(x, 15), x, atol=0.05)


def test_colour_follows_the_coloredmnist_rates():
    rng = np.random.default_rng(0)
    digits = rng.integers(0, 10, 20_000)
    x = np.ones((20_000, 1, 2, 2), dtype=np.float32)
    out, label = shifts.colour(x, digits, agree=0.9, label_noise=0.25, threshold=5, rng=rng)
    assert out.shape == (20_000, 2, 2, 2) and set(np.unique(label)) == {0, 1}
    colour = out[:, 1].sum((1, 2)) > 0
    assert np.all(out.sum((1, 2, 3)) == 4), "the digit is drawn in exactly one channel"
    assert abs((label != (digits < 5)).mean() - 0.25) < 0.015
    assert abs((colour == label).mean() - 0.9) < 0.01


def test_mnist1d_knobs_change_the_domains():
    domains = dg.build_domains(load_task("dg_mnist1d_knobs", "smoke"), np.random.default_rng(0))
    roughness = {d.name: float(np.abs(np.diff(d.data.x, axis=-1)).mean()) for d in domains}
    assert roughness["noise"] > 1.5 * roughness["shift"], roughness


# -- protocol, records, selection ------------------------------------------------------------------------
def test_run_records_carry_both_rules_apart_and_per_domain_values():
    record = run_one("erm", "dg_rotated_digits", seed=0, profile="smoke")
    assert record["status"] == "ok" and record["primary"] == "test_acc"
    by = {(m.metric, m.selection, m.domain): m.value for m in record["metrics"]}
    tested = load_task("dg_rotated_digits", "smoke").test_domains
    for metric in ("test_acc", "worst_domain_acc", "val_acc"):
        assert (metric, "training_domain_val", "") in by
    assert ("oracle_test_acc", "oracle", "") in by
    assert all((c, "training_domain_val", "") in by for c in ("ece", "nll", "brier"))
    assert all((d, "last", "") in by for d in DIAGNOSTICS)
    assert {m.selection for m in record["metrics"] if m.metric == "test_acc"} == {"training_domain_val"}
    for name in tested:
        assert ("test_acc", "training_domain_val", name) in by and ("oracle_test_acc", "oracle", name) in by
    per_domain = [by[("test_acc", "training_domain_val", n)] for n in tested]
    assert by[("test_acc", "training_domain_val", "")] == pytest.approx(np.mean(per_domain))
    assert by[("worst_domain_acc", "training_domain_val", "")] == min(per_domain)
    details = json.loads(json.dumps(record["details"]))
    assert details["test_domains"] == tested and set(details["splits"]) == set(tested)
    assert len(details["splits"][tested[0]]["curves"]["val_acc"]) == 1


def test_selection_reads_validation_and_the_oracle_reads_the_test_domain():
    curves = {"train_loss": [1, 1, 1], "val_acc": [0.5, 0.9, 0.7], "test_acc": [0.2, 0.3, 0.8],
              "oracle_acc": [0.1, 0.2, 0.9]}
    calibration = [{"ece": e, "nll": 1.0, "brier": 0.5} for e in (0.4, 0.1, 0.3)]
    split = {"curves": curves, "selected_epoch": 1, "oracle_epoch": 2, "parameters": 1, "calibration": calibration,
             "diagnostics": {"hessian_top_eig": 2.0, "feature_effective_rank": 3.0, "spectral_norm_product": 4.0}}
    b_split = {**split, "selected_epoch": 0, "diagnostics": {**split["diagnostics"], "hessian_top_eig": 6.0}}
    result = dg._result({"a": split, "b": b_split}, ["a", "b"])
    by = {(m.metric, m.selection, m.domain): m.value for m in result.metrics}
    assert by[("ece", "training_domain_val", "a")] == 0.1 and by[("ece", "training_domain_val", "b")] == 0.4
    assert by[("ece", "training_domain_val", "")] == pytest.approx(0.25)
    assert by[("hessian_top_eig", "last", "")] == 4.0 and by[("hessian_top_eig", "last", "b")] == 6.0
    assert by[("test_acc", "training_domain_val", "a")] == 0.3
    assert by[("test_acc", "training_domain_val", "b")] == 0.2
    assert by[("worst_domain_acc", "training_domain_val", "")] == 0.2
    assert by[("oracle_test_acc", "oracle", "a")] == 0.8
    assert by[("last_acc", "last_epoch", "")] == 0.8


def test_same_seed_same_numbers_and_splits_independent_of_the_other_test_domains():
    spec = parse_task(raw(profiles={}), "dg_colored_digits", "smoke")
    only = spec.model_copy(update={"test_domains": ["-90%"]})

    def metrics(s, seed):
        generator = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        result = dg.run(METHODS.get("erm"), {}, s, seed, torch.device("cpu"), generator)
        return {(m.metric, m.selection, m.domain): m.value for m in result.metrics}

    full, again, alone = metrics(spec, 3), metrics(spec, 3), metrics(only, 3)
    assert full == again
    key = ("test_acc", "training_domain_val", "-90%")
    assert alone[key] == full[key]
    assert metrics(spec, 4) != full


@pytest.mark.parametrize("task", DG_TASKS)
@pytest.mark.parametrize("method", ["erm", *DG_METHODS])
def test_every_dg_method_runs_on_every_dg_task(method, task):
    record = run_one(method, task, seed=0, profile="smoke")
    assert record["status"] == "ok", record["error"]
    assert all(np.isfinite(m.value) for m in record["metrics"])


def test_dg_methods_declare_their_family_and_domain_needs():
    assert {"irm", "vrex", "coral", "groupdro", "fish", "ridg", "intermixup", "fishr"} <= set(DG_METHODS)
    for name in DG_METHODS:
        # RIDG and CVaR (worst samples, not worst domains) work without domain labels
        assert METHODS.get(name).needs_domains == (name not in ("ridg", "cvar")), name


# -- bad input ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("override,expected", [
    ({"domains": [{"name": "only", "colour": {"agree": 0.9}}]}, "at least 2 domains"),
    ({"domains": [{"name": "a"}, {"name": "b"}, {"name": "a"}]}, "domain name 'a' used twice"),
    ({"test_domains": ["nowhere"]}, "test_domains names 'nowhere'"),
    ({"split": {"val": 0.2, "test": 0.2}}, "split.test does not apply"),
    ({"domains": [{"name": "a", "rotate": "lots"}, {"name": "b"}]}, "domains.0.rotate"),
    ({"test_domains": []}, "test_domains"),
])
def test_bad_dg_tasks_fail_with_one_line_naming_the_file(override, expected):
    with pytest.raises(BenchmarkError) as err:
        parse_task(raw(**override), "tasks/dg_bad.yaml")
    message = str(err.value)
    assert "\n" not in message and message.startswith("tasks/dg_bad.yaml") and expected in message


def test_dg_only_method_on_a_task_without_domains_is_a_one_line_error_and_never_paired():
    noisy = next(t for t in task_names() if load_task(t).family == "noisy_labels")
    with pytest.raises(BenchmarkError) as err:
        run_one("irm", noisy, seed=0, profile="smoke")
    assert "\n" not in str(err.value) and "irm" in str(err.value) and noisy in str(err.value)
    cells = compute_cells(methods=DG_METHODS)
    assert cells and all(c["family"] == dg.FAMILY for c in cells.values())


def test_a_shift_that_does_not_fit_the_data_is_a_one_line_task_error():
    domains = [{"name": "a"}, {"name": "b", "rotate": 15}]
    spec = parse_task(raw("dg_mnist1d_knobs", domains=domains), "tasks/x.yaml")
    expected = r"^domain 'b' of data source 'mnist1d': rotate expects images"
    with pytest.raises(BenchmarkError, match=expected) as err:
        dg.build_domains(spec, np.random.default_rng(0))
    assert "\n" not in str(err.value)


def test_multi_domain_methods_refuse_a_task_with_a_single_training_domain():
    two = [{"name": "a", "colour": {"agree": 0.9}}, {"name": "b", "colour": {"agree": 0.1}}]
    spec = parse_task(raw(domains=two), "tasks/dg_two.yaml")
    assert "needs several training domains" in dg.applies(METHODS.get("irm"), spec)
    assert dg.applies(METHODS.get("erm"), spec) is None and dg.applies(METHODS.get("ridg"), spec) is None
