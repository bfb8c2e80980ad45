"""Every page and every interaction of the site, through Streamlit's AppTest, on synthetic results."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import site_fixtures
import tables
from site_helpers import PAGES, ROOT, chart_data, charts, problems, texts


def site_fixtures_app():
    return ROOT / "site" / "app.py"


TITLES = {
    "overview": "Does it make the network more robust?",
    "noisy_labels": "Noisy labels",
    "domain_generalization": "Domain generalization",
    "continual": "Continual learning",
    "ood": "OOD detection",
    "method": "erm",
    "compare": "Compare methods",
    "runs": "Runs explorer",
    "about": "About this benchmark",
}
MIN_CHARTS = {
    "overview": 2,
    "noisy_labels": 5,
    "domain_generalization": 4,
    "continual": 5,
    "ood": 5,
    "method": 1,
    "compare": 1,
}


def test_every_page_renders(app):
    at = app()
    for page in PAGES:
        if page != "overview":
            at.switch_page(f"views/{page}.py").run()
        assert not problems(at), (page, problems(at))
        assert texts(at, "title") == [TITLES[page]], page
        assert len(charts(at)) >= MIN_CHARTS.get(page, 0), page
        if page != "overview":
            assert at.dataframe, page


def test_overview_profile_and_counts(app):
    at = app()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Methods"] == "17" and metrics["Tasks"] == "9" and metrics["Families"] == "4"
    assert int(metrics["Failed runs"]) > 0
    caption = next(c for c in texts(at, "caption") if c.startswith("Results written"))
    assert "3f2a9c1d4e5b" in caption and "2026-11-30 08:15 (leaderboard.parquet metadata)" in caption
    general, special = chart_data(at, 0)[0], chart_data(at, 1)[0]
    assert set(general["family"]) == {tables.label(f) for f in tables.FAMILIES}  # no 'overall' column
    assert "erm (reference)" in set(general["method"]) and any(label.endswith("▲") for label in general["label"])
    assert {"replay", "elr", "oe"} <= set(special["method"]) and not {"replay", "elr"} & set(general["method"])
    scale = charts(at)[0]["layer"][0]["encoding"]["color"]["scale"]
    assert scale["clamp"] and scale["domain"][1] < special["pooled_effect"].max()  # replay cannot saturate it
    heads = texts(at, "subheader")  # the top lists sit in two columns, read column by column
    assert heads[0] == "Family-specific methods" and sorted(heads[1:]) == sorted(map(tables.label, tables.FAMILIES))
    noisy = at.dataframe[heads[1:].index("Noisy labels")].value
    assert noisy["vs ERM"].iloc[0] == "▲ better" and noisy["effect"].is_monotonic_decreasing


def test_family_filters(app):
    at = app("noisy_labels")
    assert texts(at, "subheader") == ["noisy_digits_asym40", "noisy_digits_sym40", "noisy_mnist1d_inst40"]
    assert texts(at, "markdown")[0].startswith("**elr** beats tuned ERM by the most")
    at.multiselect(key="noisy_labels_tasks").select("noisy_digits_sym40").run()
    at.multiselect(key="noisy_labels_methods").select("erm").select("elr").run()
    assert texts(at, "subheader") == ["noisy_digits_sym40"]
    dots = next(d for d in chart_data(at, 0) if "shown" in d)
    assert set(dots["method"]) == {"erm", "elr"} and "erm (reference)" in set(dots["shown"])
    table = at.dataframe[0].value
    assert list(table.columns[:2]) == ["vs ERM", "method"] and "cost ×ERM" in table
    assert dict(zip(table["method"], table["vs ERM"], strict=True)) == {"elr": "▲ better", "erm": "ERM (reference)"}
    at.selectbox(key="noisy_labels_metric").select("memorization").run()
    assert "lower is better" in json.dumps(charts(at)[0])
    assert at.dataframe[0].value["method"].iloc[0] == "elr"  # least memorization ranks first
    assert not problems(at)


def test_url_opens_the_view(app):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(site_fixtures_app()), default_timeout=60)
    at.query_params["noisy_labels_tasks"] = ["noisy_digits_sym40"]
    at.query_params["noisy_labels_metric"] = "memorization"
    at.switch_page("views/noisy_labels.py").run()
    assert texts(at, "subheader") == ["noisy_digits_sym40"]
    assert at.selectbox(key="noisy_labels_metric").value == "memorization"
    at = AppTest.from_file(str(site_fixtures_app()), default_timeout=60)
    at.query_params["cmp_methods"] = ["erm", "gce"]
    at.switch_page("views/compare.py").run()
    assert texts(at, "subheader") == ["gce − erm"]
    assert not problems(at)


def test_legacy_results_say_unadjusted(app, results):
    at = app("noisy_labels")
    at.sidebar.selectbox(key="results_set").select("full").run()
    assert any("unadjusted" in c for c in texts(at, "caption"))
    assert "ERM (defaults: no hyperparameter search ran)" in texts(at, "markdown")[0]
    assert set(at.dataframe[0].value["vs ERM"]) <= {"▲ better", "▼ worse", "≈ not separable", "ERM (reference)"}
    assert not problems(at)


def test_noisy_curves_and_oracle(app):
    at = app("noisy_labels")
    at.selectbox(key="noisy_curve_task").select("noisy_mnist1d_inst40").run()
    curves = chart_data(at, -1)[0]
    assert set(curves["curve"]) == {"noisy validation", "clean test"}
    at.radio(key="noisy_curve_kind").set_value("training loss").run()
    assert set(chart_data(at, -1)[0]["curve"]) == {"train_loss"}
    scatter = next(d for d in chart_data(at, 3) if "cost" in d)  # gain against cost, after the task charts
    assert {"effect", "cost"} <= set(scatter.columns) and scatter.set_index("method").loc["erm", "cost"] == 1
    oracle = at.dataframe[-1].value
    assert (oracle["gap"] >= 0).all() and len(oracle) == 21
    assert not problems(at)


def test_dg_selection_switch_and_domains(app):
    at = app("domain_generalization")
    radio = at.radio(key="dg_selection")
    assert list(radio.options) == ["training-domain validation", "test-domain oracle"]
    before = at.dataframe[0].value.set_index("method")["mean ± std"]
    radio.set_value("oracle").run()
    assert any("upper bound" in w for w in texts(at, "warning"))
    after = at.dataframe[0].value.set_index("method")["mean ± std"]
    assert (before != after.reindex(before.index)).any()
    at.selectbox(key="dg_domain_task").select("dg_rotated_digits").run()
    cells = chart_data(at, -1)[0]
    assert set(cells["held_out_domain"]) == {"0", "15", "30", "45", "60", "75"}
    erm = cells[cells["method"] == "erm (reference)"]
    assert (erm["minus_ERM"] == 0).all() and len(erm) == 6  # differences to ERM, ERM's row its own level
    failed = at.dataframe[0].value.set_index("method").loc["irm"]  # every irm run on this task failed
    assert failed["seeds"] == "0 (+5 failed)" and "NaN" in failed["error"]
    assert not problems(at)


def test_continual_matrix(app):
    at = app("continual")
    at.selectbox(key="cl_matrix_task").select("cl_split_digits").run()
    at.selectbox(key="cl_matrix_method").select("replay").run()
    titles = [c.get("title") for c in charts(at)]
    assert "replay: R[i][j], mean over seeds" in titles and "erm: R[i][j], mean over seeds" in titles
    assert set(at.dataframe[-1].value.columns) == {"method", "acc", "forgetting", "bwt", "fwt"}
    assert any("Chaudhry" in c for c in texts(at, "caption"))
    assert not problems(at)


def test_ood_scorer_set_and_roc(app):
    at = app("ood")
    assert any("ID is the positive class" in c for c in texts(at, "caption"))
    at.selectbox(key="ood_scorer").select("energy").run()
    at.selectbox(key="ood_set").select("noise").run()
    assert texts(at, "subheader")[:1] == ["ood_digits_patches"]  # the set's own task, no blank ones
    assert "ood_digits_heldout" not in texts(at, "subheader")
    assert set(at.dataframe[0].value["method"]) == set(site_fixtures.FAMILIES["ood"][1])
    at.multiselect(key="ood_tasks").select("ood_digits_heldout").run()
    assert at.selectbox(key="ood_set").options == ["all OOD sets (mean)", "heldout_classes (ood_digits_heldout)"]
    at.multiselect(key="ood_tasks").set_value([]).run()
    at.selectbox(key="ood_task").select("ood_digits_patches").run()
    assert at.selectbox(key="ood_task_set").options == ["all OOD sets (mean)", "noise", "photo_patches"]
    at.selectbox(key="ood_task_set").select("noise").run()
    at.selectbox(key="ood_roc_method").select("oe").run()
    roc = pd.concat(chart_data(at, -1))
    assert set(roc["method"].dropna()) == {"oe", "erm"}  # the chosen method against ERM
    assert any(c.startswith("Scorer ") and "oe's best AUROC" in c for c in texts(at, "caption"))
    matrix = next(d[0] for i in range(len(charts(at))) if "scorer" in (d := chart_data(at, i))[0])
    assert set(matrix["scorer"]) == set(site_fixtures.SCORERS)
    assert not problems(at)


def test_method_page(app, results):
    at = app("method")
    at.selectbox(key="method").select("elr").run()
    assert texts(at, "title") == ["elr"]
    assert any("lambda * mean_i log(1 - <p_i, t_i>)" in c.value for c in at.code)  # the formula
    paper = next(m for m in texts(at, "markdown") if m.startswith("**Paper:**"))
    assert "[Early-Learning Regularization" in paper and "(https://arxiv.org/abs/2007.00151)" in paper
    assert "NeurIPS, 2020" in paper and "**Uses:** nothing beyond" in paper
    assert any(c.value.startswith("@inproceedings{elr") for c in at.code)  # BibTeX
    spec, chosen, results_table = (d.value for d in at.dataframe[:3])
    assert set(spec["hyperparameter"]) == {"beta", "lam"}
    assert list(chosen.columns[:3]) == ["task", "draw", "selection rule"] and "lam" in chosen
    assert set(chosen["task"]) == set(site_fixtures.FAMILIES["noisy_labels"][0])
    assert chosen["selection rule"].str.startswith("best mean val").all()
    assert set(results_table["vs ERM"]) <= {"▲ better", "≈ not separable"}
    assert results_table["task"].str.startswith("/noisy_labels?noisy_labels_tasks=").all()  # deep links
    assert {m.label for m in at.metric} == {"Cost ×ERM", "Wall time per run", "Parameters"}
    assert any("[num_train, num_classes] target buffer" in m for m in texts(at, "markdown"))
    at.selectbox(key="method").select("oe").run()
    assert any("**Uses:** uses extra data" in m for m in texts(at, "markdown"))
    at.selectbox(key="method").select("coteaching").run()
    cost = {m.label: m.value for m in at.metric}["Cost ×ERM"]
    assert float(cost.rstrip("×")) > 1.5
    assert not problems(at)


def test_method_page_from_link_and_without_catalogue(app, results, tmp_path, monkeypatch):
    at = app()
    at.query_params["method"] = "coteaching"
    at.switch_page("views/method.py").run()
    assert texts(at, "title") == ["coteaching"]
    (tmp_path / "results").mkdir()
    for name in ("runs", "leaderboard"):
        (tmp_path / "results" / f"{name}.parquet").write_bytes((results / f"{name}.parquet").read_bytes())
    monkeypatch.setenv("BENCHMARK_RESULTS", str(tmp_path / "results"))
    at = app("method")
    assert any("No method catalogue entry" in i for i in texts(at, "info"))
    assert not problems(at)


def test_compare(app):
    at = app("compare")
    assert at.multiselect(key="cmp_methods").value == ["erm", "sam"]  # ERM against the widest, then best
    at.multiselect(key="cmp_methods").set_value(["erm", "elr", "gce"]).run()
    assert texts(at, "subheader") == ["elr − erm", "gce − erm"]
    diffs = at.dataframe[-1].value
    assert set(diffs["method"]) == {"elr", "gce"} and (diffs["verdict"] == "better").all()
    assert any("Holm-adjusted, from the leaderboard" in c for c in texts(at, "caption"))
    at.multiselect(key="cmp_families").set_value(["ood"]).run()
    assert any("nothing to pair" in i for i in texts(at, "info"))  # elr and gce have no OOD runs
    at.multiselect(key="cmp_methods").set_value(["elr", "gce"]).run()
    assert any("None of these methods" in i for i in texts(at, "info"))
    at.multiselect(key="cmp_methods").set_value(["erm"]).run()
    assert any("two or more" in i for i in texts(at, "info"))
    assert not problems(at)


def test_runs_explorer_filters_and_downloads(app):
    at = app("runs")
    total = len(at.dataframe[0].value)
    at.multiselect(key="runs_family").select("continual").run()
    at.multiselect(key="runs_method").select("ewc").run()
    at.multiselect(key="runs_metric").select("forgetting").run()
    shown = at.dataframe[0].value
    assert len(shown) == 10 and set(shown["metric"]) == {"forgetting"} and len(shown) < total
    at.multiselect(key="runs_family").set_value([]).run()
    at.multiselect(key="runs_method").set_value([]).run()
    at.multiselect(key="runs_metric").set_value([]).run()
    at.text_input(key="runs_error").input("nan").run()
    assert set(at.dataframe[0].value["status"]) == {"failed"}
    at.multiselect(key="runs_status").select("ok").run()
    assert any("0 of" in c for c in texts(at, "caption"))
    assert len(at.get("download_button")) == 2
    assert not problems(at)


def test_about_reproduce(app):
    at = app("about")
    at.selectbox(key="about_family").select("ood").run()
    at.selectbox(key="about_task").select("ood_digits_heldout").run()
    at.selectbox(key="about_method").select("oe").run()
    code = at.code[0].value
    assert "git checkout 3f2a9c1d4e5b" in code and "dvc repro train@ood_digits_heldout--oe" in code
    assert "fpr95" in set(at.dataframe[0].value["metric"])
    assert not problems(at)


def test_profile_switch(app):
    at = app()
    switch = at.sidebar.selectbox(key="results_set")
    assert list(switch.options) == ["results (default)", "full"]
    switch.select("full").run()
    assert {m.label: m.value for m in at.metric}["Methods"] == "19"
    assert any("results/full" in c for c in texts(at, "caption"))
    at.switch_page("views/runs.py").run()  # the choice holds across pages
    assert "full" in set(at.dataframe[0].value["profile"])
    at.switch_page("views/about.py").run()  # reproduce with the pipeline that wrote this set
    pipeline = "full/dvc.yaml:" if (ROOT / "full" / "dvc.yaml").is_file() else ""
    assert f"dvc repro {pipeline}train@" in at.code[0].value and "9e8d7c6b5a41" in at.code[0].value


def test_unexpected_failure_is_a_message(app, monkeypatch):
    import effect_charts

    monkeypatch.setattr(effect_charts, "ci_dots", lambda *a, **k: 1 / 0)
    at = app("noisy_labels")
    assert not at.exception
    assert any("could not be drawn" in e for e in texts(at, "error"))


def _bad(root, case, frames):
    out = root / "results"
    out.mkdir()
    if case == "missing":
        out.rmdir()
        return
    for name, frame in frames.items():
        if case == "empty":
            frame = frame.head(0)
        site_fixtures.write(frame, out / f"{name}.parquet", version={"old": None, "future": "99"}.get(case, "1"))
    if case == "corrupt":
        (out / "leaderboard.parquet").write_bytes(b"PAR1garbage")
        (out / "runs.parquet").write_bytes(b"")
    if case == "columns":
        site_fixtures.write(frames["leaderboard"].drop(columns=["mean"]), out / "leaderboard.parquet")
        site_fixtures.write(frames["runs"].drop(columns=["value"]), out / "runs.parquet")


@pytest.mark.parametrize(
    "case, says",
    [
        ("missing", "does not exist"),
        ("empty", "holds no rows"),
        ("corrupt", "not a readable parquet file"),
        ("old", "no schema version"),
        ("future", "schema version 99"),
        ("columns", "lacks the column"),
    ],
)
def test_bad_results_give_messages_on_every_page(app, tmp_path, monkeypatch, case, says):
    _bad(tmp_path, case, site_fixtures.make_results(seeds=2))
    monkeypatch.setenv("BENCHMARK_RESULTS", str(tmp_path / "results"))
    at = app()
    for page in PAGES:
        if page != "overview":
            at.switch_page(f"views/{page}.py").run()
        assert not at.exception, (page, [e.value for e in at.exception])
        said = texts(at, "error") + texts(at, "info") + texts(at, "caption")
        assert any(says in s for s in said), (page, said)


@pytest.mark.parametrize("page", ["noisy_labels", "domain_generalization", "continual", "ood"])
def test_every_metric_choice(app, page):
    at = app(page)
    box = at.selectbox(key=f"{page}_metric")
    for metric in box.options:
        at.selectbox(key=f"{page}_metric").select(metric).run()
        assert not problems(at), (page, metric, problems(at))
        assert at.dataframe, (page, metric)


def test_dg_oracle_switch_with_oracle_metric_names(app, tmp_path, monkeypatch):
    """The aggregation names the test-domain oracle's accuracy `oracle_test_acc`: the switch still works."""
    frames = site_fixtures.make_results(seeds=3)
    board = frames["leaderboard"]
    oracle = (board["family"] == "domain_generalization") & (board["selection"] == "oracle")
    frames["leaderboard"] = board.assign(metric=board["metric"].mask(oracle, "oracle_" + board["metric"]))
    for name, frame in frames.items():
        site_fixtures.write(frame, tmp_path / "results" / f"{name}.parquet")
    monkeypatch.setenv("BENCHMARK_RESULTS", str(tmp_path / "results"))
    at = app("domain_generalization")
    assert "oracle_test_acc" not in at.selectbox(key="domain_generalization_metric").options  # never ranked
    at.radio(key="dg_selection").set_value("oracle").run()
    assert any("oracle_test_acc" in w for w in texts(at, "warning"))
    assert at.dataframe[0].value["mean ± std"].ne("—").all()
    assert at.selectbox(key="dg_domain_metric").value == "oracle_test_acc"
    assert not problems(at)
