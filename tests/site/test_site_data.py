"""The site's data layer without Streamlit pages: reading, checking, deriving, charting."""

from __future__ import annotations

import io
import json
import os
import subprocess

import altair as alt
import numpy as np
import pandas as pd
import pytest

import catalog
import charts
import data
import details
import effect_charts
import profiles
import site_fixtures
import tables
import verdicts


@pytest.fixture(scope="module")
def frames():
    return site_fixtures.make_results(seeds=3)


@pytest.fixture(scope="module")
def legacy():
    """An aggregation before the adjusted verdicts, with two hyperparameter draws per cell."""
    return site_fixtures.make_results(seeds=3, legacy=True, draws=2)


def test_reads_a_good_file(tmp_path, frames):
    site_fixtures.write(frames["runs"], tmp_path / "runs.parquet")
    frame, problem = data.read(tmp_path / "runs.parquet", "runs")
    assert problem is None and len(frame) == len(frames["runs"])


@pytest.mark.parametrize(
    "case, expected",
    [
        ("corrupt", "not a readable parquet file"),
        ("no_version", "carries no schema version"),
        ("future_version", "has schema version 99"),
        ("missing_column", "lacks the column(s) value"),
    ],
)
def test_bad_files_become_one_line_problems(tmp_path, frames, case, expected):
    path = tmp_path / "runs.parquet"
    if case == "corrupt":
        path.write_bytes(b"PAR1 this is not parquet")
    elif case == "no_version":
        site_fixtures.write(frames["runs"], path, version=None)
    elif case == "future_version":
        site_fixtures.write(frames["runs"], path, version="99")
    else:
        site_fixtures.write(frames["runs"].drop(columns="value"), path)
    frame, problem = data.read(path, "runs")
    assert frame is None and expected in problem and str(path) in problem


def test_optional_columns_get_defaults(tmp_path, frames):
    lean = frames["leaderboard"][["family", "task", "method", "metric", "mean", "std", "n"]]
    site_fixtures.write(lean, tmp_path / "leaderboard.parquet")
    frame, _ = data.read(tmp_path / "leaderboard.parquet", "leaderboard")
    board = tables.with_stats(frame)
    for column in (
        "selection",
        "scorer",
        "domain",
        "ci_low",
        "ci_high",
        "rank",
        "tie_group",
        "higher_is_better",
    ):
        assert column in board
    row = board.iloc[0]
    assert row["ci_low"] < row["mean"] < row["ci_high"]
    assert board["tie_group"].isna().all()  # never invented


def test_result_sets_lists_profiles(tmp_path, monkeypatch, frames):
    for where in ("results", "results-full", "results/gpu", "results/records", "results-empty"):
        (tmp_path / where).mkdir(parents=True)
    for where in ("results-full", "results/gpu"):
        site_fixtures.write(frames["leaderboard"], tmp_path / where / "leaderboard.parquet")
    (tmp_path / "results-old.txt").write_text("not a directory")
    monkeypatch.setenv("BENCHMARK_RESULTS", str(tmp_path / "results"))
    assert data.result_sets() == {
        "results (default)": tmp_path / "results",
        "full": tmp_path / "results-full",
        "gpu": tmp_path / "results" / "gpu",
    }


def test_computed_ci_and_rank_follow_direction():
    board = pd.DataFrame(
        {
            "family": "noisy_labels",
            "task": "t",
            "method": ["a", "b"],
            "metric": "memorization",
            "selection": "",
            "scorer": "",
            "domain": "",
            "mean": [0.1, 0.3],
            "std": [0.02, 0.02],
            "n": [3, 3],
            "n_failed": 0,
            "error": "",
            "gain_vs_erm": 0.0,
        }
    )
    b = tables.with_stats(board)
    assert list(b["rank"]) == [1, 2]  # lower memorization ranks first
    half = 4.303 * 0.02 / np.sqrt(3)
    assert b["ci_high"].iloc[0] == pytest.approx(0.1 + half)


