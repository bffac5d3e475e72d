"""PantryPilot: the Streamlit entry point (`streamlit run app.py`).

A thin UI over the `pantry` library: `st.navigation` over the pages in `pages/`, and a
sidebar (profile, generator, reward model) drawn on every page. Heavy objects live in
`ui.resources` (one per process); per-user state in `st.session_state`.

Each page's URL is Streamlit's default for its file (`pages/diagnostics.py` ->
`/diagnostics`), so a page file's own address opens that page inside this frame. Calling
`st.navigation` switches Streamlit off its automatic `pages/` listing for every session
(see the `st.navigation` docs); `tests/test_browser.py` opens a page's address directly.
"""

from pathlib import Path

import streamlit as st

from ui.common import guarded, show_flashes

# The favicon is a file shipped with the app (an emoji or icon name would be fetched from a
# CDN, which fails offline).
st.set_page_config(page_title="PantryPilot", page_icon=str(Path(__file__).parent / "ui" / "icon.png"),
                   layout="wide")

page = st.navigation([
    st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:", default=True),
    st.Page("pages/diagnostics.py", title="Scores & diagnostics", icon=":material/monitoring:"),
    st.Page("pages/retrain.py", title="Retrain", icon=":material/model_training:"),
    st.Page("pages/data.py", title="Data", icon=":material/database:"),
])

with guarded("The sidebar"):
    from ui.sidebar import render_sidebar

    render_sidebar()

show_flashes()
with guarded(f"The {page.title} page"):
    page.run()
