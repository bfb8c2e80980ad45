"""`python -m benchmark export`: the leaderboard as Markdown, CSV or LaTeX, with verdicts and intervals."""

import io

import pandas as pd
import pytest

from benchmark.cli import main
from benchmark.results.aggregate import leaderboard, write_parquet
from benchmark.results.export import table
from tests.test_aggregate import frame, metric, record


@pytest.fixture()
def results(tmp_path):
    recs = [record("t", m, s, test=base + 0.01 * s, wall=wall) for s in range(3)
            for m, base, wall in (("erm", 0.70, 2.0), ("elr", 0.75, 3.0))]
    recs += [record("o", m, s, family="ood", primary="auroc", metrics=[
        metric("val_acc", 0.9, "id_val"), metric("auroc", a + 0.01 * s, "id_val", "msp", "mean"),
        metric("fpr95", 0.3, "id_val", "msp", "mean")]) for s in range(3) for m, a in (("erm", 0.8), ("elr", 0.9))]
    write_parquet(leaderboard(frame(recs)), tmp_path / "leaderboard.parquet")
    return tmp_path


def test_table_has_one_headline_row_per_task_and_method(results):
    t = table(pd.read_parquet(results / "leaderboard.parquet"))
    assert len(t) == 4 and set(t["metric"]) == {"test_acc", "auroc"}
    elr = t[(t["task"] == "t") & (t["method"] == "elr")].iloc[0]
    assert elr["mean"] == "0.760" and elr["gain_vs_erm"] == "+0.050" and elr["verdict"] == "better"
    assert elr["cost_x_erm"] == "1.50" and elr["ci"].startswith("[0.") and elr["gain_ci"].startswith("[+0.050")
    assert t["method"].tolist()[:2] == ["elr", "erm"]  # best first


@pytest.mark.parametrize("fmt, marker", [("md", "| family"), ("csv", "family,task,method"),
                                         ("latex", "\\toprule")])
def test_each_format_on_the_command_line(results, fmt, marker, capsys):
    assert main(["export", "--results", str(results), "--format", fmt, "--family", "ood"]) == 0
    out = capsys.readouterr().out
    assert marker in out and "auroc" in out and "test_acc" not in out
    if fmt == "csv":
        assert pd.read_csv(io.StringIO(out))["verdict"].tolist() == ["better", "reference"]


def test_metric_option_and_out_file(results):
    out = results / "table.md"
    assert main(["export", "--results", str(results), "--metric", "fpr95", "--out", str(out)]) == 0
    text = out.read_text()
    assert "fpr95" in text and "auroc" not in text


@pytest.mark.parametrize("args, message", [(["--family", "vision"], "--family 'vision': expected one of"),
                                           (["--metric", "acc"], "--metric 'acc': expected one of")])
def test_bad_family_or_metric_is_one_line(results, args, message, capsys):
    assert main(["export", "--results", str(results), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_missing_leaderboard_is_one_line(tmp_path, capsys):
    assert main(["export", "--results", str(tmp_path)]) == 2
    assert "no leaderboard" in capsys.readouterr().err
