"""Per-run details (JSON in details.parquet): training curves, accuracy matrices, ROC points."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd


def detail(details: pd.DataFrame | None, family: str, task: str, name: str, prefix: bool = False) -> pd.DataFrame:
    """Rows (method, seed, hparam_draw, name, value) of one detail, JSON decoded; unreadable JSON is skipped.
    With `prefix`, also details named `<name>/...` (e.g. `roc/msp/photos`)."""
    columns = ["method", "seed", "hparam_draw", "name", "value"]
    if details is None:
        return pd.DataFrame(columns=columns)
    rows = details[(details["family"] == family) & (details["task"] == task)]
    names = rows["name"]
    rows = rows[(names == name) | (names.str.startswith(name + "/") if prefix else False)]
    out = []
    for method, seed, draw, key, text in zip(
        rows["method"], rows["seed"], rows["hparam_draw"], rows["name"], rows["json"], strict=True
    ):
        try:
            out.append({"method": method, "seed": seed, "hparam_draw": draw, "name": key, "value": json.loads(text)})
        except (TypeError, ValueError):
            continue
    return pd.DataFrame(out, columns=columns)


def curves(values: pd.DataFrame) -> pd.DataFrame:
    """Long (method, curve, epoch, value) from `curves` details, averaged over seeds."""
    rows = []
    for method, payload in zip(values["method"], values["value"], strict=True):
        if not isinstance(payload, dict):
            continue
        for curve, points in payload.items():
            if isinstance(points, list):
                rows += [(method, curve, epoch, v) for epoch, v in enumerate(points) if _number(v)]
    frame = pd.DataFrame(rows, columns=["method", "curve", "epoch", "value"])
    return frame.groupby(["method", "curve", "epoch"], as_index=False)["value"].mean()


def matrix(values: pd.DataFrame, method: str) -> pd.DataFrame:
    """Long (trained_on i, evaluated_on j, accuracy) of a method's R[i][j], averaged over seeds."""
    mats = []
    for payload in values.loc[values["method"] == method, "value"]:
        try:
            m = np.asarray(payload, dtype=float)
        except (TypeError, ValueError):
            continue
        if m.ndim == 2 and (not mats or m.shape == mats[0].shape):
            mats.append(m)
    if not mats:
        return pd.DataFrame(columns=["trained_on", "evaluated_on", "accuracy"])
    mean = np.nanmean(mats, axis=0)
    i, j = np.indices(mean.shape)
    return pd.DataFrame({"trained_on": i.ravel() + 1, "evaluated_on": j.ravel() + 1, "accuracy": mean.ravel()})


def roc_points(payload, path: tuple = ()) -> list[dict]:
    """Every ROC curve found anywhere in a details payload: dicts holding `fpr` and `tpr` lists. The keys on
    the way there (or a dict's own `scorer`/`domain`/`ood_set` fields) name the curve."""
    found = []
    if isinstance(payload, dict):
        if isinstance(payload.get("fpr"), list) and isinstance(payload.get("tpr"), list):
            names = [str(payload[k]) for k in ("scorer", "domain", "ood_set") if k in payload]
            name = " / ".join(list(path) + names) or "roc"
            found += [
                {"curve": name, "fpr": f, "tpr": t}
                for f, t in zip(payload["fpr"], payload["tpr"], strict=False)
                if _number(f) and _number(t)
            ]
        else:
            for key, value in payload.items():
                found += roc_points(value, (*path, str(key)))
    elif isinstance(payload, list):
        for value in payload:
            found += roc_points(value, path)
    return found


def _number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
