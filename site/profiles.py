"""Per (method, family): the pooled effect against ERM with its CI and verdict (plain pandas).

From profile.parquet: `pooled_effect`, `pooled_lo`, `pooled_hi`, `verdict` (Holm-adjusted), `family_only`;
an older file's `normalized_gain`, `ci_low`, `ci_high` (verdict then from the CI vs 0, unadjusted); without
a file, the mean over tasks of the headline gain relative to ERM's mean (no CI, no verdict)."""

from __future__ import annotations

import numpy as np
import pandas as pd

import verdicts

COLUMNS = ["method", "family", "effect", "lo", "hi", "verdict", "n_tasks", "family_only", "adjusted", "avg_rank"]
COLUMNS += ["tasks_better", "tasks_worse"]  # on how many of its tasks the per-task test separates it from ERM
EFFECTS = ("pooled_effect", "normalized_gain", "gain", "score", "gain_vs_erm", "mean")


def view(frames: dict, board: pd.DataFrame | None, headline) -> pd.DataFrame:
    """`headline(family)` gives a family's headline rows (for the fallback without a profile file)."""
    p = frames.get("profile")
    if p is not None and len(p):
        p = _from_file(p.copy())
    elif board is not None and len(board):
        p = _from_board(board, headline)
    else:
        return pd.DataFrame(columns=COLUMNS)
    p = p[p["family"] != "overall"].copy()  # an 'overall' mixes family-specific methods with general ones
    p.loc[p["method"] == verdicts.BASELINE, "verdict"] = "reference"
    if "family_only" not in p or p["family_only"].isna().all():
        p["family_only"] = _family_only(p, frames.get("methods"))
    p["family_only"] = p["family_only"].fillna(False).astype(bool)
    return p[COLUMNS].reset_index(drop=True)


def _from_file(p: pd.DataFrame) -> pd.DataFrame:
    effect = next((c for c in EFFECTS if c in p), None)
    p["effect"] = pd.to_numeric(p[effect], errors="coerce") if effect else np.nan
    for new, names in (("lo", ("pooled_lo", "ci_low")), ("hi", ("pooled_hi", "ci_high"))):
        column = next((c for c in names if c in p), None)
        p[new] = pd.to_numeric(p[column], errors="coerce") if column else np.nan
    for column in ("n_tasks", "avg_rank", "tasks_better", "tasks_worse"):
        p[column] = pd.to_numeric(p[column], errors="coerce") if column in p else np.nan
    given = "verdict" in p and p["verdict"].fillna("").astype(str).ne("").any()
    p["adjusted"] = bool(given)
    if given:
        p["verdict"] = p["verdict"].fillna("").astype(str)
    else:
        p["verdict"] = verdicts.derived_verdict(p["lo"], p["hi"], pd.Series(True, index=p.index))
    return p


def _from_board(board: pd.DataFrame, headline) -> pd.DataFrame:
    parts = []
    for family in board["family"].unique():
        h = headline(family)
        erm = h[h["method"] == verdicts.BASELINE].set_index("task")["mean"].abs()
        relative = h["gain_vs_erm"] / h["task"].map(erm).where(lambda e: e > 0)
        signed = relative.where(h["higher_is_better"], -relative)
        verdict = h["verdict"] if "verdict" in h else pd.Series("", index=h.index)
        parts.append(
            h.assign(signed=signed, better=verdict.eq("better"), worse=verdict.eq("worse"))
            .groupby("method")
            .agg(
                effect=("signed", "mean"),
                n_tasks=("task", "nunique"),
                avg_rank=("rank", "mean"),
                tasks_better=("better", "sum"),
                tasks_worse=("worse", "sum"),
            )
            .reset_index()
            .assign(family=family, lo=np.nan, hi=np.nan, verdict="", adjusted=False)
        )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)


def _family_only(p: pd.DataFrame, catalog: pd.DataFrame | None) -> pd.Series:
    """A method the catalogue lists for one family alone (else: that runs in one family alone)."""
    spread = p.groupby("method")["family"].nunique()
    if catalog is not None and "families" in catalog:
        listed = catalog.set_index("method")["families"].map(lambda f: len([x for x in str(f).split(",") if x]))
        spread = listed.reindex(spread.index).fillna(spread)
    return (p["method"].map(spread) == 1) & (p["method"] != verdicts.BASELINE)


def family_cost(board_rows: pd.DataFrame) -> pd.Series:
    """Per method: geometric mean over a family's headline rows of cost ×ERM."""
    cost = board_rows.dropna(subset=["cost_x_erm"])
    cost = cost[cost["cost_x_erm"] > 0]
    return np.exp(np.log(cost["cost_x_erm"]).groupby(cost["method"]).mean())


def summary(rows: pd.DataFrame, erm_tuned: bool) -> tuple[str, str]:
    """The two lines that open a family page: its answer, then how the methods split."""
    erm = "tuned ERM" if erm_tuned else "ERM (defaults: no hyperparameter search ran)"
    others = rows[(rows["method"] != verdicts.BASELINE) & rows["effect"].notna()]
    if others.empty:
        return f"No pooled effects against {erm} in this results set.", ""
    better = others[others["verdict"] == "better"].sort_values("effect", ascending=False)
    if len(better):
        best = better.iloc[0]
        first = f"**{best['method']}** beats {erm} by the most: pooled effect {_span(best)}."
    else:
        best = others.sort_values("effect", ascending=False).iloc[0]
        first = f"**No method beats {erm} on this family.** Largest estimate: {best['method']}, {_span(best)}."
    counts = others["verdict"].value_counts()
    how = "Holm-adjusted" if bool(others["adjusted"].iloc[0]) else "unadjusted: pooled CI vs 0"
    second = (
        f"Of {len(others)} methods: {counts.get('better', 0)} better than ERM, {counts.get('worse', 0)} worse, "
        f"{counts.get('not separable', 0)} not separable ({how}; effect = gain relative to ERM over the "
        f"family's tasks, 95% CI)."
    )
    unseparated = others[others["verdict"] == "not separable"]
    for column, word in (("tasks_better", "better"), ("tasks_worse", "worse")):
        every = unseparated[(unseparated[column] == unseparated["n_tasks"]) & (unseparated["n_tasks"] > 1)]
        if len(every):
            second += (
                f" {word.capitalize()} than ERM on every one of their tasks by the per-task test, yet not "
                f"separable pooled (the pooled interval resamples the family's few tasks): "
                + ", ".join(sorted(every["method"]))
                + "."
            )
    return first, second


def _span(row) -> str:
    ci = "" if pd.isna(row["lo"]) or pd.isna(row["hi"]) else f" [{row['lo']:+.1%}, {row['hi']:+.1%}]"
    tasks = f" over {row['n_tasks']:.0f} tasks" if pd.notna(row["n_tasks"]) else ""
    return f"{row['effect']:+.1%}{ci}{tasks}"
