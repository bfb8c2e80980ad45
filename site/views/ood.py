"""OOD detection: leaderboards per scorer and OOD set, the method × scorer matrix, ROC against ERM."""

from dataclasses import replace

import numpy as np
import pandas as pd
import streamlit as st

import charts
import details
import family
import tables
import ui

ALL = "all OOD sets (mean)"
MEAN = ("", "mean")  # domain values of the mean over OOD sets

view = family.start(
    "ood",
    "Each trained model scores in-distribution (ID) test inputs and inputs from outside "
    "the training distribution. Convention: **ID is the positive class**. AUROC: chance of "
    "ranking an ID input above an OOD one. FPR@95 (fpr95, lower is better): share of OOD samples "
    "accepted as ID at the threshold that keeps 95% of ID samples. AUPR-In / AUPR-Out: precision-"
    "recall area with ID / OOD as positive. id_acc: classification accuracy on ID test data.",
)
scored = view.board[(view.board["metric"] == view.metric) & (view.board["scorer"] != "")]
scorers = sorted(scored["scorer"].unique())
head = tables.defaults(view.board, view.family, view.runs)


def sets_of(tasks: list[str]) -> list[str]:
    """The OOD sets of these tasks, their mean first."""
    own = scored[scored["task"].isin(tasks)]["domain"].unique()
    return sorted(own, key=lambda x: (x not in MEAN, x))


def set_name(x: str) -> str:
    if x in MEAN:
        return ALL
    owners = sorted(scored.loc[scored["domain"] == x, "task"].unique())
    return f"{x} ({', '.join(owners)})"


left, right = st.columns(2)
scorer, domain = None, None
shown = view
if scorers:
    fallback = next((s for s in tables.HEADLINE_SCORERS if s in scorers), scorers[0])
    default = head["scorer"] if head["scorer"] in scorers else fallback
    scorer = left.selectbox("Scorer", scorers, index=scorers.index(default), key="ood_scorer", bind="query-params")
    domain = right.selectbox("OOD set", sets_of(view.tasks), format_func=set_name, key="ood_set", bind="query-params")
    if domain not in MEAN:  # a set belongs to its task: the leaderboards show the tasks that have it
        shown = replace(view, tasks=[t for t in view.tasks if (scored[scored["task"] == t]["domain"] == domain).any()])
family.leaderboards(shown, scorer=scorer, domain=domain)
family.cost_view(view)

st.header("One task in detail")
left, right = st.columns(2)
task = left.selectbox("Task", view.tasks, key="ood_task", bind="query-params")
own_sets = sets_of([task]) or [""]
task_set = right.selectbox(
    "OOD set of this task", own_sets, format_func=lambda x: ALL if x in MEAN else x, key="ood_task_set"
)
metric = view.metric if scorers else "auroc"
cells = view.board[
    (view.board["metric"] == metric)
    & (view.board["scorer"] != "")
    & (view.board["domain"] == task_set)
    & view.board["method"].isin(view.methods)
    & (view.board["task"] == task)
]
hib = tables.higher_is_better(metric)
st.subheader("Method × scorer")
if cells.empty:
    st.info("No per-scorer rows for this task, metric and OOD set.")
else:
    order = tables.shortlist(list(cells.groupby("method")["mean"].mean().sort_values(ascending=not hib).index))
    cells = cells[cells["method"].isin(order)]
    ui.chart(charts.heatmap(cells, "scorer", "method", "mean", y_sort=order, reverse=not hib))
    st.caption(
        f"{metric}, mean over seeds, {ALL if task_set in MEAN else task_set}. A method's training and the "
        "post-hoc scorer interact: read a method's gain per scorer, not only under one."
    )

st.subheader("ROC against ERM")
values = ui.detail(view.rs, view.family, task, "roc", prefix=True)
present = set(values["method"])
ranked = cells.groupby("method")["mean"].max().sort_values(ascending=not hib).index if len(cells) else []
candidates = [m for m in [*ranked, *sorted(present)] if m in present and m in view.methods]
candidates = list(dict.fromkeys(m for m in candidates if m != tables.BASELINE))
if not candidates:
    st.info("No ROC points for this task (the details file is missing or has none).")
    st.stop()
method = st.selectbox("Method", candidates, key="ood_roc_method", bind="query-params")


def averaged(name: str) -> pd.DataFrame:
    """A method's ROC per (scorer, OOD set), averaged vertically over seeds on a fixed FPR grid."""
    grid, rows = np.linspace(0, 1, 101), []
    mine = values[values["method"] == name]
    for key, payload in zip(mine["name"], mine["value"], strict=True):
        path = tuple(p for p in key.split("/")[1:] if p)
        points = pd.DataFrame(details.roc_points(payload, path), columns=["curve", "fpr", "tpr"])
        for curve, p in points.groupby("curve"):
            p = p.sort_values(["fpr", "tpr"])
            rows.append(pd.DataFrame({"curve": curve, "fpr": grid, "tpr": np.interp(grid, p["fpr"], p["tpr"])}))
    if not rows:
        return pd.DataFrame(columns=["scorer", "ood_set", "fpr", "tpr"])
    out = pd.concat(rows).groupby(["curve", "fpr"], as_index=False)["tpr"].mean()
    parts = out["curve"].str.split(" / ", n=1, expand=True).reindex(columns=[0, 1])
    return out.assign(scorer=parts[0], ood_set=parts[1].fillna(""))


own = view.board[(view.board["task"] == task) & (view.board["method"] == method) & (view.board["metric"] == "auroc")]
own = own[own["domain"] == task_set]
best = own.sort_values("mean", ascending=False)["scorer"]
curves = pd.concat([averaged(method).assign(method=method), averaged(tables.BASELINE).assign(method=tables.BASELINE)])
if task_set not in MEAN:
    curves = curves[curves["ood_set"] == task_set]
roc_scorers = sorted(curves["scorer"].dropna().unique())
if curves.empty or not roc_scorers:
    st.info("The ROC details of this method hold no usable points for this OOD set.")
    st.stop()
pick = next((s for s in best if s in roc_scorers), roc_scorers[0])
curves = curves[curves["scorer"] == pick].groupby(["method", "fpr"], as_index=False)["tpr"].mean()
ui.chart(charts.roc(curves, title=f"{task}: {method} vs ERM, scorer {pick}"))
st.caption(
    f"Scorer {pick}: {method}'s best AUROC on this task. Vertical average over seeds"
    + (" and over the task's OOD sets" if task_set in MEAN else "")
    + "; ERM dashed. Dotted horizontal line: TPR = 95%, where FPR@95 is read."
)
