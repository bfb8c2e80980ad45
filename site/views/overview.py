"""Overview: the method × family matrix of pooled effects against ERM, the top methods per family, and
where the numbers come from."""

import pandas as pd
import streamlit as st

import data
import effect_charts
import tables
import ui
import verdicts

st.title("Does it make the network more robust?")
st.caption(
    "Every method is compared with ERM (plain cross-entropy: same model, data, optimizer and budget) "
    "under four kinds of trouble. A method counts as better only when the test against ERM says so."
)
rs = ui.current()
ui.need(rs, "leaderboard")
board = ui.board(rs)
runs = rs.get("runs")

row = st.container(horizontal=True, gap="large")  # wraps on a phone instead of stacking five blocks


def count(label: str, value) -> None:
    row.metric(label, value, width=130)


count("Methods", board["method"].nunique())
count("Tasks", board["task"].nunique())
count("Families", board["family"].nunique())
if runs is not None and len(runs):

    def summary() -> tuple[int, int, dict]:
        per_run = runs.drop_duplicates(["task", "method", "seed", "hparam_draw"])
        seen = {c: ", ".join(sorted(v for v in runs[c].unique() if v)) for c in ("protocol_version", "device")}
        seen["git_rev"] = ", ".join(r[:12] for r in data.revision(rs))
        return len(per_run), int((per_run["status"] != "ok").sum()), seen

    n_runs, n_failed, seen = rs.derived("overview", summary)
    count("Runs", f"{n_runs:,}")
    count("Failed runs", n_failed)
    st.caption(
        f"Results {ui.written(rs)} from revision {seen['git_rev'] or 'unknown'} · protocol "
        f"{seen['protocol_version'] or '—'} · device {seen['device'] or '—'} · `{rs.path}`"
    )
else:
    count("Runs", "—")
    st.caption(rs.problems.get("runs", "No runs table: provenance unknown."))

profile = ui.profile(rs)
if profile.empty:
    st.info("No profile can be drawn: the leaderboard has no headline rows.")
    st.stop()
families = [f for f in tables.FAMILIES if f in set(profile["family"])]
families += sorted(set(profile["family"]) - set(families))
labels = {f: tables.label(f) for f in families}
shown = profile.assign(
    family=profile["family"].map(labels),
    method=profile["method"].replace({verdicts.BASELINE: effect_charts.ERM_LABEL}),
)
bound = effect_charts.robust_bound(profile["effect"])
adjusted = bool(profile["adjusted"].any())


def ranking(part: pd.DataFrame) -> list[str]:
    """Methods by how many families they beat ERM in, then loses, then mean effect over what they cover."""
    score = part.groupby("method").agg(
        wins=("verdict", lambda v: (v == "better").sum()),
        losses=("verdict", lambda v: (v == "worse").sum()),
        effect=("effect", "mean"),
    )
    return list(score.sort_values(["wins", "losses", "effect"], ascending=[False, True, False]).index)


st.header("Pooled effect against ERM, per family")
general = shown[~shown["family_only"]]
methods = ranking(general)
methods = [effect_charts.ERM_LABEL] + [m for m in methods if m != effect_charts.ERM_LABEL]
if len(methods) > 30 and not st.toggle(f"Show all {len(methods)} methods", key="overview_all", bind="query-params"):
    methods = tables.shortlist(methods)
ui.chart(effect_charts.effect_matrix(general[general["method"].isin(methods)], methods, list(labels.values()), bound))
st.caption(
    "Methods that run in several families. Cell = pooled effect: gain over ERM relative to ERM's score on the "
    "family's primary metric (positive = more robust; lower-is-better metrics sign-flipped), pooled over the "
    f"family's tasks. ▲ / ▼: better / worse than ERM ({'Holm-adjusted' if adjusted else 'unadjusted: CI vs 0'}); "
    "no mark: not separable. Rows: most families won first. "
    f"Colours end at ±{bound:.0%} (90th percentile of |effect|) so one large effect does not pale the rest; "
    "cells beyond it take the end colour."
)
special = shown[shown["family_only"]]
if len(special):
    st.subheader("Family-specific methods")
    order = list(special.sort_values(["family", "effect"], ascending=[True, False])["method"])
    in_families = [f for f in labels.values() if f in set(special["family"])]
    ui.chart(effect_charts.effect_matrix(special, order, in_families, bound))
    st.caption(
        "Methods made for one family (e.g. replay for continual learning), compared with ERM there only: "
        "never mixed into a ranking with general methods."
    )

st.header("Top methods per family")
st.caption(
    "Sorted by verdict (better than ERM first), then pooled effect. ERM itself is the reference. Per task: on how "
    "many of its tasks (/ all of them) the per-task test finds the method better (▲) or worse (▼) than ERM."
)
names = [f for f in families if f in tables.FAMILIES] or families
cols = st.columns(min(2, max(1, len(names))))  # two per row: room for the effect and its CI
for i, family in enumerate(names):
    part = profile[(profile["family"] == family) & profile["effect"].notna()]
    part = part[part["method"] != verdicts.BASELINE]
    top = part.assign(first=part["verdict"] != "better").sort_values(["first", "effect"], ascending=[True, False])
    with cols[i % len(cols)]:
        st.subheader(tables.label(family))
        st.dataframe(
            pd.DataFrame(
                {
                    "vs ERM": top["verdict"].map(verdicts.label),
                    "method": top["method"] + top["family_only"].map({True: " (family-specific)", False: ""}),
                    "effect": top["effect"],
                    "95% CI": [
                        "—" if pd.isna(lo) else f"[{lo:+.1%}, {hi:+.1%}]"
                        for lo, hi in zip(top["lo"], top["hi"], strict=True)
                    ],
                    "per task": [
                        "—" if pd.isna(b) else f"▲{b:.0f} ▼{w:.0f} /{n:.0f}"
                        for b, w, n in zip(top["tasks_better"], top["tasks_worse"], top["n_tasks"], strict=True)
                    ],
                }
            ).head(5),
            hide_index=True,
            column_config={"effect": st.column_config.NumberColumn(format="percent")},
        )
