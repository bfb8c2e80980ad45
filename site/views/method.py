"""Method: what it does and where it comes from, the hyperparameters chosen per task, its results and
verdicts on every task, its profile and its cost."""

import pandas as pd
import streamlit as st

import catalog
import charts
import tables
import ui
import verdicts

rs = ui.current()
ui.need(rs, "leaderboard")
board = ui.board(rs)
listing = rs.get("methods")
known = set(board["method"]) | (set(listing["method"]) if listing is not None else set())
methods = sorted(known, key=lambda m: (m != tables.BASELINE, m))
method = st.selectbox("Method", methods, key="method", bind="query-params")
st.title(method)

entry = None
if listing is not None:
    match = listing[listing["method"] == method]
    entry = match.iloc[0] if len(match) else None
if entry is None:
    reason = rs.problems.get("methods", "") if "methods" in rs.problems else "it has no entry for this method."
    st.info(
        "No method catalogue entry: description, paper and search space are unavailable "
        f"({reason.rstrip('.')}). Shown below: what the results hold."
    )
else:
    cite = catalog.citation(entry)
    families = entry.get("families")
    if isinstance(families, str):
        families = catalog.parse_json(families, [families]) if families.startswith("[") else families.split(",")
    families = [tables.label(str(f).strip()) for f in (families if families is not None else [])]
    title = f"[{cite['title']}]({cite['url']})" if cite["title"] and cite["url"] else cite["title"]
    where = ", ".join(x for x in (cite["authors"], cite["venue"], cite["year"]) if x)
    paper = f"{title} — {where}" if title else (cite["paper"] or "—")
    if not title and cite["url"]:
        paper += f" ([link]({cite['url']}))"
    facts = [f"**Paper:** {paper}", f"**Families:** {', '.join(families)}"]
    used, declared = catalog.uses(entry)
    flags = ", ".join(catalog.USES.get(u, u) for u in used) or "nothing beyond the training data and one network"
    facts.append(f"**Uses:** {flags}" + ("" if declared else " (read from its description)"))
    if entry.get("source_file"):
        facts.append(f"**Source:** `{entry['source_file']}`")
    st.markdown("  \n".join(facts))
    if cite["bibtex"]:
        with st.expander("BibTeX"):
            st.code(cite["bibtex"], language="bibtex")
    for kind, text in catalog.doc_blocks(entry.get("doc", "")):
        if kind == "formula":
            st.code(text, language=None)
        else:
            st.markdown(text)

headline = pd.concat([ui.headline(rs, f) for f in board["family"].unique()]) if len(board) else board
mine = headline[headline["method"] == method]

st.header("Hyperparameters")
spec = catalog.parse_json(entry.get("hparams") if entry is not None else "", {})
if spec:
    st.dataframe(catalog.hparam_spec(spec), hide_index=True)
chosen = catalog.chosen_table(
    {t: catalog.parse_json(h, {}) for t, h in zip(mine["task"], mine["hparams"], strict=True)},
    dict(zip(mine["task"], mine["selection_rule"], strict=True)),
    dict(zip(mine["task"], mine["hparam_draw"], strict=True)),
)
if chosen.empty:
    st.caption("No results, so no chosen hyperparameters.")
else:
    st.dataframe(chosen, hide_index=True)
    st.caption("Chosen per task: the draw kept and the rule that kept it (draw 0 = the defaults).")

st.header("Results on every task")
if mine.empty:
    st.info(f"No results for {method} in this results set.")
else:
    size = headline.groupby("task")["method"].nunique()
    pages = {f: f"/{f}" for f in tables.FAMILIES}
    st.dataframe(
        pd.DataFrame(
            {
                "vs ERM": mine["verdict"].map(verdicts.label),
                "family": mine["family"].map(tables.label),
                "task": [
                    f"{pages.get(f, '/')}?{f}_tasks={t}" for f, t in zip(mine["family"], mine["task"], strict=True)
                ],
                "metric": mine["metric"],
                "mean ± std": [tables.pm(m, s) for m, s in zip(mine["mean"], mine["std"], strict=True)],
                "gain vs ERM": mine["gain_vs_erm"],
                "gain 95% CI": [
                    tables.ci(lo, hi, sign="+")
                    for lo, hi in zip(mine["gain_ci_low"], mine["gain_ci_high"], strict=True)
                ],
                "rank": [
                    f"{r:.0f} / {size.get(t, 0)}" if pd.notna(r) else "—"
                    for r, t in zip(mine["rank"], mine["task"], strict=True)
                ],
                "cost ×ERM": mine["cost_x_erm"],
                "seeds": [tables.seeds(n, f) for n, f in zip(mine["n"], mine["n_failed"], strict=True)],
            }
        ),
        hide_index=True,
        column_config={
            "task": st.column_config.LinkColumn(display_text=r"_tasks=(.*)$", help="open the task's leaderboard"),
            "gain vs ERM": st.column_config.NumberColumn(format="%+.4f"),
            "cost ×ERM": st.column_config.NumberColumn(format="%.2f×"),
        },
    )
    st.caption(verdicts.adjusted_note(mine))

st.header("Robustness profile")
profile = ui.profile(rs)
own = profile[profile["method"] == method].assign(family=lambda p: p["family"].map(tables.label))
if own.empty or own["effect"].isna().all():
    st.info("No profile for this method.")
else:
    ui.chart(charts.gain_bars(own.rename(columns={"effect": "gain", "lo": "ci_low", "hi": "ci_high"})))
    st.caption("Pooled effect against ERM on each family's primary metric over its tasks; whiskers: 95% CI.")

st.header("Cost")
left, mid, right = st.columns(3)
cost = mine["cost_x_erm"].dropna()
left.metric("Cost ×ERM", f"{cost.mean():.2f}×" if len(cost) else "—", help="wall time per run / ERM's, mean over tasks")
seconds, params = mine["wall_seconds"], mine["parameters"]
mid.metric("Wall time per run", f"{seconds.mean():.2f} s" if seconds.notna().any() else "—")
right.metric("Parameters", f"{params.max():,.0f}" if params.notna().any() else "—")
extra = entry.get("extra_cost") if entry is not None else None
st.markdown(f"**Extra cost:** {extra or 'none declared'}")
