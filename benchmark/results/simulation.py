"""Simulated leaderboards with known truth: the family-wise false-positive rate of each adjusted test
under the null (every method equal to ERM) and its power under a planted effect (docs/stats.md §9).

Scores follow the benchmark's design: score = task level + seed effect (shared by every method on
that seed, what pairing removes) + run noise + the method's true effect. Every test runs through
the functions the leaderboard uses (benchmark.results.stats), batched over simulated tasks.
`python -m benchmark.results.simulation` prints the table quoted in the docs.
"""

from __future__ import annotations

import numpy as np

from benchmark.results import stats

SEED_SD, NOISE_SD, LEVEL = 0.05, 0.01, 0.7
"""Seed effect, run noise (SD of one run around its seed's level) and ERM's mean accuracy."""


def scores(rng, shape, methods: int, effect) -> tuple[np.ndarray, np.ndarray]:
    """(methods, ERM): arrays (*shape, seeds) for `methods` columns and ERM; `effect` per method."""
    *lead, seeds = shape
    seed = rng.normal(0.0, SEED_SD, (*lead, seeds, 1))
    erm = LEVEL + seed[..., 0] + rng.normal(0.0, NOISE_SD, (*lead, seeds))
    others = LEVEL + seed + rng.normal(0.0, NOISE_SD, (*lead, seeds, methods)) + np.asarray(effect)
    return others, erm


def task_tests(rng, sims: int, methods: int, seeds: int, effect: float = 0.0) -> dict[str, float]:
    """Per-task tests on `sims` tasks of `methods` methods plus ERM; method 0 carries `effect`.

    vs_erm: share of tasks where some null method gets a verdict other than "not separable";
    near_best: share where some method is left out of near_best (null only, effect 0);
    power_vs_erm: share where method 0 is "better"; power_near_best: share of null methods (ERM
    included) left out of near_best when method 0 is better by `effect`."""
    planted = np.r_[effect, np.zeros(methods - 1)]
    others, erm = scores(rng, (sims, seeds), methods, planted)
    x = np.concatenate([erm[..., None], others], axis=-1)  # column 0 = ERM
    p_holm = stats.holm(stats.paired_pvalues(others, erm[..., None]))
    verdict = stats.verdicts(p_holm, (others - erm[..., None]).mean(axis=-2), True)
    near = stats.near_best(x, True) & np.concatenate([np.ones((sims, 1), bool), verdict != stats.WORSE], axis=-1)
    nulls = slice(1, None) if effect else slice(None)
    out = {"vs_erm": float(np.mean((verdict[:, nulls] != stats.TIED).any(axis=-1)))}
    if effect:
        out["power_vs_erm"] = float(np.mean(verdict[:, 0] == stats.BETTER))
        out["power_near_best"] = float(np.mean(~np.delete(near, 1, axis=-1)))
    else:
        out["near_best"] = float(np.mean((~near).any(axis=-1)))
    return out


def pooled_tests(rng, sims: int, methods: int, tasks: int, seeds: int, effect: float = 0.0,
                 replicates: int = 400) -> dict[str, float]:
    """The family test on `sims` families of `tasks` tasks: every method's pooled normalized gain
    by the hierarchical bootstrap, Holm over the methods; method 0 carries `effect` on every task.
    fwer: share of families where some null method is declared better or worse; power: share where
    method 0 is declared better."""
    planted = np.r_[effect, np.zeros(methods - 1)]
    others, erm = scores(rng, (sims, tasks, seeds), methods, planted)
    m = np.moveaxis(others, -1, 1)  # (sims, methods, tasks, seeds)
    e = erm[:, None]
    estimate = np.mean(stats.normalized_gains(m, e, 1.0), axis=-1)
    low, high, p = stats.bootstrap_summary(estimate, stats.hierarchical_bootstrap(m, e, 1.0, rng, replicates),
                                           tasks)
    verdict = stats.verdicts(stats.holm(p), estimate, True)
    nulls = slice(1, None) if effect else slice(None)
    out = {"fwer": float(np.mean((verdict[:, nulls] != stats.TIED).any(axis=-1)))}
    if effect:
        out["power"] = float(np.mean(verdict[:, 0] == stats.BETTER))
    return out


def main() -> None:
    rng = np.random.default_rng(2024)
    diff_sd = NOISE_SD * np.sqrt(2)  # SD of a paired difference in this model
    for seeds in (3, 10):
        for methods in (5, 30):
            mde = stats.mde(diff_sd, seeds, methods)
            null = task_tests(rng, 4000, methods, seeds)
            planted = task_tests(rng, 4000, methods, seeds, effect=mde)
            print(f"task  seeds={seeds:<2} methods={methods:<2} FWER vs ERM {null['vs_erm']:.3f} "
                  f"near_best {null['near_best']:.3f} | effect = MDE {mde:.4f}: power vs ERM "
                  f"{planted['power_vs_erm']:.3f}, null methods left out of near_best {planted['power_near_best']:.3f}")
    for tasks, seeds in ((3, 3), (4, 3), (4, 10)):
        null = pooled_tests(rng, 400, 10, tasks, seeds)
        planted = pooled_tests(rng, 400, 10, tasks, seeds, effect=0.01)
        print(f"family tasks={tasks} seeds={seeds:<2} methods=10 FWER {null['fwer']:.3f} | "
              f"effect 0.01 (1.4% of ERM): power {planted['power']:.3f}")


if __name__ == "__main__":
    main()
