"""Store: schema, WAL, users, recipes, votes (soft delete/undo), models, embeddings, threads.

Every test that takes the `store` (or `make_store`) fixture runs twice: on the SQLite file
and on a PostgreSQL schema of its own (tests/conftest.py, tests/pg_server.py); the tests that
build SQLite files of older schema versions, garbage files and paths are SQLite-only.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from pantry.errors import InvalidInput, PantryError
from pantry.domain.recipes import Recipe, recipe_from_dict, recipe_from_text, recipe_to_text
from pantry.settings import Settings
from pantry.storage.store import SCHEMA_VERSION, RecipeConflict, Store, StoreError, UnknownRecipe
from pantry.evaluation.reports import votes_frame
from pantry.domain.votes import Vote, check_vote, pair_from_trl, validate_user_name, vote_from_dict


def make_recipe(i: int, **extra):
    return recipe_from_dict({"title": f"Dish {i}", "ingredients": [f"{i} eggs", "rice"],
                             "steps": ["Cook.", f"Serve {i}."], "minutes": 10 + i, **extra})


@pytest.fixture
def store(make_store):
    return make_store()


@pytest.fixture
def recipes(store):
    rs = [make_recipe(i) for i in range(6)]
    store.add_recipes(rs)
    return rs


# --- recipe text ------------------------------------------------------------------------

def test_recipe_text_round_trip():
    r = recipe_from_dict({"title": "Egg fried rice", "ingredients": ["1.5 cups rice", "2 eggs", "- chili oil"],
                          "steps": ["Fry the eggs.", "350 degrees, 5 min."], "minutes": 15, "servings": 2,
                          "cuisine": "Chinese"})
    text = recipe_to_text(r)
    assert text.splitlines()[0] == "Egg fried rice"
    assert "Ingredients:" in text and "Steps:" in text and "1. Fry the eggs." in text
    assert recipe_from_text(text) == r
    bare = recipe_from_dict({"title": "Toast", "ingredients": ["bread"]})
    assert recipe_from_text(recipe_to_text(bare)) == bare


def test_recipe_from_loose_text():
    r = recipe_from_text("## Pancakes\nFluffy.\n**Ingredients**\n* flour\n* milk\nInstructions:\n1) mix\n2) fry\n"
                         "Serves: 4")
    assert (r.title, r.ingredients, r.steps, r.servings) == ("Pancakes", ("flour", "milk"), ("mix", "fry"), 4)
    assert r.id.startswith("r-")


# --- votes module ----------------------------------------------------------------------

def test_user_names():
    assert validate_user_name("  Ana-María_2.0 x ") == "Ana-María_2.0 x"
    for bad in ("", "   ", "x" * 41, "a/b", "semi;colon", None, "tab\tname"):
        with pytest.raises(InvalidInput):
            validate_user_name(bad)


def test_vote_from_dict_validation():
    vote, inline = vote_from_dict({"user": "ana", "a": "r1", "b": {"title": "T", "ingredients": ["x"]},
                                   "outcome": "b", "strength": "much", "left": "b", "reasons": ["spicy"],
                                   "pantry": ["eggs"], "created_at": "2024-05-01T10:00:00Z"})
    assert vote.a == "r1" and vote.b == inline[0].id and vote.created_at == "2024-05-01T10:00:00+00:00"
    assert vote.decisive and vote.winner == inline[0].id
    back, _ = vote_from_dict(vote.to_dict())
    assert back == vote
    cases = {
        "field 'outcome' must be one of a, b, tie, both_bad": {"outcome": "maybe"},
        "field 'strength'": {"strength": "very"},
        "field 'left'": {"left": "c"},
        "field 'user'": {"user": "bad/name"},
        "field 'created_at'": {"created_at": "yesterday"},
        "field 'reasons'": {"reasons": "tasty"},
        "field 'b': field 'title' is missing": {"b": {"ingredients": ["x"]}},
        "same recipe": {"b": "r1"},
    }
    for message, change in cases.items():
        with pytest.raises(InvalidInput, match=message):
            vote_from_dict({"user": "ana", "a": "r1", "b": "r2", "outcome": "a", **change})
    with pytest.raises(InvalidInput, match="only applies"):
        vote_from_dict({"user": "ana", "a": "r1", "b": "r2", "outcome": "tie", "strength": "much"})
    with pytest.raises(InvalidInput, match="field 'outcome' is missing"):
        vote_from_dict({"user": "ana", "a": "r1", "b": "r2"})


def test_pair_from_trl():
    a, b = make_recipe(1), make_recipe(2)
    vote, rs = pair_from_trl({"prompt": "Suggest a recipe using: eggs, rice", "chosen": recipe_to_text(a),
                              "rejected": recipe_to_text(b), "margin": 1.0}, default_user="bo")
    assert (vote.user, vote.a, vote.b, vote.outcome, vote.strength) == ("bo", a.id, b.id, "a", "much")
    assert vote.pantry == ("eggs", "rice") and rs == [a, b]
    vote, _ = pair_from_trl({"prompt": "anything", "chosen": recipe_to_text(a), "rejected": recipe_to_text(b),
                             "user": "cy", "margin": 0.2})
    assert (vote.user, vote.strength, vote.pantry) == ("cy", "slightly", ())
    with pytest.raises(InvalidInput, match="field 'rejected'"):
        pair_from_trl({"prompt": "p", "chosen": "X"})


# --- store basics ----------------------------------------------------------------------

def test_wal_schema_and_parent_dirs(tmp_path):
    store = Store(tmp_path / "sub" / "pantry.sqlite3")
    assert (tmp_path / "sub" / "pantry.sqlite3").is_file()
    assert store.journal_mode() == "wal"
    assert store.schema_version() == SCHEMA_VERSION


def test_schema_is_current_and_reopening_changes_nothing(make_store):
    store = make_store()
    assert store.schema_version() == SCHEMA_VERSION
    store.ensure_user("bo")
    stamp = store.change_stamp()
    again = make_store()  # the migrations run again: idempotent
    assert again.schema_version() == SCHEMA_VERSION and again.list_users() == ["bo"]
    assert again.change_stamp() == stamp


def test_open_from_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("PANTRY_HOME", str(tmp_path / "home"))
    store = Store.open(Settings.from_env())
    assert store.path == tmp_path / "home" / "pantry.sqlite3" and store.path.is_file()


def test_garbage_file_is_refused_and_untouched(tmp_path):
    path = tmp_path / "pantry.sqlite3"
    garbage = b"this is my shopping list, not a database\n" * 100
    path.write_bytes(garbage)
    with pytest.raises(PantryError, match="not a PantryPilot database"):
        Store(path)
    assert path.read_bytes() == garbage
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pantry.sqlite3"]


def test_foreign_sqlite_db_is_refused(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE stuff (x)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not a PantryPilot one"):
        Store(path)
    assert path.read_bytes() == before


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "p.sqlite3"
    Store(path)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer PantryPilot"):
        Store(path)


def test_users_pantry_prefs(store):
    assert store.ensure_user("  bo ") == "bo"
    store.ensure_user("Ana")
    store.ensure_user("bo")
    assert store.list_users() == ["Ana", "bo"]
    assert store.get_user_pantry("bo") == "" and store.get_user_prefs("bo") == {}
    store.set_user_pantry("bo", "2 eggs, rice")
    store.set_user_prefs("bo", {"diet": ["vegetarian"], "max_minutes": 30})
    store.set_user_pantry("cy", "tofu")  # creates the user
    assert store.get_user_pantry("bo") == "2 eggs, rice"
    assert store.get_user_prefs("bo") == {"diet": ["vegetarian"], "max_minutes": 30}
    assert store.list_users() == ["Ana", "bo", "cy"]
    with pytest.raises(InvalidInput):
        store.ensure_user("bad/name")
    with pytest.raises(InvalidInput):
        store.set_user_prefs("bo", {"x": object()})


def test_recipes_round_trip_and_stored_recipes_never_change(store):
    rs = [make_recipe(i, tags=["quick"], cuisine="Thai", source="test") for i in range(3)]
    assert store.add_recipes(rs + rs[:1]) == 3
    assert store.count_recipes() == 3
    assert store.get_recipe(rs[1].id) == rs[1]
    assert store.get_recipe("nope") is None
    assert store.get_recipes([rs[0].id, "nope", rs[2].id]) == {rs[0].id: rs[0], rs[2].id: rs[2]}
    assert sorted(r.id for r in store.all_recipes()) == sorted(r.id for r in rs)
    changed = recipe_from_dict({**rs[0].to_dict(), "minutes": 99})
    with pytest.raises(RecipeConflict, match=rs[0].id):  # it used to overwrite the stored recipe (issue 19)
        store.add_recipes([changed, make_recipe(555)])
    assert store.get_recipe(rs[0].id) == rs[0] and store.count_recipes() == 3  # nothing of that call saved
    store.add_recipes([recipe_from_dict({**rs[0].to_dict(), "source": "elsewhere"})])  # same recipe: fine
    assert store.get_recipe(rs[0].id).source == "test"
    store.log_generated("ana", [changed])  # a generator's copy (content id) keeps the stored one
    assert store.get_recipe(rs[0].id).minutes == rs[0].minutes
    many = [make_recipe(i) for i in range(100, 1300)]  # more ids than one IN (...) chunk
    store.add_recipes(many)
    assert len(store.get_recipes([r.id for r in many])) == 1200


def test_generated_log(store, recipes):
    store.log_generated("bo", [recipes[0].id, recipes[1].id])
    store.log_generated("ana", [recipes[2]])
    new = make_recipe(77)
    store.log_generated("bo", [new, recipes[0].id])  # Recipe objects are stored too
    # newest first; within one call the later item counts as newer
    assert [r.id for r in store.recent_generated("bo")] == [recipes[0].id, new.id, recipes[1].id]
    assert [r.id for r in store.recent_generated("bo", limit=1)] == [recipes[0].id]
    assert {r.id for r in store.recent_generated()} == {new.id, recipes[0].id, recipes[1].id, recipes[2].id}


# --- votes -------------------------------------------------------------------------------

def test_vote_round_trip(store, recipes):
    v = Vote(user="bo", a=recipes[0].id, b=recipes[1].id, outcome="b", strength="slightly", left="a",
             reasons=("too long",), pantry=("eggs", "rice"), model_version="3", generator="offline")
    vid = store.add_vote(v)
    [saved] = store.votes()
    assert saved.id == vid and saved.created_at and not saved.deleted
    assert saved == Vote(**{**v.__dict__, "id": vid, "created_at": saved.created_at})
    assert store.get_vote(vid) == saved
    assert "bo" in store.list_users()
    explicit = store.add_vote(Vote(user="bo", a=recipes[2].id, b=recipes[3].id, outcome="tie",
                                   created_at="2020-01-01T00:00:00+02:00"))
    assert store.get_vote(explicit).created_at == "2019-12-31T22:00:00+00:00"
    assert [x.id for x in store.votes(since="2021-01-01T00:00:00Z")] == [vid]


def test_vote_needs_stored_recipes(store, recipes):
    with pytest.raises(UnknownRecipe, match="not in the database"):
        store.add_vote(Vote(user="bo", a=recipes[0].id, b="r-missing", outcome="a"))
    with pytest.raises(InvalidInput, match="field 'outcome'"):
        store.add_vote(Vote(user="bo", a=recipes[0].id, b=recipes[1].id, outcome="meh"))
    # add_votes is all or nothing
    with pytest.raises(UnknownRecipe):
        store.add_votes([Vote(user="bo", a=recipes[0].id, b=recipes[1].id, outcome="a"),
                         Vote(user="bo", a=recipes[0].id, b="r-missing", outcome="a")])
    assert store.votes() == []


def test_soft_delete_undo_restore_counts(store, recipes):
    ids = store.add_votes([Vote(user="bo", a=recipes[i].id, b=recipes[i + 1].id, outcome=o)
                           for i, o in enumerate(["a", "b", "tie", "both_bad"])])
    store.add_vote(Vote(user="ana", a=recipes[0].id, b=recipes[5].id, outcome="a"))
    assert store.vote_counts("bo") == {"a": 1, "b": 1, "tie": 1, "both_bad": 1}
    assert store.vote_counts() == {"a": 2, "b": 1, "tie": 1, "both_bad": 1}
    assert store.delete_vote(ids[1]) is True
    assert store.delete_vote(ids[1]) is False
    assert [v.id for v in store.votes("bo")] == [ids[0], ids[2], ids[3]]
    assert [v.deleted for v in store.votes("bo", include_deleted=True)] == [False, True, False, False]
    undone = store.undo_last_vote("bo")
    assert undone.id == ids[3] and undone.deleted
    assert store.undo_last_vote("bo").id == ids[2]
    assert store.vote_counts("bo") == {"a": 1, "b": 0, "tie": 0, "both_bad": 0}
    assert store.restore_vote(ids[1]) is True
    assert [v.id for v in store.votes("bo")] == [ids[0], ids[1]]
    assert store.undo_last_vote("nobody") is None
    with pytest.raises(InvalidInput, match="no vote with id"):
        store.delete_vote(12345)
    frame = votes_frame(store, "bo", include_deleted=True)
    assert list(frame["id"]) == ids and frame["deleted"].tolist() == [False, False, True, True]
    assert frame.loc[0, "a_title"] == recipes[0].title and str(frame["created_at"].dt.tz) == "UTC"


def test_concurrent_votes_from_threads(make_store):
    store = make_store()
    rs = [make_recipe(i) for i in range(10)]
    store.add_recipes(rs)
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker(t: int) -> None:
        try:
            barrier.wait()
            for i in range(25):
                store.add_vote(Vote(user=f"user{t}", a=rs[i % 10].id, b=rs[(i + 1) % 10].id,
                                    outcome="a" if i % 2 else "b", reasons=(f"t{t}-{i}",)))
                if i % 5 == 0:
                    store.votes(user=f"user{t}")  # readers interleave with writers
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    votes = store.votes()
    assert len(votes) == 200 and len({v.id for v in votes}) == 200
    assert len({v.reasons for v in votes}) == 200
    other = make_store()  # a second instance (another process would do the same)
    assert len(other.votes()) == 200
    assert other.vote_counts() == {"a": 96, "b": 104, "tie": 0, "both_bad": 0}


# --- models and embeddings --------------------------------------------------------------

def test_model_versions_one_active_per_scope(store):
    g1 = store.add_model_version(None, "weights/g1.pt", "all-MiniLM-L6-v2", {"acc": 0.7}, {"n": 10}, activate=True)
    b1 = store.add_model_version("bo", "weights/b1.pt", "all-MiniLM-L6-v2", {"acc": 0.8})
    b2 = store.add_model_version("bo", "weights/b2.pt", "all-MiniLM-L6-v2", activate=True)
    a1 = store.add_model_version("ana", "weights/a1.pt", None, activate=True)
    assert store.active_model("bo").id == b2
    assert store.active_model(None).id == g1
    store.activate_model(b1)
    assert store.active_model("bo").id == b1
    assert store.active_model("ana").id == a1 and store.active_model(None).id == g1
    for scope in ("bo", "ana", None):
        assert sum(m.active for m in store.model_versions() if m.user == scope) == 1
    mv = store.get_model_version(b1)
    assert (mv.user, mv.path, mv.metrics, mv.meta, mv.active) == (
        "bo", str(store.weights_dir / "weights" / "b1.pt"), {"acc": 0.8}, {}, True)
    assert [m.id for m in store.model_versions("bo")] == [b2, b1, g1]
    assert [m.id for m in store.model_versions("bo", include_global=False)] == [b2, b1]
    assert len(store.model_versions()) == 4
    store.deactivate_models("bo")
    assert store.active_model("bo") is None
    assert store.active_model("bo", fallback_to_global=True).id == g1
    with pytest.raises(InvalidInput):
        store.activate_model(999)


def test_vote_tallies_are_counted_by_the_database(store):
    store.add_recipes([Recipe(id=f"t{k}", title=f"T{k}", ingredients=("x",)) for k in range(3)])
    ids = store.add_votes([Vote("bo", "t0", "t1", "a"), Vote("ana", "t0", "t2", "tie"), Vote("bo", "t1", "t2", "a"),
                           Vote("bo", "t0", "t2", "b")])
    store.delete_vote(ids[3])
    assert store.vote_tallies() == [("bo", "a", False, 2), ("bo", "b", True, 1), ("ana", "tie", False, 1)]
    assert store.vote_tallies("ana") == [("ana", "tie", False, 1)]


def test_activate_models_switches_several_scopes_in_one_transaction(store):
    g1 = store.add_model_version(None, "g1.pt", "e", activate=True)
    b1 = store.add_model_version("bo", "b1.pt", "e", activate=True)
    g2, b2 = store.add_model_version(None, "g2.pt", "e"), store.add_model_version("bo", "b2.pt", "e")
    store.activate_models([g2, b2])
    assert (store.active_model(None).id, store.active_model("bo").id) == (g2, b2)
    # one unknown id: nothing changes, not even the scopes listed before it
    with pytest.raises(InvalidInput, match="999"):
        store.activate_models([g1, b1, 999])
    assert (store.active_model(None).id, store.active_model("bo").id) == (g2, b2)


def test_concurrent_activation_keeps_one_active(store):
    ids = [store.add_model_version("bo", f"w{i}.pt", "e") for i in range(8)]
    threads = [threading.Thread(target=store.activate_model, args=(i,)) for i in ids]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sum(m.active for m in store.model_versions("bo")) == 1


def test_embedding_cache(store):
    vecs = {f"h{i}": np.arange(4, dtype=np.float64) + i for i in range(3)}
    assert store.put_embeddings("mini", vecs) == 3
    got = store.get_embeddings("mini", ["h0", "h2", "missing"])
    assert set(got) == {"h0", "h2"} and got["h2"].dtype == np.float32
    np.testing.assert_array_equal(got["h2"], np.array([2, 3, 4, 5], dtype=np.float32))
    assert store.get_embeddings("other-model", ["h0"]) == {}
    store.put_embeddings("mini", {"h0": np.ones(4)})
    np.testing.assert_array_equal(store.get_embeddings("mini", ["h0"])["h0"], np.ones(4, dtype=np.float32))
    with pytest.raises(InvalidInput):
        store.put_embeddings("mini", {"bad": np.ones((2, 2))})


def test_check_vote_normalises():
    v = check_vote(Vote(user=" bo ", a=" r1", b="r2 ", outcome="a", created_at="2024-01-01T00:00:00"))
    assert (v.user, v.a, v.b, v.created_at) == ("bo", "r1", "r2", "2024-01-01T00:00:00+00:00")


def test_database_from_schema_version_1_is_migrated(tmp_path):
    import sqlite3
    path = tmp_path / "old.sqlite3"
    Store(path)
    conn = sqlite3.connect(path)
    conn.execute("ALTER TABLE votes DROP COLUMN generator_reason")  # what version 1 created
    conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    store = Store(path)
    assert store.schema_version() == SCHEMA_VERSION
    from pantry.domain.recipes import recipe_from_dict
    from pantry.domain.votes import Vote
    store.add_recipes([recipe_from_dict({"id": "x", "title": "X", "ingredients": ["a"]}),
                       recipe_from_dict({"id": "y", "title": "Y", "ingredients": ["b"]})])
    store.add_vote(Vote(user="me", a="x", b="y", outcome="a", generator="g", generator_reason="why"))
    assert store.votes("me")[0].generator_reason == "why"


# --- schema 3: content keys, import batches ---------------------------------------------

_SCHEMA_2_VOTES = """CREATE TABLE votes (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user_name TEXT NOT NULL, a TEXT NOT NULL, b TEXT NOT NULL,
    outcome TEXT NOT NULL, strength TEXT, left_side TEXT, reasons_json TEXT NOT NULL DEFAULT '[]',
    pantry_json TEXT NOT NULL DEFAULT '[]', created_at TEXT NOT NULL, model_version TEXT, generator TEXT,
    generator_reason TEXT, deleted_at TEXT)"""


def _schema_2_database(path):
    """A database exactly as schema version 2 made it: two votes imported from a file without
    times (one shared import time) and one vote cast in the app."""
    conn = sqlite3.connect(path)
    conn.executescript(f"""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema_version', '2');
        CREATE TABLE users (name TEXT PRIMARY KEY, created_at TEXT NOT NULL, pantry_text TEXT NOT NULL DEFAULT '',
                            prefs_json TEXT NOT NULL DEFAULT '{{}}');
        CREATE TABLE recipes (id TEXT PRIMARY KEY, json TEXT NOT NULL, source TEXT, created_at TEXT NOT NULL);
        {_SCHEMA_2_VOTES};
        CREATE INDEX votes_by_user ON votes (user_name, id);
        CREATE TABLE model_versions (id INTEGER PRIMARY KEY AUTOINCREMENT, user_name TEXT, path TEXT NOT NULL,
            created_at TEXT NOT NULL, embedder TEXT, metrics_json TEXT NOT NULL DEFAULT '{{}}',
            meta_json TEXT NOT NULL DEFAULT '{{}}', active INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE embeddings (model TEXT NOT NULL, text_hash TEXT NOT NULL, dim INTEGER NOT NULL,
            vec BLOB NOT NULL, PRIMARY KEY (model, text_hash));
        CREATE TABLE generated (id INTEGER PRIMARY KEY AUTOINCREMENT, user_name TEXT, recipe_id TEXT NOT NULL,
            created_at TEXT NOT NULL);
    """)
    for rid in ("x", "y", "z"):
        conn.execute("INSERT INTO recipes VALUES (?, ?, NULL, '2024-01-01T00:00:00+00:00')",
                     (rid, json.dumps({"id": rid, "title": rid.upper(), "ingredients": ["salt"], "steps": [],
                                       "minutes": None, "servings": None, "cuisine": None, "tags": [],
                                       "source": None})))
    conn.execute("INSERT INTO users VALUES ('me', '2024-01-01T00:00:00+00:00', '', '{}')")
    rows = [("me", "x", "y", "a", "2024-02-01T10:00:00+00:00"),  # imported ...
            ("me", "y", "z", "tie", "2024-02-01T10:00:00+00:00"),  # ... together, without times
            ("me", "x", "z", "b", "2024-02-02T09:30:00.123456+00:00")]  # cast in the app
    conn.executemany("INSERT INTO votes (user_name, a, b, outcome, created_at) VALUES (?, ?, ?, ?, ?)", rows)
    conn.commit()
    conn.close()


def test_database_from_schema_version_2_is_migrated_in_place(tmp_path):
    path = tmp_path / "v2.sqlite3"
    _schema_2_database(path)
    store = Store(path)
    assert store.schema_version() == SCHEMA_VERSION
    conn = sqlite3.connect(path)
    columns = {r[1] for r in conn.execute("PRAGMA table_info(votes)")}
    indexes = {r[1] for r in conn.execute("PRAGMA index_list(votes)")}
    keys = [r[0] for r in conn.execute("SELECT content_key FROM votes ORDER BY id")]
    conn.close()
    assert {"content_key", "batch_id"} <= columns
    assert {"votes_by_content_key", "votes_by_batch"} <= indexes
    assert all(keys) and len(set(keys)) == 3
    assert [(v.a, v.b, v.outcome) for v in store.votes()] == [("x", "y", "a"), ("y", "z", "tie"), ("x", "z", "b")]
    assert store.import_batches() == []
    assert store.vote_batches() == {}

    # The old import's lines (no times) are recognised; so is the app vote's exported line.
    batch, added = store.import_records([], [Vote(user="me", a="x", b="y", outcome="a"),
                                             Vote(user="me", a="y", b="z", outcome="tie"),
                                             Vote(user="me", a="x", b="z", outcome="b",
                                                  created_at="2024-02-02T09:30:00.123456Z")], "old.jsonl")
    assert added == [False, False, False]
    assert (batch.votes_added, batch.votes_skipped) == (0, 3)
    assert len(store.votes()) == 3
    # The app vote's pair without its time is a different vote (not an import of it).
    _, added = store.import_records([], [Vote(user="me", a="x", b="z", outcome="b")], "new.jsonl")
    assert added == [True]
    assert Store(path).schema_version() == SCHEMA_VERSION  # opening again changes nothing


def test_app_votes_may_repeat_a_pair_imports_may_not(store, recipes):
    vote = Vote(user="me", a=recipes[0].id, b=recipes[1].id, outcome="a")
    store.add_vote(vote)
    store.add_vote(vote)
    assert len(store.votes("me")) == 2
    # An import of that line (no time) is a different event than the app votes: added once.
    _, added = store.import_records([], [vote], "f.jsonl")
    _, again = store.import_records([], [vote], "f.jsonl")
    assert (added, again) == ([True], [False])
    assert len(store.votes("me")) == 3


def test_import_records_counts_copies_within_a_file(store, recipes):
    vote = Vote(user="me", a=recipes[0].id, b=recipes[1].id, outcome="tie")
    other = Vote(user="bo", a=recipes[2].id, b=recipes[3].id, outcome="b", reasons=("quick",))
    first, added = store.import_records([], [vote, vote, other], "twice.jsonl")
    assert added == [True, True, True] and first.votes_added == 3
    second, added = store.import_records([], [vote, other, vote, vote], "twice.jsonl")
    assert added == [False, False, False, True]  # the file now holds `vote` three times
    assert (second.votes_added, second.votes_skipped) == (1, 3)
    # normalisation: spacing of names and time zones do not make a new vote
    timed = Vote(user="me", a=recipes[4].id, b=recipes[5].id, outcome="a", created_at="2024-03-01T12:00:00+02:00")
    store.import_records([], [timed], "t.jsonl")
    _, added = store.import_records([], [Vote(user=" me ", a=recipes[4].id, b=recipes[5].id, outcome="a",
                                              created_at="2024-03-01T10:00:00Z")], "t.jsonl")
    assert added == [False]


def test_import_batches_record_delete_and_restore(store, recipes):
    new = make_recipe(99)
    votes = [Vote(user="me", a=recipes[0].id, b=recipes[1].id, outcome="a"),
             Vote(user="bo", a=new.id, b=recipes[2].id, outcome="b")]
    batch, _ = store.import_records([new, recipes[0]], votes, "my votes.jsonl")
    assert (batch.file_name, batch.users, batch.recipes_added, batch.recipes_skipped) == (
        "my votes.jsonl", ("bo", "me"), 1, 1)
    assert (batch.votes_added, batch.votes_skipped, batch.deleted) == (2, 0, False)
    app_vote = store.add_vote(Vote(user="me", a=recipes[3].id, b=recipes[4].id, outcome="a"))
    again, _ = store.import_records([], votes, "my votes.jsonl")
    assert (again.votes_added, again.votes_skipped) == (0, 2)
    assert again.id is None, "an import that adds nothing records no batch"
    assert [b.id for b in store.import_batches()] == [batch.id]
    assert store.get_import_batch(batch.id) == batch
    imported = [v.id for v in store.votes(batch=batch.id)]
    assert len(imported) == 2 and store.vote_batches() == {i: batch.id for i in imported}

    store.delete_vote(imported[0])  # deleted one by one before the batch is undone
    assert store.delete_batch(batch.id) == 1
    assert store.delete_batch(batch.id) == 0
    undone = store.get_import_batch(batch.id)
    assert undone.deleted and undone.votes_live == 0
    assert [v.id for v in store.votes()] == [app_vote]
    # importing it again while it is undone: skipped, and said to match deleted votes
    third, _ = store.import_records([], votes, "my votes.jsonl")
    assert (third.votes_added, third.votes_skipped, third.votes_skipped_deleted) == (0, 2, 2)
    assert store.restore_batch(batch.id) == 1  # the vote deleted by hand stays deleted
    assert store.restore_batch(batch.id) == 0
    assert {v.id for v in store.votes()} == {app_vote, imported[1]}
    assert store.get_import_batch(batch.id).votes_live == 1
    assert third.id is None and [b.id for b in store.import_batches(include_deleted=False)] == [batch.id]
    with pytest.raises(InvalidInput, match="no import batch with id 999"):
        store.delete_batch(999)
    with pytest.raises(InvalidInput, match="no import batch"):
        store.restore_batch(999)


def test_failed_import_records_nothing(store, recipes):
    with pytest.raises(UnknownRecipe):
        store.import_records([make_recipe(50)], [Vote(user="me", a=recipes[0].id, b="nope", outcome="a")], "x.jsonl")
    assert store.import_batches() == [] and store.votes() == []
    assert store.get_recipe(make_recipe(50).id) is None


def test_votes_frame_is_data_with_titles_and_batches(store, recipes):
    store.add_vote(Vote(user="me", a=recipes[0].id, b=recipes[1].id, outcome="b", left="b"))
    batch, _ = store.import_records([], [Vote(user="me", a=recipes[2].id, b=recipes[3].id, outcome="tie")], "f")
    frame = votes_frame(store)
    assert "choice" not in frame.columns  # the wording is the UI's (ui.wording.votes_in_words)
    assert list(frame["outcome"]) == ["b", "tie"] and list(frame["b_title"]) == ["Dish 1", "Dish 3"]
    assert frame["batch"].isna().tolist() == [True, False] and frame["batch"].iloc[1] == batch.id


# --- schema 4: weight paths relative to the weights folder ---------------------------------

def _real_model(path):
    """A real saved RewardModel (a tiny linear one) at `path`."""
    import torch

    from pantry.model.features import FEATURE_SPEC
    from pantry.model.reward import RewardMember, RewardModel

    member = RewardMember(8)
    with torch.no_grad():
        member.linear.weight.copy_(torch.arange(8, dtype=torch.float32).reshape(1, 8))
    RewardModel([member], "all-MiniLM-L6-v2", FEATURE_SPEC, 8).save(path)
    return path


def _stored_paths(db):
    conn = sqlite3.connect(db)
    try:
        return [r[0] for r in conn.execute("SELECT path FROM model_versions ORDER BY id")]
    finally:
        conn.close()


def test_weights_folder_goes_with_the_database(tmp_path):
    from pantry import paths

    assert Store(tmp_path / "home" / "pantry.sqlite3").weights_dir == tmp_path / "home" / "weights"
    assert Store(tmp_path / "db.sqlite3", weights_dir=tmp_path / "w").weights_dir == tmp_path / "w"
    assert paths.weights_dir_for(paths.DEFAULT_DB_PATH) == paths.PROJECT_ROOT / "weights"
    assert paths.weights_dir_for(tmp_path / "pantry.sqlite3") == tmp_path / "weights"


def test_open_from_settings_uses_the_settings_weights_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("PANTRY_HOME", str(tmp_path / "home"))
    settings = Settings.from_env()
    assert Store.open(settings).weights_dir == settings.weights_dir == tmp_path / "home" / "weights"


def test_weight_paths_are_stored_relative_and_read_absolute(tmp_path):
    store = Store(tmp_path / "pantry.sqlite3")
    inside = store.add_model_version(None, tmp_path / "weights" / "population-1.pt", "e")
    nested = store.add_model_version("bo", "user-bo/v2.pt", "e")  # relative: to the weights folder
    outside = store.add_model_version("bo", tmp_path / "elsewhere" / "v3.pt", "e")
    assert _stored_paths(store.path) == ["population-1.pt", "user-bo/v2.pt", str(tmp_path / "elsewhere" / "v3.pt")]
    assert store.get_model_version(inside).path == str(tmp_path / "weights" / "population-1.pt")
    assert store.get_model_version(nested).path == str(tmp_path / "weights" / "user-bo" / "v2.pt")
    assert store.get_model_version(outside).path == str(tmp_path / "elsewhere" / "v3.pt")


def test_a_copied_home_keeps_loading_its_models(tmp_path, monkeypatch):
    """Copy a whole PANTRY_HOME (database + weights) somewhere else and delete the original:
    the copy's model versions point into the copy and load."""
    import shutil

    import numpy as np

    from pantry.model.features import FEATURE_SPEC
    from pantry.model.reward import load_model

    monkeypatch.setenv("PANTRY_HOME", str(tmp_path / "old-home"))
    old = Store.open(Settings.from_env())
    weights = _real_model(Settings.from_env().weights_dir / "population-20240101.pt")
    version = old.add_model_version(None, weights, "all-MiniLM-L6-v2", {"acc": 0.7}, activate=True)
    x = np.ones((2, 8), dtype=np.float32)
    before = load_model(old.get_model_version(version).path, "all-MiniLM-L6-v2", FEATURE_SPEC).score(x)[0]

    shutil.copytree(tmp_path / "old-home", tmp_path / "moved" / "new-home")
    shutil.rmtree(tmp_path / "old-home")
    monkeypatch.setenv("PANTRY_HOME", str(tmp_path / "moved" / "new-home"))
    moved = Store.open(Settings.from_env())
    active = moved.active_model(None)
    assert active.id == version and active.path == str(tmp_path / "moved" / "new-home" / "weights" / weights.name)
    after = load_model(active.path, "all-MiniLM-L6-v2", FEATURE_SPEC).score(x)[0]
    np.testing.assert_array_equal(before, after)


def _schema_3_database(path, model_paths):
    """A schema-3 database (what the previous version wrote) holding these model paths."""
    Store(path)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    conn.executemany("INSERT INTO model_versions (user_name, path, created_at, embedder, active) "
                     "VALUES (NULL, ?, '2024-01-01T00:00:00+00:00', 'all-MiniLM-L6-v2', 0)",
                     [(str(p),) for p in model_paths])
    conn.commit()
    conn.close()


def test_schema_3_weight_paths_are_migrated_in_place(tmp_path, monkeypatch):
    home = tmp_path / "home"
    inside = _real_model(home / "weights" / "population-a.pt")  # absolute, inside the weights folder
    legacy = _real_model(tmp_path / "run" / "data" / "weights" / "population-b.pt")  # old default layout
    gone = tmp_path / "old-place" / "weights" / "population-c.pt"  # home moved before the upgrade
    _real_model(home / "weights" / "population-c.pt")
    missing = tmp_path / "nowhere" / "population-d.pt"
    _schema_3_database(home / "pantry.sqlite3", [inside, "data/weights/population-b.pt", gone, missing])
    monkeypatch.chdir(tmp_path / "run")  # old relative paths were relative to where the app ran
    store = Store(home / "pantry.sqlite3")
    assert store.schema_version() == SCHEMA_VERSION
    assert _stored_paths(store.path) == ["population-a.pt", str(legacy), "population-c.pt", str(missing)]
    assert [v.path for v in store.model_versions()][::-1] == [
        str(inside), str(legacy), str(home / "weights" / "population-c.pt"), str(missing)]
    monkeypatch.chdir(tmp_path)
    again = Store(home / "pantry.sqlite3")  # opening again changes nothing
    assert _stored_paths(again.path) == ["population-a.pt", str(legacy), "population-c.pt", str(missing)]


# --- change stamp (schema 5) --------------------------------------------------------------

REPO = Path(__file__).resolve().parents[2]


def _in_subprocess(locator, code, *args):
    """Run `code` (with `store` open on the same database) in a fresh interpreter: another process."""
    prog = ("import sys; from tests.pg_server import open_locator; store = open_locator(sys.argv[1]); "
            "from pantry.domain.votes import Vote; " + code)
    out = subprocess.run([sys.executable, "-c", prog, locator, *args], capture_output=True, text=True,
                         timeout=120, cwd=REPO)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip()


def _stamp_in_subprocess(locator, user):
    """change_stamp read by another process sharing the database."""
    return tuple(json.loads(_in_subprocess(locator, "import json; print(json.dumps(store.change_stamp(sys.argv[2] or None)))",
                                           user or "")))


def test_change_stamp_moves_with_every_write_that_a_page_shows(store, recipes):
    seen = {"bo": [store.change_stamp("bo")], "ana": [store.change_stamp("ana")], None: [store.change_stamp()]}

    def moved(*users):
        """Which scopes' stamps changed since the last call."""
        out = set()
        for u, hist in seen.items():
            now = store.change_stamp(u)
            if now != hist[-1]:
                out.add(u)
            hist.append(now)
        return out

    assert all(isinstance(s[0], tuple) for s in seen.values())
    vid = store.add_vote(Vote(user="bo", a=recipes[0].id, b=recipes[1].id, outcome="a"))
    assert moved() == {"bo", None, "ana"}  # bo is a new profile: everyone's user list changed
    store.add_vote(Vote(user="bo", a=recipes[0].id, b=recipes[2].id, outcome="b"))
    assert moved() == {"bo", None}  # ana's pages show nothing of bo's second vote
    store.undo_last_vote("bo")
    assert moved() == {"bo", None}
    store.delete_vote(vid)
    assert moved() == {"bo", None}
    assert store.delete_vote(vid) is False
    store.restore_vote(vid)
    assert moved() == {"bo", None}
    store.set_user_prefs("bo", {"k": 1})
    assert moved() == {"bo", None}
    mv = store.add_model_version("bo", "w.pt", "e")
    assert moved() == {"bo", None}
    store.activate_model(mv)
    assert moved() == {"bo", None}
    store.deactivate_models("bo")
    assert moved() == {"bo", None}
    pop = store.add_model_version(None, "p.pt", "e", activate=True)  # the population: everyone's pages
    assert moved() == {"bo", "ana", None}
    store.activate_model(pop)
    assert moved() == {"bo", "ana", None}
    batch, _ = store.import_records([make_recipe(20)], [Vote(user="ana", a=recipes[0].id, b=recipes[3].id,
                                                              outcome="a")], "f.jsonl")
    assert moved() == {"bo", "ana", None}
    store.delete_batch(batch.id)
    assert moved() == {"bo", "ana", None}
    store.restore_batch(batch.id)
    assert moved() == {"bo", "ana", None}
    store.add_recipes([make_recipe(30)])
    assert moved() == {"bo", "ana", None}
    # reads change nothing
    store.votes(), store.vote_counts("bo"), store.model_versions(), store.active_model("bo", True)
    assert moved() == set()


def test_change_stamp_is_seen_by_another_store_and_another_process(make_store, store, recipes):
    other = make_store()
    before, before_other = store.change_stamp("bo"), other.change_stamp("bo")
    assert before == before_other == _stamp_in_subprocess(make_store.locator, "bo")
    other.add_vote(Vote(user="bo", a=recipes[0].id, b=recipes[1].id, outcome="a"))
    after = store.change_stamp("bo")
    assert after != before and after == other.change_stamp("bo") == _stamp_in_subprocess(make_store.locator, "bo")
    # a write from another process moves this process's stamp, and what it wrote is read here
    _in_subprocess(make_store.locator, "store.add_vote(Vote(user='bo', a=sys.argv[2], b=sys.argv[3], outcome='b'))",
                   recipes[0].id, recipes[2].id)
    assert store.change_stamp("bo") != after and store.change_stamp() != (0,)
    assert store.vote_counts("bo") == {"a": 1, "b": 1, "tie": 0, "both_bad": 0}
