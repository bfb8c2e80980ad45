"""Synthetic result sets for the site's tests and load benchmark: every parquet file the site reads,
with realistic values for the four families (no training involved)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import site_contract

SCHEMA_KEY = b"benchmark_schema_version"
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}
LOWER = {"memorization", "forgetting", "fpr95"}

# family -> (tasks, methods with their effect on the primary metric, primary metric, primary selection)
FAMILIES = {
    "noisy_labels": (
        ["noisy_digits_sym40", "noisy_digits_asym40", "noisy_mnist1d_inst40"],
        {
            "erm": 0,
            "elr": 0.05,
            "coteaching": 0.04,
            "gce": 0.03,
            "label_smoothing": 0.01,
            "mixup": 0.02,
            "sam": 0.015,
        },
        "test_acc",
        "noisy_val",
    ),
    "domain_generalization": (
        ["dg_rotated_digits", "dg_colored_mnist1d"],
        {
            "erm": 0,
            "irm": -0.01,
            "vrex": 0.01,
            "groupdro": 0.005,
            "coral": 0.012,
            "mixup": 0.008,
            "sam": 0.004,
        },
        "test_acc",
        "training_domain_val",
    ),
    "continual": (
        ["cl_split_digits", "cl_permuted_digits"],
        {"erm": 0, "ewc": 0.12, "lwf": 0.06, "replay": 0.25, "si": 0.1, "sam": 0.005},
        "acc",
        "final",
    ),
    "ood": (
        ["ood_digits_patches", "ood_digits_heldout"],
        {"erm": 0, "logitnorm": 0.04, "oe": 0.08, "mixup": 0.01, "label_smoothing": -0.02, "sam": 0.005},
        "auroc",
        "",
    ),
}
DOMAINS = {
    "dg_rotated_digits": ["0", "15", "30", "45", "60", "75"],
    "dg_colored_mnist1d": ["+90%", "+80%", "-90%"],
}
SCORERS = ["msp", "maxlogit", "energy", "mahalanobis", "knn"]
OOD_SETS = {"ood_digits_patches": ["photo_patches", "noise"], "ood_digits_heldout": ["heldout_classes"]}
PAPERS = {
    "erm": "Vapnik, NeurIPS 1991",
    "elr": "Liu et al., NeurIPS 2020",
    "gce": "Zhang & Sabuncu, NeurIPS 2018",
    "coteaching": "Han et al., NeurIPS 2018",
    "mixup": "Zhang et al., ICLR 2018",
    "sam": "Foret et al., ICLR 2021",
}


def _runs_for(family, task, method, effect, seed, draw, rng, epochs=20):
    """Metric rows and detail payload of one run."""
    m, details = [], {}
    noise = lambda s=0.008: float(rng.normal(0, s))
    if family == "noisy_labels":
        test = 0.80 + effect + noise()
        m += [
            ("test_acc", test, "noisy_val", "", ""),
            ("val_acc", 0.52 + effect / 2 + noise(), "noisy_val", "", ""),
            ("last_acc", test - 0.05 + effect / 2 + noise(), "last_epoch", "", ""),
            ("memorization", max(0.0, 0.35 - 4 * effect + noise(0.03)), "last_epoch", "", ""),
            ("oracle_test_acc", test + 0.02 + abs(noise(0.005)), "oracle", "", ""),
        ]
        t = np.arange(epochs)
        val = 0.52 + effect / 2 - 0.05 * np.exp(-t / 3) + rng.normal(0, 0.005, epochs)
        details = {
            "curves": {
                "train_loss": (2.3 * np.exp(-t / 8)).tolist(),
                "val_acc": val.tolist(),
                "test_acc": (test - 0.1 * np.exp(-t / 3)).tolist(),
            },
            "selected_epoch": int(np.argmax(val)),
            "realized_noise_rate": 0.4 + noise(0.005),
        }
    elif family == "domain_generalization":
        accs = {d: 0.75 - 0.04 * i + effect + noise() for i, d in enumerate(DOMAINS[task])}
        for rule, bump in (("training_domain_val", 0), ("oracle", 0.02)):
            m.append(("test_acc", float(np.mean(list(accs.values()))) + bump, rule, "", ""))
            m.append(("worst_domain_acc", min(accs.values()) + bump, rule, "", ""))
            m += [("test_acc", a + bump, rule, "", d) for d, a in accs.items()]
        m.append(("val_acc", 0.85 + effect + noise(), "training_domain_val", "", ""))
    elif family == "continual":
        T = 5
        R = np.zeros((T, T))
        for i in range(T):
            for j in range(T):
                R[i, j] = (0.97 - (i - j) * (0.2 - effect)) if j <= i else 0.1 + noise(0.02)
        R = np.clip(R + rng.normal(0, 0.01, R.shape), 0, 1)
        acc = R[-1].mean()
        forgetting = float(np.mean([R[:-1, j].max() - R[-1, j] for j in range(T - 1)]))
        m += [
            ("acc", acc, "final", "", ""),
            ("forgetting", forgetting, "final", "", ""),
            ("bwt", float(np.mean([R[-1, j] - R[j, j] for j in range(T - 1)])), "final", "", ""),
            ("fwt", float(np.mean([R[j - 1, j] - 0.1 for j in range(1, T)])), "final", "", ""),
            ("val_acc", acc + noise(), "seen_experiences_val", "", ""),
        ]
        m += [("acc", R[-1, j], "final", "", f"exp{j}") for j in range(T)]
        details = {"acc_matrix": R.round(4).tolist()}
    else:
        m.append(("id_acc", 0.95 + noise(0.005), "", "", ""))
        roc = {}
        for k, scorer in enumerate(SCORERS):
            per = []
            for s, ood in enumerate(OOD_SETS[task]):
                au = min(0.995, 0.82 + effect + 0.02 * k - 0.05 * s + noise(0.01))
                per.append(au)
                m += [
                    ("auroc", au, "", scorer, ood),
                    ("fpr95", 1.6 * (1 - au) + noise(0.01), "", scorer, ood),
                ]
                fpr = np.linspace(0, 1, 21)
                roc.setdefault(scorer, {})[ood] = {
                    "fpr": fpr.tolist(),
                    "tpr": (fpr ** ((1 - au) / au)).tolist(),
                }
            au = float(np.mean(per))
            m += [
                ("auroc", au, "", scorer, "mean"),
                ("fpr95", 1.6 * (1 - au), "", scorer, "mean"),
                ("aupr_in", au + 0.01, "", scorer, "mean"),
                ("aupr_out", au - 0.03, "", scorer, "mean"),
            ]
        details = {"roc": roc}
    return m, details


def make_results(
    methods_extra: int = 0,
    seeds: int = 5,
    draws: int = 1,
    failed: bool = True,
    profile: str = "default",
    git_rev: str = "3f2a9c1d4e5b",
    legacy: bool = False,
) -> dict[str, pd.DataFrame]:
    """All frames of one result set. `methods_extra` adds synthetic methods (to scale the runs table).
    `legacy`: shaped like an aggregation before the adjusted verdicts (tie groups, no verdict columns,
    no citation metadata); otherwise with the columns of the statistics step (site_contract)."""
    rng = np.random.default_rng(0)
    runs, details = [], []
    for family, (tasks, effects, primary, _) in FAMILIES.items():
        effects = {**effects, **{f"extra{k:03d}": float(rng.normal(0, 0.02)) for k in range(methods_extra)}}
        for task in tasks:
            for method, effect in effects.items():
                for draw in range(draws):
                    hp = {} if method == "erm" else {"lam": round(float(10 ** rng.uniform(-1, 1)), 4)}
                    for seed in range(seeds):
                        base = dict(
                            family=family,
                            task=task,
                            method=method,
                            seed=seed,
                            hparam_draw=draw,
                            primary=primary,
                            hparams=json.dumps(hp),
                            profile=profile,
                            git_rev=git_rev,
                            protocol_version="1",
                            spec_hash="ab12cd34",
                            device="cpu",
                            wall_seconds=float(rng.uniform(0.4, 2.0) * (2 if method == "coteaching" else 1)),
                            parameters=int(70_000 * (2 if method == "coteaching" else 1)),
                        )
                        if failed and method == "irm" and (seed == seeds - 1 or task == "dg_colored_mnist1d"):
                            runs.append(
                                {
                                    **base,
                                    "metric": primary,
                                    "value": np.nan,
                                    "selection": "",
                                    "scorer": "",
                                    "domain": "",
                                    "status": "failed",
                                    "error": "loss became NaN at epoch 3",
                                }
                            )
                            continue
                        rows, det = _runs_for(family, task, method, effect - 0.01 * draw, seed, draw, rng)
                        runs += [
                            {
                                **base,
                                "metric": k,
                                "value": float(v),
                                "selection": s,
                                "scorer": sc,
                                "domain": d,
                                "status": "ok",
                                "error": "",
                            }
                            for k, v, s, sc, d in rows
                        ]
                        details += [
                            {
                                **{k: base[k] for k in ("family", "task", "method", "seed", "hparam_draw")},
                                "name": name,
                                "json": json.dumps(value),
                            }
                            for name, value in det.items()
                        ]
    runs = pd.DataFrame(runs)
    board = leaderboard(runs)
    frames = {
        "runs": runs,
        "leaderboard": board,
        "details": pd.DataFrame(details),
        "profile": profile_frame(board),
        "methods": catalog(sorted(runs["method"].unique())),
    }
    if not legacy:
        frames["runs"] = runs.assign(phase="final")
        frames["leaderboard"] = site_contract.leaderboard(board)
        frames["profile"] = site_contract.profile(board)
        frames["methods"] = site_contract.catalog(frames["methods"])
    return frames


# family -> its headline coordinates (metric, selection, scorer, domain), as the aggregation marks them
HEADLINE = {
    "noisy_labels": ("test_acc", "noisy_val", "", ""),
    "domain_generalization": ("test_acc", "training_domain_val", "", ""),
    "continual": ("acc", "final", "", ""),
    "ood": ("auroc", "", "msp", "mean"),
}


def leaderboard(runs: pd.DataFrame) -> pd.DataFrame:
    """Shaped like the aggregation's: validation-selected draw (plus `oracle` draw rows for one task, which
    the site must not rank), failures counted per cell, a placeholder row where every run of a cell failed."""
    keys = ["family", "task", "method", "metric", "selection", "scorer", "domain"]
    runs = runs[runs["hparam_draw"] == 0]
    ok = runs[runs["status"] == "ok"]
    b = ok.groupby(keys, sort=True)["value"].agg(mean="mean", std=lambda v: v.std(ddof=1), n="count").reset_index()
    lost = runs.groupby(["family", "task", "method"])["status"].agg(lambda s: (s != "ok").all())
    spots = pd.DataFrame([(f, t, m, *HEADLINE[f]) for f, t, m in lost[lost].index], columns=keys)
    b = pd.concat([b, spots.assign(mean=np.nan, std=np.nan, n=0)], ignore_index=True)
    per_run = runs.drop_duplicates(["task", "method", "seed"]).groupby(["task", "method"])
    cost = per_run.agg(
        n_failed=("status", lambda s: int((s != "ok").sum())),
        error=("error", lambda e: next((x for x in e if x), "")),
        wall_seconds=("wall_seconds", "mean"),
        parameters=("parameters", "max"),
        hparams=("hparams", "first"),
    )
    b = b.merge(cost.reset_index(), on=["task", "method"])
    b["hparam_draw"], b["draw_selection"] = 0, "val_acc"
    half = b["n"].map(lambda n: T95.get(n - 1, 1.96)) * b["std"] / np.sqrt(b["n"])
    b["ci_low"], b["ci_high"] = b["mean"] - half, b["mean"] + half
    b["higher_is_better"] = ~b["metric"].isin(LOWER)
    cell = [k for k in keys if k != "method"]
    erm = b[b["method"] == "erm"].set_index(cell)["mean"]
    b["gain_vs_erm"] = b["mean"] - b.set_index(cell).index.map(erm).to_numpy(dtype=float)
    b["gain_ci_low"], b["gain_ci_high"] = b["gain_vs_erm"] - half, b["gain_vs_erm"] + half
    signed = b["mean"].where(b["higher_is_better"], -b["mean"])
    b["rank"] = signed.groupby([b[k] for k in cell]).rank(ascending=False, method="min").astype("Int64")
    best = b.assign(s=signed).dropna(subset=["s"]).sort_values("s").groupby(cell).tail(1).set_index(cell)
    best_low = best["ci_low"].where(best["higher_is_better"], -best["ci_high"])
    lo = b["ci_high"].where(b["higher_is_better"], -b["ci_low"])
    b["tie_group"] = np.where(lo >= b.set_index(cell).index.map(best_low).to_numpy(dtype=float), 1, 2)
    b["tie_group"] = b["tie_group"].where(b["mean"].notna()).astype("Int64")
    b["headline"] = [
        HEADLINE[f] == (m, s, sc, d)
        for f, m, s, sc, d in zip(b["family"], b["metric"], b["selection"], b["scorer"], b["domain"], strict=True)
    ]
    oracle = b[b["task"] == "noisy_digits_sym40"].assign(draw_selection="oracle", mean=lambda x: x["mean"] + 0.05)
    return pd.concat([b, oracle], ignore_index=True)


def profile_frame(board: pd.DataFrame) -> pd.DataFrame:
    """Per (method, family) and 'overall': headline gain relative to ERM, averaged over tasks."""
    head = board[board["headline"] & (board["draw_selection"] == "val_acc")]
    erm = head[head["method"] == "erm"].set_index("task")["mean"].abs()
    scale = head["task"].map(erm)
    head = head.assign(g=head["gain_vs_erm"] / scale, lo=head["gain_ci_low"] / scale, hi=head["gain_ci_high"] / scale)
    agg = {
        "normalized_gain": ("g", "mean"),
        "ci_low": ("lo", "mean"),
        "ci_high": ("hi", "mean"),
        "n_tasks": ("task", "nunique"),
        "avg_rank": ("rank", "mean"),
    }
    p = head.groupby(["method", "family"]).agg(**agg).reset_index()
    overall = head.groupby("method").agg(**agg).reset_index().assign(family="overall")
    p = pd.concat([p, overall], ignore_index=True)
    return p.assign(primary=p["family"].map(lambda f: HEADLINE.get(f, ("",))[0]))


def catalog(methods: list[str]) -> pd.DataFrame:
    doc = (
        "Early-learning regularization (Liu et al., NeurIPS 2020).\n\nPer training sample a target t_i:\n"
        "  t_i <- beta * t_i + (1 - beta) * p_i\n  L = CE(p, y) + lambda * mean_i log(1 - <p_i, t_i>)\n"
        "Keeps predictions close to what the network learned early."
    )
    hp = {
        "beta": {"default": 0.7, "space": "U(0.5, 0.99)", "doc": "momentum of the per-sample target"},
        "lam": {"default": 3.0, "space": "10^U(-1, 1)", "doc": "weight of the early-learning term"},
    }
    return pd.DataFrame(
        [
            {
                "method": m,
                "families": ",".join(f for f, spec in FAMILIES.items() if m in spec[1] or m.startswith("extra")),
                "paper": PAPERS.get(m, ""),
                "doc": doc if m == "elr" else f"{m}: a synthetic test method.",
                "hparams": json.dumps(hp if m == "elr" else {}),
                "extra_cost": "a [num_train, num_classes] target buffer" if m == "elr" else "",
                "source_file": f"methods/{m}.py",
            }
            for m in methods
        ]
    )


def write(frame: pd.DataFrame, path: Path, version: str | None = "1", meta: dict | None = None) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    extra = {k.encode(): v.encode() for k, v in (meta or {}).items()}
    if version is not None:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), SCHEMA_KEY: version.encode(), **extra})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def write_results(out: Path, **kwargs) -> Path:
    """Writes every file; the statistics step's files also carry when they were written."""
    out = Path(out)
    meta = {} if kwargs.get("legacy") else {"benchmark_written": site_contract.WRITTEN}
    for name, frame in make_results(**kwargs).items():
        write(frame, out / f"{name}.parquet", meta=meta)
    return out


if __name__ == "__main__":
    import sys

    print(write_results(Path(sys.argv[1] if len(sys.argv) > 1 else "results-synthetic")))
