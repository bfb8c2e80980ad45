"""Aggregation on synthetic run records: draw selection, leaderboard statistics, failures, profile."""

import json

import numpy as np
import pandas as pd
import pytest

from benchmark.errors import BenchmarkError
from benchmark.grid import load_params
from benchmark.hparams import Choice, HParam, IntUniform, LogUniform, Uniform, draw
from benchmark.results.aggregate import (
    LEADERBOARD_COLUMNS,
    NO_SEARCH,
    SCHEMA_KEY,
    SCHEMA_VERSION,
    aggregate,
    choose_draws,
    leaderboard,
    record_rows,
)
from benchmark.results.family_profile import PROFILE_COLUMNS, profile


def metric(name, value, selection="noisy_val", scorer="", domain=""):
    return {"metric": name, "value": value, "selection": selection, "scorer": scorer, "domain": domain}


def record(task, method, seed, draw=0, test=0.8, val=0.7, status="ok", family="noisy_labels",
           primary="test_acc", metrics=None, wall=1.0, **extra):
    if metrics is None:
        metrics = [metric("test_acc", test), metric("val_acc", val),
                   metric("memorization", 1 - test, "last_epoch"),
                   metric("oracle_test_acc", test + 0.01, "oracle")]
    failed = status != "ok"
    return {"schema": 1, "family": family, "task": task, "method": method, "seed": seed, "hparam_draw": draw,
            "hparams": {"lam": float(draw)}, "profile": "default", "status": status,
            "error": "RuntimeError: loss is NaN (at train.py:1)" if failed else None,
            "metrics": [] if failed else metrics, "details": {"curves": {"val_acc": [val]}},
            "parameters": 0 if failed else 1234, "primary": primary,
            "provenance": {"spec_hash": "abc", "device": "cpu", "wall_seconds": wall, "git_rev": "r",
                           "protocol_version": "1"}, **extra}


def frame(records) -> pd.DataFrame:
    from benchmark.results.aggregate import RUN_COLUMNS

    return pd.DataFrame([row for r in records for row in record_rows(r)], columns=RUN_COLUMNS)


def rows(board, method=None, metric_name="test_acc", rule="val_acc", task=None):
    b = board[(board["metric"] == metric_name) & (board["draw_selection"] == rule)]
    if task is not None:
        b = b[b["task"] == task]
    return b.set_index("method") if method is None else b.set_index("method").loc[method]


# A search: draw 1 validates best, draw 2 tests best (test never agrees with validation here).
SEARCH = {0: (0.70, 0.60), 1: (0.72, 0.70), 2: (0.80, 0.65)}  # draw -> (test, val)


def searched_runs(seeds=(0, 1, 2)):
    return frame([record("t", m, s, d, test=t + 0.01 * s, val=v + 0.01 * s)
                  for m in ("erm", "elr") for s in seeds for d, (t, v) in SEARCH.items()])


# ---------------------------------------------------------------- hyperparameter draws

SPACE = {"lr": HParam(1e-3, LogUniform(-4.5, -2.5)), "beta": HParam(0.7, Uniform(0.5, 0.99)),
         "batch": HParam(64, IntUniform(8, 512)), "kind": HParam("a", Choice("a", "b", "c"))}


def test_draw_zero_is_the_defaults():
    assert draw(SPACE, 0) == {"lr": 1e-3, "beta": 0.7, "batch": 64, "kind": "a"}


def test_draws_are_deterministic_in_the_space_and_independent_per_hparam():
    draws = [draw(SPACE, k) for k in range(1, 9)]
    assert draws == [draw(SPACE, k) for k in range(1, 9)]
    assert all(SPACE[name].space.contains(v) for d in draws for name, v in d.items())
    assert len({d["lr"] for d in draws}) == 8
    fewer = {"lr": SPACE["lr"]}  # adding or removing an hparam never changes the others' draws
    assert [draw(fewer, k)["lr"] for k in range(1, 9)] == [d["lr"] for d in draws]


