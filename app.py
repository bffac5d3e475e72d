"""PantryPilot: the Streamlit entry point (`streamlit run app.py`).

A thin UI over the `pantry` library: `st.navigation` over the pages in `pages/`, and a
sidebar (profile, generator, reward model) drawn on every page. Heavy objects live in
`ui.resources` (one per process); per-user state in `st.session_state`.

Compare is the default page, at /. The other pages' addresses (/scores, /training, /votes) differ from the page files' names on
purpose. A `pages/` folder next to app.py puts Streamlit in its automatic multipage mode
(a page per file, addressed by its file name) until some session runs `st.navigation`;
that is every AppTest run and a fresh server's first requests. A file-name address would
then run that file bare (no sidebar, no profile); these addresses match no file, so
Streamlit runs app.py, whose `st.navigation` takes over. Once it has, a page file's own
address (/diagnostics) is an unknown page and lands on the app's default page.
"""

from pathlib import Path

import streamlit as st

from pantry.settings import SettingsError
from ui.common import esc, guarded, show_flashes
from ui.resources import settings

# The favicon is a file shipped with the app (an emoji or icon name would be fetched from a
# CDN, which fails offline).
st.set_page_config(page_title="PantryPilot", page_icon=str(Path(__file__).parent / "ui" / "icon.png"),
                   layout="wide")

page = st.navigation([
    st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:", default=True,
            url_path="vote"),  # served at /; the name keeps AppTest from running pages/compare.py bare
    st.Page("pages/diagnostics.py", title="Scores & diagnostics", icon=":material/monitoring:", url_path="scores"),
    st.Page("pages/retrain.py", title="Retrain", icon=":material/model_training:", url_path="training"),
    st.Page("pages/data.py", title="Data", icon=":material/database:", url_path="votes"),
])

try:  # a bad environment variable stops here with one message, before any page runs
    settings()
except SettingsError as e:
    st.error(f"PantryPilot cannot start: {esc(e)}. Fix the variable and restart the app.", icon=":material/error:")
    st.stop()

with guarded("The sidebar"):
    from ui.sidebar import render_sidebar

    render_sidebar()

show_flashes()
with guarded(f"The {page.title} page"):
    page.run()
