"""Heavy objects built once per process (`st.cache_resource`), keyed by the settings.

One `Lab` per process (store + lazily loaded embedder + loaded models); the kitchen
knowledge base; the generator choice (re-checked every 30 s, because Ollama may be
started or stopped while the app runs). Per-user state lives in `st.session_state`.
"""

from __future__ import annotations

import streamlit as st

from pantry.errors import GeneratorUnavailable, PantryError
from pantry.settings import Settings

GENERATOR_RECHECK_S = 30


def settings() -> Settings:
    """Settings from the environment (cheap; read on every run so tests can change them)."""
    return Settings.from_env()


@st.cache_resource(show_spinner="Opening the PantryPilot database...")
def _lab(s: Settings):
    from pantry.lab import Lab

    return Lab(s)


def get_lab():
    """The process-wide Lab for the current settings."""
    return _lab(settings())


@st.cache_resource(show_spinner=False)
def get_kitchen():
    from pantry.kitchen import load_kitchen

    return load_kitchen()


@st.cache_resource(show_spinner=False)
def kitchen_names() -> list[str]:
    return sorted(get_kitchen().names)


@st.cache_resource(show_spinner=False)
def composer_cuisines() -> list[str]:
    from pantry.generators import OfflineComposer

    try:
        return sorted(OfflineComposer().cuisines)
    except PantryError:
        return []


@st.cache_resource(ttl=GENERATOR_RECHECK_S, show_spinner="Looking for Ollama...")
def _generator(s: Settings):
    from pantry.generators import select_generator

    try:
        return select_generator(s), None
    except GeneratorUnavailable as e:
        return None, str(e)


def generator_choice():
    """(GeneratorChoice or None, error message or None) for the current settings."""
    return _generator(settings())


def refresh_generator() -> None:
    _generator.clear()
