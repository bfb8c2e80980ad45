import math

import numpy as np
import pytest
import torch

from benchmark.data import Arrays
from benchmark.method import Output
from benchmark.metrics import higher_is_better
from benchmark.metrics.calibration import brier, calibration, ece, nll, probabilities
from benchmark.train import TensorSet, evaluate

# confidences 0.91 and 0.92 share bin 13 = (13/15, 14/15]; 0.65 is alone in bin 9 = (9/15, 10/15]
PROBS = np.array([[0.91, 0.09], [0.08, 0.92], [0.35, 0.65]])
LABELS = np.array([0, 0, 1])  # right, wrong, right


def test_ece_hand_computed_with_a_shared_bin():
    # bin 13: accuracy 1/2, mean confidence 0.915, 2 of 3 samples; bin 9: accuracy 1, confidence 0.65
    expected = 2 / 3 * abs(0.5 - 0.915) + 1 / 3 * abs(1 - 0.65)
    assert ece(PROBS, LABELS) == pytest.approx(expected)  # 0.39333...
    # one bin: |accuracy - mean confidence| over everything
    assert ece(PROBS, LABELS, bins=1) == pytest.approx(abs(2 / 3 - (0.91 + 0.92 + 0.65) / 3))


def test_ece_bins_are_right_closed_and_equal_width():
    # confidence exactly 0.6 = 9/15 falls in (8/15, 9/15], 0.61 in (9/15, 10/15]: separate bins
    probs, labels = np.array([[0.6, 0.4], [0.61, 0.39]]), np.array([0, 1])
    assert ece(probs, labels) == pytest.approx((abs(1 - 0.6) + abs(0 - 0.61)) / 2)
    assert ece(np.array([[1.0, 0.0]]), np.array([0])) == 0.0  # a sure right answer is calibrated


def test_nll_and_brier_hand_computed():
    assert nll(PROBS, LABELS) == pytest.approx(-(math.log(0.91) + math.log(0.08) + math.log(0.65)) / 3)
    # per sample sum over classes of (p - onehot)^2: 0.0162, 1.6928, 0.245
    assert brier(PROBS, LABELS) == pytest.approx((0.0162 + 1.6928 + 0.245) / 3)


def test_multiclass_brier_counts_classes_absent_from_the_labels():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3]])
    labels = np.array([0, 1])  # class 2 never occurs
    assert brier(probs, labels) == pytest.approx(((0.09 + 0.04 + 0.01) + (0.01 + 0.16 + 0.09)) / 2)
    assert nll(probs, labels) == pytest.approx(-(math.log(0.7) + math.log(0.6)) / 2)


def test_masked_classes_get_probability_zero_and_finite_losses():
    logits = torch.tensor([[2.0, 0.0, float("-inf")], [float("-inf"), 1.0, 1.0]])
    probs = probabilities(logits)
    assert probs[0, 2] == 0 and probs[1, 0] == 0 and np.allclose(probs.sum(1), 1)
    values = calibration(probs, np.array([0, 2]))
    assert values["nll"] == pytest.approx(-(math.log(probs[0, 0]) + math.log(0.5)) / 2)
    assert all(np.isfinite(list(values.values())))


def test_a_diverged_model_gives_nan_not_an_exception():
    assert all(math.isnan(v) for v in calibration(np.array([[np.nan, np.nan]]), np.array([0])).values())


def test_evaluate_reads_one_pass_of_the_method_and_applies_the_mask():
    class Fixed:
        def predict(self, x):
            return Output(logits=torch.tensor([[3.0, 0.0], [0.0, 1.0]])[: len(x)], features=x)

    data = TensorSet.of(Arrays(np.zeros((2, 1), np.float32), np.array([0, 0])), torch.device("cpu"))
    result = evaluate(Fixed(), data)
    p = torch.softmax(torch.tensor([[3.0, 0.0], [0.0, 1.0]]), 1).numpy()
    assert result["acc"] == 0.5 and result["nll"] == pytest.approx(-np.log(p[:, 0]).mean())
    only_first = torch.tensor([[True, False], [True, False]])
    masked = evaluate(Fixed(), data, logit_mask=only_first)
    assert masked["acc"] == 1.0 and masked["ece"] == pytest.approx(0.0) and masked["brier"] == pytest.approx(0.0)


def test_calibration_metrics_are_lower_is_better():
    assert not any(higher_is_better(m) for m in ("ece", "nll", "brier"))
