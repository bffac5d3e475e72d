"""What the pages show about a profile, read once and cached until the database changes.

Every page run needs the same few facts: the profiles, the profile's vote counts, its
active personal model, the model that really scores for it (`Lab.model_for`), and its saved
pantry and options. Each is a database query (the model choice several), and the sidebar,
the page and the vote panel all asked again. Here they are read together into one
`ProfileView`, cached (`st.cache_resource`, so the model object is shared, never copied)
under the key (settings, profile, `Store.change_stamp(profile)`).

The stamp is read from the database on every call (one small query). It changes on every
write that concerns the profile, made by any session, process or server sharing the
database (a vote, an undo, a model trained or activated, a new profile, an import), so a
cached view is never stale: the next run after such a write has another key and reads
afresh. No per-session data is kept here (that lives in `st.session_state`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from pantry.domain.votes import VoteCounts
from ui.resources import get_lab, settings


@dataclass(frozen=True)
class ProfileView:
    stamp: tuple
    users: tuple[str, ...]
    counts: VoteCounts = VoteCounts()  # the profile's votes per outcome (all 0 without a profile)
    personal: Any = None  # the profile's active personal ModelVersion, or None
    scoring: Any = None  # Lab.model_for(user), or None when no version is active at all (heuristic)
    pantry_text: str = ""
    prefs: dict[str, Any] = field(default_factory=dict)

    @property
    def total_votes(self) -> int:
        return self.counts.total

    @property
    def decisive_votes(self) -> int:
        return self.counts.decisive


@st.cache_resource(show_spinner=False, max_entries=1024)
def _read_view(settings_key, user: str | None, stamp: tuple) -> ProfileView:
    """One profile's facts at one stamp (the arguments are the key; `get_lab` is the process's Lab)."""
    store = get_lab().store
    users = tuple(store.list_users())
    if user is None or user not in users:
        return ProfileView(stamp, users)
    personal = store.active_model(user)
    scoring = None
    if personal is not None or store.active_model(None) is not None:
        scoring = get_lab().model_for(user)
    return ProfileView(stamp, users, VoteCounts.of(store.vote_counts(user)), personal, scoring,
                       store.get_user_pantry(user), dict(store.get_user_prefs(user)))


def profile_view(user: str | None) -> ProfileView:
    """The facts about `user` as the database has them now (cached until it changes)."""
    s = settings()
    stamp = get_lab().store.change_stamp(user)
    return _read_view(s, user, stamp)


def clear() -> None:
    _read_view.clear()


@st.cache_resource(show_spinner=False, max_entries=2)
def _votes_frame(settings_key, stamp: tuple):
    from pantry.evaluation.reports import votes_frame

    return votes_frame(get_lab().store, include_deleted=True)


def all_votes_frame():
    """Every profile's votes (deleted too) as `pantry.evaluation.reports.votes_frame` gives
    them, cached until any write to the database (`change_stamp(None)`). Shared between
    sessions: read it, never change it in place (filtering makes new frames)."""
    return _votes_frame(settings(), get_lab().store.change_stamp(None))
