"""The sidebar on every page: profile picker, new profile, generator and model status."""

from __future__ import annotations

import streamlit as st

from pantry.errors import PantryError
from pantry.domain.votes import validate_user_name
from ui.common import esc, flash, resolve_profile, set_profile
from ui.resources import generator_choice, get_lab, refresh_generator


def select_profile(name: str) -> None:
    """Make `name` the session's profile (call from a widget callback, before the picker is drawn)."""
    set_profile(name)


def _picked() -> None:
    set_profile(st.session_state.get("profile_pick"))


def _create_profile() -> None:
    raw = st.session_state.get("new_profile_name", "")
    try:
        name = validate_user_name(raw)
        get_lab().store.ensure_user(name)
    except PantryError as e:
        st.session_state["_profile_error"] = f"Cannot create that profile: {e}"
        return
    select_profile(name)
    st.session_state["new_profile_name"] = ""
    flash("success", f"Profile '{esc(name)}' created. Welcome!")


def profile_picker() -> str | None:
    """The session's profile (from the URL or this session), with a picker that never
    chooses for the user: with none chosen it shows a placeholder."""
    users = get_lab().store.list_users()
    profile = resolve_profile(users)
    if profile is None:
        st.session_state.pop("profile_pick", None)  # placeholder, not the first name in the list
    elif st.session_state.get("profile_pick") != profile:
        st.session_state["profile_pick"] = profile
    if users:
        st.selectbox("Profile", users, index=None, key="profile_pick", on_change=_picked,
                     placeholder="Choose your profile",
                     help="Votes, pantry and the personal model belong to a profile. The profile is kept "
                          "in the page address, so a reload or a bookmark comes back to it.")
    else:
        st.info("No profile yet: create one to start.", icon=":material/person_add:")
    problem = st.session_state.pop("_profile_problem", None)
    if problem:
        st.warning(problem, icon=":material/person_search:")
    with st.expander("New profile", expanded=not users, icon=":material/person_add:"):
        st.text_input("Name", key="new_profile_name", max_chars=40, placeholder="e.g. ana",
                      help="1-40 characters: letters, digits, spaces, '-', '_' and '.'")
        st.button("Create profile", on_click=_create_profile, key="create_profile", type="primary" if not users else "secondary")
        err = st.session_state.pop("_profile_error", None)
        if err:
            st.error(esc(err))
    return profile


def generator_status() -> None:
    choice, error = generator_choice()
    st.markdown("**Recipe generator**")
    if choice is None:
        st.error(f"Ollama unavailable: {esc(error)}", icon=":material/cloud_off:")
    elif choice.backend == "ollama":
        st.success(f"Ollama up: {esc(choice.name.split(':', 1)[1])}", icon=":material/smart_toy:")
        st.caption(esc(choice.reason))
    else:
        status = choice.ollama
        if status is None:
            st.info("Offline composer", icon=":material/menu_book:")
        elif status.reachable and not status.has_model:
            st.warning("Offline composer: Ollama model missing", icon=":material/download:")
        else:
            st.info("Offline composer: Ollama down", icon=":material/cloud_off:")
        st.caption(esc(choice.reason))
    st.button("Check again", key="recheck_generator", on_click=refresh_generator, type="tertiary",
              icon=":material/refresh:")


def model_status(user: str | None) -> None:
    """Which model ranks recipes, without loading the embedder (the sidebar must be fast)."""
    store = get_lab().store
    st.markdown("**Reward model**")
    personal = store.active_model(user) if user else None
    population = store.active_model(None)
    if personal is not None:
        m = personal.metrics
        acc, low, high = m.get("cv_accuracy"), m.get("cv_low"), m.get("cv_high")
        extra = ""
        if isinstance(acc, (int, float)):  # the same cross-validated figure the Retrain page shows
            extra = f", held-out accuracy {acc:.0%}"
            if isinstance(low, (int, float)) and isinstance(high, (int, float)):
                extra += f" ({low:.0%}-{high:.0%})"
        st.success(f"Personal v{personal.id}", icon=":material/person:")
        st.caption(f"trained on {personal.metrics.get('n_decisive', '?')} of {esc(user)}'s decisive votes{extra}")
    elif population is not None:
        st.info(f"Population v{population.id}", icon=":material/groups:")
        st.caption("trained on everyone's votes; no personal model for this profile yet")
    else:
        st.info("Heuristic", icon=":material/rule:")
        st.caption("no trained model yet: ranking by pantry coverage and time")


def render_sidebar() -> str | None:
    with st.sidebar:
        user = profile_picker()
        st.divider()
        generator_status()
        model_status(user)
    return user
