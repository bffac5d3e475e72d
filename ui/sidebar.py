"""The sidebar on every page: profile picker, new profile, generator and model status."""

from __future__ import annotations

import streamlit as st

from pantry.errors import PantryError
from pantry.domain.votes import validate_new_user_name
from pantry.model.kinds import ModelKind
from ui.text import md
from ui.common import flash, resolve_profile, set_profile
from ui.resources import generator_choice, get_lab, refresh_generator
from ui.state import profile_view
from ui.wording import consistency_note, model_problem_words


def select_profile(name: str) -> None:
    """Make `name` the session's profile (call from a widget callback, before the picker is drawn)."""
    set_profile(name)


def _picked() -> None:
    set_profile(st.session_state.get("profile_pick"))


def _create_profile() -> None:
    raw = st.session_state.get("new_profile_name", "")
    store = get_lab().store
    try:
        existing = store.find_user(raw)  # "Maria" when "maria" exists is that profile (case, NFKC)
        if existing is not None:
            st.session_state["_profile_offer"] = existing
            return
        name = get_lab().create_profile(validate_new_user_name(raw))
    except PantryError as e:
        st.session_state["_profile_error"] = f"Cannot create that profile: {e}"
        return
    select_profile(name)
    st.session_state["new_profile_name"] = ""
    flash("success", f"Profile '{md(name)}' created. Welcome!")


def _open_offered() -> None:
    name = st.session_state.pop("_profile_offer", None)
    if name:
        select_profile(name)
        st.session_state["new_profile_name"] = ""


def profile_picker() -> str | None:
    """The session's profile (from the URL or this session), with a picker that never
    chooses for the user: with none chosen it shows a placeholder."""
    users = list(profile_view(st.session_state.get("profile")).users)  # its stamp covers new profiles
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
        st.text_input("Name", key="new_profile_name", placeholder="e.g. ana",  # no max_chars: a longer paste is named, not dropped
                      help="1-40 characters: letters, digits, spaces, '-', '_' and '.' (not only dots; one alphabet)")
        st.button("Create profile", on_click=_create_profile, key="create_profile", type="primary" if not users else "secondary")
        err = st.session_state.pop("_profile_error", None)
        if err:
            st.error(md(err))
        offer = st.session_state.get("_profile_offer")
        if offer:
            st.info(f"A profile named '{md(offer)}' already exists (names ignore case).",
                    icon=":material/person_search:")
            st.button(f"Open {md(offer)}", key="open_existing_profile", on_click=_open_offered, type="primary")
    return profile


def generator_status() -> None:
    choice, error = generator_choice()
    st.markdown("**Recipe generator**")
    if choice is None:
        st.error(f"Ollama unavailable: {md(error)}", icon=":material/cloud_off:")
    elif choice.backend == "ollama":
        st.success(f"Ollama up: {md(choice.name.split(':', 1)[1])}", icon=":material/smart_toy:")
        st.caption(md(choice.reason))
    else:
        status = choice.ollama
        if status is None:
            st.info("Offline composer", icon=":material/menu_book:")
        elif status.reachable and not status.has_model:
            st.warning("Offline composer: Ollama model missing", icon=":material/download:")
        else:
            st.info("Offline composer: Ollama down", icon=":material/cloud_off:")
        st.caption(md(choice.reason))
    st.button("Check again", key="recheck_generator", on_click=refresh_generator, type="tertiary",
              icon=":material/refresh:")


def _accuracy(metrics: dict) -> str:
    """', held-out accuracy 81% (70%-90%)': the cross-validated figure the Retrain page shows."""
    acc, low, high = metrics.get("cv_accuracy"), metrics.get("cv_low"), metrics.get("cv_high")
    if not isinstance(acc, (int, float)):
        return ""
    text = f", held-out accuracy {acc:.0%}"
    if isinstance(low, (int, float)) and isinstance(high, (int, float)):
        text += f" ({low:.0%}-{high:.0%})"
    return text


def scoring_model(user: str | None):
    """`Lab.model_for(user)`, the model that really scores; None when no version is active at all
    (then it is the heuristic with nothing to report, and the embedder need not be loaded).
    Cached until the database changes (`ui.state.profile_view`)."""
    if user is None:
        lab = get_lab()
        return None if lab.store.active_model(None) is None else lab.model_for(None)
    return profile_view(user).scoring


def model_problem_text(choice) -> str:
    """The warning for a ModelChoice that fell back past unusable weights (escaped)."""
    return ("A saved model cannot be used, so the " + md(choice.label) + " model scores instead: "
            + "; ".join(md(model_problem_words(p)) for p in choice.problems))


def model_status(user: str | None) -> None:
    """The model that really scores recipes for this profile (`Lab.model_for`), with a warning
    naming any weights file that could not be used on the way there. Only that model's figures
    are shown. With no active version at all the embedder is not loaded (the sidebar must be fast)."""
    st.markdown("**Reward model**")
    choice = scoring_model(user)
    if choice is None:
        st.info("Heuristic", icon=":material/rule:")
        st.caption("no trained model yet: ranking by pantry coverage and time")
        return
    metrics = choice.metrics  # those of the version that really scores
    if choice.kind == ModelKind.PERSONAL:
        st.success(f"Personal v{choice.version_id}", icon=":material/person:")
        st.caption(f"trained on {metrics.get('n_decisive', '?')} of {md(user)}'s decisive votes{_accuracy(metrics)}"
                   + consistency_note(metrics))
    elif choice.kind == ModelKind.POPULATION:
        st.info(f"Population v{choice.version_id}", icon=":material/groups:")
        st.caption("trained on everyone's votes; no usable personal model for this profile"
                   + _accuracy(metrics))
    else:
        st.info("Heuristic", icon=":material/rule:")
        st.caption("ranking by pantry coverage and time")
    if choice.problems:
        st.warning(model_problem_text(choice), icon=":material/broken_image:")


def render_sidebar() -> str | None:
    with st.sidebar:
        user = profile_picker()
        st.divider()
        generator_status()
        model_status(user)
    return user
