"""Search runs read no test data: with every test-evaluation entry point of the families made to raise, a
search run of every task still completes, records val_acc rows only, and scores exactly what the final run of
the same seed and draw scores on validation (skipping the test evaluations changes nothing in training)."""

import pytest

from benchmark import diagnostics
from benchmark.families import continual, domain_generalization, noisy_labels, ood
from benchmark.runner import run_one
from benchmark.tasks import task_names


def _boom(*args, **kwargs):
    raise AssertionError("a search run evaluated test data")


TEST_ENTRY_POINTS = [
    (noisy_labels, "evaluate"), (noisy_labels, "predict"),  # clean test split, memorization on train
    (domain_generalization, "evaluate"),  # held-out domain
    (continual, "evaluate"),  # the test split's calibration
    (ood, "predict"), (ood, "tune_and_score"), (ood, "own_scores"),  # ID test and OOD sets, every scorer
    (diagnostics, "measure"),
]


def poison(monkeypatch):
    for module, name in TEST_ENTRY_POINTS:
        monkeypatch.setattr(module, name, _boom)
    calls = []  # continual: its only per-experience evaluation in a search run is the validation one
    real = continual.per_experience_accuracy
    monkeypatch.setattr(continual, "per_experience_accuracy", lambda *a: calls.append(a[1]) or real(*a))
    return calls


@pytest.mark.parametrize("task", task_names())
def test_a_search_run_reads_no_test_data_and_scores_like_the_final_run(task, monkeypatch):
    final = run_one("erm", task, seed=100, draw=3, profile="smoke", phase="final")
    with monkeypatch.context() as patch:
        calls = poison(patch)
        search = run_one("erm", task, seed=100, draw=3, profile="smoke", phase="search")
    assert search["status"] == "ok", search["error"]
    assert {m.metric for m in search["metrics"]} == {"val_acc"}
    assert len(calls) <= 1
    assert search["details"] == {}
    val = lambda r: {m.domain: m.value for m in r["metrics"] if m.metric == "val_acc"}
    assert val(search) == val(final)
    assert search["hparams"] == final["hparams"] and search["hparams"]["lr_scale"] != 1.0
