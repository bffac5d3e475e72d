"""Store reliability: defects a reliability probe found, each pinned by a test.

1. a second Store on the same file in one process must not drop the process's SQLite locks
2. damaged cached embedding vectors are treated as missing, never returned
3. damaged model metrics JSON is read tolerantly (metrics_error), not a JSONDecodeError
4. a damaged stored recipe is a clear StoreError naming it, never a KeyError
5. a failing rollback never masks the error that caused it
6. interrupted atomic saves leave no temp files; stale ones are swept on Store open
7. a read-only database can be read; writes fail with a clear message
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import pantry.base as base
from pantry.base import write_bytes_atomic, write_text_atomic
from pantry.domain.recipes import recipe_from_dict
from pantry.domain.votes import Vote
from pantry.storage.store import Store, StoreError

REPO = Path(__file__).resolve().parents[2]


def make_recipe(i: int):
    return recipe_from_dict({"title": f"Dish {i}", "ingredients": [f"{i} eggs", "rice"],
                             "steps": ["Cook."], "minutes": 10 + i})


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "pantry.sqlite3"
    store = Store(path)
    store.add_recipes([make_recipe(i) for i in range(3)])
    return path


def _ids(store):
    return [r.id for r in store.all_recipes()]


# --- 1. no descriptor of the live database outside SQLite --------------------------------

_LOCK_PROBE = textwrap.dedent("""
    import fcntl, os, sys
    fd = os.open(sys.argv[1], os.O_RDWR)
    try:
        # SQLite's SHARED lock range (pending byte 0x40000000, reserved +1, shared +2..+511)
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 510, 0x40000002, os.SEEK_SET)
        print("free")
    except OSError:
        print("locked")
""")


def _lock_state(path: Path) -> str:
    out = subprocess.run([sys.executable, "-c", _LOCK_PROBE, str(path)], capture_output=True, text=True,
                         timeout=30, check=True)
    return out.stdout.strip()


def test_opening_a_second_store_keeps_the_process_sqlite_locks(db):
    conn = sqlite3.connect(str(db))
    try:
        conn.execute("SELECT COUNT(*) FROM votes").fetchone()  # a WAL reader holds a SHARED lock on the file
        assert _lock_state(db) == "locked"
        Store(db)  # must not open/close the file with plain open()
        assert _lock_state(db) == "locked", "opening a Store dropped this process's SQLite locks"
    finally:
        conn.close()


_WRITER = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[1])
    from pantry.domain.votes import Vote
    from pantry.storage.store import Store
    a, b = sys.argv[3], sys.argv[4]
    for i in range(int(sys.argv[5])):
        vid = Store(sys.argv[2]).add_vote(Vote(user="proc", a=a, b=b, outcome="a"))
        print(vid, flush=True)
""")


def test_store_per_vote_threads_and_a_second_process_lose_nothing(db):
    a, b = _ids(Store(db))[:2]
    n_threads, per_thread, n_procs, per_process = 4, 150, 2, 150
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(REPO), str(db), a, b, str(per_process)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(n_procs)]
    acked: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(t: int) -> None:
        try:
            for _ in range(per_thread):
                vid = Store(db).add_vote(Vote(user=f"thread{t}", a=a, b=b, outcome="b"))
                with lock:
                    acked.append(vid)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        acked += [int(x) for x in out.split()]
    assert not errors, errors
    assert len(acked) == n_threads * per_thread + n_procs * per_process
    assert len(set(acked)) == len(acked), "two writers were acknowledged the same vote id"
    conn = sqlite3.connect(str(db))
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {r[0] for r in conn.execute("SELECT id FROM votes")}
    finally:
        conn.close()
    lost = sorted(set(acked) - stored)
    assert not lost, f"{len(lost)} acknowledged votes lost"
    assert len(Store(db).votes()) == len(acked)


@pytest.mark.parametrize("data", [b"not a database at all, just some text\n" * 200, b"x", b"hello\n" * 50,
                                  b"SQLite format 3\x00" + b"\xff" * 600])
