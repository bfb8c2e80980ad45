"""The verdict against ERM on every leaderboard row, read from the file or, for an older aggregation,
derived from what it holds (plain pandas, no Streamlit).

The aggregation writes `verdict` (paired test against ERM, Holm-adjusted across a task's methods),
`p_holm`, `near_best`, `mde`, `cost_x_erm` and `selection_rule`. Without them the verdict comes from the
paired gain CI against 0 (unadjusted: said on the pages), `near_best` from tie group 1 unless worse,
the MDE from the gain CIs' width and the cost from the wall times."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pandas as pd

BASELINE = "erm"
CELL = ["family", "task", "metric", "selection", "scorer", "domain"]
ORDER = ["better", "not separable", "worse", "reference", ""]
COLORS = {"better": "#2e7d32", "not separable": "#9e9e9e", "worse": "#c62828", "reference": "#1f3a93", "": "#cccccc"}
MARK = {"better": "▲ better", "worse": "▼ worse", "not separable": "≈ not separable", "reference": "ERM (reference)"}
Z_POWER = NormalDist().inv_cdf(0.8)


def add(b: pd.DataFrame, t95, runs: pd.DataFrame | None = None) -> pd.DataFrame:
    """`b` (a copy the caller owns) with every verdict column; `adjusted` says whether they came from the
    aggregation (Holm-adjusted) or were derived here (unadjusted). `t95(n)` is the Student-t quantile."""
    given = "verdict" in b and b["verdict"].fillna("").astype(str).ne("").any()
    b["adjusted"] = bool(given)
    if given:
        b["verdict"] = b["verdict"].fillna("").astype(str)
    else:
        b["verdict"] = derived_verdict(b["gain_ci_low"], b["gain_ci_high"], b["higher_is_better"])
    b.loc[b["method"] == BASELINE, "verdict"] = "reference"
    b.loc[b["mean"].isna(), "verdict"] = ""
    for column in ("p_value", "p_holm"):
        b[column] = pd.to_numeric(b[column], errors="coerce") if column in b else np.nan
    if "near_best" in b:
        near = b["near_best"].astype("boolean")
    elif "tie_group" in b and b["tie_group"].notna().any():
        near = pd.Series(pd.to_numeric(b["tie_group"], errors="coerce") == 1, index=b.index).astype("boolean")
        near[b["tie_group"].isna()] = pd.NA
    else:
        near = pd.Series(pd.NA, index=b.index, dtype="boolean")
    b["near_best"] = near.mask(b["verdict"] == "worse", False)  # worse than ERM is never 'near the best'
    b["mde"] = pd.to_numeric(b["mde"], errors="coerce") if "mde" in b else derived_mde(b, t95)
    b["cost_x_erm"] = pd.to_numeric(b["cost_x_erm"], errors="coerce") if "cost_x_erm" in b else derived_cost(b)
    if "selection_rule" not in b or b["selection_rule"].fillna("").eq("").all():
        b["selection_rule"] = derived_rule(b, runs)
    return b


def derived_verdict(low: pd.Series, high: pd.Series, higher_is_better: pd.Series) -> np.ndarray:
    """better / worse where the 95% CI of the gain (method − ERM) excludes 0 in that direction."""
    up, down = low > 0, high < 0
    better = np.where(higher_is_better, up, down)
    worse = np.where(higher_is_better, down, up)
    out = np.select([better, worse], ["better", "worse"], "not separable").astype(object)
    out[(low.isna() | high.isna()).to_numpy()] = ""
    return out


def derived_mde(b: pd.DataFrame, t95) -> pd.Series:
    """(t_.975 + z_.8) × the median standard error of the task's paired gains, per row group."""
    n = b["n_paired"] if "n_paired" in b else b["n"]
    n = pd.to_numeric(n, errors="coerce")
    se = (b["gain_ci_high"] - b["gain_ci_low"]) / (2 * n.map(t95))
    factor = n.map(t95) + Z_POWER
    mde = (se * factor).where(b["method"] != BASELINE)
    return mde.groupby([b[c] for c in CELL]).transform("median")


def derived_cost(b: pd.DataFrame) -> pd.Series:
    per_task = b[b["method"] == BASELINE].groupby("task")["wall_seconds"].mean()
    erm = b["task"].map(per_task)
    return (b["wall_seconds"] / erm.where(erm > 0)).replace([np.inf, -np.inf], np.nan)


def derived_rule(b: pd.DataFrame, runs: pd.DataFrame | None) -> pd.Series:
    """How the draw was chosen, as far as the runs tell: one draw per cell means the defaults ran alone."""
    if runs is None or "hparam_draw" not in runs or runs.empty:
        return pd.Series("", index=b.index)
    draws = runs.groupby(["task", "method"])["hparam_draw"].nunique()
    counts = pd.Series(list(zip(b["task"], b["method"], strict=True)), index=b.index).map(draws)
    rule = b["draw_selection"] if "draw_selection" in b else pd.Series("validation", index=b.index)
    text = [
        "defaults (no search ran)" if pd.isna(k) or k <= 1 else f"best {r or 'validation'} over {k:.0f} draws"
        for k, r in zip(counts, rule, strict=True)
    ]
    return pd.Series(text, index=b.index)


def label(verdict: str) -> str:
    return MARK.get(verdict, "—")


def adjusted_note(rows: pd.DataFrame) -> str:
    """What the verdicts on a page mean, in one sentence."""
    if len(rows) and bool(rows["adjusted"].iloc[0]):
        return "Verdict: paired test against ERM over the task's seeds, Holm-adjusted across its methods."
    return (
        "Verdict **unadjusted**: this results set predates the adjusted tests, so it reads whether the 95% CI "
        "of the paired gain over ERM excludes 0, with no correction for the number of methods."
    )
