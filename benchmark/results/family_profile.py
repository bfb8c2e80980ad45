"""results/profile.parquet: per (method, family), the pooled normalized gain over ERM across the
family's tasks, with a hierarchical-bootstrap interval and a Holm-adjusted verdict (docs/stats.md §7).
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from benchmark.metrics import higher_is_better
from benchmark.results import stats
from benchmark.results.aggregate import BASELINE, VALIDATION, final_runs, primary_scores, selected_draws

PROFILE_COLUMNS = ["method", "family", "primary", "pooled_effect", "pooled_lo", "pooled_hi", "p_value", "p_holm",
                   "verdict", "n_tasks", "tasks", "tasks_better", "tasks_worse", "family_only", "avg_rank"]


def family_rng(family: str, method: str) -> np.random.Generator:
    """The bootstrap's generator: fixed per (family, method), so the table is reproducible."""
    return np.random.default_rng(zlib.crc32(f"{family}:{method}".encode()))


def seed_tables(runs: pd.DataFrame) -> dict[str, dict[str, pd.DataFrame]]:
    """family -> task -> seeds × methods table of the headline score of the final runs."""
    scores = primary_scores(selected_draws(final_runs(runs), VALIDATION)).droplevel("hparam_draw")
    return {family: {task: t.droplevel(["family", "task"]).unstack("method")
                     for task, t in fam.groupby(level="task")}
            for family, fam in scores.groupby(level="family")}


def pooled_gain(tables: list[pd.DataFrame], method: str, sign: float, rng: np.random.Generator):
    """(G, low, high, p, tasks) for one method over the tasks where it and ERM share a seed."""
    used = [t for t in tables if method in t and BASELINE in t and (t[method].notna() & t[BASELINE].notna()).any()]
    if not used:
        return np.nan, np.nan, np.nan, np.nan, []
    width = max(len(t) for t in used)
    pad = lambda s: np.pad(s.to_numpy(dtype=float), (0, width - len(s)), constant_values=np.nan)
    m = np.stack([pad(t[method]) for t in used])
    e = np.stack([pad(t[BASELINE]) for t in used])
    gains = stats.normalized_gains(m, e, sign)
    estimate = float(np.mean(gains))
    replicates = stats.hierarchical_bootstrap(m, e, sign, rng)
    low, high, p = stats.bootstrap_summary(estimate, replicates, len(used))
    return estimate, float(low), float(high), float(p), used


def profile(runs: pd.DataFrame, board: pd.DataFrame) -> pd.DataFrame:
    """One row per (method, family) the method ran in."""
    primary = runs.drop_duplicates("family").set_index("family")["primary"]
    families_of = runs.groupby("method")["family"].unique()
    head = board[board["headline"] & (board["draw_selection"] == VALIDATION)]
    rank = head.assign(rank=head["rank"].astype(float)).groupby(["family", "method"])["rank"].mean()
    # The per-task verdicts beside the pooled one: with three tasks the pooled interval, which resamples
    # tasks, can stay wide while a method separates from ERM on every task.
    separated = head.assign(better=head["verdict"] == stats.BETTER, worse=head["verdict"] == stats.WORSE)
    better, worse = (separated.groupby(["family", "method"])[c].sum().astype(int) for c in ("better", "worse"))
    rows = []
    for family, by_task in seed_tables(runs).items():
        sign = 1.0 if higher_is_better(primary[family]) else -1.0
        tables = list(by_task.values())
        names = {str(m) for t in tables for m in t.columns}
        part = []
        for method in sorted(names):
            g, low, high, p, used = pooled_gain(tables, method, sign, family_rng(family, method))
            tasks = [t for t, table in by_task.items() if any(table is u for u in used)]
            if method == BASELINE:
                g, low, high, p = 0.0, 0.0, 0.0, np.nan
            part.append({"method": method, "family": family, "primary": primary[family], "pooled_effect": g,
                         "pooled_lo": low, "pooled_hi": high, "p_value": p, "n_tasks": len(tasks),
                         "tasks": ",".join(tasks), "tasks_better": better.get((family, method), 0),
                         "tasks_worse": worse.get((family, method), 0),
                         "family_only": len(families_of.get(method, [])) == 1,
                         "avg_rank": rank.get((family, method), np.nan)})
        part = pd.DataFrame(part)
        part["p_holm"] = stats.holm(part["p_value"].to_numpy())
        part["verdict"] = stats.verdicts(part["p_holm"], part["pooled_effect"], True)
        part.loc[part["method"] == BASELINE, "verdict"] = stats.REFERENCE
        rows.append(part)
    if not rows:
        return pd.DataFrame(columns=PROFILE_COLUMNS)
    return pd.concat(rows, ignore_index=True)[PROFILE_COLUMNS]
