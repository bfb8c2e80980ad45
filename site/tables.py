"""Views derived from the result frames (plain pandas, no Streamlit): headline rows, fallbacks for
statistics an older leaderboard lacks, the robustness profile, paired differences, run details."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd

import verdicts

FAMILIES = {
    "noisy_labels": "Noisy labels",
    "domain_generalization": "Domain generalization",
    "continual": "Continual learning",
    "ood": "OOD detection",
}
# family -> (primary metric, selection rule of the headline number)
PRIMARY = {
    "noisy_labels": ("test_acc", "noisy_val"),
    "domain_generalization": ("test_acc", "training_domain_val"),
    "continual": ("acc", "final"),
    "ood": ("auroc", ""),
}
LOWER_IS_BETTER = frozenset({"memorization", "forgetting", "fpr95"})
HEADLINE_SCORERS = ("", "msp", "energy", "maxlogit")
"""OOD scorer of the headline number, the first one present (every scorer has its own view)."""
BASELINE = "erm"
CELL = ["family", "task", "metric", "selection", "scorer", "domain"]
_T95 = [  # fmt: skip
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
]


def t95(n: float) -> float:
    """Two-sided 95% Student-t quantile for n samples (n - 1 degrees of freedom)."""
    if not n or n < 2 or math.isnan(n):
        return float("nan")
    return _T95[int(n) - 2] if n - 2 < len(_T95) else 1.96


def higher_is_better(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER


def label(family: str) -> str:
    return FAMILIES.get(family, family.replace("_", " ").capitalize())


def primary(runs: pd.DataFrame | None, family: str) -> tuple[str, str]:
    """(metric, selection) of a family's headline number; the runs' `primary` column wins."""
    metric, selection = PRIMARY.get(family, ("", ""))
    if runs is not None and "primary" in runs:
        named = runs.loc[runs["family"] == family, "primary"]
        named = named[named != ""]
        if len(named):
            metric = named.iloc[0]
    return metric, selection


DRAW_RULE = "val_acc"
"""`draw_selection` of the rows the site ranks: hyperparameter draws chosen on validation (`oracle` rows,
chosen on the test score, stay in the file and the runs explorer)."""


def with_stats(board: pd.DataFrame, runs: pd.DataFrame | None = None) -> pd.DataFrame:
    """The leaderboard with every statistics column; what the file lacks is computed (CI, rank, direction,
    the verdict columns of `verdicts.add`) or left empty (gain CIs: only the aggregation can compute them)."""
    b = board
    if "draw_selection" in b:
        rules = set(b["draw_selection"])
        keep = DRAW_RULE if DRAW_RULE in rules else next((r for r in sorted(rules) if r != "oracle"), None)
        b = b[b["draw_selection"] == keep] if keep is not None else b
    b = b.copy()
    if "higher_is_better" not in b:
        b["higher_is_better"] = ~b["metric"].isin(LOWER_IS_BETTER)
    b["higher_is_better"] = b["higher_is_better"].fillna(True).astype(bool)
    if "ci_low" not in b or "ci_high" not in b:
        half = b["n"].map(t95) * b["std"] / np.sqrt(b["n"].where(b["n"] > 0))
        b["ci_low"], b["ci_high"] = b["mean"] - half, b["mean"] + half
    if "rank" not in b:
        signed = b["mean"].where(b["higher_is_better"], -b["mean"])
        b["rank"] = signed.groupby([b[c] for c in CELL]).rank(ascending=False, method="min")
    for column in ("tie_group", "gain_ci_low", "gain_ci_high", "hparam_draw"):
        if column not in b:
            b[column] = np.nan
    for column in ("rank", "tie_group"):
        b[column] = pd.to_numeric(b[column], errors="coerce").astype(float)
    if "hparams" not in b:
        b["hparams"] = ""
    b["headline"] = b["headline"].fillna(False).astype(bool) if "headline" in b else False
    for column in ("gain_ci_low", "gain_ci_high", "wall_seconds", "gain_vs_erm", "n"):
        b[column] = pd.to_numeric(b[column], errors="coerce") if column in b else np.nan
    return verdicts.add(b, t95, runs)


def defaults(board: pd.DataFrame, family: str, runs: pd.DataFrame | None = None) -> dict:
    """The family's headline coordinates (metric, selection, scorer, domain): from the rows the
    aggregation marked `headline`, else from the family's primary metric and selection rule."""
    marked = board[(board["family"] == family) & board["headline"]]
    if len(marked):
        return {k: marked[k].mode().iloc[0] for k in ("metric", "selection", "scorer", "domain")}
    metric, selection = primary(runs, family)
    return {"metric": metric, "selection": selection, "scorer": None, "domain": None}


