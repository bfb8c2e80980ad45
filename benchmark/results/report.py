"""`python -m benchmark report`: docs/results.md, what the committed leaderboard says, written from the parquet
files alone (leaderboard.parquet, profile.parquet, runs.parquet) so a test can tell when it is out of date.

First a paragraph per family and calibrate's trouble measures on tuned ERM's final runs (runs.parquet). Per
family: the pooled verdict of each method against tuned ERM (normalized gain over the family's tasks,
hierarchical bootstrap, Holm), then per task ERM's score, the minimum detectable effect and the methods the
per-task test separates from ERM (paired over the final seeds, Holm over the task's methods).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchmark import ROOT
from benchmark.results.export import load_board
from benchmark.scheduler import DEFAULT_RULE

RESULTS_DOC = ROOT / "docs" / "results.md"
FAMILY_TITLES = {"noisy_labels": "Noisy labels", "domain_generalization": "Domain generalization",
                 "continual": "Continual learning", "ood": "OOD detection"}


def _ci(low, high, signed: bool = False) -> str:
    style = "{:+.3f}" if signed else "{:.3f}"
    return "" if pd.isna(low) or pd.isna(high) else f"[{style.format(low)}, {style.format(high)}]"


def _effects(rows: pd.DataFrame, column: str, ci: tuple[str, str] | None = None, limit: int | None = None) -> str:
    """`method +0.012 [+0.004, +0.020]`, largest |effect| first, the CI from the `ci` columns; at most `limit`
    named, then how many more; 'none' when empty."""
    if rows.empty:
        return "none"
    rows = rows.reindex(rows[column].abs().sort_values(ascending=False, kind="stable").index)
    interval = (lambda r: " " + _ci(getattr(r, ci[0]), getattr(r, ci[1]), True)) if ci else (lambda r: "")
    named = [f"{r.method} {getattr(r, column):+.3f}{interval(r)}" for r in rows.head(limit).itertuples()]
    more = len(rows) - len(named)
    return ("; " if ci else ", ").join(named) + (f" and {more} more" if more else "")


def _pooled(profile: pd.DataFrame, family: str, erm: str) -> list[str]:
    rows = profile[profile["family"] == family]
    if rows.empty:
        return []
    compared = int((rows["verdict"] != "reference").sum())
    lines = [f"**Pooled over the family's tasks** (normalized gain over {erm}, 95% CI, Holm over "
             f"{compared} methods):", ""]
    for verdict, title in (("better", "better than ERM"), ("worse", "worse than ERM")):
        listed = _effects(rows[rows["verdict"] == verdict], "pooled_effect", ("pooled_lo", "pooled_hi"))
        lines.append(f"- {title}: {listed}")
    rest = rows[~rows["verdict"].isin(["better", "worse", "reference"])]
    lines.append(f"- not separable from ERM: {len(rest)} methods")
    if "tasks_better" in rest:
        for column, word in (("tasks_better", "better"), ("tasks_worse", "worse")):
            every = rest[(rest[column] == rest["n_tasks"]) & (rest["n_tasks"] > 0)]
            if not every.empty:
                lines.append(f"  - of which {word} than ERM on every one of their tasks by the per-task test (the "
                             f"pooled interval resamples tasks, so a handful of them leaves it wide): "
                             + ", ".join(sorted(every["method"])))
    return lines + [""]


def _task(rows: pd.DataFrame, task: str, erm_name: str) -> list[str]:
    erm = rows[rows["method"] == "erm"]
    others = rows[rows["method"] != "erm"]
    first = rows.iloc[0]
    direction = "higher" if first["higher_is_better"] else "lower"
    lines = [f"#### `{task}` — {first['metric']} ({direction} is better)", ""]
    if not erm.empty:
        e = erm.iloc[0]
        knobs = e["hparams"] if isinstance(e["hparams"], str) else ""
        lines.append(f"- {erm_name}: {e['mean']:.3f} {_ci(e['ci_low'], e['ci_high'])} over {int(e['n'])} seeds "
                     f"(chosen draw {int(e['hparam_draw'])}: {knobs})")
    mde = rows["mde"].dropna()
    if not mde.empty:
        lines.append(f"- minimum detectable effect at 80% power (Holm over {len(others)} methods): "
                     f"{mde.iloc[0]:.3f}")
    for verdict in ("better", "worse"):
        listed = _effects(others[others["verdict"] == verdict], "gain_vs_erm", ("gain_ci_low", "gain_ci_high"))
        lines.append(f"- {verdict} than ERM: {listed}")
    unseparated = int((~others["verdict"].isin(["better", "worse"])).sum())
    tuned = int((others["hparam_draw"] > 0).sum())
    lines += [f"- not separable from ERM: {unseparated} of {len(others)}; {tuned} of {len(others)} methods "
              "chose a draw other than their defaults", ""]
    return lines


def _in_short(head: pd.DataFrame, profile: pd.DataFrame, family: str) -> str:
    """One paragraph per family: the pooled verdicts, the per-task separations, where nothing separates."""
    rows = head[(head["family"] == family) & (head["method"] != "erm")]
    pooled = profile[profile["family"] == family]
    compared = int((pooled["verdict"] != "reference").sum())
    better, worse = (pooled[pooled["verdict"] == v] for v in ("better", "worse"))
    def named(hits: pd.DataFrame) -> str:
        return f" ({_effects(hits, 'pooled_effect', limit=3)})" if len(hits) else ""

    text = (f"Pooled over its tasks (normalized gain), {len(better)} of {compared} methods beat tuned ERM"
            f"{named(better)} and {len(worse)} fall behind it{named(worse)}")
    per_task = []
    for task, part in rows.groupby("task", sort=True):
        up, down = (int((part["verdict"] == v).sum()) for v in ("better", "worse"))
        mde = part["mde"].dropna()
        per_task.append(f"`{task}` {up} / {down} of {len(part)}"
                        + (f" (MDE {mde.iloc[0]:.3f})" if len(mde) else ""))
    silent = sorted(t for t, part in rows.groupby("task") if not part["verdict"].isin(["better", "worse"]).any())
    text += ". Per task, methods better / worse than tuned ERM: " + "; ".join(per_task) + "."
    if silent:
        text += " Nothing separates from ERM on " + ", ".join(f"`{t}`" for t in silent) + "."
    return text


RUN_COLUMNS = ["family", "task", "method", "seed", "phase", "status", "metric", "scorer", "domain", "value"]


def _trouble(runs: pd.DataFrame) -> list[str]:
    """calibrate's trouble measures on tuned ERM's final runs (calibrate itself trains the task's defaults)."""
    from benchmark.calibrate import ladder, trouble

    erm = runs[(runs["method"] == "erm") & (runs["phase"] == "final") & (runs["status"] == "ok")]
    if erm.empty:
        return []
    records: dict[str, list[dict]] = {}
    for (task, _seed), rows in erm.groupby(["task", "seed"], sort=True):
        metrics = rows[["metric", "scorer", "domain", "value"]].to_dict("records")
        records.setdefault(task, []).append({"family": rows["family"].iloc[0], "task": task, "metrics": metrics})
    rows = [(f"`{task}`", check) for task, recs in records.items() for check in trouble(recs)]
    rows += [("all OOD tasks", check) for check in ladder([r for recs in records.values() for r in recs
                                                             if r["family"] == "ood"])]
    return ["## Does tuned ERM still show the trouble?", "",
            "The thresholds of `python -m benchmark calibrate`, which measures each task at its own settings; here "
            "on tuned ERM's final runs (its chosen draw, mean over the final seeds).", "",
            "| task | measure | tuned ERM | wanted | |", "|---|---|---|---|---|",
            *(f"| {task} | {c.measure} | {c.value:.3f} | {c.wanted} | {'ok' if c.ok else '**miss**'} |"
              for task, c in rows), ""]


def render(board: pd.DataFrame, profile: pd.DataFrame, runs: pd.DataFrame | None = None) -> str:
    head = board[board["headline"]]
    rules = sorted(set(head["selection_rule"].dropna()))
    seeds = sorted(set(head["n"].astype(int)))
    better = int((head["verdict"] == "better").sum())
    worse = int((head["verdict"] == "worse").sum())
    compared = int((head["method"] != "erm").sum())
    tuned = rules != [DEFAULT_RULE]
    erm = "tuned ERM" if tuned else "ERM at its defaults"
    searched = ("Every method, ERM included, searched the shared training knobs; nothing was selected on test "
                "data." if tuned else "No search: every method ran its defaults.")
    lines = [
        "# Results of the default grid",
        "",
        "Generated by `python -m benchmark report` from `results/leaderboard.parquet`, "
        "`results/profile.parquet` and `results/runs.parquet`; do not edit (a test fails when it is not current). "
        "Statistics: [stats.md](stats.md).",
        "",
        f"- {head['task'].nunique()} tasks, {head['method'].nunique()} methods, {len(head)} cells; "
        f"final seeds per cell: {', '.join(map(str, seeds))}.",
        f"- Selection of each cell's hyperparameters: {'; '.join(rules)}. {searched}",
        f"- Failed runs among the final ones: {int(head['n_failed'].sum())}.",
        f"- Per task, against {erm} (paired over the final seeds, Holm over the task's methods): "
        f"{better} of {compared} method × task comparisons better, {worse} worse, "
        f"{compared - better - worse} not separable.",
        "",
    ]
    families = [f for f in FAMILY_TITLES if f in set(head["family"])]
    if tuned:
        lines += ["## In short", ""]
        lines += [f"- **{FAMILY_TITLES[f]}.** {_in_short(head, profile, f)}" for f in families] + [""]
    if runs is not None:
        lines += _trouble(runs)
    for family in families:
        lines += [f"## {FAMILY_TITLES[family]}", ""]
        lines += _pooled(profile, family, erm)
        for task, rows in head[head["family"] == family].groupby("task", sort=True):
            lines += _task(rows, task, erm)
    return "\n".join(lines).rstrip() + "\n"


def report(results: Path = ROOT / "results", out: Path = RESULTS_DOC) -> str:
    runs = pd.read_parquet(Path(results) / "runs.parquet", columns=RUN_COLUMNS, filters=[("method", "==", "erm")])
    text = render(load_board(results), pd.read_parquet(Path(results) / "profile.parquet"), runs)
    Path(out).write_text(text)
    return text