def test_headline_counts_failures_and_keeps_all_failed_cells(frames):
    board = tables.with_stats(frames["leaderboard"])
    rows = tables.headline(board, "domain_generalization")
    assert set(rows["selection"]) == {"training_domain_val"}
    irm = rows[rows["method"] == "irm"].set_index("task")
    assert irm.loc["dg_rotated_digits", "n_failed"] == 1 and irm.loc["dg_rotated_digits", "n"] == 2
    assert np.isnan(irm.loc["dg_colored_mnist1d", "mean"]) and irm.loc["dg_colored_mnist1d", "n_failed"] == 3
    assert "NaN" in irm.loc["dg_colored_mnist1d", "error"]
    shown = tables.display(rows[rows["task"] == "dg_colored_mnist1d"])
    assert shown["method"].iloc[-1] == "irm" and shown["seeds"].iloc[-1] == "0 (+3 failed)"


def test_headline_defaults_per_family(frames):
    board = tables.with_stats(frames["leaderboard"])
    assert set(tables.headline(board, "noisy_labels")["selection"]) == {"noisy_val"}
    assert set(tables.headline(board, "continual")["selection"]) == {"final"}
    ood = tables.headline(board, "ood")
    assert set(ood["scorer"]) == {"msp"} and set(ood["domain"]) == {"mean"}
    assert set(tables.headline(board, "ood", scorer="energy", domain="noise")["domain"]) == {"noise"}
    # without the aggregation's `headline` marks: the family's primary metric and rule, then preferences
    unmarked = tables.with_stats(frames["leaderboard"].drop(columns="headline"))
    assert set(tables.headline(unmarked, "domain_generalization")["selection"]) == {"training_domain_val"}
    assert set(tables.headline(unmarked, "ood")["domain"]) == {"mean"}


def test_oracle_draw_rows_are_not_ranked(frames):
    assert (frames["leaderboard"]["draw_selection"] == "oracle").any()
    board = tables.with_stats(frames["leaderboard"])
    rows = tables.headline(board, "noisy_labels")
    assert not rows.duplicated(["task", "method"]).any()
    assert set(board["draw_selection"]) == {"val_acc"}


def test_old_style_failure_rows_are_counted():
    row = {
        "family": "noisy_labels",
        "task": "t",
        "metric": "test_acc",
        "scorer": "",
        "domain": "",
        "std": 0.01,
        "error": "",
        "gain_vs_erm": 0.0,
    }
    board = pd.DataFrame(
        [
            {**row, "method": "erm", "selection": "noisy_val", "mean": 0.8, "n": 3, "n_failed": 0},
            {**row, "method": "a", "selection": "noisy_val", "mean": 0.82, "n": 2, "n_failed": 0},
            {
                **row,
                "method": "a",
                "selection": "",
                "mean": np.nan,
                "n": 0,
                "n_failed": 1,
                "error": "diverged",
            },
            {
                **row,
                "method": "b",
                "selection": "",
                "mean": np.nan,
                "n": 0,
                "n_failed": 3,
                "error": "out of memory",
            },
        ]
    )
    rows = tables.headline(tables.with_stats(board), "noisy_labels").set_index("method")
    assert rows.loc["a", "n_failed"] == 1 and rows.loc["a", "error"] == "diverged"
    assert rows.loc["b", "n_failed"] == 3 and np.isnan(rows.loc["b", "mean"])
    assert set(rows["selection"]) == {"noisy_val"}


def _profile(frames, board):
    return profiles.view(frames, board, lambda f: tables.headline(board, f))


def test_profile_from_file_and_fallbacks(frames, legacy):
    board = tables.with_stats(frames["leaderboard"])
    given = _profile(frames, board).set_index(["method", "family"])
    assert "overall" not in set(given.index.get_level_values("family"))  # never mixed
    assert given.loc[("elr", "noisy_labels"), "verdict"] == "better" and given["adjusted"].all()
    assert given.loc[("erm", "ood"), "verdict"] == "reference"
    assert given.loc[("replay", "continual"), "family_only"] and not given.loc[("sam", "ood"), "family_only"]
    old = _profile(legacy, tables.with_stats(legacy["leaderboard"])).set_index(["method", "family"])
    assert not old["adjusted"].any() and old.loc[("elr", "noisy_labels"), "verdict"] == "better"
    assert old.loc[("replay", "continual"), "family_only"]  # from the catalogue's families
    fallback = _profile({}, board).set_index(["method", "family"])
    assert (fallback["verdict"].drop(index="erm", level="method") == "").all()
    # lower-is-better primaries would be sign-flipped; accuracy gains keep their sign
    assert fallback.loc[("elr", "noisy_labels"), "effect"] > 0


