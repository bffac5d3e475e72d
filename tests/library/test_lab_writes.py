"""`Lab` as the one writer: casting (with the default strength), undoing (only a session's own
votes), deleting and restoring, importing, activating (load-checked) and rolling back."""

from __future__ import annotations

import json

import pytest

from pantry.domain.recipes import Recipe
from pantry.domain.votes import DEFAULT_STRENGTH, Vote
from pantry.errors import ImportFailed, PantryError
from pantry.lab import Lab
from pantry.settings import Settings
from pantry.storage.store import Store


@pytest.fixture
def lab(tmp_path, monkeypatch):
    monkeypatch.setenv("PANTRY_HOME", str(tmp_path))
    settings = Settings.from_env()
    lab = Lab(settings, Store.open(settings))
    lab.store_recipes([Recipe(id=f"r{k}", title=f"Dish {k}", ingredients=("egg",), steps=("Cook.",))
                       for k in range(4)])
    return lab


def test_cast_vote_gives_a_decisive_vote_the_default_strength_and_no_other(lab):
    a = lab.cast_vote(Vote(user="ana", a="r0", b="r1", outcome="a"))
    t = lab.cast_vote(Vote(user="ana", a="r0", b="r1", outcome="tie"))
    m = lab.cast_vote(Vote(user="ana", a="r0", b="r1", outcome="b", strength="much"))
    assert DEFAULT_STRENGTH == "slightly"
    assert [lab.store.get_vote(i).strength for i in (a, t, m)] == ["slightly", None, "much"]


def test_undo_takes_back_the_newest_of_the_given_votes_still_live_never_another(lab):
    mine = [lab.cast_vote(Vote(user="ana", a="r0", b=f"r{k}", outcome="a")) for k in (1, 2, 3)]
    other_tab = lab.cast_vote(Vote(user="ana", a="r1", b="r2", outcome="b"))
    ben = lab.cast_vote(Vote(user="ben", a="r1", b="r2", outcome="b"))
    lab.set_votes_deleted([mine[2]], True)  # deleted on the Data page meanwhile
    undone = lab.undo("ana", mine + [ben])
    assert undone.id == mine[1] and undone.deleted and lab.store.get_vote(mine[1]).deleted
    assert not lab.store.get_vote(other_tab).deleted and not lab.store.get_vote(ben).deleted
    assert lab.undo("ana", mine).id == mine[0]
    assert lab.undo("ana", mine) is None
    assert lab.undo("ana").id == other_tab  # no ids: the profile's newest vote


def test_delete_restore_votes_and_batches_count_what_changed(lab):
    ids = [lab.cast_vote(Vote(user="ana", a="r0", b="r1", outcome="a")) for _ in range(3)]
    assert lab.set_votes_deleted(ids[:2], True) == 2
    assert lab.set_votes_deleted(ids, True) == 1
    assert lab.set_votes_deleted(ids, False) == 3
    report = lab.import_file([json.dumps({"user": "ben", "a": "r2", "b": "r3", "outcome": "b"})], name="x.jsonl")
    assert report.votes == 1 and lab.store.vote_counts("ben")["b"] == 1
    assert lab.set_batch_deleted(report.batch_id, True) == 1 and lab.store.vote_counts("ben")["b"] == 0
    assert lab.set_batch_deleted(report.batch_id, False) == 1
    with pytest.raises(ImportFailed):
        lab.import_file(["{not json"], name="bad.jsonl")
    assert len(lab.store.import_batches()) == 1


def test_activate_refuses_a_version_that_does_not_load_and_deactivate_rolls_back(lab, tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a model")
    vid = lab.store.add_model_version("ana", str(bad), lab.embedder_name, {}, {}, activate=False)
    with pytest.raises(PantryError, match="not activated"):
        lab.activate([vid])
    assert lab.store.active_model("ana") is None
    lab.save_profile("ana", pantry_text="eggs", prefs={"diets": ["vegan"]})
    assert (lab.store.get_user_pantry("ana"), lab.store.get_user_prefs("ana")) == ("eggs", {"diets": ["vegan"]})
    assert lab.create_profile("ANA") == "ana"
    lab.deactivate("ana")
    assert lab.store.active_model("ana") is None