def test_every_registered_method_draws_deterministically_from_its_space():
    from benchmark.registry import METHODS

    for name in METHODS.names():
        hp = METHODS.get(name).hparams
        assert draw(hp, 0) == {k: h.default for k, h in hp.items()}
        for k in (1, 5):
            assert draw(hp, k) == draw(hp, k)
            assert all(hp[n].space.contains(v) for n, v in draw(hp, k).items()), name


# ---------------------------------------------------------------- draw selection

def test_validation_rule_picks_the_best_mean_validation_draw():
    chosen = choose_draws(searched_runs())
    assert set(chosen["hparam_draw"]) == {1}


def test_selection_never_reads_test_metrics():
    runs = searched_runs()
    rng = np.random.default_rng(0)
    poisoned = runs.copy()
    test_rows = poisoned["metric"] != "val_acc"
    poisoned.loc[test_rows, "value"] = rng.uniform(0, 1, test_rows.sum())
    assert choose_draws(poisoned).equals(choose_draws(runs))
    # ...and the leaderboard's primary rule reports draw 1 whatever the test numbers
    assert set(rows(leaderboard(poisoned))["hparam_draw"]) == {1}
    # the oracle rule does read them: it follows the test numbers
    assert set(choose_draws(runs, "oracle")["hparam_draw"]) == {2}


def test_oracle_is_its_own_labelled_rule_and_never_feeds_the_primary_ranks():
    runs = searched_runs()
    # elr's best draw by test is much better than erm's; by validation it is worse
    worse = (runs["method"] == "elr") & (runs["hparam_draw"] == 1) & (runs["metric"] == "test_acc")
    runs.loc[worse, "value"] -= 0.1
    board = leaderboard(runs)
    assert set(board["draw_selection"]) == {"val_acc", "oracle"}
    primary, oracle = rows(board), rows(board, rule="oracle")
    assert primary.loc["erm", "rank"] == 1 and primary.loc["elr", "rank"] == 2
    assert oracle.loc["erm", "hparam_draw"] == 2 and oracle.loc["elr", "hparam_draw"] == 2
    alone = leaderboard(runs[runs["hparam_draw"] == 1])  # the primary rule's draws only
    assert rows(alone)["rank"].equals(primary["rank"])
    assert rows(alone)["verdict"].equals(primary["verdict"])


def test_single_draw_has_no_oracle_rows():
    board = leaderboard(frame([record("t", m, s) for m in ("erm", "elr") for s in range(3)]))
    assert set(board["draw_selection"]) == {"val_acc"}
    assert set(board["hparam_draw"]) == {0} and set(board["hparams"]) == {json.dumps({"lam": 0.0})}


def test_draws_with_failures_lose_and_ties_keep_the_defaults():
    recs = [record("t", "elr", s, 0, val=0.6) for s in range(3)]
    recs += [record("t", "elr", s, 1, val=0.9, status="failed" if s == 0 else "ok") for s in range(3)]
    recs += [record("t", "elr", s, 2, val=0.6) for s in range(3)]
    assert choose_draws(frame(recs))["hparam_draw"].tolist() == [0]


# ---------------------------------------------------------------- leaderboard

