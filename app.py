"""PantryPilot: the Streamlit entry point (`streamlit run app.py`).

A thin UI over the `pantry` library: `st.navigation` over the page files in `views/`, and a
sidebar (profile, generator, reward model) drawn on every page. Heavy objects live in
`ui.resources` (one per process); per-user state in `st.session_state`.

Compare is the default page, at /; the others are at /scores, /training and /votes. The page
files live in `views/`, not `pages/`: Streamlit auto-discovers a `pages/` folder next to the
entry point (its automatic multipage mode, a page per file addressed by its file name) until
some session runs `st.navigation`, so a fresh server's first deep link showed a spurious
"Page not found" dialog and a file-name address ran the page file bare (no sidebar, no
profile). With no `pages/` folder every address runs app.py, whose `st.navigation` decides.
A page file's own name (/diagnostics, /retrain, /data, /compare: the old `pages/`
addresses, maybe bookmarked) is a hidden page that opens the real page, keeping the profile.
"""

from pathlib import Path

import streamlit as st
from streamlit import config as st_config

from pantry.settings import SettingsError
from ui.text import md
from ui.common import guarded, show_flashes
from ui.resources import settings

# Streamlit runs a full `gc.collect(2)` after every script run (the hidden option
# runner.postScriptGC). With torch and the encoder in memory that walk takes 0.2-0.6 s on
# 2 cores: most of a vote's time and a third of a round's (measured, bench/compare_round.py).
# Python's own collector still runs as usual; a config file or flag that sets the option wins.
if not st_config.is_manually_set("runner.postScriptGC"):
    st_config.set_option("runner.postScriptGC", False)

# The favicon is a file shipped with the app (an emoji or icon name would be fetched from a
# CDN, which fails offline).
st.set_page_config(page_title="PantryPilot", page_icon=str(Path(__file__).parent / "ui" / "icon.png"),
                   layout="wide")

PAGES = {
    "compare": st.Page("views/compare.py", title="Compare", icon=":material/compare_arrows:", default=True,
                       url_path="vote"),  # served at /
    "diagnostics": st.Page("views/diagnostics.py", title="Scores & diagnostics", icon=":material/monitoring:",
                           url_path="scores"),
    "retrain": st.Page("views/retrain.py", title="Retrain", icon=":material/model_training:", url_path="training"),
    "data": st.Page("views/data.py", title="Data", icon=":material/database:", url_path="votes"),
    "household": st.Page("views/household.py", title="Household", icon=":material/groups:", url_path="group"),
}


def _moved(target: st.Page):
    """A hidden page at a page file's own name (/diagnostics, ...: the addresses of the old
    pages/ folder, maybe bookmarked) that opens the page's real address, keeping the profile."""
    def run() -> None:
        st.switch_page(target, query_params=dict(st.query_params))
    return run


OLD_ADDRESSES = [st.Page(_moved(target), title=f"{target.title} (old address)", url_path=name,
                         visibility="hidden") for name, target in PAGES.items()]
page = st.navigation([*PAGES.values(), *OLD_ADDRESSES])

try:  # a bad environment variable stops here with one message, before any page runs
    settings()
except SettingsError as e:
    st.error(f"PantryPilot cannot start: {md(e)}. Fix the variable and restart the app.", icon=":material/error:")
    st.stop()

with guarded("The sidebar"):
    from ui.sidebar import render_sidebar

    render_sidebar()

with st.container():  # always drawn, messages or not: what follows keeps its place on the page
    show_flashes()
with guarded(f"The {page.title} page"):
    page.run()