def test_family_summary_lines(frames):
    board = tables.with_stats(frames["leaderboard"])
    pooled = _profile(frames, board)
    first, second = profiles.summary(pooled[pooled["family"] == "noisy_labels"], erm_tuned=True)
    assert first.startswith("**elr** beats tuned ERM") and "[+" in first and "Holm-adjusted" in second
    losers = pooled.assign(verdict=pooled["verdict"].replace({"better": "not separable"}))
    first, _ = profiles.summary(losers[losers["family"] == "ood"], erm_tuned=False)
    assert first.startswith("**No method beats ERM (defaults") and "oe" in first


def test_per_task_counts_beside_the_pooled_verdict(frames, legacy):
    board = tables.with_stats(frames["leaderboard"])
    pooled = _profile(frames, board)
    assert pooled["tasks_better"].notna().all() and (pooled["tasks_better"] <= pooled["n_tasks"]).all()
    assert _profile(legacy, tables.with_stats(legacy["leaderboard"]))["tasks_better"].isna().all()  # older file
    fallback = _profile({}, board)  # counted from the per-task verdicts
    head = tables.headline(board, "noisy_labels")
    wins = head[head["verdict"] == "better"].groupby("method")["task"].nunique()
    counted = fallback[fallback["family"] == "noisy_labels"].set_index("method")["tasks_better"]
    assert (counted == wins.reindex(counted.index).fillna(0)).all() and counted.sum() > 0
    noisy = pooled[pooled["family"] == "noisy_labels"].copy()
    sam = noisy["method"] == "sam"
    noisy.loc[sam, ["verdict", "tasks_better", "n_tasks"]] = ["not separable", 2, 2]
    _, second = profiles.summary(noisy, erm_tuned=True)
    assert "Better than ERM on every one of their tasks by the per-task test, yet not separable pooled" in second
    assert second.rstrip(".").endswith("sam")


def test_verdicts_read_or_derived(frames, legacy):
    new = tables.with_stats(frames["leaderboard"])
    assert new["adjusted"].all() and set(new["verdict"]) <= set(verdicts.ORDER)
    assert (new.loc[new["method"] == "erm", "verdict"].isin(["reference", ""])).all()
    assert not new.loc[new["verdict"] == "worse", "near_best"].fillna(False).any()
    old = tables.with_stats(legacy["leaderboard"])
    assert not old["adjusted"].any()
    hib = old["higher_is_better"]
    better = old["verdict"] == "better"
    assert (np.where(hib, old["gain_ci_low"], -old["gain_ci_high"])[better] > 0).all()
    sym = old[(old["task"] == "noisy_digits_sym40") & old["headline"]].set_index("method")
    assert sym.loc["erm", "cost_x_erm"] == pytest.approx(1.0)
    assert sym.loc["coteaching", "cost_x_erm"] > 1.5  # coteaching trains two networks: twice the wall time
    assert sym["mde"].nunique() == 1 and sym["mde"].iloc[0] > 0
    assert set(sym["selection_rule"]) == {""}  # no runs given: nothing to say
    with_runs = tables.with_stats(legacy["leaderboard"], legacy["runs"])
    assert with_runs.loc[with_runs["method"] == "elr", "selection_rule"].str.contains("over 2 draws").all()
    lower = pd.DataFrame({"lo": [-0.3, 0.1, -0.1], "hi": [-0.1, 0.3, 0.1]})
    got = verdicts.derived_verdict(lower["lo"], lower["hi"], pd.Series([False, False, False]))
    assert list(got) == ["better", "worse", "not separable"]  # lower is better: a negative gain wins


