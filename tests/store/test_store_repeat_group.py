"""Migration 8: votes.repeat_of (a repeat round of an earlier vote) and votes.group_id (a
household vote), on both backends; and the vote format keeping older files as they were."""

from __future__ import annotations

import json
import sqlite3

import pytest

from pantry.domain.recipes import recipe_from_dict
from pantry.domain.votes import Vote, vote_content_key, vote_from_dict
from pantry.errors import InvalidInput
from pantry.storage.store import SCHEMA_VERSION, Store


def _recipes(n=4):
    return [recipe_from_dict({"title": f"Dish {i}", "ingredients": [f"{i} eggs", "rice"], "steps": ["Cook."]})
            for i in range(n)]


@pytest.fixture
def store(make_store):
    return make_store()


def test_repeat_and_group_round_trip(store):
    r = _recipes()
    store.add_recipes(r)
    first = store.add_vote(Vote(user="ana", a=r[0].id, b=r[1].id, outcome="a", left="a"))
    again = store.add_vote(Vote(user="ana", a=r[0].id, b=r[1].id, outcome="b", left="b", repeat_of=first))
    ids = store.add_votes([Vote(user=u, a=r[2].id, b=r[3].id, outcome="a", group_id="g-1") for u in ("ana", "ben")])
    got = {v.id: v for v in store.votes()}
    assert got[first].repeat_of is None and got[first].group_id is None
    assert got[again].repeat_of == first
    assert [got[i].group_id for i in ids] == ["g-1", "g-1"] and {got[i].user for i in ids} == {"ana", "ben"}
    assert store.get_vote(again).repeat_of == first


@pytest.mark.parametrize("bad", [0, -3, True, "1", 10**6])
def test_repeat_of_must_name_a_stored_vote_of_the_same_profile_and_pair(store, bad):
    r = _recipes()
    store.add_recipes(r)
    store.add_vote(Vote(user="ana", a=r[0].id, b=r[1].id, outcome="a"))
    with pytest.raises(InvalidInput, match="repeat_of"):
        store.add_vote(Vote(user="ana", a=r[0].id, b=r[1].id, outcome="a", repeat_of=bad))
    assert len(store.votes()) == 1


def test_repeat_of_another_profile_or_pair_is_refused(store):
    r = _recipes()
    store.add_recipes(r)
    first = store.add_vote(Vote(user="ana", a=r[0].id, b=r[1].id, outcome="a"))
    for wrong in (Vote(user="ben", a=r[0].id, b=r[1].id, outcome="a", repeat_of=first),
                  Vote(user="ana", a=r[0].id, b=r[2].id, outcome="a", repeat_of=first)):
        with pytest.raises(InvalidInput, match="not a vote by"):
            store.add_vote(wrong)
    assert len(store.votes()) == 1


def test_format_unchanged_for_ordinary_votes_and_group_id_travels():
    plain = Vote(user="ana", a="x", b="y", outcome="a", repeat_of=5)
    assert plain.to_dict() == {"user": "ana", "a": "x", "b": "y", "outcome": "a"}  # repeat_of is bookkeeping
    assert vote_content_key(plain) == vote_content_key(Vote(user="ana", a="x", b="y", outcome="a"))
    group = Vote(user="ana", a="x", b="y", outcome="a", group_id="g-7")
    back, _ = vote_from_dict(json.loads(json.dumps(group.to_dict())))
    assert back.group_id == "g-7"
    with pytest.raises(InvalidInput, match="group_id"):
        vote_from_dict({"user": "ana", "a": "x", "b": "y", "outcome": "a", "group_id": "g" * 65})


def test_a_schema_6_database_gets_migration_8_in_place(tmp_path):
    path = tmp_path / "old.sqlite3"
    store = Store(path)
    r = _recipes()
    store.add_recipes(r)
    store.add_vote(Vote(user="ana", a=r[0].id, b=r[1].id, outcome="a"))
    conn = sqlite3.connect(path)
    conn.execute("DROP INDEX votes_by_group")
    conn.execute("ALTER TABLE votes DROP COLUMN repeat_of")
    conn.execute("ALTER TABLE votes DROP COLUMN group_id")
    conn.execute("UPDATE meta SET value = '6' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    upgraded = Store(path)
    assert upgraded.schema_version() == SCHEMA_VERSION == 8
    [old] = upgraded.votes()
    assert (old.repeat_of, old.group_id) == (None, None)
    upgraded.add_vote(Vote(user="ana", a=r[0].id, b=r[1].id, outcome="b", repeat_of=old.id))
    assert Store(path).votes()[-1].repeat_of == old.id  # opening again changes nothing


def test_a_keyed_group_is_stored_once_with_its_recipes_and_a_retry_says_if_it_was_undone(store):
    """`add_votes` with a request key (the API's household Idempotency-Key), on both backends:
    one group, its inline recipes in the same transaction; a retry names every vote of the
    group and whether one was deleted since; a refused retry stores none of its recipes."""
    from pantry.storage.store import RepeatedRequest

    r = _recipes(5)
    store.add_recipes(r[:2])
    group = [Vote(user=u, a=r[0].id, b=r[1].id, outcome="a", group_id="g-2") for u in ("ana", "ben")]
    ids = store.add_votes(group, "hh:k", "digest-1", recipes=[r[2]])
    assert store.get_recipe(r[2].id) is not None
    with pytest.raises(RepeatedRequest) as again:
        store.add_votes(group, "hh:k", "digest-1", recipes=[r[3]])
    assert again.value.same and list(again.value.ids) == ids and not again.value.undone
    assert store.get_recipe(r[3].id) is None and len(store.votes()) == 2
    store.delete_vote(ids[1])
    with pytest.raises(RepeatedRequest) as undone:
        store.add_votes(group, "hh:k", "digest-2")
    assert not undone.value.same and undone.value.undone
    single = store.add_vote(Vote(user="cy", a=r[0].id, b=r[1].id, outcome="b"), "one:k", "d")
    with pytest.raises(RepeatedRequest) as one:
        store.add_vote(Vote(user="cy", a=r[0].id, b=r[1].id, outcome="b"), "one:k", "d")
    assert one.value.ids == (single,) and not one.value.undone
