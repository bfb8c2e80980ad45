"""`python -m benchmark export`: the leaderboard as a table to paste (Markdown, CSV, LaTeX), one row
per (task, method) with the mean and its interval, the paired gain over ERM with its interval, the
Holm-adjusted verdict and the cost relative to ERM."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchmark.errors import BenchmarkError

FORMATS = ("md", "csv", "latex")
VERDICT_ORDER = {"better": 0, "near_best": 1, "not separable": 2, "reference": 3, "worse": 4, "": 5}
COLUMNS = ["family", "task", "method", "metric", "mean", "ci", "gain_vs_erm", "gain_ci", "verdict", "p_holm",
           "near_best", "cost_x_erm", "n"]


def load_board(results: Path) -> pd.DataFrame:
    path = Path(results) / "leaderboard.parquet"
    if not path.exists():
        raise BenchmarkError(f"{path}: no leaderboard; run `python -m benchmark aggregate` first")
    board = pd.read_parquet(path)
    return board[board["draw_selection"] == "val_acc"] if "draw_selection" in board else board


def select_rows(board: pd.DataFrame, family: str | None, metric: str | None) -> pd.DataFrame:
    """The headline rows, or for `metric` its rows at each task's headline checkpoint/scorer/domain
    (the first such key in sort order where a task has no headline match)."""
    if family is not None:
        if family not in set(board["family"]):
            raise BenchmarkError(f"--family {family!r}: expected one of {', '.join(sorted(set(board['family'])))}")
        board = board[board["family"] == family]
    if metric is None:
        return board[board["headline"]]
    if metric not in set(board["metric"]):
        raise BenchmarkError(f"--metric {metric!r}: expected one of {', '.join(sorted(set(board['metric'])))}")
    rows = board[board["metric"] == metric]
    spot = ["task", "selection", "scorer", "domain"]
    head = board.loc[board["headline"], spot].drop_duplicates()
    matched = rows.merge(head, on=spot)
    first = rows[~rows["task"].isin(matched["task"])].sort_values(spot)
    first = first.merge(first.drop_duplicates("task")[spot], on=spot)
    return pd.concat([matched, first], ignore_index=True)


def _interval(low, high, signed: bool = False) -> str:
    if pd.isna(low) or pd.isna(high):
        return ""
    style = "{:+.3f}" if signed else "{:.3f}"
    return f"[{style.format(low)}, {style.format(high)}]"


def table(board: pd.DataFrame, family: str | None = None, metric: str | None = None) -> pd.DataFrame:
    rows = select_rows(board, family, metric).copy()
    rows["direction"] = rows["higher_is_better"].map({True: -1.0, False: 1.0}) * rows["mean"]
    rows = rows.sort_values(["family", "task", "direction", "method"], na_position="last")
    fmt = lambda v, spec: "" if pd.isna(v) else format(v, spec)
    return pd.DataFrame({
        "family": rows["family"], "task": rows["task"], "method": rows["method"], "metric": rows["metric"],
        "mean": rows["mean"].map(lambda v: fmt(v, ".3f")),
        "ci": [_interval(lo, hi) for lo, hi in zip(rows["ci_low"], rows["ci_high"], strict=True)],
        "gain_vs_erm": rows["gain_vs_erm"].map(lambda v: fmt(v, "+.3f")),
        "gain_ci": [_interval(lo, hi, True) for lo, hi in zip(rows["gain_ci_low"], rows["gain_ci_high"],
                                                               strict=True)],
        "verdict": rows["verdict"], "p_holm": rows["p_holm"].map(lambda v: fmt(v, ".3g")),
        "near_best": rows["near_best"].map({True: "yes", False: ""}),
        "cost_x_erm": rows["cost_x_erm"].map(lambda v: fmt(v, ".2f")), "n": rows["n"],
    }, columns=COLUMNS).reset_index(drop=True)


def render(frame: pd.DataFrame, fmt: str) -> str:
    from tabulate import tabulate

    if fmt not in FORMATS:
        raise BenchmarkError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if fmt == "csv":
        return frame.to_csv(index=False)
    if fmt == "md":
        return frame.to_markdown(index=False, disable_numparse=True) + "\n"  # keep "+0.050" as written
    return tabulate(frame.to_numpy(), headers=[c.replace("_", r"\_") for c in frame.columns],
                    tablefmt="latex_booktabs", disable_numparse=True) + "\n"


def export(results: Path, fmt: str, family: str | None = None, metric: str | None = None,
           out: Path | None = None) -> str:
    text = render(table(load_board(results), family, metric), fmt)
    if out is not None:
        Path(out).write_text(text)
    return text
