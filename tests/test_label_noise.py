"""The noise generators produce the declared rate and kind; a run records calibration and diagnostics."""

import numpy as np
import pytest

from benchmark.metrics import DIAGNOSTICS
from benchmark.runner import run_one
from benchmark.shifts import label_noise

Y = np.repeat(np.arange(10), 100)


@pytest.mark.parametrize("rate", [0.0, 0.2, 0.4, 0.8])
def test_symmetric_rate_is_exact_and_always_another_class(rate):
    noisy, corrupted = label_noise.symmetric(Y, rate, 10, np.random.default_rng(0))
    assert corrupted.sum() == round(rate * len(Y))
    assert np.array_equal(corrupted, noisy != Y)
    if rate:  # wrong labels spread over all other classes, not one
        flips = noisy[corrupted]
        assert len(np.unique(flips)) == 10


def test_asymmetric_flips_only_the_declared_pairs():
    noisy, corrupted = label_noise.asymmetric(Y, 0.4, label_noise.DIGIT_PAIRS, np.random.default_rng(0))
    for source, target in label_noise.DIGIT_PAIRS.items():
        members = Y == source
        assert corrupted[members].sum() == 40
        assert set(noisy[members & corrupted]) == {target}
    untouched = ~np.isin(Y, list(label_noise.DIGIT_PAIRS))
    assert not corrupted[untouched].any()
    assert corrupted.mean() == pytest.approx(0.4 * 5 / 10)


def test_instance_dependent_rate_and_dependence_on_inputs():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(len(Y), 16)) + Y[:, None]
    noisy, corrupted = label_noise.instance(x, Y, 0.4, 10, np.random.default_rng(1))
    assert corrupted.mean() == pytest.approx(0.4, abs=0.04)
    # Near-duplicate inputs with the same label get the same wrong class far more often than chance.
    twins = x + 1e-3
    noisy2, corrupted2 = label_noise.instance(np.concatenate([x, twins]), np.concatenate([Y, Y]), 0.99, 10,
                                              np.random.default_rng(2))
    both = corrupted2[: len(Y)] & corrupted2[len(Y):]
    agreement = (noisy2[: len(Y)][both] == noisy2[len(Y):][both]).mean()
    assert agreement > 0.5  # chance would be about 1/9


def test_same_seed_same_noise():
    a = label_noise.symmetric(Y, 0.4, 10, np.random.default_rng(3))[0]
    b = label_noise.symmetric(Y, 0.4, 10, np.random.default_rng(3))[0]
    c = label_noise.symmetric(Y, 0.4, 10, np.random.default_rng(4))[0]
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_a_run_records_calibration_at_the_selected_epoch_and_the_diagnostics():
    record = run_one("erm", "noisy_digits_sym40", seed=0, profile="smoke")
    assert record["status"] == "ok", record["error"]
    by = {(m.metric, m.selection): m.value for m in record["metrics"]}
    assert 0 <= by[("ece", "noisy_val")] <= 1 and by[("nll", "noisy_val")] > 0
    assert 0 <= by[("brier", "noisy_val")] <= 2
    assert all(np.isfinite(by[(d, "last")]) for d in DIAGNOSTICS)
    assert by[("hessian_top_eig", "last")] > 0 and by[("feature_effective_rank", "last")] >= 1
