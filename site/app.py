"""The leaderboard site: `streamlit run site/app.py`. Reads parquet files only; imports no torch."""

import streamlit as st

import ui

st.set_page_config(page_title="Robustness benchmark", page_icon="🛡️", layout="wide")

PAGES = {
    "": [st.Page("views/overview.py", title="Overview", icon=":material/home:", default=True)],
    "Families": [
        st.Page("views/noisy_labels.py", title="Noisy labels", icon=":material/label_off:"),
        st.Page("views/domain_generalization.py", title="Domain generalization", icon=":material/public:"),
        st.Page("views/continual.py", title="Continual learning", icon=":material/repeat:"),
        st.Page("views/ood.py", title="OOD detection", icon=":material/door_open:"),
    ],
    "Methods": [
        st.Page("views/method.py", title="Method", icon=":material/science:"),
        st.Page("views/compare.py", title="Compare", icon=":material/compare_arrows:"),
    ],
    "Data": [
        st.Page("views/runs.py", title="Runs explorer", icon=":material/table_view:"),
        st.Page("views/about.py", title="About", icon=":material/menu_book:"),
    ],
}

page = st.navigation(PAGES)
try:
    ui.sidebar()
    page.run()
except Exception as exc:  # a page must never show a traceback; Streamlit's own stop/rerun are not Exceptions
    st.error(
        f"**This page could not be drawn from these results** ({type(exc).__name__}: {exc}). "
        "The files may not match what the site expects; the other pages may still work."
    )
