"""DVC metrics and plots written by aggregate: results/summary.json (headline per family × method)
and long tidy CSVs under results/plots/ (noisy-label curves, continual accuracy matrices, ROC).
Final-phase runs of the draw the validation rule chose, averaged over seeds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.results.aggregate import FINAL, VALIDATION

ROC_GRID = np.linspace(0.0, 1.0, 21)
"""ROC curves differ in their FPR points per seed: each is interpolated onto this grid, then averaged."""


def summary(board: pd.DataFrame, prof: pd.DataFrame) -> dict:
    """{family: {method: {<primary metric>: mean over the family's tasks, "gain_vs_erm": pooled
    normalized gain, "verdict": pooled verdict}}}."""
    head = board[board["headline"] & (board["draw_selection"] == VALIDATION)]
    means = head.groupby(["family", "method"])["mean"].mean()
    out: dict = {}
    for row in prof.itertuples(index=False):
        value = means.get((row.family, row.method), np.nan)
        out.setdefault(row.family, {})[row.method] = {
            row.primary: _number(value), "gain_vs_erm": _number(row.pooled_effect), "verdict": row.verdict}
    return out


def _number(value) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 6)


def write_summary(board: pd.DataFrame, prof: pd.DataFrame, out_dir: Path) -> Path:
    path = Path(out_dir) / "summary.json"
    path.write_text(json.dumps(summary(board, prof), indent=1, sort_keys=True) + "\n")
    return path


def chosen_details(details: pd.DataFrame, board: pd.DataFrame, name: str) -> pd.DataFrame:
    """Detail rows `name` of final runs at each (task, method)'s chosen draw, payload parsed."""
    chosen = board.loc[board["draw_selection"] == VALIDATION, ["task", "method", "hparam_draw"]].drop_duplicates()
    rows = details[(details["name"] == name) & (details["phase"] == FINAL)].merge(chosen)
    return rows.assign(payload=rows["json"].map(json.loads))


def noisy_curves(details: pd.DataFrame, board: pd.DataFrame) -> pd.DataFrame:
    rows = chosen_details(details[details["family"] == "noisy_labels"], board, "curves")
    long = [(r.task, r.method, r.seed, curve, epoch, v) for r in rows.itertuples()
            for curve, values in r.payload.items() for epoch, v in enumerate(values)]
    frame = pd.DataFrame(long, columns=["task", "method", "seed", "curve", "epoch", "value"])
    return frame.groupby(["task", "method", "curve", "epoch"], as_index=False)["value"].mean()


def cl_accuracy(details: pd.DataFrame, board: pd.DataFrame) -> pd.DataFrame:
    rows = chosen_details(details, board, "acc_matrix")
    long = [(r.task, r.method, r.seed, after, on, v) for r in rows.itertuples()
            for after, row in enumerate(r.payload) for on, v in enumerate(row)]
    frame = pd.DataFrame(long, columns=["task", "method", "seed", "trained_through", "evaluated_on", "accuracy"])
    return frame.groupby(["task", "method", "trained_through", "evaluated_on"], as_index=False)["accuracy"].mean()


def roc(details: pd.DataFrame, board: pd.DataFrame) -> pd.DataFrame:
    rows = chosen_details(details, board, "roc")
    long = []
    for r in rows.itertuples():
        for scorer, sets in r.payload.items():
            for ood_set, curve in sets.items():
                if isinstance(curve, dict) and {"fpr", "tpr"} <= curve.keys():
                    tpr = np.interp(ROC_GRID, curve["fpr"], curve["tpr"])
                    long += [(r.task, r.method, scorer, ood_set, f, t) for f, t in zip(ROC_GRID, tpr, strict=True)]
    frame = pd.DataFrame(long, columns=["task", "method", "scorer", "ood_set", "fpr", "tpr"])
    return frame.groupby(["task", "method", "scorer", "ood_set", "fpr"], as_index=False)["tpr"].mean()


PLOTS = {"noisy_curves": noisy_curves, "cl_accuracy": cl_accuracy, "roc": roc}


def write_plots(details: pd.DataFrame, board: pd.DataFrame, out_dir: Path) -> list[Path]:
    folder = Path(out_dir) / "plots"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, build in PLOTS.items():
        path = folder / f"{name}.csv"
        build(details, board).to_csv(path, index=False, float_format="%.6g")
        paths.append(path)
    return paths
