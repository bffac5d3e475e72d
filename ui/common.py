"""Small page helpers: error guard, flash messages, the session's profile.

The profile belongs to one browser session and is mirrored in the URL (`?profile=ana`), so
a reload, a bookmark or a direct link comes back to the same person; with no profile in
the URL the app asks (welcome screen) and never picks someone else.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator

import streamlit as st

from pantry.errors import PantryError
from pantry.domain.votes import validate_user_name
from ui.text import md

log = logging.getLogger("pantrypilot.app")
PROFILE_PARAM = "profile"


@contextmanager
def guarded(what: str) -> Iterator[None]:
    """Show a failure inside the block as a message in the page, never a traceback.

    Streamlit's own control flow (st.rerun, st.stop) passes through: those are
    BaseExceptions, not Exceptions.
    """
    try:
        yield
    except PantryError as e:
        st.error(f"{what}: {md(e)}", icon=":material/error:")
    except Exception as e:  # noqa: BLE001 - the page must stay usable
        log.exception("%s failed", what)
        st.error(f"{what} failed unexpectedly ({type(e).__name__}: {md(e)}). Nothing that was saved is lost; "
                 "try again, and if it keeps happening, report it with the app's log.",
                 icon=":material/error:")


def flash(kind: str, message: str) -> None:
    """Queue a message for the next run (callbacks cannot draw in place)."""
    st.session_state.setdefault("_flash", []).append((kind, message))


def show_flashes() -> None:
    for kind, message in st.session_state.pop("_flash", []):
        getattr(st, kind)(message)


def current_profile() -> str | None:
    return st.session_state.get("profile")


def set_profile(name: str | None) -> None:
    """Make `name` this session's profile and put it in the URL (None: no profile)."""
    st.session_state["profile"] = name
    st.session_state["profile_pick"] = name
    if name:
        st.query_params[PROFILE_PARAM] = name
    else:
        st.query_params.pop(PROFILE_PARAM, None)


def resolve_profile(users: list[str]) -> str | None:
    """This session's profile: the URL's `?profile=` if it names an existing profile, else
    the one this session already chose (put back into the URL: page links drop it), else
    None. A profile named in the URL that does not exist is reported, never replaced by
    another person's."""
    wanted = st.query_params.get(PROFILE_PARAM)
    if wanted:
        try:
            name = validate_user_name(wanted)
        except PantryError as e:
            st.session_state["_profile_problem"] = f"The link names an invalid profile: {md(e)}."
            name = None
        if name is not None and name not in users:  # "WALKER" is walker: the store's own lookup
            from ui.resources import get_lab

            name = get_lab().store.find_user(name) or name
            if name in users:
                st.query_params[PROFILE_PARAM] = name
        if name is not None and name in users:
            if st.session_state.get("profile") != name:
                st.session_state["profile"] = name
                st.session_state["profile_pick"] = name
            return name
        if name is not None:
            st.session_state["_profile_problem"] = (f"There is no profile named '{md(name)}' here. Choose yours or "
                                                    "create it.")
        st.query_params.pop(PROFILE_PARAM, None)
        set_profile(None)
        return None
    name = st.session_state.get("profile")
    if name in users:
        st.query_params[PROFILE_PARAM] = name
        return name
    if name is not None:
        set_profile(None)
    return None

