"""The columns the statistics step adds to the results files (the interface in CONTRACT.md), computed on the
synthetic result sets of site_fixtures: the verdict against ERM (paired t-test, Holm-adjusted across a task's
methods), near_best, mde, cost_x_erm, selection_rule; pooled effects per family; citation metadata."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

CELL = ["family", "task", "metric", "selection", "scorer", "domain", "draw_selection"]
WRITTEN = "2026-11-30T08:15:00+00:00"
USES = {"oe": "extra_data", "replay": "memory", "coteaching": "second_network"}
CITATIONS = {
    "elr": (
        "Early-Learning Regularization Prevents Memorization of Noisy Labels",
        "Sheng Liu, Jonathan Niles-Weed, Narges Razavian, Carlos Fernandez-Granda",
        "NeurIPS",
        2020,
        "https://arxiv.org/abs/2007.00151",
    ),
    "oe": (
        "Deep Anomaly Detection with Outlier Exposure",
        "Dan Hendrycks, Mantas Mazeika, Thomas Dietterich",
        "ICLR",
        2019,
        "https://arxiv.org/abs/1812.04606",
    ),
}


def leaderboard(b: pd.DataFrame) -> pd.DataFrame:
    """`b` without tie groups, with the verdict columns."""
    b = b.drop(columns=["tie_group"]).copy()
    half = (b["gain_ci_high"] - b["gain_ci_low"]) / 2
    df = (b["n"] - 1).clip(lower=1)
    se = half / stats.t.ppf(0.975, df)
    t = b["gain_vs_erm"] / se.where(se > 0)
    b["p_value"] = 2 * stats.t.sf(t.abs(), df)
    b.loc[b["method"] == "erm", "p_value"] = np.nan
    b["p_holm"] = np.nan
    for _, idx in b.groupby(CELL).groups.items():
        p = b.loc[idx, "p_value"].dropna()
        if len(p):
            b.loc[p.index, "p_holm"] = multipletests(p, method="holm")[1]
    up = b["gain_vs_erm"].where(b["higher_is_better"], -b["gain_vs_erm"]) > 0
    significant = b["p_holm"] < 0.05
    b["verdict"] = np.select([significant & up, significant & ~up], ["better", "worse"], "not separable")
    b.loc[b["method"] == "erm", "verdict"] = "reference"
    b.loc[b["mean"].isna(), "verdict"] = ""
    signed = b["mean"].where(b["higher_is_better"], -b["mean"])
    best = signed.groupby([b[c] for c in CELL]).transform("max")
    b["near_best"] = ((best - signed) <= 2 * half.fillna(0)) & (b["verdict"] != "worse")
    power = stats.t.ppf(1 - 0.025 / 6, df) + stats.norm.ppf(0.8)
    b["mde"] = (power * se).groupby([b[c] for c in CELL]).transform("median")
    erm = b[b["method"] == "erm"].groupby("task")["wall_seconds"].mean()
    b["cost_x_erm"] = b["wall_seconds"] / b["task"].map(erm)
    b["selection_rule"] = np.where(
        b["method"] == "erm",
        "best mean val over search seeds {100, 101} (shared knobs)",
        "best mean val over search seeds {100, 101}",
    )
    return b


def profile(board: pd.DataFrame) -> pd.DataFrame:
    """Per (family, method): the headline gain relative to ERM pooled over tasks; verdict from the CI."""
    head = board[board["headline"] & (board["draw_selection"] == "val_acc")]
    scale = head["task"].map(head[head["method"] == "erm"].set_index("task")["mean"].abs())
    sign = np.where(head["higher_is_better"], 1, -1)
    head = head.assign(
        g=sign * head["gain_vs_erm"] / scale,
        lo=head["gain_ci_low"] / scale,
        hi=head["gain_ci_high"] / scale,
        better=np.where(sign > 0, head["gain_ci_low"] > 0, head["gain_ci_high"] < 0),  # the per-task verdicts
        worse=np.where(sign > 0, head["gain_ci_high"] < 0, head["gain_ci_low"] > 0),
    )
    p = (
        head.groupby(["method", "family"])
        .agg(
            pooled_effect=("g", "mean"),
            pooled_lo=("lo", "mean"),
            pooled_hi=("hi", "mean"),
            n_tasks=("task", "nunique"),
            tasks=("task", lambda t: ",".join(sorted(t))),
            tasks_better=("better", "sum"),
            tasks_worse=("worse", "sum"),
        )
        .reset_index()
    )
    p["verdict"] = np.select([p["pooled_lo"] > 0, p["pooled_hi"] < 0], ["better", "worse"], "not separable")
    p.loc[p["method"] == "erm", "verdict"] = "reference"
    p["p_holm"] = np.where(p["verdict"].isin(["better", "worse"]), 0.01, 0.5)
    p["family_only"] = p["method"].map(p.groupby("method")["family"].nunique()) == 1
    p.loc[p["method"] == "erm", "family_only"] = False
    return p.assign(primary=p["family"].map({"continual": "acc", "ood": "auroc"}).fillna("test_acc"))


def catalog(c: pd.DataFrame) -> pd.DataFrame:
    c = c.copy()
    rows = [CITATIONS.get(m, ("", "", "", None, "")) for m in c["method"]]
    c["title"], c["authors"], c["venue"], c["year"], c["url"] = map(list, zip(*rows, strict=True))
    c["bibtex"] = [
        f"@inproceedings{{{m}, title={{{t}}}, year={{{y}}}}}" if t else ""
        for m, (t, _, _, y, _) in zip(c["method"], rows, strict=True)
    ]
    c["uses"] = c["method"].map(USES).fillna("")
    return c
