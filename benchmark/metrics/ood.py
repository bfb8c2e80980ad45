"""OOD detection metrics, computed with scikit-learn.

Convention: in-distribution (ID) is the positive class, and a score is higher for inputs that look
more in-distribution. An input is accepted as ID when its score reaches the threshold.
  auroc     area under the ROC curve (ID positive): P(score of an ID input > score of an OOD input)
  fpr95     share of OOD inputs accepted at the highest threshold that keeps >= 95% of ID inputs
  aupr_in   average precision with ID as the positive class
  aupr_out  average precision with OOD as the positive class (scores negated)
Non-finite scores (a diverged model) are mapped to finite extremes, NaN to the OOD end.
"""

from __future__ import annotations

import functools

import numpy as np
import sklearn
from sklearn.metrics import accuracy_score, auc, average_precision_score, roc_auc_score, roc_curve

TPR_LEVEL = 0.95
BIG = 1e30


def _trusted(fn):
    """Scores reach scikit-learn finite (`_labelled`) with labels built here, so its input checks only cost
    time: about a quarter of an embedded OOD run's scoring. The computation is the same."""

    @functools.wraps(fn)
    def call(*args, **kwargs):
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            return fn(*args, **kwargs)

    return call


def _labelled(id_scores, ood_scores) -> tuple[np.ndarray, np.ndarray]:
    id_scores = np.asarray(id_scores, np.float64).ravel()
    ood_scores = np.asarray(ood_scores, np.float64).ravel()
    if len(id_scores) == 0 or len(ood_scores) == 0:
        raise ValueError(f"need ID and OOD scores, got {len(id_scores)} ID and {len(ood_scores)} OOD")
    scores = np.nan_to_num(np.concatenate([id_scores, ood_scores]), nan=-BIG, posinf=BIG, neginf=-BIG)
    labels = np.r_[np.ones(len(id_scores), dtype=int), np.zeros(len(ood_scores), dtype=int)]
    return labels, scores


def _roc(id_scores, ood_scores) -> tuple[np.ndarray, np.ndarray]:
    labels, scores = _labelled(id_scores, ood_scores)
    # every threshold kept (thresholds decreasing), so the first point with TPR >= 95% is the highest one
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    return fpr, tpr


@_trusted
def auroc(id_scores, ood_scores) -> float:
    labels, scores = _labelled(id_scores, ood_scores)
    return float(roc_auc_score(labels, scores))


def _fpr_at(fpr: np.ndarray, tpr: np.ndarray, level: float) -> float:
    return float(fpr[np.searchsorted(tpr, level - 1e-12, side="left")])


@_trusted
def fpr_at_tpr(id_scores, ood_scores, level: float = TPR_LEVEL) -> float:
    return _fpr_at(*_roc(id_scores, ood_scores), level)


@_trusted
def aupr_in(id_scores, ood_scores) -> float:
    labels, scores = _labelled(id_scores, ood_scores)
    return float(average_precision_score(labels, scores))


@_trusted
def aupr_out(id_scores, ood_scores) -> float:
    labels, scores = _labelled(id_scores, ood_scores)
    return float(average_precision_score(1 - labels, -scores))


DETECTION = ("auroc", "fpr95", "aupr_in", "aupr_out")
"""The per-OOD-set detection metrics, by record name."""


@_trusted
def detection(id_scores, ood_scores) -> dict[str, float]:
    """All four metrics and the chart's ROC points, from one ROC curve and two average precisions."""
    fpr, tpr = _roc(id_scores, ood_scores)
    return {"auroc": float(auc(fpr, tpr)), "fpr95": _fpr_at(fpr, tpr, TPR_LEVEL),
            "aupr_in": aupr_in(id_scores, ood_scores), "aupr_out": aupr_out(id_scores, ood_scores)}


def accuracy(predicted, labels) -> float:
    return float(accuracy_score(np.asarray(labels), np.asarray(predicted)))


@_trusted
def roc_points(id_scores, ood_scores, max_points: int = 50) -> dict[str, list[float]]:
    """The ROC curve (ID positive) thinned to at most `max_points` points, both ends kept, for charts."""
    labels, scores = _labelled(id_scores, ood_scores)
    fpr, tpr, _ = roc_curve(labels, scores)
    if len(fpr) > max_points:
        keep = np.unique(np.round(np.linspace(0, len(fpr) - 1, max_points)).astype(int))
        fpr, tpr = fpr[keep], tpr[keep]
    return {"fpr": [round(float(v), 4) for v in fpr], "tpr": [round(float(v), 4) for v in tpr]}