def test_a_non_sqlite_file_is_refused_untouched_through_sqlite(tmp_path, data):
    path = tmp_path / "pantry.sqlite3"
    path.write_bytes(data)
    with pytest.raises(StoreError, match="not a PantryPilot database"):
        Store(path)
    with pytest.raises(StoreError, match="not a PantryPilot database"):
        Store(path, read_only=True)
    assert path.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pantry.sqlite3"]


# --- 2. cached embeddings are checked ---------------------------------------------------

def test_damaged_cached_embeddings_are_missing_and_get_overwritten(tmp_path):
    store = Store(tmp_path / "pantry.sqlite3")
    rng = np.random.default_rng(0)
    good = {f"h{i}": (rng.standard_normal(384) / 20).astype(np.float32) for i in range(5)}
    assert store.put_embeddings("m", good) == 5
    conn = sqlite3.connect(str(store.path))
    with conn:
        conn.execute("UPDATE embeddings SET vec = randomblob(length(vec)) WHERE text_hash = 'h0'")
        conn.execute("UPDATE embeddings SET vec = x'0102030405' WHERE text_hash = 'h1'")  # odd length
        conn.execute("UPDATE embeddings SET vec = ? WHERE text_hash = 'h2'",
                     (np.full(384, np.nan, dtype="<f4").tobytes(),))
        conn.execute("UPDATE embeddings SET vec = ?, dim = 100 WHERE text_hash = 'h3'",
                     (np.zeros(100, dtype="<f4").tobytes(),))  # consistent row, wrong length for the model
    conn.close()
    got = store.get_embeddings("m", list(good))
    assert sorted(got) == ["h4"]
    np.testing.assert_array_equal(got["h4"], good["h4"])
    assert sorted(store.get_embeddings("m", list(good), dim=384)) == ["h4"]
    assert store.get_embeddings("m", ["h4"], dim=128) == {}
    # re-embedded vectors overwrite the damaged rows
    store.put_embeddings("m", {h: good[h] for h in ("h0", "h1", "h2", "h3")})
    got = store.get_embeddings("m", list(good))
    assert sorted(got) == sorted(good)
    for h, v in good.items():
        np.testing.assert_array_equal(got[h], v)


def test_non_finite_vectors_are_not_cached(tmp_path):
    store = Store(tmp_path / "pantry.sqlite3")
    bad = np.ones(8, dtype=np.float32)
    bad[3] = np.inf
    assert store.put_embeddings("m", {"ok": np.ones(8), "bad": bad}) == 1
    assert sorted(store.get_embeddings("m", ["ok", "bad"])) == ["ok"]


# --- 3. damaged model metrics ---------------------------------------------------------

def test_garbage_metrics_json_is_read_tolerantly(tmp_path):
    store = Store(tmp_path / "pantry.sqlite3")
    vid = store.add_model_version(None, "m.pt", "emb", metrics={"accuracy": 0.9}, activate=True)
    ok = store.add_model_version(None, "n.pt", "emb", metrics={"accuracy": 0.8})
    conn = sqlite3.connect(str(store.path))
    with conn:
        conn.execute("UPDATE model_versions SET metrics_json = '{not json', meta_json = '[1, 2]' WHERE id = ?",
                     (vid,))
    conn.close()
    active = store.active_model(None)
    assert active is not None and active.id == vid
    assert active.metrics == {} and active.meta == {}
    assert "metrics" in active.metrics_error and "not valid JSON" in active.metrics_error
    assert "metadata" in active.metrics_error
    versions = {v.id: v for v in store.model_versions()}
    assert versions[ok].metrics == {"accuracy": 0.8} and versions[ok].metrics_error is None
    assert store.get_model_version(vid).metrics_error


def test_other_damaged_json_columns_are_read_tolerantly(db):
    store = Store(db)
    a, b = _ids(store)[:2]
    store.set_user_prefs("alice", {"diet": "vegan"})
    vid = store.add_vote(Vote(user="alice", a=a, b=b, outcome="a", reasons=("quick",)))
    conn = sqlite3.connect(str(db))
    with conn:
        conn.execute("UPDATE votes SET reasons_json = '{oops', pantry_json = '7' WHERE id = ?", (vid,))
        conn.execute("UPDATE users SET prefs_json = 'nope' WHERE name = 'alice'")
    conn.close()
    vote = store.get_vote(vid)
    assert vote.reasons == () and vote.pantry == () and vote.outcome == "a"
    assert store.get_user_prefs("alice") == {}


