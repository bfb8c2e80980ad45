"""Statistics of the leaderboard: intervals, paired tests against ERM, Holm, power, pooled effects.

Pure functions on numpy arrays and pandas objects; docs/stats.md gives every formula with a
worked example. Conventions: 95% two-sided intervals; seeds are the unit of replication; two
methods are paired on the seeds both have (the same seed gives the same split, noise and init).
Array functions take seeds on axis -2 and methods on axis -1, with any leading (batch) axes, so
the null simulation (benchmark/results/simulation.py) runs the very code the leaderboard runs.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pandas as pd
from scipy import optimize, stats

CONFIDENCE = 0.95
ALPHA = 0.05
POWER = 0.8
ROUND_OFF = 1e-7
"""Metric values are often float32 (7 significant digits): spreads and differences below this,
relative to max(1, |mean|), are round-off. Means are compared to 7 decimals for the same reason."""
DECIMALS = 7
BETTER, WORSE, TIED, REFERENCE = "better", "worse", "not separable", "reference"


def _finite(values) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return values[np.isfinite(values)]


def column_summary(x, axis: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Along `axis`, over the finite entries: mean, std (ddof=1; NaN below 2) and count."""
    x = np.asarray(x, dtype=float)
    ok = np.isfinite(x)
    n = ok.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(ok, x, 0.0).sum(axis=axis) / n
        dev = np.where(ok, x - np.expand_dims(mean, axis), 0.0)
        var = (dev**2).sum(axis=axis) / (n - 1)
    return mean, np.where(n > 1, np.sqrt(var), np.nan), n


def _constant(mean, std):
    """Spread indistinguishable from float round-off: the values are all equal."""
    return std <= ROUND_OFF * np.maximum(1.0, np.abs(mean))


def t_bounds(mean, std, n, confidence: float = CONFIDENCE):
    """mean ± t_{n-1, (1+confidence)/2} · std / sqrt(n), elementwise (std with ddof=1).

    NaN for n < 2; zero-width when std is 0 (all values equal)."""
    mean, std, n = (np.asarray(a, dtype=float) for a in (mean, std, n))
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stats.t.ppf(0.5 + confidence / 2, n - 1) * std / np.sqrt(n)
    half = np.where(n < 2, np.nan, np.where(_constant(mean, std), 0.0, half))
    return mean - half, mean + half


def bounded_bounds(mean, std, n, low: float, high: float, confidence: float = CONFIDENCE):
    """A t-interval on the logit scale of the range [low, high], mapped back: always inside it.

    With p = (x̄ − low) / (high − low) and s_p = s / (high − low), the delta method gives
    logit(p) ± t_{n-1} · s_p / (√n · p(1 − p)). Exact bounds when all values sit on a bound."""
    mean, std, n = (np.asarray(a, dtype=float) for a in (mean, std, n))
    width = high - low
    p = np.clip((mean - low) / width, 1e-12, 1 - 1e-12)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stats.t.ppf(0.5 + confidence / 2, n - 1) * std / width / (np.sqrt(n) * p * (1 - p))
        center = np.log(p / (1 - p))
        lo, hi = low + width * stats.logistic.cdf(center - half), low + width * stats.logistic.cdf(center + half)
    constant = _constant(mean, std)
    lo, hi = np.where(constant, mean, lo), np.where(constant, mean, hi)
    return np.where(n < 2, np.nan, lo), np.where(n < 2, np.nan, hi)


