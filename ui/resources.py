"""Heavy objects built once per process (`st.cache_resource`), keyed by the settings.

One `Lab` per process (store + lazily loaded embedder + loaded models); the kitchen
knowledge base; the generator choice (re-checked every 30 s, because Ollama may be
started or stopped while the app runs). Per-user state lives in `st.session_state`.
"""

from __future__ import annotations

import os

import streamlit as st

from pantry.errors import GeneratorUnavailable, PantryError
from pantry.settings import Settings

GENERATOR_RECHECK_S = 30


def settings() -> Settings:
    """Settings from the environment, read again whenever the environment (or the working
    folder, against which a relative PANTRY_HOME is resolved) differs, so tests can change
    them; the same environment gets the same object without touching the disk again."""
    env = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(_SETTINGS_PREFIXES)))
    return _settings_for(os.getcwd(), env)


_SETTINGS_PREFIXES = ("PANTRY_", "OLLAMA_", "HF_", "TRANSFORMERS_")


@st.cache_resource(show_spinner=False, max_entries=64)
def _settings_for(cwd: str, env: tuple) -> Settings:
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


@st.cache_resource(show_spinner=False)
def background_executor():
    """The process's pool for work done ahead of a click (the next round's candidates,
    `pantry.compare.RoundPrefetch`). Two workers: one session's work never waits for more
    than one other's. What each session has in flight is kept in its own session_state."""
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="pantry-prefetch")