def test_leaderboard_has_the_documented_columns_and_statistics():
    values = {"erm": [0.70, 0.60, 0.80], "elr": [0.75, 0.66, 0.84]}
    recs = [record("t", m, s, test=v) for m, vs in values.items() for s, v in enumerate(vs)]
    board = leaderboard(frame(recs))
    assert list(board.columns) == LEADERBOARD_COLUMNS
    elr = rows(board, "elr")
    assert elr["mean"] == pytest.approx(np.mean(values["elr"]))
    assert elr["std"] == pytest.approx(np.std(values["elr"], ddof=1))
    # accuracy lives in [0, 1]: the t-interval on the logit scale, t_{2, 0.975} = 4.302653
    half = 4.302653 * elr["std"] / (np.sqrt(3) * 0.75 * 0.25)
    expit = lambda z: 1 / (1 + np.exp(-z))
    expected = (expit(np.log(3) - half), expit(np.log(3) + half))
    assert (elr["ci_low"], elr["ci_high"]) == pytest.approx(expected)
    # paired gain: differences 0.05, 0.06, 0.04 -> a narrow interval despite the large seed spread
    assert elr["gain_vs_erm"] == pytest.approx(0.05)
    assert elr["gain_ci_low"] > 0 and elr["gain_ci_high"] - elr["gain_ci_low"] < 0.06
    assert (elr["rank"], elr["n"], elr["n_paired"]) == (1, 3, 3)
    assert elr["p_value"] == pytest.approx(0.0131, abs=1e-4) and elr["p_holm"] == elr["p_value"]  # one comparison
    assert elr["verdict"] == "better" and rows(board, "erm")["verdict"] == "reference"
    assert elr["near_best"] and elr["selection_rule"] == NO_SEARCH
    assert rows(board, "erm")["gain_vs_erm"] == 0 and rows(board, "erm")["rank"] == 2
    assert elr["wall_seconds"] == 1.0 and elr["search_seconds"] == 3.0 and elr["parameters"] == 1234
    assert elr["headline"] and not rows(board, "elr", "memorization")["headline"]


def test_lower_is_better_metrics_rank_the_smallest_first():
    board = leaderboard(frame([record("t", m, s, test=t) for m, t in (("erm", 0.7), ("elr", 0.9))
                               for s in range(3)]))
    mem = rows(board, metric_name="memorization")
    assert not mem["higher_is_better"].any()
    assert mem.loc["elr", "rank"] == 1 and mem.loc["erm", "rank"] == 2


def test_verdicts_near_best_mde_and_cost_in_the_leaderboard():
    rng = np.random.default_rng(1)
    recs = [record("t", m, s, test=base + seed + rng.normal(0, 0.002), wall=wall) for s in range(6)
            for seed in [rng.normal(0, 0.05)]
            for m, base, wall in (("erm", 0.70, 2.0), ("elr", 0.80, 3.0), ("gce", 0.80, 2.0), ("sam", 0.60, 8.0),
                                  ("mixup", 0.70, 2.0))]
    board = rows(leaderboard(frame(recs)))
    assert board["verdict"].to_dict() == {"elr": "better", "erm": "reference", "gce": "better",
                                          "mixup": "not separable", "sam": "worse"}
    assert board["near_best"].to_dict() == {"elr": True, "erm": False, "gce": True, "mixup": False, "sam": False}
    assert board["cost_x_erm"].to_dict() == {"elr": 1.5, "erm": 1.0, "gce": 1.0, "mixup": 1.0, "sam": 4.0}
    assert board["mde"].nunique() == 1 and 0 < board["mde"].iloc[0] < 0.1
    assert (board["p_holm"].drop("erm") >= board["p_value"].drop("erm")).all()
    assert "tie_group" not in board


def test_a_method_worse_than_erm_is_never_near_best():
    # with one seed nothing separates from the best, yet with 8 seeds "worse" must win over "near best"
    rng = np.random.default_rng(3)
    recs = [record("t", m, s, test=base + rng.normal(0, 0.001)) for s in range(8)
            for m, base in (("erm", 0.70), ("elr", 0.71), ("sam", 0.695))]
    board = rows(leaderboard(frame(recs)))
    assert board.loc["sam", "verdict"] == "worse" and not board.loc["sam", "near_best"]


def test_bounded_metrics_keep_their_intervals_in_range():
    recs = [record("t", m, s, test=v) for m in ("erm", "elr") for s, v in enumerate([0.999, 0.97, 0.999])]
    board = leaderboard(frame(recs))
    acc = board[board["metric"] == "test_acc"]
    assert (acc["ci_high"] <= 1).all() and (acc["ci_low"] >= 0).all() and (acc["ci_high"] > acc["mean"]).all()


