"""The Data page's "Your consistency" section: how often the profile agrees with itself
(`pantry.evaluation.consistency`), next to its model's held-out accuracy, and the repeat
rounds setting. The figures are read once per database change of the profile (cached on
`Store.change_stamp`); the library returns numbers, this module words them."""

from __future__ import annotations

import math

import streamlit as st

from pantry.errors import PantryError
from pantry.evaluation.consistency import (DEFAULT_REPEAT_SHARE, REPEAT_SHARE_PREF, profile_consistency,
                                           repeat_share)
from ui.common import flash
from ui.resources import get_lab, settings
from ui.text import md

SHARES = {0.0: "never", 1 / 30: "about 1 round in 30", DEFAULT_REPEAT_SHARE: "about 1 round in 15 (default)",
          1 / 8: "about 1 round in 8"}


@st.cache_resource(show_spinner=False, max_entries=256)
def _figures(settings_key, user: str, stamp: tuple):
    return profile_consistency(get_lab().store, user)


def _pct(x: float) -> str:
    return "–" if x is None or math.isnan(x) else f"{100 * x:.0f}%"


def _save_share(user: str) -> None:
    store = get_lab().store
    try:
        prefs = store.get_user_prefs(user)
        prefs[REPEAT_SHARE_PREF] = float(st.session_state["repeat_share_pick"])
        get_lab().save_profile(user, prefs=prefs)
    except PantryError as e:
        flash("error", md(e))


def render_consistency(user: str | None) -> None:
    """The section for `user` (nothing to show without a profile)."""
    from ui.state import profile_view

    if not user:
        st.caption("Choose a profile to see how consistent its votes are.")
        return
    store = get_lab().store
    personal = profile_view(user).personal
    model_accuracy = (personal.metrics or {}).get("cv_accuracy") if personal is not None else None
    c = _figures(settings(), user, store.change_stamp(user))
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Agreement on repeats", _pct(c.agreement),
              help="A pair you judged before, shown again with the sides swapped: how often you chose the same "
                   "recipe. Household votes are not counted.")
    m1.caption(f"{c.agreements} of {c.repeats} repeats" + (
        f", 95% interval {_pct(c.agreement_low)}–{_pct(c.agreement_high)}" if c.repeats else ""))
    m2.metric("Going round in circles", _pct(c.cyclic_rate),
              help="Three recipes judged in pairs as A over B, B over C and C over A.")
    m2.caption(f"{c.cyclic} of {c.triads} triads" + (
        f", 95% interval {_pct(c.cyclic_low)}–{_pct(c.cyclic_high)}" if c.triads else ""))
    m3.metric("Reachable accuracy", _pct(c.ceiling),
              help="If each answer of yours flips with the estimated probability, no model can predict your "
                   "votes better than this.")
    m3.caption(f"flip probability {_pct(c.flip)} ({_pct(c.flip_low)}–{_pct(c.flip_high)})"
               if not math.isnan(c.flip) else "not enough repeats or triads yet")
    m4.metric("Model accuracy", _pct(model_accuracy if model_accuracy is not None else float("nan")),
              help="Your personal model's cross-validated accuracy on your votes (Retrain page).")
    m4.caption(f"each vote counts {c.weight:.2f} in training" if c.weight < 1 else "each vote counts fully")
    current = repeat_share(store.get_user_prefs(user))
    options = list(SHARES) if current in SHARES else [*SHARES, current]
    st.selectbox("Show a judged pair again", options, index=options.index(current), key="repeat_share_pick",
                 format_func=lambda x: SHARES.get(x, f"{100 * x:.0f}% of rounds"), on_change=_save_share,
                 args=(user,), help="Repeat rounds look like any other round, with the sides swapped.")
