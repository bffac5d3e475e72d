"""The schema of both backends and its migrations: `SCHEMA_VERSION`, `init_schema`.

Migrations are versioned (`SCHEMA_VERSION`, `meta.schema_version`) and idempotent: CREATE
... IF NOT EXISTS, columns added only when missing (`_ADDED_COLUMNS`), data rewrites keyed on
the version they fix; they run on both backends inside one transaction (the DDL is rewritten
per backend by `Backend.ddl`), so SQLite files of every earlier version are upgraded in place
and two servers opening one new database together change nothing twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pantry.domain.votes import vote_content_key
from pantry.errors import InvalidInput
from pantry.paths import PROJECT_ROOT, absolute
from pantry.storage.errors import StoreError
from pantry.storage.votes import _VOTE_COLUMNS, _vote_from_row

# 2: votes.generator_reason; 3: import_batches, votes.content_key and votes.batch_id;
# 4: model_versions.path relative to the weights folder (absolute only for files outside it);
# 5: the `changes` counters (`Store.change_stamp`); 6: model_versions.weights (the weights
# file's bytes) and weights_sha256; 7: votes.request_key (UNIQUE: a pair token or an
# idempotency key is spent once) and request_digest, the index votes_by_user_pair;
# 8: votes.repeat_of and votes.group_id (`_migrate_8`)
SCHEMA_VERSION = 8

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS users (
        name TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        pantry_text TEXT NOT NULL DEFAULT '',
        prefs_json TEXT NOT NULL DEFAULT '{}')""",
    """CREATE TABLE IF NOT EXISTS recipes (
        id TEXT PRIMARY KEY,
        json TEXT NOT NULL,
        source TEXT,
        created_at TEXT NOT NULL)""",
    # One row per successful import (file), so a whole import can be undone and restored.
    """CREATE TABLE IF NOT EXISTS import_batches (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        file_name TEXT NOT NULL,
        created_at TEXT NOT NULL,
        users_json TEXT NOT NULL DEFAULT '[]',
        recipes_added INTEGER NOT NULL DEFAULT 0,
        recipes_skipped INTEGER NOT NULL DEFAULT 0,
        votes_added INTEGER NOT NULL DEFAULT 0,
        votes_skipped INTEGER NOT NULL DEFAULT 0,
        votes_skipped_deleted INTEGER NOT NULL DEFAULT 0,
        deleted_at TEXT)""",
    """CREATE TABLE IF NOT EXISTS votes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_name TEXT NOT NULL,
        a TEXT NOT NULL,
        b TEXT NOT NULL,
        outcome TEXT NOT NULL,
        strength TEXT,
        left_side TEXT,
        reasons_json TEXT NOT NULL DEFAULT '[]',
        pantry_json TEXT NOT NULL DEFAULT '[]',
        created_at TEXT NOT NULL,
        model_version TEXT,
        generator TEXT,
        generator_reason TEXT,
        deleted_at TEXT,
        content_key TEXT,
        batch_id INTEGER REFERENCES import_batches (id))""",
    "CREATE INDEX IF NOT EXISTS votes_by_user ON votes (user_name, id)",
    """CREATE TABLE IF NOT EXISTS model_versions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_name TEXT,
        path TEXT NOT NULL,
        created_at TEXT NOT NULL,
        embedder TEXT,
        metrics_json TEXT NOT NULL DEFAULT '{}',
        meta_json TEXT NOT NULL DEFAULT '{}',
        active INTEGER NOT NULL DEFAULT 0,
        weights BLOB,
        weights_sha256 TEXT)""",
    # At most one active model per scope (a user, or '' for the population/global scope).
    """CREATE UNIQUE INDEX IF NOT EXISTS one_active_model
        ON model_versions ((COALESCE(user_name, ''))) WHERE active = 1""",
    """CREATE TABLE IF NOT EXISTS embeddings (
        model TEXT NOT NULL,
        text_hash TEXT NOT NULL,
        dim INTEGER NOT NULL,
        vec BLOB NOT NULL,
        PRIMARY KEY (model, text_hash))""",
    """CREATE TABLE IF NOT EXISTS generated (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_name TEXT,
        recipe_id TEXT NOT NULL,
        created_at TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS generated_by_user ON generated (user_name, id)",
    # Change counters (`Store.change_stamp`): scope '*' counts every write, '' the writes that
    # are not one user's (recipes, imports, batches, population models, new users), and a
    # user name that user's own writes (votes, prefs, pantry, personal models).
    "CREATE TABLE IF NOT EXISTS changes (scope TEXT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0)",
)

# Columns that older databases get from a migration: (name, declaration) per table.
_ADDED_COLUMNS = {
    "votes": (("generator_reason", "TEXT"), ("content_key", "TEXT"),
              ("batch_id", "INTEGER REFERENCES import_batches (id)"), ("request_key", "TEXT"),
              ("request_digest", "TEXT")),
    "model_versions": (("weights", "BLOB"), ("weights_sha256", "TEXT")),
}

# Indexes on columns that older databases only get from a migration (created after it).
_LATE_INDEXES = (
    "CREATE INDEX IF NOT EXISTS votes_by_content_key ON votes (content_key)",
    "CREATE INDEX IF NOT EXISTS votes_by_batch ON votes (batch_id)",
    # A request (a pair token, an idempotency key) stores at most one vote, whatever the clocks
    # say and however many servers race: NULLs (votes without a key) are all distinct.
    "CREATE UNIQUE INDEX IF NOT EXISTS votes_by_request ON votes (request_key)",
    "CREATE INDEX IF NOT EXISTS votes_by_user_pair ON votes (user_name, a, b)",
)

# --- migration 8: repeat rounds and household votes ---------------------------------------
# votes.repeat_of: the id of the earlier vote a repeat round judged again (rater
# self-consistency); votes.group_id: the id shared by each member's copy of a household vote.
# Added by `_migrate_8` (also on a new database, after the CREATE TABLEs), never in `_SCHEMA`,
# so the step stays one separate block.
_MIGRATION_8_COLUMNS = (("repeat_of", "INTEGER"), ("group_id", "TEXT"))
_MIGRATION_8_INDEXES = ("CREATE INDEX IF NOT EXISTS votes_by_group ON votes (group_id)",)
# --- end of migration 8 --------------------------------------------------------------------


def init_schema(db: Any, weights_dir: Path) -> None:
    """Create or upgrade the schema of `db` (a `Backend`) to SCHEMA_VERSION; a read-only
    database is only checked. `weights_dir`: the folder model paths are rewritten against."""
    if db.read_only:
        _check_read_only(db)
        return
    conn = db.connect()
    try:
        db.begin_schema(conn)
        # The first read: a file that is not a SQLite database fails here ("file is not a
        # database") before anything is written.
        tables = db.tables(conn)
        version = 0
        if "meta" in tables:
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = int(row[0]) if row else 0
        elif tables:
            raise StoreError(f"{db.where()} is a {db.kind()} but not a PantryPilot one "
                             f"(tables: {', '.join(sorted(tables))}); nothing was changed")
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{db.where()} was written by a newer PantryPilot (schema version {version}; this "
                f"code knows up to {SCHEMA_VERSION}); upgrade PantryPilot to use it")
        if version < SCHEMA_VERSION or db.REMIGRATE_CURRENT:
            _migrate(db, conn, version, weights_dir)
        db.commit(conn)
        db.after_schema(conn)
    except StoreError:
        db.rollback_quietly(conn)
        raise
    except db.DB_ERRORS as e:
        db.rollback_quietly(conn)
        raise db.schema_error(e) from None
    finally:
        db.rollback_quietly(conn)
        db.release(conn, False)


def _check_read_only(db: Any) -> None:
    """Read-only: no migration can run, so the schema must already be this version's."""
    tables, version = db.read_only_schema()
    if not tables - {"sqlite_sequence"}:
        raise StoreError(f"{db.where()} is read-only and empty (no PantryPilot tables); "
                         "make it writable once so PantryPilot can create them")
    if "meta" not in tables:
        raise StoreError(f"{db.where()} is a SQLite database but not a PantryPilot one "
                         f"(tables: {', '.join(sorted(tables))}); nothing was changed")
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{db.where()} was written by a newer PantryPilot (schema version {version}; this "
            f"code knows up to {SCHEMA_VERSION}); upgrade PantryPilot to use it")
    if version < SCHEMA_VERSION:
        raise StoreError(
            f"{db.where()} has the schema of an older PantryPilot (version {version}, this code needs "
            f"{SCHEMA_VERSION}) and is read-only, so it cannot be upgraded; make it writable once "
            "and open it again (nothing was changed)")


