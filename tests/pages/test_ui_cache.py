"""The app's cached profile facts (`ui.state.profile_view`, keyed on `Store.change_stamp`):
never stale across sessions, stores or servers sharing a database, and a run with nothing
changed reads nothing again (calls counted)."""

from __future__ import annotations

import collections

import pytest

from helpers import assert_ok as _ok, open_app, store_at as _store, texts as _texts
from tests.helpers import seed_votes, vote_button

TIMEOUT = 180


def _votes_line(at) -> str:
    return next(t for t in _texts(at.markdown) if "vote" in t and "by **" in t)


def test_a_vote_stored_by_another_server_shows_on_the_next_run(app_home):
    _store(app_home).ensure_user("ana")
    at = open_app("ana", timeout=TIMEOUT)
    _ok(at)
    assert "**0** votes by **ana**" in _votes_line(at)
    at.run()  # cached now
    assert "**0** votes by **ana**" in _votes_line(at)
    seed_votes(_store(app_home), "ana", n=3)  # another Store on the same file: another server
    at.run()
    _ok(at)
    assert "**3** votes by **ana**" in _votes_line(at)


def test_a_new_profile_made_elsewhere_is_listed_on_the_next_run(app_home):
    _store(app_home).ensure_user("ana")
    at = open_app("ana", timeout=TIMEOUT)
    assert at.sidebar.selectbox(key="profile_pick").options == ["ana"]
    _store(app_home).ensure_user("bo")
    at.run()
    assert at.sidebar.selectbox(key="profile_pick").options == ["ana", "bo"]


def test_a_model_activated_or_deactivated_elsewhere_shows_on_the_next_run(app_home):
    from pantry.lab import Lab
    from pantry.settings import Settings
    from pantry.storage.store import Store
    from tests.helpers import shared_embedder

    store = _store(app_home)
    seed_votes(store, "ana", n=12)
    at = open_app("ana", timeout=TIMEOUT)
    _ok(at)
    assert any("Heuristic" in t for t in _texts(at.sidebar.info))
    other = Lab(Settings.from_env(), Store(app_home / "pantry.sqlite3"), shared_embedder())  # another server
    outcome = other.train("ana", cv_folds=0)
    at.run()
    _ok(at)
    assert any(f"Personal v{outcome.personal_version}" in t for t in _texts(at.sidebar.success))
    Store(app_home / "pantry.sqlite3").deactivate_models("ana")
    at.run()
    _ok(at)
    assert not any("Personal v" in t for t in _texts(at.sidebar.success))
    assert any(f"Population v{outcome.population_version}" in t for t in _texts(at.sidebar.info))


def test_a_second_session_sees_the_first_sessions_vote(app_home):
    _store(app_home).ensure_user("ana")
    first = open_app("ana", timeout=TIMEOUT)
    second = open_app("ana", timeout=TIMEOUT)  # the same profile in another browser tab
    first.text_area(key="pantry_text::ana").input("4 eggs, spinach, feta, rice, an onion")
    first.button(key="get_pair").click()
    first.run()
    vote_button(first, "left").click()
    first.run()
    _ok(first)
    assert "**1** vote by **ana**" in _votes_line(first)
    second.run()
    assert "**1** vote by **ana**" in _votes_line(second)


@pytest.fixture
def counted(monkeypatch):
    """Calls of the store's reads behind the sidebar and the progress line, and of read_pantry."""
    import pantry.kitchen
    from pantry.storage.store import Store

    calls: collections.Counter = collections.Counter()
    for name in ("list_users", "vote_counts", "active_model", "get_user_prefs", "get_user_pantry",
                 "get_model_version", "set_user_pantry", "set_user_prefs"):
        real = getattr(Store, name)

        def wrapper(self, *a, _real=real, _name=name, **kw):
            calls[_name] += 1
            return _real(self, *a, **kw)

        monkeypatch.setattr(Store, name, wrapper)
    real_read = pantry.kitchen.read_pantry

    def read(*a, **kw):
        calls["read_pantry"] += 1
        return real_read(*a, **kw)

    monkeypatch.setattr(pantry.kitchen, "read_pantry", read)
    return calls


def test_a_run_with_nothing_changed_reads_nothing_again(app_home, counted):
    seed_votes(_store(app_home), "ana", n=12)
    at = open_app("ana", timeout=TIMEOUT)
    _ok(at)
    at.text_area(key="pantry_text::ana").input("4 eggs, spinach, feta, rice, an onion")
    at.toggle(key="auto_next::ana").set_value(False)  # a vote alone (no next round made right after it)
    at.run()
    at.button(key="get_pair").click()
    at.run()
    _ok(at)
    at.run()  # settle: the round itself logged its recipes (a change for ana)
    counted.clear()
    at.run()  # nothing changed
    _ok(at)
    reads = {k: v for k, v in counted.items() if k != "read_pantry"}
    assert reads == {}, f"a run with nothing changed read the store again: {reads}"
    assert counted["read_pantry"] == 1, "the Compare page reads the pantry once per run"

    counted.clear()
    vote_button(at, "left").click()
    at.run()
    _ok(at)
    assert "**13** votes by **ana**" in _votes_line(at)
    assert counted["vote_counts"] == 1, "a vote recounts once (its own stamp), not per widget"
    assert counted["list_users"] <= 1 and counted["active_model"] <= 2
    assert counted["set_user_pantry"] == 0 and counted["set_user_prefs"] == 0, "a vote rewrote the pantry"
    assert counted["read_pantry"] == 1

    counted.clear()
    at.button(key="get_pair").click()
    at.run()
    _ok(at)
    assert counted["set_user_pantry"] == 0 and counted["set_user_prefs"] == 0, \
        "an unchanged pantry was written again for a new round"
    assert counted["read_pantry"] == 1


def test_the_data_page_shows_a_vote_stored_elsewhere_on_the_next_run(app_home):
    _store(app_home).ensure_user("ana")
    at = open_app("ana", "views/data.py", timeout=TIMEOUT)
    assert any("No votes yet" in t for t in _texts(at.info))
    at.run()  # cached now
    seed_votes(_store(app_home), "ana", n=2)  # another server
    at.run()
    _ok(at)
    assert any(t.startswith("2 votes shown. 2 stored in all") for t in _texts(at.caption)), _texts(at.caption)