def failed_only(board: pd.DataFrame) -> pd.Series:
    """Rows that only record failures (the aggregation stores a failed run as one row without a value)."""
    return board["mean"].isna() & (board["n_failed"].fillna(0) > 0)


def headline(
    board: pd.DataFrame,
    family: str,
    runs: pd.DataFrame | None = None,
    metric: str | None = None,
    selection: str | None = None,
    scorer: str | None = None,
    domain: str | None = None,
) -> pd.DataFrame:
    """One row per (task, method): the family's headline number unless told otherwise. What is not
    given follows the headline where the metric is the headline's, else the first choice present.
    Failed runs are counted into `n_failed` (and `error`); a method whose every run failed keeps a row
    without a value, so the failure stays visible."""
    d = defaults(board, family, runs)
    metric = metric or d["metric"]
    own = metric == d["metric"]
    fam = board[(board["family"] == family) & (board["metric"] == metric)]
    failed = failed_only(fam)
    rows = fam[~failed]
    domains = set(rows["domain"])
    if domain is None:
        domain = next((x for x in ([d["domain"]] if own else []) + ["", "mean"] if x in domains), "")
    rows = rows[rows["domain"] == domain]
    choices = sorted(rows["selection"].unique())
    if selection is None and own:
        selection = d["selection"]
    if selection not in choices and choices:
        selection = next((c for c in choices if c != "oracle"), choices[0])
    rows = rows[rows["selection"] == selection]
    scorers = sorted(rows["scorer"].unique())
    if scorer is None and own:
        scorer = d["scorer"]
    if scorers and scorer not in scorers:
        scorer = next((s for s in HEADLINE_SCORERS if s in scorers), scorers[0])
    rows = rows[rows["scorer"] == scorer] if scorers else rows
    fails = fam[failed].groupby(["task", "method"]).agg(extra=("n_failed", "sum"), why=("error", "first"))
    if fails.empty:
        return rows
    rows = rows.join(fails, on=["task", "method"])
    rows = rows.assign(
        n_failed=rows["n_failed"].fillna(0) + rows["extra"].fillna(0),
        error=rows["error"].where(rows["error"] != "", rows["why"].fillna("")),
    )
    lost = fails.reset_index()
    lost = lost[~lost.set_index(["task", "method"]).index.isin(rows.set_index(["task", "method"]).index)]
    if len(lost):  # every run of these cells failed
        lost = fam[failed].drop_duplicates(["task", "method"]).merge(lost, on=["task", "method"])
        lost = lost.assign(
            selection=selection or "",
            scorer=scorer or "",
            domain=domain,
            n=0,
            n_failed=lost["extra"],
            error=lost["why"],
        )
        rows = pd.concat([rows, lost], ignore_index=True)
    return rows.drop(columns=["extra", "why"], errors="ignore")


def shortlist(ordered: list[str], limit: int = 30) -> list[str]:
    """The first `limit` methods of a best-first list, plus ERM wherever it ranks."""
    keep = list(ordered[:limit])
    return keep + [BASELINE] if BASELINE in ordered and BASELINE not in keep else keep


def pm(mean: float, std: float, digits: int = 3) -> str:
    if mean is None or pd.isna(mean):
        return "—"
    return f"{mean:.{digits}f}" + ("" if pd.isna(std) else f" ± {std:.{digits}f}")


def ci(low: float, high: float, digits: int = 3, sign: str = "") -> str:
    return "—" if pd.isna(low) or pd.isna(high) else f"[{low:{sign}.{digits}f}, {high:{sign}.{digits}f}]"


def seeds(n, failed) -> str:
    """'5', or '4 (+1 failed)'."""
    text = f"{n:.0f}" if pd.notna(n) else "—"
    return text + (f" (+{failed:.0f} failed)" if pd.notna(failed) and failed else "")


