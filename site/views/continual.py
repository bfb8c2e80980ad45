"""Continual learning: leaderboards, the accuracy matrix R[i][j], forgetting and transfer."""

import streamlit as st

import charts
import details
import family
import tables
import ui

view = family.start(
    "continual",
    "Experiences arrive one after another. R[i][j] = accuracy on experience j after "
    "training on experience i (T experiences). acc = mean_j R[T][j]; forgetting (lower is better) "
    "= mean over j < T of (max_{j≤i<T} R[i][j] − R[T][j]), Chaudhry et al.'s max-based definition "
    "(Avalanche's uses R[j][j], which makes it −bwt); bwt = mean_{j<T} (R[T][j] − R[j][j]); "
    "fwt = mean_{j>1} (R[j−1][j] − b_j), b_j the untrained model's accuracy. ERM is plain "
    "sequential fine-tuning.",
)
family.leaderboards(view)
family.cost_view(view)

st.header("Accuracy matrix")
left, right = st.columns(2)
task = left.selectbox("Task", view.tasks, key="cl_matrix_task", bind="query-params")
values = ui.detail(view.rs, view.family, task, "acc_matrix")
present = set(values["method"])
methods = [m for m in view.methods if m in present]
if not methods:
    st.info("No accuracy matrices for this task (the details file is missing or has none).")
else:
    default = next((m for m in methods if m != tables.BASELINE), methods[0])
    method = right.selectbox(
        "Method", methods, index=methods.index(default), key="cl_matrix_method", bind="query-params"
    )
    shown = [method] + ([tables.BASELINE] if tables.BASELINE in methods and method != tables.BASELINE else [])
    for col, name in zip(st.columns(len(shown)), shown, strict=True):
        with col:
            ui.chart(
                charts.heatmap(
                    details.matrix(values, name),
                    "evaluated_on",
                    "trained_on",
                    "accuracy",
                    fmt=".2f",
                    title=f"{name}: R[i][j], mean over seeds",
                )
            )
    st.caption(
        "Rows: after training experience i; columns: evaluated on experience j. Below the diagonal is "
        "memory of past experiences, above it transfer to unseen ones."
    )

st.header("Forgetting and transfer")
wanted = ["acc", "forgetting", "bwt", "fwt"]
rows = view.board[
    view.board["metric"].isin(wanted)
    & (view.board["domain"] == "")
    & (view.board["task"] == task)
    & view.board["method"].isin(view.methods)
]
if rows.empty:
    st.info("No forgetting or transfer metrics for this task.")
else:
    wide = rows.pivot_table(index="method", columns="metric", values="mean", aggfunc="first")
    wide = wide[[m for m in wanted if m in wide]].sort_values(wide.columns[0], ascending=False)
    st.dataframe(
        wide.reset_index(),
        hide_index=True,
        column_config={m: st.column_config.NumberColumn(format="%.4f") for m in wanted},
    )
    st.caption(f"{task}, mean over seeds. Lower forgetting and higher bwt mean less is lost.")
