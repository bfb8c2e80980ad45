"""Run records -> results/runs.parquet (long format), results/leaderboard.parquet (per task),
results/profile.parquet (per method and family) and results/details.parquet (curves, accuracy
matrices, ROC points as JSON, for the site). docs/stats.md states every rule and formula used here.

The file list comes from the declared grid, never from a glob: records of removed cells that
linger on disk are ignored, and a declared cell without records fails loudly.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.errors import BenchmarkError
from benchmark.metrics import DIAGNOSTICS, higher_is_better
from benchmark.results import stats
from benchmark.results.record_schema import read_cell_file

SCHEMA_VERSION = "1"
SCHEMA_KEY = b"benchmark_schema_version"
RUN_COLUMNS = ["family", "task", "method", "seed", "hparam_draw", "phase", "selection", "scorer", "domain",
               "metric", "value", "status", "error", "primary", "hparams", "wall_seconds", "parameters", "profile",
               "git_rev", "protocol_version", "spec_hash", "device", "selection_rule", "finished"]
FINAL, SEARCH = "final", "search"
NO_SEARCH = "defaults (no search)"
GROUP = ["family", "task", "method", "metric", "selection", "scorer", "domain"]
BASELINE = "erm"
VALIDATION = "val_acc"
"""The metric row every family emits with its own validation rule's score: draws are chosen by it."""
ORACLE = "oracle"
DRAW_RULES = (VALIDATION, ORACLE)
"""`draw_selection` values: the family's validation score (primary) or the test score (labelled oracle)."""
RUN = ["family", "task", "method", "seed", "hparam_draw"]
KEYS = GROUP + ["draw_selection"]
"""Leaderboard row key. Ranks, verdicts and gains compare rows that differ only in `method`."""
COMPARE = [k for k in KEYS if k != "method"]
LEADERBOARD_COLUMNS = KEYS + [
    "headline", "higher_is_better", "mean", "std", "n", "n_failed", "error", "ci_low", "ci_high", "rank",
    "verdict", "p_value", "p_holm", "near_best", "mde", "diff_sd", "gain_vs_erm", "gain_ci_low", "gain_ci_high",
    "n_paired", "wall_seconds", "cost_x_erm", "search_seconds", "parameters", "hparam_draw", "hparams",
    "selection_rule"]
METRIC_RANGES = {"auroc": (0.0, 1.0), "aupr_in": (0.0, 1.0), "aupr_out": (0.0, 1.0), "fpr95": (0.0, 1.0),
                 "memorization": (0.0, 1.0), "ece": (0.0, 1.0), "brier": (0.0, 2.0), "forgetting": (-1.0, 1.0),
                 "bwt": (-1.0, 1.0), "fwt": (-1.0, 1.0)}
"""Metrics with a bounded range (besides every `*acc`): their mean's interval stays inside it."""


def metric_range(metric: str) -> tuple[float, float] | None:
    return (0.0, 1.0) if metric.endswith("acc") else METRIC_RANGES.get(metric)


def record_rows(record: dict) -> list[dict]:
    prov = record["provenance"]
    base = {
        "family": record["family"], "task": record["task"], "method": record["method"],
        "seed": record["seed"], "hparam_draw": record["hparam_draw"], "phase": record.get("phase") or FINAL,
        "selection_rule": record.get("selection_rule") or "", "status": record["status"],
        "error": record["error"] or "",
        "primary": record["primary"], "hparams": json.dumps(record["hparams"], sort_keys=True),
        "wall_seconds": prov.get("wall_seconds"), "parameters": record["parameters"],
        "profile": record["profile"], "git_rev": prov.get("git_rev") or "", "finished": prov.get("finished") or "",
        "protocol_version": prov.get("protocol_version", ""), "spec_hash": prov.get("spec_hash", ""),
        "device": prov.get("device", ""),
    }
    if record["status"] != "ok":  # one row so the leaderboard can show the failure
        return [{**base, "metric": record["primary"], "value": np.nan, "selection": "", "scorer": "",
                 "domain": ""}]
    return [{**base, **m} for m in record["metrics"]]