def display(rows: pd.DataFrame) -> pd.DataFrame:
    """A leaderboard slice as the table a reader sees, best first, the verdict against ERM leading."""
    rows = rows.sort_values(["rank", "method"])
    near = rows["near_best"].astype("boolean")
    out = pd.DataFrame(
        {
            "vs ERM": rows["verdict"].map(verdicts.label).to_numpy(),
            "method": rows["method"].to_numpy(),
            "mean ± std": [pm(m, s) for m, s in zip(rows["mean"], rows["std"], strict=True)],
            "95% CI": [ci(lo, hi) for lo, hi in zip(rows["ci_low"], rows["ci_high"], strict=True)],
            "gain vs ERM": rows["gain_vs_erm"].to_numpy(),
            "gain 95% CI": [
                ci(lo, hi, sign="+") for lo, hi in zip(rows["gain_ci_low"], rows["gain_ci_high"], strict=True)
            ],
            "p (Holm)": ["—" if pd.isna(p) else f"{p:.3g}" for p in rows["p_holm"]],
            "near best": ["✓" if v is True else "" for v in near.fillna(False).to_list()],
            "cost ×ERM": rows["cost_x_erm"].to_numpy(),
            "rank": rows["rank"].to_numpy(),
            "seeds": [seeds(n, f) for n, f in zip(rows["n"], rows["n_failed"], strict=True)],
        }
    )
    if rows["p_holm"].isna().all():
        out = out.drop(columns="p (Holm)")
    errors = rows["error"].to_numpy()
    if any(errors):
        out["error"] = errors
    return out


ERM_STYLE = "background-color: #dbe4f7; font-weight: bold"
FORMATS = {"gain vs ERM": "{:+.4f}", "cost ×ERM": "{:.2f}×", "rank": "{:.0f}"}


def highlight_erm(table: pd.DataFrame, column: str = "method"):
    """A Styler that marks ERM's row (the reference of every verdict) and formats the numbers."""
    formats = {c: f for c, f in FORMATS.items() if c in table}
    return table.style.apply(lambda row: [ERM_STYLE if row[column] == BASELINE else "" for _ in row], axis=1).format(
        formats, na_rep="—"
    )


def selected_runs(runs: pd.DataFrame, board: pd.DataFrame) -> pd.DataFrame:
    """Runs of the hyperparameter draw the leaderboard selected per (task, method)."""
    if runs["hparam_draw"].nunique() <= 1 or board["hparam_draw"].isna().all():
        return runs
    chosen = (
        board.dropna(subset=["hparam_draw"])
        .drop_duplicates(["task", "method"])[["task", "method", "hparam_draw"]]
        .astype({"hparam_draw": runs["hparam_draw"].dtype})
    )
    return runs.merge(chosen, on=["task", "method", "hparam_draw"])


def paired(runs: pd.DataFrame, reference: str, others: list[str]) -> pd.DataFrame:
    """Per task and method: mean of (method − reference) over seeds run by both, with a 95% t-interval.
    `runs` holds one metric row per (task, method, seed); the sign is 'higher is better' for all rows."""
    ok = runs[runs["status"] == "ok"]
    wide = ok.pivot_table(index=["family", "task", "seed"], columns="method", values="signed", aggfunc="mean")
    rows = []
    for method in others:
        if method not in wide or reference not in wide:
            continue
        diff = (wide[method] - wide[reference]).dropna()
        for (family, task), d in diff.groupby(level=["family", "task"]):
            n, mean, std = len(d), d.mean(), d.std(ddof=1)
            half = t95(n) * std / math.sqrt(n) if n > 1 else np.nan
            rows.append(
                {
                    "family": family,
                    "task": task,
                    "method": method,
                    "reference": reference,
                    "n_pairs": n,
                    "diff": mean,
                    "ci_low": mean - half,
                    "ci_high": mean + half,
                }
            )
    out = pd.DataFrame(rows, columns=["family", "task", "method", "reference", "n_pairs", "diff", "ci_low", "ci_high"])
    out["verdict"] = np.where(out["ci_low"] > 0, "better", np.where(out["ci_high"] < 0, "worse", "not separable"))
    out.loc[out["ci_low"].isna(), "verdict"] = "too few seeds"
    return out


def to_csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def to_parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()
