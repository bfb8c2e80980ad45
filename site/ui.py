"""Streamlit pieces shared by the pages: the chosen result set, its problems, common widgets."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import data
import details
import profiles
import tables
import verdicts

KEY = "results_set"


def current() -> data.ResultSet:
    sets = data.result_sets()
    label = st.session_state.get(KEY)
    return data.load(sets.get(label) or next(iter(sets.values())))


def sidebar() -> None:
    """The results switch (when there is more than one set) and where the shown numbers come from."""
    sets = data.result_sets()
    if len(sets) > 1:
        if st.session_state.get(KEY) not in sets:
            st.session_state.pop(KEY, None)
        st.sidebar.selectbox(
            "Results set",
            list(sets),
            key=KEY,
            help="`results/` holds the embedded CPU runs; other sets sit inside it (`results/full/`: "
            f"real-data GPU runs) or beside it (`results-<profile>/`). ${data.ENV} names another directory.",
        )
    rs = current()
    st.sidebar.caption(rs.derived("sidebar", lambda: _provenance(rs)))


def _provenance(rs: data.ResultSet) -> str:
    runs = rs.get("runs")
    lines = [f"Results: `{rs.path}`"]
    if runs is not None and len(runs):
        revs = data.revision(rs)
        names = sorted(p for p in runs["profile"].unique() if p)
        lines.append(f"{len(runs):,} run rows · profile {', '.join(names) or '—'}")
        lines.append(
            f"revision {', '.join(r[:10] for r in revs[:3]) or 'unknown'}"
            + (f" (+{len(revs) - 3} more)" if len(revs) > 3 else "")
        )
    lines.append(written(rs))
    return "  \n".join(lines)


def written(rs: data.ResultSet) -> str:
    if rs.written is None:
        return "written: unknown (no metadata, not in a git commit)"
    return f"written {rs.written:%Y-%m-%d %H:%M} ({rs.written_from})"


def unusable(rs: data.ResultSet, name: str) -> str | None:
    """Why a file of the set cannot be shown, or None."""
    if name in rs.problems:
        return rs.problems[name]
    if rs.get(name) is None or rs.get(name).empty:
        return f"`{rs.path / (name + '.parquet')}` holds no rows yet. Produce results with `dvc repro`."
    return None


def need(rs: data.ResultSet, *names: str) -> None:
    """Stop the page with a clear message unless every named file was read and holds rows."""
    for name in names:
        why = unusable(rs, name)
        if why and name in rs.problems:
            st.error(f"**Cannot show this page:** {why}")
            st.stop()
        if why:
            st.info(why)
            st.stop()


def board(rs: data.ResultSet) -> pd.DataFrame:
    """The leaderboard with every statistics column (read or computed)."""
    return rs.derived("board", lambda: tables.with_stats(rs.get("leaderboard"), rs.get("runs")))


def profile(rs: data.ResultSet) -> pd.DataFrame:
    """Pooled effect per (method, family) with its verdict (profiles.view), once per results set."""
    return rs.derived("profile", lambda: profiles.view(rs.frames, board(rs), lambda f: headline(rs, f)))


def erm_tuned(rows: pd.DataFrame) -> bool:
    """Whether ERM's draw came out of a search (else the comparison is with ERM's defaults)."""
    rule = rows.loc[rows["method"] == tables.BASELINE, "selection_rule"]
    return bool(len(rule)) and not rule.str.startswith("defaults").all() and rule.ne("").any()


def headline(
    rs: data.ResultSet,
    family: str,
    metric: str | None = None,
    selection: str | None = None,
    scorer: str | None = None,
    domain: str | None = None,
) -> pd.DataFrame:
    """tables.headline on the full leaderboard, computed once per results set and arguments."""
    key = ("headline", family, metric, selection, scorer, domain)
    return rs.derived(
        key, lambda: tables.headline(board(rs), family, rs.get("runs"), metric, selection, scorer, domain)
    )


def detail(rs: data.ResultSet, family: str, task: str, name: str, prefix: bool = False) -> pd.DataFrame:
    """Decoded run details of one task (JSON parsed once per results set)."""
    return rs.derived(
        ("detail", family, task, name, prefix),
        lambda: details.detail(rs.get("details"), family, task, name, prefix),
    )


def chart(spec, width="stretch") -> None:
    """Draw an Altair chart. Its Vega-Lite schema validation is skipped here (the tests validate every
    chart builder); it would cost more than building the chart."""
    st.vega_lite_chart(spec=spec.to_dict(validate=False), width=width)


def note_verdicts(rows: pd.DataFrame) -> None:
    note = verdicts.adjusted_note(rows)
    if rows["gain_ci_low"].isna().all():
        note = "This results set has no paired gain CIs (an older aggregation), so no verdicts."
    st.caption(note + " ERM's row is highlighted; cost ×ERM = wall time per run over ERM's on the task.")


def leaderboard_table(rows: pd.DataFrame) -> None:
    """The ranked table of one task: verdict first, ERM highlighted."""
    st.dataframe(  # every row, so ERM is always in view
        tables.highlight_erm(tables.display(rows)), hide_index=True, column_config=fmt_columns(), height="content"
    )


def multiselect_all(label: str, options: list, key: str, help: str | None = None) -> list:
    """A multiselect where an empty choice means 'all'."""
    chosen = st.multiselect(label, options, key=key, placeholder="all", help=help, bind="query-params")
    return chosen or list(options)


def fmt_columns() -> dict:
    return {
        "vs ERM": st.column_config.TextColumn(
            help="better / worse than ERM, or not separable from it (see the note above the tables)"
        ),
        "near best": st.column_config.TextColumn(help="not separable from the task's best method"),
        "cost ×ERM": st.column_config.NumberColumn(help="wall time per run / ERM's on the same task"),
        "p (Holm)": st.column_config.TextColumn(help="paired test against ERM, Holm-adjusted"),
    }