def _migrate(db: Any, conn: Any, version: int, weights_dir: Path) -> None:
    """Bring a schema at `version` (0: empty) to SCHEMA_VERSION, inside the open transaction.

    Every step is idempotent (CREATE ... IF NOT EXISTS, a column added only when missing,
    data rewrites keyed on the version they fix), so re-running it, or two servers opening
    one new database together (the transaction holds the write lock), changes nothing.
    """
    for statement in _SCHEMA:  # CREATE ... IF NOT EXISTS keeps older tables as they were
        conn.execute(db.ddl(statement))
    for table, added in _ADDED_COLUMNS.items():
        present = db.columns(conn, table)
        for name, decl in added:
            if name not in present:
                conn.execute(db.ddl(f"ALTER TABLE {table} ADD COLUMN {name} {decl}"))
    _migrate_8(db, conn)  # before the data rewrites below, which read votes with every column
    if version < 3:
        _backfill_content_keys(conn)
    if 0 < version < 4:
        _relative_weight_paths(conn, weights_dir)
    for statement in _LATE_INDEXES:
        conn.execute(db.ddl(statement))
    conn.execute("INSERT INTO changes (scope, n) VALUES ('*', 0) ON CONFLICT (scope) DO NOTHING")
    conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                 "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(SCHEMA_VERSION),))


