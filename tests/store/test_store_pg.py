"""Store on two backends: what several servers sharing one database rely on.

Each test runs on the SQLite file and on a PostgreSQL schema of its own (fixtures in
tests/conftest.py, server from tests/pg_server.py), except the ones about one backend:
- 8 writer processes x 500 votes: every vote stored exactly once, no lock error surfacing;
- model weights live in the database: a server with an empty weights folder loads a
  version another server trained (its file is written from the stored bytes);
- no stale per-process state: what one Store writes, another reads on its next call;
- PostgreSQL: the settings select it, an unreachable server is one clear line, migrations
  from empty and re-run, the DDL is PostgreSQL's own (identity ids, bytea);
- SQLite: a schema-4 and a schema-5 file upgrade in place, old file-only versions still load.
"""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from pantry.domain.recipes import recipe_from_dict
from pantry.domain.votes import Vote
from pantry.settings import Settings
from pantry.storage.store import SCHEMA_VERSION, Store, StoreError

REPO = Path(__file__).resolve().parents[2]


def make_recipe(i: int):
    return recipe_from_dict({"title": f"Dish {i}", "ingredients": [f"{i} eggs", "rice"],
                             "steps": ["Cook."], "minutes": 10 + i})


# --- concurrency: 8 processes x 500 votes ----------------------------------------------------

_WRITER = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[1])
    from pantry.domain.votes import Vote
    from tests.pg_server import open_locator
    store = open_locator(sys.argv[2])
    a, b, who = sys.argv[3], sys.argv[4], sys.argv[5]
    ids = []
    for i in range(int(sys.argv[6])):
        ids.append(store.add_vote(Vote(user=who, a=a, b=b, outcome="a" if i % 2 else "b", reasons=(f"{who}-{i}",))))
        if i % 100 == 0:
            store.vote_counts(who)  # readers interleave with the writers
    print(" ".join(map(str, ids)), flush=True)
