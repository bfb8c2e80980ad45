"""benchmark.results.stats: intervals cover at their nominal rate, tests and tie groups behave on known cases."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from benchmark.results import stats

REPS = 4000


def coverage(samples: np.ndarray, truth: float) -> float:
    n = samples.shape[1]
    low, high = stats.t_bounds(samples.mean(1), samples.std(1, ddof=1), np.full(len(samples), n))
    return float(np.mean((low <= truth) & (truth <= high)))


def test_t_interval_is_the_student_t_interval():
    x = np.array([0.71, 0.74, 0.69, 0.77])
    expected = sps.t.interval(0.95, 3, loc=x.mean(), scale=sps.sem(x))
    assert stats.t_interval(x) == pytest.approx(expected)
    assert stats.t_interval(np.r_[x, np.nan]) == pytest.approx(expected)  # NaN ignored


def test_t_interval_degenerate_cases():
    assert all(np.isnan(stats.t_interval([0.5])))
    assert all(np.isnan(stats.t_interval([])))
    assert stats.t_interval([0.8, 0.8, 0.8]) == pytest.approx((0.8, 0.8))


@pytest.mark.parametrize("n", [3, 5, 10])
def test_t_interval_covers_the_mean_at_the_nominal_rate(n):
    rng = np.random.default_rng(n)
    samples = rng.normal(0.7, 0.05, size=(REPS, n))
    # binomial standard error of a 95% rate over 4000 repetitions: 0.0034
    assert coverage(samples, 0.7) == pytest.approx(0.95, abs=0.012)


def test_t_interval_coverage_on_skewed_data_stays_close():
    rng = np.random.default_rng(1)
    samples = rng.exponential(1.0, size=(REPS, 10))  # true mean 1
    assert 0.88 <= coverage(samples, 1.0) <= 0.96


def test_paired_gain_interval_covers_the_true_gain_despite_large_seed_effects():
    rng = np.random.default_rng(2)
    seed_effect = rng.normal(0, 0.10, (REPS, 3))  # shared by both methods on the same seed
    erm = 0.70 + seed_effect + rng.normal(0, 0.01, (REPS, 3))
    method = 0.72 + seed_effect + rng.normal(0, 0.01, (REPS, 3))
    assert coverage(method - erm, 0.02) == pytest.approx(0.95, abs=0.012)
    low, high = stats.t_interval(method[0] - erm[0])
    assert high - low < 0.1  # unpaired, the seed effect (sd 0.1) would make it far wider


def test_paired_uses_only_common_seeds_in_seed_order():
    a = pd.Series({0: 1.0, 1: 2.0, 2: np.nan, 3: 4.0})
    b = pd.Series({3: 1.0, 1: 1.0, 2: 1.0})
    assert stats.paired(a, b).tolist() == [1.0, 3.0]


def test_paired_pvalue_is_the_paired_t_test_with_stated_degenerate_cases():
    a, b = np.array([0.8, 0.7, 0.9, 0.75]), np.array([0.78, 0.69, 0.86, 0.74])
    assert stats.paired_pvalue(a - b) == pytest.approx(sps.ttest_rel(a, b).pvalue)
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(6, 5)), rng.normal(size=(6, 5))
    assert stats.paired_pvalues(x, y) == pytest.approx(sps.ttest_rel(x, y).pvalue)
    x[0, 1] = np.nan  # that seed is not shared: column 1 is tested on the other 5
    assert stats.paired_pvalues(x, y)[1] == pytest.approx(sps.ttest_rel(x[1:, 1], y[1:, 1]).pvalue)
    assert stats.paired_pvalues(x, y[:, [0]])[2] == pytest.approx(sps.ttest_rel(x[:, 2], y[:, 0]).pvalue)
    assert stats.paired_pvalue([0.1]) == 1.0
    assert stats.paired_pvalue([0.0, 0.0, 0.0]) == 1.0
    assert stats.paired_pvalue([0.02, 0.02, 0.02]) == 0.0


def test_ranks_follow_the_metric_direction_and_share_ties():
    means = pd.Series({"a": 0.9, "b": 0.8, "c": 0.9, "d": np.nan})
    assert stats.ranks(means, True).tolist()[:3] == [1, 3, 1]
    assert stats.ranks(means, False).tolist()[:3] == [2, 1, 2]
    assert np.isnan(stats.ranks(means, True)["d"])


def test_holm_on_a_hand_worked_example():
    # p = 0.01, 0.04, 0.03, 0.005 sorted: 0.005, 0.01, 0.03, 0.04
    # -> 4 * 0.005 = 0.02; 3 * 0.01 = 0.03; 2 * 0.03 = 0.06; max(0.06, 1 * 0.04) = 0.06
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([0.4, 0.9]) == pytest.approx([0.8, 0.9])
    assert stats.holm([0.01, np.nan, 0.04]) == pytest.approx([0.02, np.nan, 0.04], nan_ok=True)  # NaN: not tested
    assert stats.holm([]).size == 0


def test_holm_equals_statsmodels_multipletests_batched():
    from statsmodels.stats.multitest import multipletests

    p = np.random.default_rng(0).random((4, 7)) ** 3  # few rows: multipletests runs gc.collect() per call
    expected = np.stack([multipletests(row, method="holm")[1] for row in p])
    assert stats.holm(p) == pytest.approx(expected)


def test_verdicts_follow_the_metric_direction():
    v = stats.verdicts([0.01, 0.01, 0.2, np.nan], [0.1, -0.1, 0.1, 0.0], True)
    assert v.tolist() == ["better", "worse", "not separable", ""]
    assert stats.verdicts([0.01], [0.1], False).tolist() == ["worse"]  # lower is better: +0.1 is worse


def test_near_best_keeps_the_best_and_drops_the_clearly_worse():
    rng = np.random.default_rng(4)
    seed = rng.normal(0, 0.05, (10, 1))
    x = np.c_[0.90, 0.899, 0.70] + seed + rng.normal(0, 0.005, (10, 3))
    assert stats.near_best(x, True).tolist() == [True, True, False]
    assert stats.near_best(1 - x, False).tolist() == [True, True, False]
    assert stats.near_best(np.c_[x[:, :2], np.full(10, np.nan)], True).tolist() == [True, True, False]


def test_power_matches_statsmodels_and_the_mde_reaches_80_percent():
    from statsmodels.stats.power import TTestPower

    for n, m in ((3, 1), (3, 30), (10, 30), (5, 8)):
        d = stats.detectable_effect_size(n, m)
        assert TTestPower().power(d, n, 0.05 / m) == pytest.approx(0.8, abs=1e-6)
    assert stats.mde(0.02, 10, 30) == pytest.approx(0.02 * stats.detectable_effect_size(10, 30))
    assert stats.mde(0.02, 10, 30) < stats.mde(0.02, 3, 30)  # more seeds, smaller MDE
    assert np.isnan(stats.mde(0.02, 1, 30))


@pytest.mark.parametrize("n", [3, 10])
def test_bounded_intervals_stay_in_range_and_cover(n):
    rng = np.random.default_rng(n)
    x = rng.beta(99, 1, size=(REPS, n))  # accuracies near 0.99: the t-interval would cross 1
    low, high = stats.bounded_bounds(x.mean(1), x.std(1, ddof=1), np.full(REPS, n), 0.0, 1.0)
    assert (low >= 0).all() and (high <= 1).all() and (low <= x.mean(1)).all()
    assert np.mean((low <= 0.99) & (0.99 <= high)) >= 0.9
    t_low, t_high = stats.t_bounds(x.mean(1), x.std(1, ddof=1), np.full(REPS, n))
    assert (t_high > 1).any()  # the case the transform exists for
    low, high = stats.bounded_bounds([1.0, 0.0, 0.3], [0.0, 0.0, 0.1], [3, 3, 1], 0.0, 1.0)
    assert low[:2].tolist() == [1.0, 0.0] and high[:2].tolist() == [1.0, 0.0] and np.isnan(low[2])
    low, high = stats.bounded_bounds([0.95], [0.1], [3], -1.0, 1.0)  # forgetting: range [-1, 1]
    assert -1 <= low[0] < 0.95 < high[0] <= 1


def test_hierarchical_bootstrap_is_seeded_and_centred():
    rng = np.random.default_rng(5)
    erm = 0.7 + rng.normal(0, 0.01, (4, 3))
    method = erm + 0.07  # +10% of ERM on every task and seed
    draws = stats.hierarchical_bootstrap(method, erm, 1.0, np.random.default_rng(0), 500)
    again = stats.hierarchical_bootstrap(method, erm, 1.0, np.random.default_rng(0), 500)
    assert np.array_equal(draws, again) and draws.shape == (500,)
    low, high, p = stats.bootstrap_summary(0.1, draws, 4)
    assert low < 0.1 < high and p == pytest.approx(2 / 501)
    method[0, 2] = np.nan  # a missing pair is skipped, never a NaN replicate
    assert np.isfinite(stats.hierarchical_bootstrap(method, erm, 1.0, rng, 200)).all()


def test_adjusted_tests_hold_the_family_wise_error_under_the_null_and_have_power():
    """All methods equal to ERM: each adjusted test declares something in at most ~5% of simulated
    tasks / families (binomial SE at 0.05: 0.005 for 2000 tasks, 0.015 for 200 families);
    a planted effect of the task's MDE is found about 80% of the time."""
    from benchmark.results import simulation

    rng = np.random.default_rng(11)
    null = simulation.task_tests(rng, 2000, 10, 5)
    assert null["vs_erm"] <= 0.065 and null["near_best"] <= 0.065
    effect = stats.mde(simulation.NOISE_SD * np.sqrt(2), 5, 10)
    planted = simulation.task_tests(rng, 2000, 10, 5, effect=effect)
    assert 0.7 <= planted["power_vs_erm"] <= 0.95
    family = simulation.pooled_tests(rng, 200, 4, 3, 3, replicates=300)
    assert family["fwer"] <= 0.09
    assert simulation.pooled_tests(rng, 100, 4, 3, 10, effect=0.02, replicates=300)["power"] >= 0.5
