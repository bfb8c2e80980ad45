"""Noisy labels: leaderboards per task, training curves (memorization), the oracle reported apart."""

import pandas as pd
import streamlit as st

import charts
import details
import family
import tables
import ui

view = family.start(
    "noisy_labels",
    "A share of the training and validation labels is wrong; the test set is clean. "
    "test_acc is clean test accuracy at the epoch with the best *noisy*-validation accuracy — what a "
    "practitioner without clean labels can select. memorization (lower is better) is the share of "
    "corrupted training samples the final model predicts as their wrong label.",
)
family.leaderboards(view)
family.cost_view(view)

st.header("Memorization over training")
st.caption(
    "Mean over seeds. A clean-test curve that rises then falls while training continues is the network "
    "starting to fit the wrong labels; methods that resist noise keep it flat."
)
task_col, kind_col = st.columns(2)
task = task_col.selectbox("Task", view.tasks, key="noisy_curve_task", bind="query-params")
kind = kind_col.radio(
    "Curves", ["accuracy", "training loss"], horizontal=True, key="noisy_curve_kind", bind="query-params"
)
curves = view.rs.derived(("curves", task), lambda: details.curves(ui.detail(view.rs, view.family, task, "curves")))
ranked = ui.headline(view.rs, view.family)
ranked = ranked[(ranked["task"] == task) & ranked["method"].isin(view.methods)].sort_values(["rank", "method"])
drawn = tables.shortlist(list(ranked["method"]), 8) if len(view.methods) > 8 else view.methods
curves = curves[curves["method"].isin(drawn)]
wanted = ["train_loss"] if kind == "training loss" else ["val_acc", "test_acc"]
curves = curves[curves["curve"].isin(wanted)].replace(
    {"curve": {"val_acc": "noisy validation", "test_acc": "clean test"}}
)
if curves.empty:
    st.info("No per-epoch curves for this task (the details file is missing or has none).")
else:
    ui.chart(
        charts.lines(
            curves,
            "epoch",
            "value",
            "method",
            dash="curve" if kind == "accuracy" else None,
            y_title="accuracy" if kind == "accuracy" else "training loss",
        )
    )
    if len(drawn) < len(view.methods):
        st.caption("Drawn: the 8 best methods on this task and ERM; choose methods above to draw others.")

st.header("Oracle selection, reported apart")
st.caption(
    "oracle_test_acc picks the epoch with the best *clean test* accuracy: it reads test labels, so it is "
    "never ranked. The gap to test_acc is what a test-peeking protocol would add."
)
board = view.board[view.board["method"].isin(view.methods) & view.board["task"].isin(view.tasks)]
oracle = board[board["metric"] == "oracle_test_acc"][["task", "method", "mean"]]
selected = ui.headline(view.rs, view.family, "test_acc")[["task", "method", "mean"]]
selected = selected[selected["method"].isin(view.methods) & selected["task"].isin(view.tasks)]
both = selected.merge(oracle, on=["task", "method"], suffixes=("_selected", "_oracle"))
if both.empty:
    st.info("No oracle rows in this results set.")
else:
    st.dataframe(
        pd.DataFrame(
            {
                "task": both["task"],
                "method": both["method"],
                "test_acc (noisy val)": both["mean_selected"],
                "oracle_test_acc": both["mean_oracle"],
                "gap": both["mean_oracle"] - both["mean_selected"],
            }
        ),
        hide_index=True,
        column_config={
            c: st.column_config.NumberColumn(format="%.4f") for c in ("test_acc (noisy val)", "oracle_test_acc", "gap")
        },
    )