""")


@pytest.mark.slow
def test_eight_writer_processes_store_every_vote_exactly_once(make_store):
    store = make_store()
    store.add_recipes([make_recipe(i) for i in range(2)])
    a, b = sorted(r.id for r in store.all_recipes())
    n_procs, per_process = 8, 500
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(REPO), make_store.locator, a, b, f"w{p}",
                               str(per_process)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
             for p in range(n_procs)]
    acked: list[int] = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        assert "locked" not in err and "deadlock" not in err.lower()
        acked += [int(x) for x in out.split()]
    assert len(acked) == n_procs * per_process and len(set(acked)) == len(acked)
    votes = make_store().votes()
    assert sorted(v.id for v in votes) == sorted(acked)
    assert len({v.reasons for v in votes}) == n_procs * per_process  # each vote once, none doubled
    for p in range(n_procs):
        assert store.vote_counts(f"w{p}") == {"a": 250, "b": 250, "tie": 0, "both_bad": 0}


# --- model weights in the database -----------------------------------------------------------

def _trained_weights(path: Path, seed: int = 0) -> Path:
    from pantry.model.features import FEATURE_SPEC
    from pantry.model.reward import RewardMember, RewardModel

    import torch
    torch.manual_seed(seed)
    model = RewardModel([RewardMember(16)], "emb", FEATURE_SPEC, 16)
    return model.save(path)


def test_a_server_with_an_empty_weights_folder_loads_a_model_another_trained(make_store, tmp_path):
    from pantry.model.reward import load_model

    a = make_store(tmp_path / "server-a" / "weights")
    weights = _trained_weights(a.weights_dir / "user-bo-1.pt")
    data = weights.read_bytes()
    vid = a.add_model_version("bo", weights, "emb", {"acc": 0.8}, activate=True)
    assert a.get_model_version(vid).weights_sha256 == hashlib.sha256(data).hexdigest()

    b = make_store(tmp_path / "server-b" / "weights")  # another server: nothing in its weights folder
    assert not b.weights_dir.exists() or not any(b.weights_dir.iterdir())
    active = b.active_model("bo")
    assert active.id == vid and active.path == str(b.weights_dir / "user-bo-1.pt")
    assert Path(active.path).read_bytes() == data  # written from the database
    x = np.random.default_rng(0).standard_normal((3, 16)).astype(np.float32)
    np.testing.assert_allclose(load_model(active.path).score(x)[0], load_model(weights).score(x)[0])
    # listing versions gives the same local file; nothing is rewritten while it exists
    mtime = Path(active.path).stat().st_mtime_ns
    assert [v.path for v in b.model_versions("bo")] == [active.path]
    assert Path(active.path).stat().st_mtime_ns == mtime

    # a weights file outside the weights folder (another machine's absolute path) comes to
    # this server's weights folder under the version's id
    outside = _trained_weights(tmp_path / "elsewhere" / "pop.pt", seed=1)
    pid = a.add_model_version(None, outside, "emb")
    outside.unlink()
    got = b.get_model_version(pid)
    assert got.path == str(b.weights_dir / f"db-v{pid}-pop.pt") and Path(got.path).is_file()
    load_model(got.path)


def test_a_local_file_that_differs_is_kept_for_the_loader_to_report(make_store, tmp_path):
    store = make_store()
    weights = _trained_weights(store.weights_dir / "population-1.pt")
    vid = store.add_model_version(None, weights, "emb", activate=True)
    weights.write_bytes(weights.read_bytes()[:-40])  # damaged after it was recorded
    assert store.active_model(None).path == str(weights)
    assert len(weights.read_bytes()) > 0 and store.get_model_version(vid).weights_sha256  # not overwritten


def test_a_version_recorded_without_a_file_has_no_bytes(make_store):
    store = make_store()
    vid = store.add_model_version(None, "not-yet.pt", "emb")
    v = store.get_model_version(vid)
    assert v.weights_sha256 is None and v.path == str(store.weights_dir / "not-yet.pt")


# --- no stale per-process state --------------------------------------------------------------

def test_what_one_server_writes_the_other_reads_on_its_next_call(make_store, tmp_path):
    a, b = make_store(tmp_path / "a"), make_store(tmp_path / "b")
    a.add_recipes([make_recipe(i) for i in range(4)])
    ids = sorted(r.id for r in b.all_recipes())
    assert len(ids) == 4 and b.count_recipes() == 4
    vid = a.add_vote(Vote(user="bo", a=ids[0], b=ids[1], outcome="a"))
    assert [v.id for v in b.votes("bo")] == [vid] and b.list_users() == ["bo"]
    b.set_user_prefs("bo", {"diet": "vegan"})
    b.set_user_pantry("bo", "eggs")
    assert a.get_user_prefs("bo") == {"diet": "vegan"} and a.get_user_pantry("bo") == "eggs"
    m1 = a.add_model_version("bo", "m1.pt", "emb", activate=True)
    m2 = a.add_model_version("bo", "m2.pt", "emb")
    assert b.active_model("bo").id == m1
    b.activate_model(m2)
    assert a.active_model("bo").id == m2
    a.put_embeddings("emb", {"h": np.ones(4, dtype=np.float32)})
    np.testing.assert_array_equal(b.get_embeddings("emb", ["h"])["h"], np.ones(4, dtype=np.float32))
    batch, _ = b.import_records([], [Vote(user="cy", a=ids[2], b=ids[3], outcome="b")], "f.jsonl")
    assert a.vote_counts("cy")["b"] == 1
    a.delete_batch(batch.id)
    assert b.vote_counts("cy")["b"] == 0 and b.get_import_batch(batch.id).deleted
    b.undo_last_vote("bo")
    assert a.votes("bo") == []


# --- embeddings at scale ---------------------------------------------------------------------

def test_embeddings_round_trip_in_bulk(make_store):
    store = make_store()
    rng = np.random.default_rng(0)
    vecs = {f"h{i:05d}": rng.standard_normal(32).astype(np.float32) for i in range(12000)}
    assert store.put_embeddings("m", vecs) == len(vecs)
    asked = list(vecs) + ["missing"]
    got = store.get_embeddings("m", asked)
    assert len(got) == len(vecs) and "missing" not in got
    for h in ("h00000", "h05000", "h11999"):
        np.testing.assert_array_equal(got[h], vecs[h])
        assert got[h].dtype == np.float32


# --- PostgreSQL only -------------------------------------------------------------------------

def test_settings_select_postgresql_and_the_file_is_not_made(pg_url, tmp_path, monkeypatch):
    from pantry.storage.postgres import PostgresStore

    monkeypatch.setenv("PANTRY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PANTRY_DATABASE_URL", pg_url)
    settings = Settings.from_env()
    assert settings.database_url == pg_url and "database_url" not in repr(settings)
    store = Store.open(settings)
    assert isinstance(store, PostgresStore) and store.weights_dir == settings.weights_dir
    assert store.schema_version() == SCHEMA_VERSION and store.journal_mode() == "postgresql"
    assert not (tmp_path / "home" / "pantry.sqlite3").exists()
    monkeypatch.delenv("PANTRY_DATABASE_URL")
    assert type(Store.open(Settings.from_env())) is Store


def test_a_bad_database_url_is_a_settings_error(monkeypatch):
    from pantry.settings import SettingsError

    monkeypatch.setenv("PANTRY_DATABASE_URL", "mysql://u:secret@h/db")
    with pytest.raises(SettingsError, match="PANTRY_DATABASE_URL") as info:
        Settings.from_env()
    assert "secret" not in str(info.value)


def test_an_unreachable_server_is_one_clear_line(tmp_path):
    import socket

    from pantry.storage.postgres import PostgresStore

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    with pytest.raises(StoreError) as info:
        PostgresStore(f"postgresql://bo:secret@127.0.0.1:{port}/pantry", tmp_path / "w", connect_timeout=3)
    text = str(info.value)
    assert f"127.0.0.1:{port}/pantry" in text and "cannot reach the PostgreSQL database" in text
    assert "\n" not in text and "secret" not in text


def test_postgresql_schema_from_empty_and_rerun(pg_url, tmp_path):
    import psycopg

    from pantry.storage.postgres import PostgresStore

    first = PostgresStore(pg_url, tmp_path / "w")
    first.ensure_user("bo")
    with psycopg.connect(pg_url) as conn:
        types = dict(conn.execute("SELECT column_name, data_type FROM information_schema.columns "
                                  "WHERE table_schema = current_schema() AND table_name = 'model_versions'"
                                  ).fetchall())
        identity = conn.execute("SELECT is_identity FROM information_schema.columns WHERE table_schema = "
                                "current_schema() AND table_name = 'votes' AND column_name = 'id'").fetchone()[0]
        vec = conn.execute("SELECT data_type FROM information_schema.columns WHERE table_schema = "
                           "current_schema() AND table_name = 'embeddings' AND column_name = 'vec'").fetchone()[0]
    assert types["weights"] == "bytea" and vec == "bytea" and identity == "YES"
    again = PostgresStore(pg_url, tmp_path / "w")  # a current schema is opened without migrating
    assert again.schema_version() == SCHEMA_VERSION and again.list_users() == ["bo"]
    from pantry.storage.schema import _migrate

    conn = again.db.connect()  # every migration step run again on the current schema: idempotent
    again.db.begin_schema(conn)
    _migrate(again.db, conn, 0, again.weights_dir)
    again.db.commit(conn)
    again.db.release(conn, True)
    assert again.schema_version() == SCHEMA_VERSION and again.list_users() == ["bo"]


def test_a_foreign_postgresql_schema_is_refused(pg_url, tmp_path):
    import psycopg

    from pantry.storage.postgres import PostgresStore

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE invoices (id int)")
    with pytest.raises(StoreError, match="not a PantryPilot one .*invoices"):
        PostgresStore(pg_url, tmp_path / "w")


# --- SQLite only: upgrades from schema 4 and 5 ------------------------------------------------

def _downgrade(path: Path, version: int) -> None:
    """Make a current database look exactly like schema `version` (4 or 5) wrote it."""
    conn = sqlite3.connect(str(path))
    with conn:
        conn.execute("ALTER TABLE model_versions DROP COLUMN weights")
        conn.execute("ALTER TABLE model_versions DROP COLUMN weights_sha256")
        if version < 5:
            conn.execute("DROP TABLE changes")
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))
    conn.close()


@pytest.mark.parametrize("version", [4, 5])
def test_sqlite_schema_4_and_5_upgrade_in_place_and_file_only_versions_load(tmp_path, version):
    from pantry.model.reward import load_model

    path = tmp_path / "pantry.sqlite3"
    store = Store(path)
    store.add_recipes([make_recipe(i) for i in range(2)])
    weights = _trained_weights(store.weights_dir / "population-old.pt")
    _downgrade(path, version)
    conn = sqlite3.connect(str(path))
    with conn:  # what the old code recorded: a path, no bytes
        conn.execute("INSERT INTO model_versions (user_name, path, created_at, embedder, active) "
                     "VALUES (NULL, 'population-old.pt', '2026-01-01T00:00:00+00:00', 'emb', 1)")
    conn.close()
    upgraded = Store(path)
    assert upgraded.schema_version() == SCHEMA_VERSION
    old = upgraded.active_model(None)
    assert old.weights_sha256 is None and old.path == str(weights)
    load_model(old.path)
    stamp = upgraded.change_stamp()
    upgraded.ensure_user("bo")
    assert upgraded.change_stamp() != stamp
    assert Store(path).schema_version() == SCHEMA_VERSION  # re-run: nothing changes


# --- PostgreSQL: damaged rows are read as the SQLite store reads them -------------------------

def test_postgresql_damaged_rows_are_read_tolerantly(pg_url, tmp_path):
    import psycopg

    from pantry.storage.postgres import PostgresStore

    store = PostgresStore(pg_url, tmp_path / "w")
    rng = np.random.default_rng(0)
    good = {f"h{i}": (rng.standard_normal(64) / 20).astype(np.float32) for i in range(4)}
    store.put_embeddings("m", good)
    store.add_recipes([make_recipe(i) for i in range(2)])
    rid = sorted(r.id for r in store.all_recipes())[0]
    vid = store.add_model_version(None, "m.pt", "emb", metrics={"acc": 0.9}, activate=True)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE embeddings SET vec = '\\x0102030405'::bytea WHERE text_hash = 'h0'")  # odd length
        conn.execute("UPDATE embeddings SET vec = %s WHERE text_hash = 'h1'", (np.full(64, np.nan, "<f4").tobytes(),))
        conn.execute("UPDATE embeddings SET vec = %s WHERE text_hash = 'h2'", (np.full(64, 1e30, "<f4").tobytes(),))
        conn.execute("UPDATE model_versions SET metrics_json = '{not json' WHERE id = %s", (vid,))
        conn.execute("UPDATE recipes SET json = '{bad json' WHERE id = %s", (rid,))
    assert sorted(store.get_embeddings("m", list(good))) == ["h3"]
    store.put_embeddings("m", good)  # re-embedded vectors overwrite the damaged rows
    assert sorted(store.get_embeddings("m", list(good))) == sorted(good)
    active = store.active_model(None)
    assert active.metrics == {} and "not valid JSON" in active.metrics_error
    with pytest.raises(StoreError, match=rf"stored recipe '{rid}' is damaged"):
        store.get_recipe(rid)


def test_postgresql_error_inside_a_write_rolls_everything_back(pg_url, tmp_path):
    from pantry.storage.postgres import PostgresStore

    store = PostgresStore(pg_url, tmp_path / "w")
    with pytest.raises(ZeroDivisionError):
        with store.db.write() as conn:
            conn.execute("INSERT INTO users (name, created_at) VALUES (?, ?)", ("ghost", "2026-01-01"))
            1 / 0
    assert store.list_users() == []
    store.ensure_user("bo")  # the pooled connection is usable again
    assert store.list_users() == ["bo"]


def test_postgresql_store_reconnects_after_its_connections_are_killed(pg_url, tmp_path):
    import psycopg

    from pantry.storage.postgres import PostgresStore

    store = PostgresStore(pg_url, tmp_path / "w")
    store.ensure_user("bo")
    with psycopg.connect(pg_url, autocommit=True) as conn:  # what a server restart does to them
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pantrypilot' "
                     "AND pid <> pg_backend_pid()")
    with pytest.raises(StoreError, match="lost the connection") as info:
        store.list_users()
    assert "\n" not in str(info.value)
    assert store.list_users() == ["bo"]  # the next call has a fresh connection


def test_servers_opening_a_new_postgresql_database_together_do_not_race(pg_url, tmp_path):
    import threading

    from pantry.storage.postgres import PostgresStore

    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def open_one(i: int) -> None:
        try:
            barrier.wait()
            PostgresStore(pg_url, tmp_path / f"w{i}").ensure_user(f"u{i}")
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=open_one, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert PostgresStore(pg_url, tmp_path / "w").list_users() == ["u0", "u1", "u2", "u3"]


def test_a_forked_child_uses_its_own_connections(pg_url, tmp_path):
    import os

    from pantry.storage.postgres import PostgresStore

    store = PostgresStore(pg_url, tmp_path / "w")
    store.ensure_user("parent")  # a pooled connection now exists
    pid = os.fork()
    if pid == 0:  # the child: writes through its own connection, leaves the parent's alone
        code = 1
        try:
            store.ensure_user("child")
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert store.list_users() == ["child", "parent"]  # the parent's pooled connection still works
