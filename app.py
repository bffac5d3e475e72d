"""PantryPilot: the Streamlit entry point (`streamlit run app.py`).

A thin UI over the `pantry` library: `st.navigation` over the pages in `pages/`, and a
sidebar (profile, generator, reward model) drawn on every page. Heavy objects live in
`ui.resources` (one per process); per-user state in `st.session_state`.
"""

from pathlib import Path

import streamlit as st

from ui.common import APP_FLAG, guarded, show_flashes

# The favicon is a file shipped with the app (an emoji or icon name would be fetched from a
# CDN, which fails offline).
st.set_page_config(page_title="PantryPilot", page_icon=str(Path(__file__).parent / "ui" / "icon.png"),
                   layout="wide")

pages = [
    st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:", default=True, url_path="vote"),
    st.Page("pages/diagnostics.py", title="Scores & diagnostics", icon=":material/monitoring:", url_path="scores"),
    st.Page("pages/retrain.py", title="Retrain", icon=":material/model_training:", url_path="training"),
    st.Page("pages/data.py", title="Data", icon=":material/database:", url_path="votes"),
]
# url paths differ from the file names on purpose: Streamlit also registers every file in
# pages/ under its own name (multipage v1); distinct paths keep requests on these pages.
page = st.navigation(pages)

with guarded("The sidebar"):
    from ui.sidebar import render_sidebar

    render_sidebar()

show_flashes()
st.session_state[APP_FLAG] = True
try:
    with guarded(f"The {page.title} page"):
        page.run()
finally:
    st.session_state.pop(APP_FLAG, None)