def test_only_final_phase_rows_reach_the_leaderboard_with_the_recorded_rule():
    rule = "best mean val_acc over search seeds {100, 101}"
    recs = [record("t", m, s, draw=3, test=0.7, phase="search") for m in ("erm", "elr") for s in (100, 101)]
    recs += [record("t", m, s, draw=1, test=0.8 + 0.01 * s, phase="final", selection_rule=rule)
             for m in ("erm", "elr") for s in range(3)]
    runs = frame(recs)
    assert set(runs["phase"]) == {"search", "final"}
    board = rows(leaderboard(runs))
    assert set(board["n"]) == {3} and set(board["hparam_draw"]) == {1} and set(board["selection_rule"]) == {rule}
    assert board.loc["elr", "search_seconds"] == 5.0  # cost counts both phases
    assert set(frame([record("t", "erm", 0)])["phase"]) == {"final"}  # no phase: an older record, final


def test_failed_runs_are_counted_and_shown():
    recs = [record("t", "erm", s, test=0.7 + 0.01 * s) for s in range(3)]
    recs += [record("t", "elr", s, status="failed" if s == 2 else "ok", test=0.8) for s in range(3)]
    recs += [record("t", "sam", s, status="failed") for s in range(3)]
    board = leaderboard(frame(recs))
    elr, sam = rows(board, "elr"), rows(board, "sam")
    assert (elr["n"], elr["n_failed"], elr["n_paired"]) == (2, 1, 2)
    assert elr["error"].startswith("RuntimeError") and rows(board, "erm")["error"] == ""
    assert (sam["n"], sam["n_failed"], sam["selection"]) == (3 - 3, 3, "noisy_val")
    assert np.isnan(sam["mean"]) and pd.isna(sam["rank"]) and "loss is NaN" in sam["error"]
    assert sam["headline"]


def test_ood_and_dg_headlines_pick_one_row_per_run():
    def ood(method, seed, auroc):
        return record("o", method, seed, family="ood", primary="auroc", metrics=[
            metric("val_acc", 0.9, "id_val"),
            *(metric("auroc", auroc + bump, "id_val", scorer, domain)
              for scorer, bump in (("msp", 0.0), ("energy", 0.05))
              for domain in ("far1", "mean", "near"))])

    def dg(method, seed, acc):
        return record("d", method, seed, family="domain_generalization", metrics=[
            metric("test_acc", acc, "training_domain_val"),
            metric("test_acc", acc - 0.1, "training_domain_val", domain="rot60"),
            metric("val_acc", 0.9, "training_domain_val"),
            metric("val_acc", 0.2, "training_domain_val", domain="rot0"),
            metric("test_acc", 0.99, "oracle")])

    recs = [f(m, s, v) for f in (ood, dg) for s in range(3) for m, v in (("erm", 0.7), ("elr", 0.77))]
    board = leaderboard(frame(recs))
    head = board[board["headline"]]
    assert len(head) == 4
    assert set(head.loc[head["task"] == "o", "scorer"]) == {"msp"}
    assert set(head.loc[head["task"] == "o", "domain"]) == {"mean"}
    assert set(head.loc[head["task"] == "d", ["selection", "domain"]].itertuples(index=False)) == {
        ("training_domain_val", "")}
    prof = profile(frame(recs), board).set_index(["method", "family"])
    assert prof.loc[("elr", "ood"), "pooled_effect"] == pytest.approx(0.1)
    assert prof.loc[("elr", "domain_generalization"), "pooled_effect"] == pytest.approx(0.1)


# ---------------------------------------------------------------- profile

def profile_runs():
    """noisy: elr gains 0.07 on ERM 0.70 (task a) and loses 0.01 on 0.80 (task b); continual
    (a lower-is-better primary for the test's sake): elr's forgetting 0.30 vs ERM's 0.40."""
    rng = np.random.default_rng(2)
    recs = []
    for s in range(3):
        e = rng.normal(0, 0.01)
        recs += [record("a", "erm", s, test=0.70 + e), record("a", "elr", s, test=0.77 + e),
                 record("b", "erm", s, test=0.80 + e), record("b", "elr", s, test=0.79 + e + 0.001 * (s - 1))]
        for m, f in (("erm", 0.40), ("elr", 0.30)):
            recs.append(record("c", m, s, family="continual", primary="forgetting", metrics=[
                metric("forgetting", f + e + 0.002 * s, "final"),
                metric("val_acc", 0.5, "seen_experiences_val")]))
    return frame(recs)