def test_erm_row_is_highlighted(frames):
    rows = tables.headline(tables.with_stats(frames["leaderboard"]), "noisy_labels")
    table = tables.display(rows[rows["task"] == "noisy_digits_sym40"])
    assert list(table.columns[:2]) == ["vs ERM", "method"] and "tie group" not in table
    styled = tables.highlight_erm(table)
    styled._compute()
    erm = int(np.flatnonzero(table["method"] == "erm")[0])
    marked = {r for (r, _), style in styled.ctx.items() if style}
    assert marked == {erm} and table.loc[erm, "vs ERM"] == "ERM (reference)"


def test_written_from_metadata_or_git(tmp_path, frames):
    site_fixtures.write(
        frames["runs"].head(5), tmp_path / "a" / "runs.parquet", meta={"benchmark_written": "2026-01-02T03:04:00"}
    )
    rs = data._load(str(tmp_path / "a"), (("runs", data._stamp(tmp_path / "a" / "runs.parquet")),))
    assert rs.written.isoformat().startswith("2026-01-02T03:04") and "metadata" in rs.written_from
    repo = tmp_path / "b"
    site_fixtures.write(frames["runs"].head(5), repo / "runs.parquet")
    env = {"GIT_AUTHOR_DATE": "2025-05-06T07:08:09+00:00", "GIT_COMMITTER_DATE": "2025-05-06T07:08:09+00:00"}
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(repo)]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "runs.parquet"], check=True)
    subprocess.run([*git, "commit", "-qm", "r"], check=True, env={**os.environ, **env})
    rs = data._load(str(repo), (("runs", data._stamp(repo / "runs.parquet")),))
    assert rs.written.isoformat() == "2025-05-06T07:08:09+00:00" and rs.written_from == "git commit of runs.parquet"
    assert data.revision(rs) == ["3f2a9c1d4e5b"]  # from the runs' provenance


def test_paired_differences():
    runs = pd.DataFrame(
        {
            "family": "f",
            "task": "t",
            "seed": [0, 1, 2, 0, 1, 2, 0, 1],
            "status": "ok",
            "method": ["erm"] * 3 + ["a"] * 3 + ["b"] * 2,
            "signed": [0.80, 0.82, 0.81, 0.85, 0.86, 0.86, 0.79, 0.83],
        }
    )
    out = tables.paired(runs, "erm", ["a", "b"]).set_index("method")
    assert out.loc["a", "diff"] == pytest.approx(np.mean([0.05, 0.04, 0.05]))
    assert out.loc["a", "verdict"] == "better" and out.loc["a", "n_pairs"] == 3
    assert out.loc["b", "n_pairs"] == 2  # only the seeds both ran


@pytest.mark.parametrize(
    "payload, name",
    [
        ({"msp": {"photos": {"fpr": [0, 0.5, 1], "tpr": [0, 0.9, 1]}}}, "msp / photos"),
        ([{"scorer": "energy", "domain": "noise", "fpr": [0, 1], "tpr": [0, 1]}], "energy / noise"),
        ({"fpr": [0, 1], "tpr": [0, 1]}, "roc"),
    ],
)
def test_roc_points_in_any_shape(payload, name):
    points = details.roc_points(payload)
    assert points and {p["curve"] for p in points} == {name}


def test_details_decoding_skips_bad_json(frames):
    table = pd.concat(
        [
            frames["details"],
            pd.DataFrame(
                [
                    {
                        "family": "continual",
                        "task": "cl_split_digits",
                        "method": "broken",
                        "seed": 0,
                        "hparam_draw": 0,
                        "name": "acc_matrix",
                        "json": "{not json",
                    }
                ]
            ),
        ]
    )
    values = details.detail(table, "continual", "cl_split_digits", "acc_matrix")
    assert "broken" not in set(values["method"])
    m = details.matrix(values, "ewc")
    assert len(m) == 25 and m["accuracy"].between(0, 1).all()
    curves = details.curves(details.detail(table, "noisy_labels", "noisy_digits_sym40", "curves"))
    assert {"train_loss", "val_acc", "test_acc"} == set(curves["curve"])