def t_interval(values, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Student-t interval for the mean of `values` (NaN ignored); see `t_bounds`."""
    mean, std, n = column_summary(_finite(values)[:, None])
    low, high = t_bounds(mean, std, n, confidence)
    return float(low[0]), float(high[0])


def paired(a: pd.Series, b: pd.Series) -> np.ndarray:
    """a − b on the seeds (index values) both have a finite value for, in seed order."""
    joined = pd.concat([a.rename("a"), b.rename("b")], axis=1, join="inner").dropna().sort_index()
    return (joined["a"] - joined["b"]).to_numpy(dtype=float)


def paired_pvalues(a, b) -> np.ndarray:
    """Two-sided paired t-test (scipy.stats.ttest_rel) of a against b along axis -2 (seeds), on the
    seeds both have (NaN = no run). b broadcasts (e.g. ERM's column against every method's).

    Degenerate cases, stated rather than left to round-off: fewer than 2 pairs -> 1.0 (no evidence
    of a difference); identical differences on every seed -> 1.0 if they are 0, else 0.0."""
    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    both = np.isfinite(a) & np.isfinite(b)
    a, b = np.where(both, a, np.nan), np.where(both, b, np.nan)
    mean, std, n = column_summary(a - b, axis=-2)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore")  # too few pairs / constant differences: handled below
        p = np.asarray(stats.ttest_rel(a, b, axis=-2).pvalue)
        gaps = ~both.all(axis=-2) & (n >= 2)  # seeds missing: scipy's slower per-column path
        if gaps.any():
            p[gaps] = stats.ttest_rel(np.moveaxis(a, -2, -1)[gaps], np.moveaxis(b, -2, -1)[gaps], axis=-1,
                                      nan_policy="omit").pvalue
    p = np.where(_constant(mean, std), np.where(np.abs(mean) <= ROUND_OFF, 1.0, 0.0), p)
    return np.where(n < 2, 1.0, p)


def paired_pvalue(differences) -> float:
    """`paired_pvalues` for one vector of differences (tested against 0)."""
    d = np.asarray(differences, dtype=float)[:, None]
    return float(paired_pvalues(d, np.zeros_like(d))[0])


def holm(pvalues) -> np.ndarray:
    """Holm–Bonferroni step-down adjusted p-values along the last axis, in the input order. NaN
    entries are left out of the family and stay NaN. Sorted ascending p_(1..m):
    adj_(i) = max_{j<=i} min(1, (m − j + 1) · p_(j)).

    The same numbers as statsmodels' multipletests(method="holm") (a test holds them equal), written
    out because multipletests runs gc.collect() on every call: a second per call with the
    aggregate's records in memory, times hundreds of comparison groups."""
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p, axis=-1, kind="stable")  # NaN sort last
    ranked = np.take_along_axis(p, order, axis=-1)
    m = np.isfinite(p).sum(axis=-1, keepdims=True)
    factor = m - np.arange(p.shape[-1])
    adjusted = np.minimum(1.0, factor * ranked)
    adjusted = np.fmax.accumulate(adjusted, axis=-1) if p.size else adjusted
    adjusted = np.where(np.isfinite(ranked), adjusted, np.nan)
    out = np.empty_like(adjusted)
    np.put_along_axis(out, order, adjusted, axis=-1)
    return out


def verdicts(p_holm, difference, higher_is_better: bool, alpha: float = ALPHA) -> np.ndarray:
    """better / worse (adjusted p < alpha, by the sign of the mean paired difference in the metric's
    direction) or not separable; "" where there is nothing to test (NaN p)."""
    signed = np.asarray(difference, dtype=float) * (1.0 if higher_is_better else -1.0)
    p_holm = np.asarray(p_holm, dtype=float)
    out = np.where(p_holm < alpha, np.where(signed > 0, BETTER, WORSE), TIED)
    return np.where(np.isfinite(p_holm), out, "")


def best_column(x, higher_is_better: bool) -> np.ndarray:
    """Index (along the last axis) of the best mean over seeds; equal means: the first."""
    means = np.round(column_summary(x, axis=-2)[0], DECIMALS) * (1.0 if higher_is_better else -1.0)
    return np.nanargmax(np.where(np.isfinite(means), means, -np.inf), axis=-1)


def near_best(x, higher_is_better: bool, alpha: float = ALPHA) -> np.ndarray:
    """Per column: not separable from the best-mean column. The best is chosen by the data, so a
    test against it alone would be too liberal; instead every pair of columns is tested (paired t)
    and Holm runs over all k(k−1)/2 pairs, which bounds the family-wise error whichever column
    turns out best. A column is near best unless its pair with the best is rejected."""
    x = np.asarray(x, dtype=float)
    k = x.shape[-1]
    i, j = np.triu_indices(k, 1)
    adjusted = holm(paired_pvalues(x[..., i], x[..., j])) if k > 1 else np.ones(x.shape[:-2] + (0,))
    pair_p = np.ones(x.shape[:-2] + (k, k))
    pair_p[..., i, j] = adjusted
    pair_p[..., j, i] = adjusted
    best = best_column(x, higher_is_better)
    p_vs_best = np.take_along_axis(pair_p, best[..., None, None], axis=-2)[..., 0, :]
    present = np.isfinite(x).any(axis=-2)
    return (p_vs_best >= alpha) & present


def power_paired(effect_size, n, alpha: float) -> float:
    """Power of the two-sided paired t-test at standardized effect d = δ / σ_d with n pairs:
    P(|T'| > t_{n-1, 1-α/2}), T' noncentral t with df n − 1 and noncentrality d·√n (both tails
    as upper tails of scipy's nct, whose lower-tail cdf returns NaN far out)."""
    df, crit, nc = n - 1, stats.t.isf(alpha / 2, n - 1), effect_size * np.sqrt(n)
    return float(stats.nct.sf(crit, df, nc) + stats.nct.sf(crit, df, -nc))


def mde(diff_sd: float, n: int, comparisons: int, alpha: float = ALPHA, power: float = POWER) -> float:
    """`detectable_effect_size` (standardized) times the paired differences' SD: metric units."""
    return detectable_effect_size(int(n), int(comparisons), alpha, power) * diff_sd


