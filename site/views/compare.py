"""Compare: two or more methods side by side on every task, with paired differences and their CIs."""

import pandas as pd
import streamlit as st

import charts
import tables
import ui

st.title("Compare methods")
st.caption(
    "Differences are paired: each seed of a task trains both methods on the same split and noise, so "
    "the difference per seed removes the seed's luck. Shown: mean difference over seeds with a 95% "
    "Student-t interval, on each family's primary metric (sign-flipped where lower is better)."
)
rs = ui.current()
ui.need(rs, "leaderboard", "runs")
board, runs = ui.board(rs), rs.get("runs")
methods = sorted(board["method"].unique(), key=lambda m: (m != tables.BASELINE, m))
profile = ui.profile(rs)
# default: ERM against the method with the widest coverage, best mean pooled effect among those
coverage = board.groupby("method")["task"].nunique().drop(tables.BASELINE, errors="ignore")
overall = profile.groupby("method")["effect"].mean()
ranked = sorted(coverage.index, key=lambda m: (-coverage[m], -overall.get(m, float("-inf"))))
default = [methods[0]] + ranked[:1]
chosen = st.multiselect(
    "Methods (the first is the reference)", methods, default=default, key="cmp_methods", bind="query-params"
)
families = st.multiselect(
    "Families",
    list(dict.fromkeys(board["family"])),
    format_func=tables.label,
    key="cmp_families",
    placeholder="all",
    bind="query-params",
)
if len(chosen) < 2:
    st.info("Choose two or more methods.")
    st.stop()
reference, others = chosen[0], chosen[1:]

heads = []
for family in families or board["family"].unique():
    heads.append(ui.headline(rs, family))
head = pd.concat(heads)
head = head[head["method"].isin(chosen)]

st.header("Side by side")
if head.empty:
    st.info("None of these methods has results in the chosen families.")
    st.stop()
side = head.assign(
    cell=[
        f"{tables.pm(m, s)}  (#{r:.0f})" if pd.notna(r) else tables.pm(m, s)
        for m, s, r in zip(head["mean"], head["std"], head["rank"], strict=True)
    ]
)
wide = side.pivot_table(index=["family", "task", "metric"], columns="method", values="cell", aggfunc="first")
wide = wide[[m for m in chosen if m in wide]].fillna("—").reset_index()
st.dataframe(wide.assign(family=wide["family"].map(tables.label)), hide_index=True)
st.caption("mean ± std over seeds, (#rank) among all methods on the task.")

st.header(f"Paired differences against {reference}")
spot = ["task", "metric", "selection", "scorer", "domain"]
keys = head[head["mean"].notna()][[*spot, "higher_is_better"]].drop_duplicates(["task"])
picked = tables.selected_runs(runs[runs["method"].isin(chosen)], board).merge(keys, on=spot)
picked = picked.assign(signed=picked["value"].where(picked["higher_is_better"], -picked["value"]))
diffs = tables.paired(picked, reference, others)
if reference == tables.BASELINE and len(diffs):  # against ERM, the leaderboard's (adjusted) verdict holds
    given = head[["task", "method", "verdict", "adjusted"]].drop_duplicates(["task", "method"])
    diffs = diffs.merge(given.rename(columns={"verdict": "leaderboard"}), on=["task", "method"], how="left")
    if diffs["adjusted"].fillna(False).any():
        diffs["verdict"] = diffs["leaderboard"].where(diffs["leaderboard"].fillna("") != "", diffs["verdict"])
    adjusted = bool(diffs["adjusted"].fillna(False).any())
    diffs = diffs.drop(columns=["leaderboard", "adjusted"])
else:
    adjusted = False
if diffs.empty:
    st.info("No seeds shared by these methods: nothing to pair.")
    st.stop()
for method in others:
    part = diffs[diffs["method"] == method]
    if part.empty:
        st.info(f"{method} and {reference} share no seeds.")
        continue
    verdicts = part["verdict"].value_counts()
    st.subheader(f"{method} − {reference}")
    how = "Holm-adjusted, from the leaderboard" if adjusted else "unadjusted: paired 95% CI against 0"
    st.caption(
        f"better on {verdicts.get('better', 0)}, worse on {verdicts.get('worse', 0)}, not separable on "
        f"{verdicts.get('not separable', 0)} of {len(part)} tasks ({how})"
    )
    ui.chart(charts.differences(part))
st.dataframe(
    diffs.assign(family=diffs["family"].map(tables.label)),
    hide_index=True,
    column_config={c: st.column_config.NumberColumn(format="%+.4f") for c in ("diff", "ci_low", "ci_high")},
)
