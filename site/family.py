"""The part every family page shares: its answer in two lines, filters, per task a CI dot plot and the
leaderboard table (verdict against ERM first), and gain against cost."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

import data
import effect_charts
import profiles
import tables
import ui

CHART_METHODS = 30


@dataclass
class View:
    """What the shared part showed, for the family's own views below it."""

    family: str
    board: pd.DataFrame  # this family's leaderboard rows, every statistics column present
    runs: pd.DataFrame | None
    rs: data.ResultSet
    tasks: list[str]
    methods: list[str]
    metric: str


def start(family: str, blurb: str) -> View:
    """Title, the family's answer, results checks and filters (kept in the URL); stops the page with a
    message when there is nothing to show."""
    st.title(tables.label(family))
    rs = ui.current()
    ui.need(rs, "leaderboard")
    board = ui.board(rs)
    board = board[board["family"] == family]
    if board.empty:
        st.info(f"This results set has no {tables.label(family)} results yet.")
        st.stop()
    pooled = ui.profile(rs)
    pooled = pooled[pooled["family"] == family]
    for line in profiles.summary(pooled, ui.erm_tuned(board)):
        if line:
            st.markdown(line)
    st.caption(blurb)
    runs = rs.get("runs")
    primary = tables.defaults(board, family, runs)["metric"]
    ranked = board[(board["selection"] != "oracle") & ~tables.failed_only(board)]
    metrics = sorted(ranked["metric"].unique(), key=lambda m: (m != primary, m))
    left, mid, right = st.columns(3)
    with left:
        tasks = ui.multiselect_all("Tasks", sorted(board["task"].unique()), key=f"{family}_tasks")
    with mid:
        methods = ui.multiselect_all("Methods", sorted(board["method"].unique()), key=f"{family}_methods")
    with right:
        metric = (
            st.selectbox(
                "Metric",
                metrics,
                key=f"{family}_metric",
                help=f"{primary} is the family's primary metric",
                bind="query-params",
            )
            if metrics
            else primary
        )
    return View(family, board, runs, rs, tasks, methods, metric)


def leaderboards(
    view: View,
    selection: str | None = None,
    scorer: str | None = None,
    domain: str | None = None,
    metric: str | None = None,
) -> None:
    """Per task: mean ± 95% CI per method (colour = verdict against ERM, ERM named, dashed at its mean)
    and the ranked table."""
    metric = metric or view.metric
    rows = ui.headline(view.rs, view.family, metric, selection, scorer, domain)
    rows = rows[rows["method"].isin(view.methods)]
    if rows.empty:
        st.info("No leaderboard rows match these filters.")
        return
    ui.note_verdicts(rows)
    hib = tables.higher_is_better(metric)
    if "higher_is_better" in rows and rows["higher_is_better"].notna().any():
        hib = bool(rows["higher_is_better"].iloc[0])
    for task in view.tasks:
        part = rows[rows["task"] == task]
        st.subheader(task, anchor=task)
        if part.empty:
            st.info(f"No {metric} rows for {task} with these filters.")
            continue
        mde = part["mde"].dropna()
        if len(mde):
            st.caption(f"Smallest difference from ERM these seeds can detect (80% power): {mde.iloc[0]:.4f}.")
        erm = part.loc[part["method"] == tables.BASELINE, "mean"]
        ordered = list(part.sort_values(["rank", "method"])["method"])
        drawn = tables.shortlist(ordered, CHART_METHODS)
        chart_col, table_col = st.columns([2, 3])
        with chart_col:
            ui.chart(
                effect_charts.ci_dots(part[part["method"].isin(drawn)], metric, hib, erm.iloc[0] if len(erm) else None)
            )
            if len(drawn) < len(ordered):
                st.caption(
                    f"The {CHART_METHODS} best of {len(ordered)} methods and ERM; the table lists all. "
                    "Choose methods above to draw others."
                )
        with table_col:
            ui.leaderboard_table(part)


def cost_view(view: View) -> None:
    """The family's pooled effect of each method against its cost relative to ERM."""
    st.header("Gain against cost")
    pooled = ui.profile(view.rs)
    pooled = pooled[(pooled["family"] == view.family) & pooled["method"].isin(view.methods)]
    rows = ui.headline(view.rs, view.family)
    cost = profiles.family_cost(rows[rows["task"].isin(view.tasks)])
    points = pooled.assign(cost=pooled["method"].map(cost)).dropna(subset=["effect", "cost"])
    if points.empty:
        st.info("No pooled effects with wall times for this family.")
        return
    ui.chart(effect_charts.cost_scatter(points))
    st.caption(
        "Each point is a method: its pooled effect over the family's tasks (whisker: 95% CI) against its "
        "wall time per run relative to ERM's, geometric mean over the chosen tasks. ERM is the diamond at "
        "(1×, 0); up and to the left is better and cheaper."
    )
