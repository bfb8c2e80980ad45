"""Runs explorer: the raw runs table, filtered, with CSV and parquet downloads."""

import streamlit as st

import tables
import ui

SHOWN = 2000  # rows drawn in the table; downloads hold every filtered row

st.title("Runs explorer")
st.caption(
    "One row per (task, method, seed, hyperparameter draw, selection rule, scorer, domain, metric), with "
    "its provenance. Empty selection / scorer / domain = not applicable."
)
rs = ui.current()
ui.need(rs, "runs")
runs = rs.get("runs")

row1, row2 = st.columns(3), st.columns(4)
with row1[0]:
    families = ui.multiselect_all("Family", sorted(runs["family"].unique()), key="runs_family")
rows = runs[runs["family"].isin(families)]
with row1[1]:
    tasks = ui.multiselect_all("Task", sorted(rows["task"].unique()), key="runs_task")
rows = rows[rows["task"].isin(tasks)]
with row1[2]:
    methods = ui.multiselect_all("Method", sorted(rows["method"].unique()), key="runs_method")
rows = rows[rows["method"].isin(methods)]
with row2[0]:
    metrics = ui.multiselect_all("Metric", sorted(rows["metric"].unique()), key="runs_metric")
with row2[1]:
    status = ui.multiselect_all("Status", sorted(rows["status"].unique()), key="runs_status")
with row2[2]:
    seeds = ui.multiselect_all("Seed", sorted(rows["seed"].unique()), key="runs_seed")
with row2[3]:
    search = st.text_input("Error contains", key="runs_error", bind="query-params", placeholder="e.g. NaN")
rows = rows[rows["metric"].isin(metrics) & rows["status"].isin(status) & rows["seed"].isin(seeds)]
if search:
    rows = rows[rows["error"].str.contains(search, case=False, regex=False)]

st.caption(
    f"{len(rows):,} of {len(runs):,} rows"
    + (f"; the table shows the first {SHOWN:,}, the downloads hold all of them" if len(rows) > SHOWN else "")
)
first = [
    "family",
    "task",
    "method",
    "seed",
    "hparam_draw",
    "metric",
    "value",
    "selection",
    "scorer",
    "domain",
    "status",
    "error",
]
st.dataframe(
    rows.head(SHOWN),
    hide_index=True,
    column_order=[*first, *(c for c in rows.columns if c not in first)],
    column_config={"value": st.column_config.NumberColumn(format="%.4f")},
)


left, right = st.columns(2)
left.download_button(
    "Download CSV",
    lambda: tables.to_csv(rows),
    "runs.csv",
    "text/csv",
    key="runs_csv",
    on_click="ignore",
    disabled=rows.empty,
)
right.download_button(
    "Download parquet",
    lambda: tables.to_parquet(rows),
    "runs.parquet",
    "application/vnd.apache.parquet",
    key="runs_parquet",
    on_click="ignore",
    disabled=rows.empty,
)
