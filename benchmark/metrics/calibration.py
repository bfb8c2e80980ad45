"""Calibration: how well a classifier's predicted probabilities match how often it is right.

All three are lower-is-better and read softmax probabilities p [N, K] and true labels y [N]:
  ece    expected calibration error, top-label, 15 equal-width confidence bins (Guo et al. 2017):
         sum over bins b of (n_b / N) |accuracy_b - mean confidence_b|, where a sample's confidence is
         max_k p_k and bin b holds confidences in (b/15, (b+1)/15]
  nll    mean negative log-likelihood of the true class (sklearn.metrics.log_loss; probabilities are
         clipped at float64 epsilon, so one sure wrong prediction costs ~36, not infinity)
  brier  multi-class Brier score, mean over samples of sum over classes of (p_k - onehot(y)_k)^2, in [0, 2]
         (sklearn.metrics.brier_score_loss with scale_by_half=False: the original, unhalved definition,
         the same for every K; the halved binary convention would make 2-class tasks incomparable)
Masked classes (a task-incremental head) have probability 0 and count as classes the model rules out.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import brier_score_loss, log_loss

BINS = 15
NAMES = ("ece", "nll", "brier")


def probabilities(logits: torch.Tensor) -> np.ndarray:
    """Softmax in float64, so rows sum to one within sklearn's tolerance; -inf logits get probability 0."""
    return torch.softmax(logits.detach().double(), dim=1).cpu().numpy()


def ece(probs: np.ndarray, labels: np.ndarray, bins: int = BINS) -> float:
    probs, labels = np.asarray(probs, np.float64), np.asarray(labels)
    confidence = probs.max(1)
    correct = (probs.argmax(1) == labels).astype(np.float64)
    # bin b holds (b/bins, (b+1)/bins]; a confidence is at least 1/K > 0, so bin 0 starts above 0
    which = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    gap = np.bincount(which, weights=correct, minlength=bins) - np.bincount(which, weights=confidence,
                                                                             minlength=bins)
    return float(np.abs(gap).sum() / len(labels))


def nll(probs: np.ndarray, labels: np.ndarray) -> float:
    return float(log_loss(labels, probs, labels=np.arange(probs.shape[1])))


def brier(probs: np.ndarray, labels: np.ndarray) -> float:
    return float(brier_score_loss(labels, probs, labels=np.arange(probs.shape[1]), scale_by_half=False))


def calibration(probs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """ece, nll and brier of one prediction set; NaN for all three if a probability is not finite
    (a diverged model), rather than an exception that would fail an otherwise finished run."""
    probs, labels = np.asarray(probs, np.float64), np.asarray(labels)
    if len(labels) == 0 or not np.isfinite(probs).all():
        return dict.fromkeys(NAMES, float("nan"))
    return {"ece": ece(probs, labels), "nll": nll(probs, labels), "brier": brier(probs, labels)}