def test_profile_pooled_gain_interval_and_verdict():
    runs = profile_runs()
    prof = profile(runs, leaderboard(runs))
    assert list(prof.columns) == PROFILE_COLUMNS
    p = prof.set_index(["method", "family"])
    erm_a = runs.query("task == 'a' and method == 'erm' and metric == 'test_acc'")["value"].mean()
    erm_b = runs.query("task == 'b' and method == 'erm' and metric == 'test_acc'")["value"].mean()
    noisy = (0.07 / erm_a - 0.01 / erm_b) / 2
    elr = p.loc[("elr", "noisy_labels")]
    assert elr["pooled_effect"] == pytest.approx(noisy, abs=1e-9)
    assert elr["pooled_lo"] < elr["pooled_effect"] < elr["pooled_hi"]
    assert (elr["n_tasks"], elr["tasks"], elr["avg_rank"]) == (2, "a,b", 1.5)
    erm_c = runs.query("task == 'c' and method == 'erm' and metric == 'forgetting'")["value"].mean()
    cont = p.loc[("elr", "continual")]
    assert cont["pooled_effect"] == pytest.approx(0.10 / erm_c, rel=1e-3)  # sign flipped: lower forgetting > 0
    assert cont["primary"] == "forgetting" and cont["verdict"] == "better" and cont["p_holm"] < 0.05
    assert p.loc[("erm", "continual"), "verdict"] == "reference"
    assert "overall" not in set(prof["family"])
    again = profile(runs, leaderboard(runs))  # the bootstrap is seeded
    assert again.equals(prof)


# ---------------------------------------------------------------- files, params

def write_cells(folder, tasks=("t",), methods=("erm", "elr"), make=None):
    make = make or (lambda task, m: [record(task, m, s, test=0.7 + 0.1 * (m != "erm") + 0.01 * s)
                                     for s in range(3)])
    for task in tasks:
        for m in methods:
            path = folder / "records" / task / f"{m}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"task": task, "method": m, "records": make(task, m)}))
    return {f"{t}--{m}": {"task": t, "method": m, "family": "noisy_labels"} for t in tasks for m in methods}


def test_aggregate_writes_every_table_summary_and_plots(tmp_path):
    import pyarrow.parquet as pq

    cells = write_cells(tmp_path)
    (tmp_path / "records" / "t" / ".elr.json.123.tmp").write_text("{half a reco")  # a killed write: ignored
    paths = aggregate(cells, tmp_path / "records", tmp_path / "out")
    names = sorted(p.name for p in paths)
    assert names == ["cl_accuracy.csv", "details.parquet", "leaderboard.parquet", "noisy_curves.csv",
                     "profile.parquet", "roc.csv", "runs.parquet", "summary.json"]
    for p in paths:
        if p.suffix == ".parquet":
            assert pq.read_schema(p).metadata[SCHEMA_KEY] == SCHEMA_VERSION.encode()
    assert len(pd.read_parquet(tmp_path / "out" / "profile.parquet")) == 2
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    elr = summary["noisy_labels"]["elr"]
    assert elr["test_acc"] == pytest.approx(0.81) and elr["gain_vs_erm"] == pytest.approx(0.1 / 0.71, rel=1e-4)
    assert elr["verdict"] == "better"  # +0.1 on every seed: every bootstrap replicate is above 0
    assert summary["noisy_labels"]["erm"]["verdict"] == "reference"
    curves = pd.read_csv(tmp_path / "out" / "plots" / "noisy_curves.csv")
    assert list(curves.columns) == ["task", "method", "curve", "epoch", "value"] and len(curves) == 2


