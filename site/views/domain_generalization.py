"""Domain generalization: leaderboards under a selection-rule switch, and per held-out domain the
difference of each method from ERM."""

import streamlit as st

import charts
import effect_charts
import family
import tables
import ui

RULES = {"training_domain_val": "training-domain validation", "oracle": "test-domain oracle"}
ORACLE = "oracle"

view = family.start(
    "domain_generalization",
    "Leave one domain out: train on the others, test on the held-out "
    "domain. The primary number selects the model on validation splits of the *training* domains; "
    "the test-domain oracle is an upper bound that reads test labels, shown only on its own.",
)


def oracle_metric(metric: str) -> str:
    """The oracle's rows of a metric: under the same name, or as `oracle_<metric>` (how the aggregation
    names the test-domain-oracle accuracy)."""
    rows = view.board[(view.board["selection"] == ORACLE) & ~tables.failed_only(view.board)]
    return metric if (rows["metric"] == metric).any() else f"oracle_{metric}"


valued = view.board[~tables.failed_only(view.board)]
present = sorted(
    set(valued.loc[valued["metric"] == view.metric, "selection"])
    | ({ORACLE} if (valued["metric"] == oracle_metric(view.metric)).any() else set()),
    key=lambda s: (s != "training_domain_val", s == ORACLE, s),
)
rule = (
    st.radio(
        "Model selection rule",
        present,
        format_func=lambda s: RULES.get(s, s or "none"),
        horizontal=True,
        key="dg_selection",
        bind="query-params",
    )
    if present
    else None
)
metric = oracle_metric(view.metric) if rule == ORACLE else view.metric
if rule == ORACLE:
    st.warning(
        f"Oracle selection reads the test domain's labels ({metric}): an upper bound, never comparable with "
        "training-domain-validation numbers."
    )
family.leaderboards(view, selection=rule, metric=metric)
family.cost_view(view)

st.header("Per held-out domain: difference from ERM")
per_domain = view.board[
    (view.board["domain"] != "") & view.board["method"].isin(view.methods) & view.board["task"].isin(view.tasks)
]
if rule is not None:
    per_domain = per_domain[per_domain["selection"] == rule]
if per_domain.empty:
    st.info("This results set has no per-domain rows.")
    st.stop()
metrics = sorted(per_domain["metric"].unique())
left, right = st.columns(2)
task = left.selectbox("Task", sorted(per_domain["task"].unique()), key="dg_domain_task", bind="query-params")
wanted = metric if metric in metrics else metrics[0]
shown_metric = right.selectbox(
    "Metric", metrics, key="dg_domain_metric", index=metrics.index(wanted), bind="query-params"
)
cells = per_domain[(per_domain["task"] == task) & (per_domain["metric"] == shown_metric)]
erm = cells[cells["method"] == tables.BASELINE].set_index("domain")["mean"]
if erm.empty:
    st.info("ERM has no per-domain rows on this task: no differences to show.")
    st.stop()
cells = cells.assign(diff=cells["mean"] - cells["domain"].map(erm))
order = tables.shortlist(list(cells.groupby("method")["diff"].mean().sort_values(ascending=False).index))
cells = cells[cells["method"].isin(order)]
labels = {m: effect_charts.ERM_LABEL if m == tables.BASELINE else m for m in order}
cells = cells.assign(
    method=cells["method"].map(labels),
    text=[
        f"{m:.3f}" if name == tables.BASELINE else f"{d:+.3f}"
        for name, m, d in zip(cells["method"], cells["mean"], cells["diff"], strict=True)
    ],
)
ui.chart(
    charts.heatmap(
        cells.rename(columns={"domain": "held_out_domain", "diff": "minus_ERM"}),
        "held_out_domain",
        "method",
        "minus_ERM",
        text="text",
        diverging=True,
        y_sort=[labels[m] for m in order],
        bound=effect_charts.robust_bound(cells["diff"]),
    )
)
st.caption(
    f"Each column is one held-out (test) domain; a cell is the method's mean {shown_metric} over seeds minus "
    "ERM's on that domain (ERM's row: its own mean). Red = below ERM, blue = above."
)