def detail_rows(record: dict) -> list[dict]:
    """Per-run details (curves, accuracy matrices, ROC points) as JSON strings, one row per key."""
    keys = {k: record[k] for k in ("family", "task", "method", "seed", "hparam_draw")}
    keys["phase"] = record.get("phase") or FINAL
    return [{**keys, "name": name, "json": json.dumps(value)} for name, value in record["details"].items()]


def load_runs(cells: dict[str, dict], records_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    from benchmark.runner import cell_path

    rows, details, missing = [], [], []
    for cell in cells.values():
        path = cell_path(records_dir, cell["task"], cell["method"])
        if not path.exists():
            missing.append(str(path))
            continue
        records = read_cell_file(path)
        for record in records:
            rows.extend(record_rows(record))
            details.extend(detail_rows(record))
    if missing:
        raise BenchmarkError(f"{len(missing)} declared cell(s) have no run records, e.g. {missing[0]}; "
                             "run `dvc repro` (or `python -m benchmark run`) for them")
    detail_columns = ["family", "task", "method", "seed", "hparam_draw", "phase", "name", "json"]
    return pd.DataFrame(rows, columns=RUN_COLUMNS), pd.DataFrame(details, columns=detail_columns)


def run_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run (its status, error and cost), whatever its metrics."""
    columns = RUN + ["status", "error", "primary", "hparams", "wall_seconds", "parameters"]
    return runs.drop_duplicates(RUN)[columns].reset_index(drop=True)


HEADLINE_DOMAINS = ("", "mean")
"""Preferred `domain` of a headline row: the all-domain row, else the mean over OOD sets."""
HEADLINE_SCORERS = ("", "msp")
"""Preferred `scorer`: none, else MSP, the post-hoc scorer every OOD model is scored with."""


def _prefer(frame: pd.DataFrame, mask: pd.Series, column: str, values) -> pd.Series:
    """Within each task, narrow `mask` to rows whose `column` is the first of `values` present."""
    for value in values:
        hit = mask & (frame[column] == value)
        mask = mask & (hit | ~frame["task"].isin(frame.loc[hit, "task"]))
    return mask


def headline_mask(frame: pd.DataFrame, runs: pd.DataFrame) -> pd.Series:
    """The rows that carry a task's primary metric under its family's own validation rule.

    The records' `primary` metric; never the checkpoint oracle; the checkpoint `selection` of the
    task's `val_acc` rows where the primary metric has it; then HEADLINE_DOMAINS and
    HEADLINE_SCORERS in order of preference. Rows left over after these (none in the shipped
    families) are averaged per run."""
    primary = runs.drop_duplicates("task").set_index("task")["primary"]
    mask = (frame["metric"] == frame["task"].map(primary)) & (frame["selection"] != ORACLE)
    own = runs.loc[(runs["metric"] == VALIDATION) & (runs["status"] == "ok"), ["task", "selection"]]
    own = set(own.itertuples(index=False, name=None))
    pairs = zip(frame["task"], frame["selection"], strict=True)
    is_own = pd.Series([k in own for k in pairs], index=frame.index, dtype=bool)
    mask &= is_own | ~frame["task"].isin(frame.loc[mask & is_own, "task"])
    mask = _prefer(frame, mask, "domain", HEADLINE_DOMAINS)
    return _prefer(frame, mask, "scorer", HEADLINE_SCORERS)


def primary_scores(runs: pd.DataFrame) -> pd.Series:
    """Per run: the mean of its headline rows. Reads test metrics."""
    ok = runs[runs["status"] == "ok"]
    return ok[headline_mask(ok, runs)].groupby(RUN)["value"].mean()


def validation_scores(runs: pd.DataFrame) -> pd.Series:
    """Per run: its `val_acc` (the all-domain row where a task has one, else the mean). Reads no
    other metric."""
    val = runs[(runs["metric"] == VALIDATION) & (runs["status"] == "ok")]
    val = val[_prefer(val, pd.Series(True, index=val.index), "domain", ("",))]
    return val.groupby(RUN)["value"].mean()


def choose_draws(runs: pd.DataFrame, rule: str = VALIDATION) -> pd.DataFrame:
    """Per (task, method): the hyperparameter draw the rule picks, as columns task, method, hparam_draw.

    Draws are ordered by failed runs (fewest first), then mean score over seeds (best first; a draw
    without any score last), then draw index (so ties keep the defaults, draw 0). Rule `val_acc`
    scores a run by its validation rows only; rule `oracle` by its primary test metric."""
    if rule not in DRAW_RULES:
        raise BenchmarkError(f"draw selection rule {rule!r}: expected one of {', '.join(DRAW_RULES)}")
    table = run_table(runs)
    if rule == VALIDATION:
        score = validation_scores(runs)
    else:  # maximize the signed primary metric
        score = primary_scores(runs)
        sign = table.set_index(RUN)["primary"].map(lambda m: 1.0 if higher_is_better(m) else -1.0)
        score = score * sign.reindex(score.index)
    table = table.join(score.rename("score"), on=RUN)
    table["failed"] = table["status"] != "ok"
    draws = table.groupby(["task", "method", "hparam_draw"], as_index=False).agg(
        failed=("failed", "sum"), score=("score", "mean"))
    draws = draws.sort_values(["task", "method", "failed", "score", "hparam_draw"],
                              ascending=[True, True, True, False, True], na_position="last")
    return draws.drop_duplicates(["task", "method"])[["task", "method", "hparam_draw"]].reset_index(drop=True)


def selected_draws(runs: pd.DataFrame, rule: str = VALIDATION) -> pd.DataFrame:
    """The rows of the draw `rule` picks per (task, method), labelled in column `draw_selection`."""
    chosen = runs.merge(choose_draws(runs, rule), on=["task", "method", "hparam_draw"])
    return chosen.assign(draw_selection=rule)


def _summary(ok: pd.DataFrame) -> pd.DataFrame:
    grouped = ok.groupby(KEYS, sort=True)["value"]
    board = grouped.agg(mean="mean", std="std", n="count").reset_index()  # pandas' std: ddof=1
    board["ci_low"], board["ci_high"] = stats.t_bounds(board["mean"], board["std"], board["n"])
    for metric in board["metric"].unique():
        bounds = metric_range(metric)
        if bounds:  # the logit-scale interval of the range: never outside it
            at = board["metric"] == metric
            low, high = stats.bounded_bounds(board.loc[at, "mean"], board.loc[at, "std"], board.loc[at, "n"], *bounds)
            board.loc[at, "ci_low"], board.loc[at, "ci_high"] = low, high
    return board


def _placeholders(table: pd.DataFrame, board: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Rows for (task, method, rule) whose every run failed: at the keys of the task's primary rows,
    so the failure shows where the method's score would be."""
    covered = board[["task", "method", "draw_selection"]].drop_duplicates()
    failed = table.merge(covered, how="left", indicator=True)
    failed = failed[failed["_merge"] == "left_only"].drop_duplicates(["task", "method", "draw_selection"])
    failed = failed[["family", "task", "method", "draw_selection", "primary"]]
    if failed.empty:
        return board.iloc[:0]
    spots = board.loc[headline_mask(board, runs), COMPARE[1:]].drop_duplicates()
    rows = failed.merge(spots, on=["task", "draw_selection"], how="left")
    rows["metric"] = rows["metric"].fillna(rows["primary"])
    rows[["selection", "scorer", "domain"]] = rows[["selection", "scorer", "domain"]].fillna("")
    return rows.drop(columns="primary").assign(mean=np.nan, std=np.nan, n=0, ci_low=np.nan, ci_high=np.nan)


STAT_COLUMNS = ["rank", "verdict", "p_value", "p_holm", "near_best", "mde", "diff_sd", "gain_vs_erm",
                "gain_ci_low", "gain_ci_high", "n_paired"]


def group_statistics(x: np.ndarray, methods: list[str], hib: bool) -> dict[str, np.ndarray]:
    """For one comparison group (seeds × methods, NaN = no run): rank, the paired test of every
    method against ERM with Holm over the group's methods, its verdict, near_best, the group's MDE
    and every method's paired gain over ERM with its t-interval."""
    k = len(methods)
    out = {"rank": stats.ranks(pd.Series(stats.column_summary(x)[0]), hib).to_numpy(),
           "near_best": stats.near_best(x, hib), "p_value": np.full(k, np.nan), "p_holm": np.full(k, np.nan),
           "verdict": np.full(k, "", dtype=object), "mde": np.full(k, np.nan), "diff_sd": np.full(k, np.nan)}
    base = x[:, [methods.index(BASELINE)]] if BASELINE in methods else np.full((len(x), 1), np.nan)
    gain, std, n = stats.column_summary(x - base)  # paired over seeds
    out["gain_vs_erm"], out["n_paired"] = gain, n
    out["gain_ci_low"], out["gain_ci_high"] = stats.t_bounds(gain, std, n)
    if BASELINE in methods:
        erm = methods.index(BASELINE)
        others = np.arange(k) != erm
        p = stats.paired_pvalues(x, base)
        p[erm] = np.nan
        out["p_value"], out["p_holm"] = p, stats.holm(p)
        out["verdict"] = stats.verdicts(out["p_holm"], gain, hib).astype(object)
        out["verdict"][erm] = stats.REFERENCE
        spread = std[others & (n >= 2)]
        if spread.size:
            sd = float(np.median(spread))  # a typical comparison's: one erratic method does not set it
            out["diff_sd"][:] = sd
            out["mde"][:] = stats.mde(sd, int(np.isfinite(base).sum()), int(others.sum()))
    out["near_best"] &= out["verdict"] != stats.WORSE  # worse than ERM is never "as good as the best"
    return out


def _comparisons(ok: pd.DataFrame) -> pd.DataFrame:
    """The statistics of `group_statistics` for every row, within its comparison group."""
    table = ok.groupby(COMPARE + ["seed", "method"], sort=True)["value"].mean().unstack("method")
    if table.empty:
        return pd.DataFrame(columns=KEYS + STAT_COLUMNS)
    names = [str(m) for m in table.columns]
    values = table.to_numpy(dtype=float)
    keys = table.index.droplevel("seed")
    codes = pd.factorize(keys)[0]  # groups are contiguous: the index is sorted
    starts = np.r_[0, np.flatnonzero(np.diff(codes)) + 1]
    parts = []
    for start, end in zip(starts, np.r_[starts[1:], len(codes)], strict=True):
        x = values[start:end]
        present = np.isfinite(x).any(axis=0)
        x, methods = x[:, present], [m for m, keep in zip(names, present, strict=True) if keep]
        key = dict(zip(COMPARE, keys[start], strict=True))
        parts.append(pd.DataFrame({**key, "method": methods, **group_statistics(x, methods,
                                                                                higher_is_better(key["metric"]))}))
    return pd.concat(parts, ignore_index=True)[KEYS + STAT_COLUMNS]


def final_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The rows of the final phase: the seeds every table reports (search runs only chose the draw)."""
    return runs[runs["phase"] == FINAL]


def _selection_rules(final: pd.DataFrame) -> pd.Series:
    """Per (task, method): the rule the runner recorded, else how this table chose among the draws."""
    cells = final.groupby(["task", "method"])
    recorded = cells["selection_rule"].agg(lambda r: next((x for x in r if x), ""))
    several = cells["hparam_draw"].nunique() > 1
    fallback = np.where(several, "best mean val_acc over the reported seeds (no separate search)", NO_SEARCH)
    return recorded.where(recorded != "", pd.Series(fallback, index=recorded.index)).rename("selection_rule")


def leaderboard(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (family, task, method, metric, selection, scorer, domain, draw_selection): the statistics
    of the selected draw over the final seeds. Rule `oracle` appears only for cells whose final
    phase holds several draws (records written before the search phase existed)."""
    all_runs, runs = runs, final_runs(runs)
    parts = [selected_draws(runs, VALIDATION)]
    searched = runs.groupby(["task", "method"])["hparam_draw"].transform("nunique") > 1
    if searched.any():
        parts.append(selected_draws(runs[searched], ORACLE))
    chosen = pd.concat(parts, ignore_index=True)
    ok = chosen[chosen["status"] == "ok"]
    table = chosen.drop_duplicates(RUN + ["draw_selection"])
    board = _summary(ok)
    board = pd.concat([board, _placeholders(table, board, runs)], ignore_index=True)
    # Diagnostics (sharpness, effective rank, spectral norms) are columns to read, never ranked or judged.
    board = board.merge(_comparisons(ok[~ok["metric"].isin(DIAGNOSTICS)]), on=KEYS, how="left")

    cell = ["task", "method", "draw_selection"]
    costs = table.sort_values("seed").groupby(cell).agg(
        n_failed=("status", lambda s: int((s != "ok").sum())),
        error=("error", lambda e: next((x for x in e if x), "")),
        wall_seconds=("wall_seconds", "mean"), parameters=("parameters", "max"),
        hparam_draw=("hparam_draw", "first"), hparams=("hparams", "first")).reset_index()
    erm_cost = costs[costs["method"] == BASELINE].set_index(["task", "draw_selection"])["wall_seconds"]
    costs["cost_x_erm"] = costs["wall_seconds"] / erm_cost.reindex(
        pd.MultiIndex.from_frame(costs[["task", "draw_selection"]])).to_numpy()
    search = run_table(all_runs).groupby(["task", "method"])["wall_seconds"].sum().rename("search_seconds")
    board = board.merge(costs, on=cell, how="left").join(search, on=["task", "method"])
    board = board.join(_selection_rules(runs), on=["task", "method"])
    board["headline"] = headline_mask(board, runs)
    board["higher_is_better"] = board["metric"].map(higher_is_better).astype(bool)
    for column in ("n", "n_failed", "n_paired"):
        board[column] = board[column].fillna(0).astype(int)
    board["rank"] = board["rank"].astype("Int64")
    board["verdict"] = board["verdict"].fillna("").astype(str)
    board["near_best"] = board["near_best"].astype("boolean").fillna(False).astype(bool)
    rule_order = lambda c: c.map(DRAW_RULES.index) if c.name == "draw_selection" else c
    return board[LEADERBOARD_COLUMNS].sort_values(KEYS, key=rule_order, ignore_index=True)


def write_parquet(df: pd.DataFrame, path: Path, extra: dict[str, str] | None = None) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    metadata = {**(table.schema.metadata or {}), SCHEMA_KEY: SCHEMA_VERSION.encode(),
                **{k.encode(): v.encode() for k, v in (extra or {}).items()}}
    table = table.replace_schema_metadata(metadata)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp)
    tmp.replace(path)


def aggregate(cells: dict[str, dict], records_dir: Path, out_dir: Path) -> list[Path]:
    from benchmark.results.dvc_outputs import write_plots, write_summary
    from benchmark.results.family_profile import profile

    runs, details = load_runs(cells, Path(records_dir))
    out_dir = Path(out_dir)
    board = leaderboard(runs)
    prof = profile(runs, board)
    outputs = {"runs": runs, "leaderboard": board, "profile": prof, "details": details}
    # When the results were made and from which revision: read from the records, never from file times.
    stamp = {"benchmark_written": max(runs["finished"], default="") if len(runs) else "",
             "benchmark_git_rev": runs["git_rev"].mode().iloc[0] if len(runs) and runs["git_rev"].any() else ""}
    for name, frame in outputs.items():
        write_parquet(frame, out_dir / f"{name}.parquet", stamp)
    paths = [out_dir / f"{name}.parquet" for name in outputs]
    return paths + [write_summary(board, prof, out_dir)] + write_plots(details, board, out_dir)