def test_plots_hold_the_continual_matrix_and_interpolated_roc(tmp_path):
    from benchmark.results.dvc_outputs import ROC_GRID, cl_accuracy, roc

    def cl(task, m):
        return [{**record(task, m, s, family="continual", primary="acc",
                          metrics=[metric("acc", 0.5, "final"), metric("val_acc", 0.5, "seen_experiences_val")]),
                 "details": {"acc_matrix": [[1.0, 0.0], [0.6, 0.9 + 0.01 * s]],
                             "roc": {"msp": {"far": {"fpr": [0.0, 0.5, 1.0], "tpr": [0.0, 0.9, 1.0]}}}}}
                for s in range(2)]

    cells = write_cells(tmp_path, make=cl)
    from benchmark.results.aggregate import load_runs

    runs, details = load_runs(cells, tmp_path / "records")
    board = leaderboard(runs)
    matrix = cl_accuracy(details, board).set_index(["method", "trained_through", "evaluated_on"])["accuracy"]
    assert matrix[("elr", 1, 1)] == pytest.approx(0.905) and len(matrix) == 8
    curve = roc(details, board).query("method == 'erm'")
    assert curve["fpr"].tolist() == pytest.approx(ROC_GRID.tolist())
    assert curve.set_index("fpr")["tpr"][0.25] == pytest.approx(0.45)


@pytest.mark.parametrize("payload, message", [
    ([], "expected a JSON object.*got a JSON list"),
    ({"task": "t", "method": "erm"}, "field 'records': Field required"),
    ({"task": "t", "method": "erm", "records": [{k: v for k, v in record("t", "erm", 0).items()
                                                  if k != "provenance"}]}, "records.0.provenance"),
    ({"task": "t", "method": "erm", "records": [record("t", "erm", 0, phase="tuning")]}, "records.0.phase"),
])
def test_a_bad_record_file_is_one_error_naming_it(tmp_path, payload, message):
    cells = write_cells(tmp_path)
    bad = tmp_path / "records" / "t" / "erm.json"
    bad.write_text(json.dumps(payload))
    with pytest.raises(BenchmarkError, match=message) as info:
        aggregate(cells, tmp_path / "records", tmp_path / "out")
    assert str(bad) in str(info.value) and "\n" not in str(info.value)
    bad.write_text("{not json")
    with pytest.raises(BenchmarkError, match="corrupt run record"):
        aggregate(cells, tmp_path / "records", tmp_path / "out")


def test_params_sweeps(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("profile: smoke\nseeds: [0]\nhparam_draws: 1\nsweep: search\n"
                    "sweeps:\n  search: {seeds: [0, 1, 2], hparam_draws: 8, search_seeds: [100, 101]}\n")
    params = load_params(path)
    assert (params.seeds, params.hparam_draws) == ([0, 1, 2], 8)
    path.write_text(path.read_text().replace("sweep: search", "sweep: default"))
    assert (load_params(path).seeds, load_params(path).hparam_draws) == ([0], 1)
    path.write_text(path.read_text().replace("sweep: default", "sweep: big"))
    with pytest.raises(BenchmarkError, match="sweep.*big.*search"):
        load_params(path)
    shipped = load_params()  # the committed grid: tuned (>= 8 draws, >= 2 search seeds), >= 10 fresh final seeds
    assert shipped.hparam_draws >= 8 and len(shipped.search_seeds) >= 2 and len(shipped.seeds) >= 10
    assert not set(shipped.seeds) & set(shipped.search_seeds)



def test_diagnostics_are_columns_never_ranked_or_judged():
    recs = []
    for m, shift in (("erm", 0.0), ("sharp", 5.0)):
        for seed in range(4):
            base = [metric("test_acc", 0.8 + 0.01 * seed), metric("val_acc", 0.7)]
            recs.append(record("t", m, seed, metrics=base + [metric("hessian_top_eig", 10 + shift + seed, "last")]))
    board = leaderboard(frame(recs))
    diag = board[board.metric == "hessian_top_eig"]
    assert set(diag.method) == {"erm", "sharp"} and diag["mean"].notna().all()
    assert (diag["verdict"] == "").all() and diag["rank"].isna().all() and not diag["near_best"].any()
    assert (board[(board.metric == "test_acc") & (board.method == "sharp")]["verdict"] != "").all()
