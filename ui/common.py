"""Small page helpers: error guard, flash messages, the current profile."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator

import streamlit as st

from pantry.errors import PantryError

log = logging.getLogger("pantrypilot.app")


@contextmanager
def guarded(what: str) -> Iterator[None]:
    """Show a failure inside the block as a message in the page, never a traceback.

    Streamlit's own control flow (st.rerun, st.stop) passes through: those are
    BaseExceptions, not Exceptions.
    """
    try:
        yield
    except PantryError as e:
        st.error(f"{what}: {e}", icon=":material/error:")
    except Exception as e:  # noqa: BLE001 - the page must stay usable
        log.exception("%s failed", what)
        st.error(f"{what} failed unexpectedly ({type(e).__name__}: {e}). Nothing that was saved is lost; "
                 "try again, and if it keeps happening, report it with the app's log.",
                 icon=":material/error:")


def flash(kind: str, message: str) -> None:
    """Queue a message for the next run (callbacks cannot draw in place)."""
    st.session_state.setdefault("_flash", []).append((kind, message))


def show_flashes() -> None:
    for kind, message in st.session_state.pop("_flash", []):
        getattr(st, kind)(message)


APP_FLAG = "_inside_app"


def require_app() -> None:
    """Pages run inside app.py (sidebar, navigation). A page file opened directly by its
    file name (Streamlit's automatic pages/ listing) is sent to the app instead."""
    if not st.session_state.get(APP_FLAG):
        st.switch_page("app.py")


def current_profile() -> str | None:
    return st.session_state.get("profile")