def test_doc_blocks_and_hparams():
    blocks = catalog.doc_blocks("Title line\ncontinued.\n\nFormula:\n  L = CE + lam * R\n  R = x\nAfter.")
    assert blocks == [
        ("text", "Title line continued."),
        ("text", "Formula:"),
        ("formula", "L = CE + lam * R\nR = x"),
        ("text", "After."),
    ]
    spec = catalog.hparam_spec({"lam": {"default": 3.0, "space": "10^U(-1, 1)", "doc": "weight"}, "k": 5})
    assert spec.iloc[0].to_dict() == {
        "hyperparameter": "lam",
        "default": "3",
        "search space": "10^U(-1, 1)",
        "meaning": "weight",
    }
    assert spec.iloc[1]["default"] == "5"
    chosen = catalog.chosen_table({"task_a": {"lam": 1.23456}, "task_b": {}}, {"task_a": "defaults"}, {"task_a": 0})
    assert list(chosen.columns) == ["task", "draw", "selection rule", "lam"]  # transposed: a row per task
    assert chosen.iloc[0].to_dict() == {"task": "task_a", "draw": "0", "selection rule": "defaults", "lam": "1.235"}
    assert chosen.iloc[1]["lam"] == "—"


def test_citation_and_uses(frames, legacy):
    cat = frames["methods"].set_index("method", drop=False)
    cite = catalog.citation(cat.loc["elr"])
    assert cite["venue"] == "NeurIPS" and cite["year"] == "2020" and cite["url"].startswith("https://")
    assert catalog.uses(cat.loc["oe"]) == (["extra_data"], True)
    old = legacy["methods"].set_index("method", drop=False)
    assert catalog.citation(old.loc["elr"])["paper"] == "Liu et al., NeurIPS 2020"
    assert catalog.uses(old.loc["elr"]) == ([], False)  # a target buffer is no memory of past samples


def test_downloads_round_trip(frames):
    runs = frames["runs"].head(50)
    assert pd.read_csv(io.BytesIO(tables.to_csv(runs))).shape == runs.shape
    back = pd.read_parquet(io.BytesIO(tables.to_parquet(runs)))
    pd.testing.assert_frame_equal(back, runs.reset_index(drop=True), check_dtype=False)


def test_charts_are_valid_vega_lite(frames):
    board = tables.with_stats(frames["leaderboard"])
    rows = tables.headline(board, "noisy_labels")
    rows = rows[rows["task"] == "noisy_digits_sym40"]
    built = [
        effect_charts.ci_dots(rows, "test_acc", True, 0.8),
        effect_charts.effect_matrix(_profile(frames, board).head(8), ["elr", "erm"], ["noisy_labels", "ood"], 0.1),
        effect_charts.cost_scatter(
            pd.DataFrame(
                {
                    "method": ["erm", "a"],
                    "effect": [0, 0.1],
                    "lo": [0, 0.05],
                    "hi": [0, 0.15],
                    "cost": [1.0, 2.0],
                    "verdict": ["reference", "better"],
                }
            )
        ),
        charts.roc(pd.DataFrame({"method": ["a", "a", "erm", "erm"], "fpr": [0, 1, 0, 1], "tpr": [0, 1, 0, 1]})),
        charts.differences(
            pd.DataFrame(
                {
                    "family": "f",
                    "task": ["t"],
                    "method": "a",
                    "reference": "erm",
                    "diff": [0.1],
                    "ci_low": [0.05],
                    "ci_high": [0.15],
                    "n_pairs": [3],
                    "verdict": ["better"],
                }
            )
        ),
    ]
    for chart in built:
        spec = chart.to_dict()  # validates against the Vega-Lite schema
        assert json.dumps(spec)
    assert isinstance(built[0], alt.LayerChart)
    shown = {r["shown"] for rows in built[0].to_dict()["datasets"].values() for r in rows if "shown" in r}
    assert effect_charts.ERM_LABEL in shown
    matrix = built[1].to_dict()
    scale = next(lay["encoding"]["color"]["scale"] for lay in matrix["layer"] if "scale" in lay["encoding"]["color"])
    assert scale["domain"] == [-0.1, 0.1] and scale["clamp"]  # one outlier cannot saturate the scale


def test_robust_bound_ignores_one_outlier():
    values = pd.Series([0.01, -0.02, 0.015, 0.03, -0.01, 0.02, 0.01, -0.005, 0.025, 1.5])
    assert effect_charts.robust_bound(values) < 0.2
