"""docs/results.md: rendered from the parquet files alone, and current with the committed ones."""

import pandas as pd

from benchmark import ROOT
from benchmark.results.report import RESULTS_DOC, render, report

RULE = "best mean val_acc over search seeds [100, 101] among 8 draws"


def row(task, method, mean, verdict, gain=0.0, draw=0, family="noisy_labels", metric="test_acc"):
    return {"family": family, "task": task, "method": method, "metric": metric, "headline": True,
            "draw_selection": "val_acc", "higher_is_better": metric != "forgetting", "mean": mean,
            "ci_low": mean - 0.01, "ci_high": mean + 0.01, "n": 10, "n_failed": 0, "verdict": verdict,
            "gain_vs_erm": gain, "gain_ci_low": gain - 0.005, "gain_ci_high": gain + 0.005, "mde": 0.02,
            "hparam_draw": draw, "hparams": '{"lr_scale": 0.5, "weight_decay": 0.0001}',
            "selection_rule": RULE}


def board() -> pd.DataFrame:
    return pd.DataFrame([
        row("noisy_a", "erm", 0.80, "reference", draw=3), row("noisy_a", "elr", 0.85, "better", 0.05, draw=2),
        row("noisy_a", "gce", 0.70, "worse", -0.10), row("noisy_a", "sce", 0.81, "not separable", 0.01),
        row("cl_a", "erm", 0.40, "reference", family="continual", metric="acc"),
        row("cl_a", "der", 0.70, "better", 0.30, family="continual", metric="acc"),
    ])


def profile() -> pd.DataFrame:
    rows = [("elr", "noisy_labels", 0.06, 0.02, 0.1, "better"), ("gce", "noisy_labels", -0.1, -0.2, -0.05, "worse"),
            ("sce", "noisy_labels", 0.0, -0.05, 0.05, "not separable"), ("der", "continual", 0.5, -0.1, 1.2,
                                                                         "not separable")]
    frame = pd.DataFrame(rows, columns=["method", "family", "pooled_effect", "pooled_lo", "pooled_hi", "verdict"])
    return frame.assign(n_tasks=[1, 1, 1, 1], tasks_better=[1, 0, 0, 1], tasks_worse=[0, 1, 0, 0])


def test_the_report_states_rule_verdicts_intervals_and_mde_per_family_and_task():
    text = render(board(), profile())
    assert "- 2 tasks, 5 methods, 6 cells; final seeds per cell: 10." in text
    assert RULE in text and "searched the shared training knobs" in text
    assert "2 of 4 method × task comparisons better, 1 worse, 1 not separable" in text
    noisy = text[text.index("## Noisy labels"):text.index("## Continual")]
    assert "95% CI, Holm over 3 methods):" in noisy
    assert "- better than ERM: elr +0.060 [+0.020, +0.100]" in noisy
    assert "- worse than ERM: gce -0.100 [-0.200, -0.050]" in noisy
    assert "- tuned ERM: 0.800 [0.790, 0.810] over 10 seeds (chosen draw 3" in noisy
    assert "- better than ERM: elr +0.050 [+0.045, +0.055]" in noisy
    assert "- minimum detectable effect at 80% power (Holm over 3 methods): 0.020" in noisy
    assert "not separable from ERM: 1 of 3; 1 of 3 methods chose a draw other than their defaults" in noisy
    continual = text[text.index("## Continual"):]
    assert "der +0.300" in continual and "not separable from ERM: 1 methods" in continual
    assert "better than ERM on every one of their tasks by the per-task test" in continual and "der" in continual
    assert "on every one of their tasks" not in noisy  # sce separates on none; elr and gce are pooled verdicts


def test_in_short_counts_pooled_and_per_task_verdicts_and_names_silent_tasks():
    silent = board()
    silent.loc[silent["method"] == "der", "verdict"] = "not separable"
    text = render(silent, profile())
    short = text[text.index("## In short"):text.index("## Noisy labels")]
    assert ("- **Noisy labels.** Pooled over its tasks (normalized gain), 1 of 3 methods beat tuned ERM (elr +0.060) "
            "and 1 fall behind it (gce -0.100). Per task, methods better / worse than tuned ERM: `noisy_a` 1 / 1 of 3 "
            "(MDE 0.020).") in short
    assert "Nothing separates from ERM on `cl_a`." in short and "on `noisy_a`" not in short


def test_trouble_table_measures_tuned_erms_final_runs_only():
    def runs(method, phase, seed, memorization):
        values = {"memorization": memorization, "oracle_test_acc": 0.9, "last_acc": 0.8}
        return [{"family": "noisy_labels", "task": "noisy_a", "method": method, "seed": seed, "phase": phase,
                 "status": "ok", "metric": m, "scorer": "", "domain": "", "value": v} for m, v in values.items()]

    rows = runs("erm", "final", 0, 0.2) + runs("erm", "final", 1, 0.3) + runs("erm", "search", 100, 0.9)
    text = render(board(), profile(), pd.DataFrame(rows + runs("elr", "final", 0, 0.9)))
    trouble = text[text.index("## Does tuned ERM still show the trouble?"):text.index("## Noisy labels")]
    assert "| `noisy_a` | memorization | 0.250 | >= 0.3 | **miss** |" in trouble
    assert "| `noisy_a` | best-last test acc | 0.100 | >= 0.05 | ok |" in trouble


def test_without_a_search_the_report_says_erm_ran_its_defaults():
    untuned = board().assign(selection_rule="defaults (no search)")
    text = render(untuned, profile())
    assert "tuned ERM" not in text and "ERM at its defaults" in text


def test_docs_results_is_current_with_the_committed_parquet(tmp_path):
    fresh = report(ROOT / "results", tmp_path / "results.md")
    assert RESULTS_DOC.read_text() == fresh, "docs/results.md is stale: run `python -m benchmark report`"