@functools.lru_cache(maxsize=1024)
def detectable_effect_size(n: int, comparisons: int, alpha: float = ALPHA, power: float = POWER) -> float:
    """Minimum detectable effect (metric units) of the paired test at `power`, at Holm's strictest
    level alpha / comparisons (the level a single true effect among `comparisons` nulls faces):
    MDE = d* · σ_d with power_paired(d*, n, alpha / m) = power, solved by Brent's method.
    (statsmodels' TTestPower.solve_power returns wrong roots silently at such small alphas.)"""
    if n < 2 or comparisons < 1:
        return np.nan
    level = alpha / comparisons
    high = 1.0
    while power_paired(high, n, level) < power:
        high *= 2
    return float(optimize.brentq(lambda d: power_paired(d, n, level) - power, 0.0, high))


def ranks(means: pd.Series, higher_is_better: bool) -> pd.Series:
    """1 = best; means equal to DECIMALS decimals share the smaller rank; NaN means get no rank."""
    return means.round(DECIMALS).rank(ascending=not higher_is_better, method="min", na_option="keep")


BOOTSTRAP = 9999
"""Replicates: the smallest p is 2 / (B + 1) = 0.0002, so Holm over 50 methods can still reach 0.05."""


def normalized_gains(method, erm, sign) -> np.ndarray:
    """g_t = mean_s σ·(m_ts − e_ts) / |ē_t| over axis -1 (seeds; NaN = no pair)."""
    method, erm = np.asarray(method, dtype=float), np.asarray(erm, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.abs(np.nanmean(np.where(np.isfinite(method), erm, np.nan), axis=-1))
        return sign * np.nanmean(method - erm, axis=-1) / np.where(scale > 0, scale, np.nan)


def hierarchical_bootstrap(method, erm, sign, rng: np.random.Generator, replicates: int = BOOTSTRAP):
    """Replicates of the pooled normalized gain G = mean_t g_t: tasks resampled with replacement,
    then, within each drawn task, its paired seeds resampled with replacement (ERM's mean rescaled
    on the same draw). Inputs (..., tasks, seeds) with NaN where a pair is missing; every task must
    hold at least one pair. Returns (..., replicates)."""
    method, erm = np.broadcast_arrays(np.asarray(method, dtype=float), np.asarray(erm, dtype=float))
    ok = np.isfinite(method) & np.isfinite(erm)
    order = np.argsort(~ok, axis=-1, kind="stable")  # valid pairs first
    method, erm = np.take_along_axis(method, order, -1), np.take_along_axis(erm, order, -1)
    counts = ok.sum(axis=-1)  # (..., T)
    tasks, seeds = method.shape[-2:]
    pick_task = rng.integers(0, tasks, size=(replicates, tasks))
    u = rng.random((replicates, tasks, seeds))
    n_drawn = counts[..., pick_task]  # (..., B, T)
    pick_seed = np.minimum((u * n_drawn[..., None]).astype(int), seeds - 1)
    valid = np.arange(seeds) < n_drawn[..., None]
    batch = np.ix_(*[np.arange(s) for s in method.shape[:-2]]) if method.ndim > 2 else ()
    index = tuple(ax[..., None, None, None] for ax in batch) + (pick_task[..., None], pick_seed)
    m, e = np.where(valid, method[index], np.nan), np.where(valid, erm[index], np.nan)
    return np.nanmean(normalized_gains(m, e, sign), axis=-1)


def bootstrap_summary(estimate, replicates, tasks, confidence: float = CONFIDENCE):
    """Percentile interval and two-sided p-value of H0: G = 0 from the replicates (last axis), after
    the small-sample expansion G* ← Ĝ + √(T/(T−1)) · (G* − Ĝ): resampling T tasks shrinks the spread
    of a mean by (T−1)/T, which with 3–4 tasks makes the plain percentile bootstrap too liberal.
    p = min(1, 2 · min(#{G* ≤ 0} + 1, #{G* ≥ 0} + 1) / (B + 1))."""
    estimate = np.asarray(estimate, dtype=float)[..., None]
    expand = np.sqrt(tasks / (tasks - 1)) if tasks > 1 else 1.0  # one task: the seed bootstrap alone
    r = estimate + expand * (np.asarray(replicates, dtype=float) - estimate)
    tail = (1 - confidence) / 2
    low, high = np.quantile(r, tail, axis=-1), np.quantile(r, 1 - tail, axis=-1)
    below, above = (r <= 0).sum(axis=-1) + 1, (r >= 0).sum(axis=-1) + 1
    p = np.minimum(1.0, 2 * np.minimum(below, above) / (r.shape[-1] + 1))
    return low, high, np.where(np.isfinite(r).all(axis=-1), p, np.nan)