def _migrate_8(db: Any, conn: Any) -> None:
    """Migration 8 (idempotent): votes.repeat_of and votes.group_id, added when missing."""
    present = db.columns(conn, "votes")
    for name, decl in _MIGRATION_8_COLUMNS:
        if name not in present:
            conn.execute(db.ddl(f"ALTER TABLE votes ADD COLUMN {name} {decl}"))
    for statement in _MIGRATION_8_INDEXES:
        conn.execute(db.ddl(statement))


def _backfill_content_keys(conn: Any) -> None:
    """Give votes from before schema 3 their content key (inside the migration's transaction).

    Old imports stored votes without `created_at` under the import time, one time for a
    whole file, while votes cast in the app each have their own time. So a vote whose
    time is shared with another vote is keyed without its time (as an import of a line
    without `created_at` is now), and importing that file again recognises it; the
    other votes are keyed with their time.
    """
    shared = {r[0] for r in conn.execute(
        "SELECT created_at FROM votes GROUP BY created_at HAVING COUNT(*) > 1")}
    rows = conn.execute(f"SELECT {_VOTE_COLUMNS} FROM votes WHERE content_key IS NULL").fetchall()
    updates = []
    for row in rows:
        vote = _vote_from_row(row)
        try:
            key = vote_content_key(vote, with_time=vote.created_at not in shared)
        except InvalidInput:
            continue  # a row older code let through; it just is not matched on import
        updates.append((key, vote.id))
    conn.executemany("UPDATE votes SET content_key = ? WHERE id = ?", updates)


def _relative_weight_paths(conn: Any, weights_dir: Path) -> None:
    """Rewrite model_versions.path from before schema 4 relative to the weights folder
    (inside the migration's transaction).

    Old paths were absolute, or relative to the directory the app ran in (usually the
    project root, e.g. `data/weights/population-....pt`). A file inside the weights folder
    becomes relative to it. A file that exists elsewhere keeps its absolute path (so old
    weights in `data/weights/` keep loading from there). A file that is gone but whose
    name is in the weights folder (the home was moved before this upgrade) becomes that
    name. Anything else is kept as an absolute path, and will report a missing file.
    """
    updates = []
    for vid, stored in conn.execute("SELECT id, path FROM model_versions").fetchall():
        new = _migrated_weights_path(weights_dir, str(stored))
        if new != stored:
            updates.append((new, vid))
    conn.executemany("UPDATE model_versions SET path = ? WHERE id = ?", updates)


def _migrated_weights_path(weights_dir: Path, stored: str) -> str:
    path = Path(stored).expanduser()
    candidates = [path] if path.is_absolute() else [Path.cwd() / path, PROJECT_ROOT / path]
    candidates = [absolute(c) for c in candidates]
    for candidate in candidates:
        if candidate.is_relative_to(weights_dir):
            return candidate.relative_to(weights_dir).as_posix()
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    if path.name and (weights_dir / path.name).is_file():
        return path.name
    return str(candidates[0])


def schema_version(db: Any) -> int:
    """The schema version the database holds (0: none)."""
    with db.read() as conn:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0