# --- 4. damaged stored recipes ----------------------------------------------------------

@pytest.mark.parametrize("damage", ["json_remove(json, '$.title')", "'{bad json'", "'[1, 2]'",
                                    "json_set(json, '$.ingredients', 7)"])
def test_damaged_stored_recipe_is_a_clear_error_naming_it(db, damage):
    store = Store(db)
    rid = _ids(store)[0]
    conn = sqlite3.connect(str(db))
    with conn:
        conn.execute(f"UPDATE recipes SET json = {damage} WHERE id = ?", (rid,))
    conn.close()
    for call in (lambda: store.get_recipes([rid]), store.all_recipes, lambda: store.get_recipe(rid)):
        with pytest.raises(StoreError, match=rf"stored recipe '{rid}' is damaged"):
            call()


# --- 5. rollback failures never mask the real error ------------------------------------

def test_write_error_is_reported_not_the_failed_rollback(tmp_path):
    store = Store(tmp_path / "pantry.sqlite3")
    conn = sqlite3.connect(str(store.path))
    with conn:  # RAISE(ROLLBACK) ends the transaction itself, as SQLite does after an I/O error
        conn.execute("CREATE TRIGGER fail BEFORE INSERT ON users "
                     "BEGIN SELECT RAISE(ROLLBACK, 'disk I/O error (simulated)'); END")
    conn.close()
    with pytest.raises(StoreError) as info:
        store.ensure_user("alice")
    assert "disk I/O error (simulated)" in str(info.value)
    assert "rollback" not in str(info.value)
    assert store.list_users() == []


def test_python_error_inside_a_write_is_kept_when_rollback_fails(tmp_path):
    store = Store(tmp_path / "pantry.sqlite3")

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with store.db.write() as conn:
            conn.execute("INSERT INTO meta (key, value) VALUES ('x', 'y')")
            conn.execute("ROLLBACK")  # the transaction is gone before the failure
            raise Boom("the real problem")
    assert store.schema_version() > 0


# --- 6. temp files of atomic saves --------------------------------------------------------

