"""The calibrate command's measures on hand-made ERM records."""

import json

import pytest

from benchmark import calibrate
from benchmark.cli import main
from benchmark.errors import BenchmarkError


def record(family, metrics, seed=0, wall=1.0, cpu=None, task="t"):
    provenance = {"wall_seconds": wall} | ({"cpu_seconds": cpu} if cpu is not None else {})
    rows = [{"metric": m, "value": v, "selection": "", "scorer": s, "domain": d} for (m, s, d), v in metrics.items()]
    return {"family": family, "task": task, "seed": seed, "status": "ok", "metrics": rows, "provenance": provenance}


def noisy(memorization, oracle, last, seed=0):
    return record("noisy_labels", {("memorization", "", ""): memorization, ("oracle_test_acc", "", ""): oracle,
                                   ("last_acc", "", ""): last, ("test_acc", "", ""): oracle}, seed)


def test_noisy_labels_mean_over_seeds_against_both_thresholds():
    memo, drop = calibrate.trouble([noisy(0.2, 0.9, 0.8), noisy(0.5, 0.9, 0.86, seed=1)])
    assert memo.value == pytest.approx(0.35) and memo.ok
    assert drop.value == pytest.approx(0.07) and drop.ok
    memo, drop = calibrate.trouble([noisy(0.29, 0.9, 0.86)])
    assert not memo.ok and not drop.ok  # 0.04 best-minus-last is under 0.05


def test_domain_generalization_gap_is_validation_minus_held_out():
    ok = record("domain_generalization", {("val_acc", "", ""): 0.95, ("test_acc", "", ""): 0.80,
                                          ("test_acc", "", "rot0"): 0.99})
    (gap,) = calibrate.trouble([ok])
    assert gap.value == pytest.approx(0.15) and gap.ok  # the overall test_acc, not a per-domain one
    small = record("domain_generalization", {("val_acc", "", ""): 0.95, ("test_acc", "", ""): 0.90})
    assert not calibrate.trouble([small])[0].ok


def test_continual_forgetting_threshold():
    assert calibrate.trouble([record("continual", {("forgetting", "", ""): 0.31})])[0].ok
    assert not calibrate.trouble([record("continual", {("forgetting", "", ""): 0.29})])[0].ok


def test_ood_window_reads_msp_over_the_mean_of_sets():
    def ood(msp):
        return record("ood", {("auroc", "msp", "mean"): msp, ("auroc", "knn", "mean"): 0.99,
                              ("auroc", "msp", "far"): 0.99})
    assert calibrate.trouble([ood(0.80)])[0].ok
    assert not calibrate.trouble([ood(0.95)])[0].ok and not calibrate.trouble([ood(0.60)])[0].ok


def test_ood_ladder_wants_far_sets_easier_than_near_sets_across_tasks():
    near_task = record("ood", {("auroc", "msp", "near"): 0.88, ("auroc", "knn", "far"): 0.10}, task="a")
    far_task = record("ood", {("auroc", "msp", "far"): 0.90, ("auroc", "msp", "shift"): 0.50}, task="b")
    (check,) = calibrate.ladder([near_task, far_task])
    assert check.value == pytest.approx(0.02) and check.ok  # msp only, per kind, shift sets left out
    mixed = record("ood", {("auroc", "msp", "near"): 0.60, ("auroc", "msp", "far"): 0.70}, task="c")
    (check,) = calibrate.ladder([near_task, far_task, mixed])  # near (0.88 + 0.60) / 2 vs far (0.90 + 0.70) / 2
    assert check.value == pytest.approx(0.06) and check.ok
    (check,) = calibrate.ladder([record("ood", {("auroc", "msp", "near"): 0.95, ("auroc", "msp", "far"): 0.9})])
    assert not check.ok
    assert calibrate.ladder([near_task]) == []  # no far set anywhere: nothing to compare
    _, ok = calibrate.report({"a": []}, {"a": 1.0}, {"a": 1}, [record("ood", {("auroc", "msp", "near"): 0.95,
                                                                             ("auroc", "msp", "far"): 0.9})])
    assert not ok


def test_missing_metric_and_unknown_family_are_user_errors():
    with pytest.raises(BenchmarkError, match="memorization"):
        calibrate.trouble([record("noisy_labels", {("last_acc", "", ""): 0.5})])
    with pytest.raises(BenchmarkError, match="family 'weather'"):
        calibrate.trouble([record("weather", {})])


def test_cost_prefers_process_time_and_budget_checks_mean_and_max():
    assert calibrate.cost(record("ood", {}, wall=9.0, cpu=1.2)) == 1.2
    assert calibrate.cost(record("ood", {}, wall=2.5)) == 2.5
    mean, worst = calibrate.budget({"a": 1.0, "b": 1.9})
    assert mean.ok and mean.value == pytest.approx(1.45) and worst.ok
    mean, worst = calibrate.budget({"a": 0.2, "b": 3.2, "c": 0.5})
    assert not worst.ok and "b" in worst.measure and mean.ok


def test_report_fails_on_any_miss():
    text, ok = calibrate.report({"t": calibrate.trouble([noisy(0.5, 0.9, 0.8)])}, {"t": 1.0}, {"t": 1})
    assert ok and "MISS" not in text
    text, ok = calibrate.report({"t": calibrate.trouble([noisy(0.1, 0.9, 0.8)])}, {"t": 1.0}, {"t": 1})
    assert not ok and "MISS" in text


def test_command_reads_records_and_exits_non_zero_on_a_miss(tmp_path, capsys):
    cell = tmp_path / "cl_permuted_digits" / "erm.json"
    cell.parent.mkdir()
    low = [record("continual", {("forgetting", "", ""): 0.1}, seed=s, task="cl_permuted_digits") for s in (0, 1)]
    cell.write_text(json.dumps({"task": "cl_permuted_digits", "method": "erm", "records": low}))
    args = ["calibrate", "--tasks", "cl_permuted_digits", "--records", str(tmp_path)]
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 1 and "MISS" in capsys.readouterr().out
    assert main([*args[:3], "--records", str(tmp_path / "none")]) == 2  # no records: a user mistake


def test_read_records_takes_the_final_runs_of_a_tuned_cell(tmp_path):
    """A tuned cell also holds search runs (val_acc only, seeds 100+): calibrate measures the final runs."""
    cell = tmp_path / "cl_permuted_digits" / "erm.json"
    cell.parent.mkdir()
    final = [record("continual", {("forgetting", "", ""): 0.4}, seed=s) | {"phase": "final"} for s in (1, 0)]
    search = [record("continual", {("val_acc", "", ""): 0.5}, seed=100) | {"phase": "search"}]
    cell.write_text(json.dumps({"task": "cl_permuted_digits", "method": "erm", "records": search + final}))
    records = calibrate.read_records("cl_permuted_digits", tmp_path, seeds=3)
    assert [r["seed"] for r in records] == [0, 1]
    assert calibrate.trouble(records)[0].value == pytest.approx(0.4)