@pytest.mark.parametrize("exc", [OSError("disk full (simulated)"), KeyboardInterrupt()])
def test_interrupted_atomic_write_leaves_no_temp_file(tmp_path, monkeypatch, exc):
    target = tmp_path / "model.pt"
    target.write_bytes(b"old")

    def fail(*args, **kwargs):
        raise exc

    monkeypatch.setattr(base.os, "replace", fail)
    with pytest.raises(type(exc)):
        write_bytes_atomic(target, b"new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]
    assert target.read_bytes() == b"old"


def test_concurrent_atomic_writes_use_unique_temp_files(tmp_path):
    target = tmp_path / "same.txt"
    errors = []

    def write(i):
        try:
            for _ in range(20):
                write_text_atomic(target, f"writer {i}\n" * 100)
        except BaseException as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(p.name for p in tmp_path.iterdir()) == ["same.txt"]
    assert len(set(target.read_text().splitlines())) == 1


def test_stale_temp_files_are_swept_on_store_open(tmp_path):
    weights = tmp_path / "weights"
    weights.mkdir()
    old = time.time() - 2 * 3600
    names = {
        ".population-1.pt.k2j4_x9q.pantry-tmp": True,   # ours, stale: removed
        ".user-7.pt.ab12cd34.tmp": True,               # ours (older name form), stale: removed
        ".fresh.pt.zz99yy88.pantry-tmp": False,         # ours but young: a save may be in progress
        "notes.tmp": False,                             # not ours
        ".hidden.tmp": False,                           # not ours
        "population-1.pt": False,                       # a model
    }
    for name, stale in names.items():
        p = weights / name
        p.write_bytes(b"x")
        if stale or name in ("notes.tmp", ".hidden.tmp", "population-1.pt"):
            os.utime(p, (old, old))
    Store(tmp_path / "pantry.sqlite3", weights_dir=weights)
    left = {p.name for p in weights.iterdir()}
    assert left == {n for n, stale in names.items() if not stale}
    assert base.sweep_stale_temp_files(weights, max_age_s=0) == 1  # the young one, when asked
    assert base.sweep_stale_temp_files(tmp_path / "missing") == 0


# --- 7. read-only databases -----------------------------------------------------------

def _populate(path: Path) -> Store:
    store = Store(path)
    store.add_recipes([make_recipe(i) for i in range(3)])
    a, b = _ids(store)[:2]
    store.add_vote(Vote(user="alice", a=a, b=b, outcome="a"))
    store.add_model_version("alice", "alice-1.pt", "emb", metrics={"accuracy": 1.0}, activate=True)
    store.put_embeddings("m", {"h": np.ones(4)})
    return store


def _check_reads_work_and_writes_refused(ro: Store) -> None:
    assert ro.read_only
    assert [v.user for v in ro.votes()] == ["alice"]
    assert ro.active_model("alice").metrics == {"accuracy": 1.0}
    assert len(ro.model_versions()) == 1
    assert list(ro.get_embeddings("m", ["h"])) == ["h"]
    assert len(ro.all_recipes()) == 3
    for write in (lambda: ro.ensure_user("bob"), lambda: ro.put_embeddings("m", {"x": np.ones(4)}),
                  lambda: ro.add_model_version(None, "x.pt", "emb")):
        with pytest.raises(StoreError, match="the database .* is read-only"):
            write()


def test_read_only_store_reads_and_refuses_writes(tmp_path):
    path = tmp_path / "pantry.sqlite3"
    _populate(path)
    before = path.read_bytes()
    _check_reads_work_and_writes_refused(Store(path, read_only=True))
    assert path.read_bytes() == before


def test_unwritable_file_is_opened_read_only(tmp_path, monkeypatch):
    path = tmp_path / "pantry.sqlite3"
    _populate(path)
    # Detection goes through os.access (root passes every chmod, so deny W_OK here).
    import pantry.storage.sqlite_backend as store_mod

    real = os.access
    monkeypatch.setattr(store_mod.os, "access",
                        lambda p, mode, **kw: False if mode & os.W_OK else real(p, mode, **kw))
    _check_reads_work_and_writes_refused(Store(path))


def test_sqlite_refusing_writes_at_open_falls_back_to_read_only(tmp_path, monkeypatch):
    path = tmp_path / "pantry.sqlite3"
    _populate(path)
    import pantry.storage.sqlite_backend as store_mod

    real_connect = store_mod.sqlite3.connect

    def connect(target, *args, **kwargs):  # what a read-only mount looks like to os.access-blind code
        if kwargs.get("uri"):
            return real_connect(target, *args, **kwargs)
        return real_connect(f"file:{target}?mode=ro", *args, uri=True, **kwargs)

    monkeypatch.setattr(store_mod.sqlite3, "connect", connect)
    _check_reads_work_and_writes_refused(Store(path))


def test_chmod_read_only_file_and_folder(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    path = home / "pantry.sqlite3"
    _populate(path)
    path.chmod(0o444)
    home.chmod(0o555)
    try:
        if os.access(path, os.W_OK):
            pytest.skip("running as root: chmod does not deny writes (covered by the os.access test)")
        _check_reads_work_and_writes_refused(Store(path))
    finally:
        home.chmod(0o755)
        path.chmod(0o644)


def test_read_only_old_schema_is_not_migrated(tmp_path):
    path = tmp_path / "pantry.sqlite3"
    _populate(path)
    conn = sqlite3.connect(str(path))
    with conn:
        conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="older PantryPilot .* read-only, so it cannot be upgraded"):
        Store(path, read_only=True)
    assert path.read_bytes() == before


def test_read_only_missing_database_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        Store(tmp_path / "nope.sqlite3", read_only=True)
