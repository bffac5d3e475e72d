"""Persistent storage: users, recipes, votes, import batches, model versions (with their
weights bytes), embedding cache, change counters -- in one SQLite file (WAL) or, with
`PANTRY_DATABASE_URL`, one PostgreSQL database shared by several servers
(`pantry.storage.postgres.PostgresStore`, the same class interface).

Stored recipes are immutable: an id already stored with other content is refused
(`RecipeConflict`) or, for generated recipes (content ids), the stored one is kept; votes,
training and the app depend on what an id means. Profiles are created only inside the write
that stores something for them, one per name under `user_key` (case, NFKC): "Maria" is the
stored "maria" (`find_user`); new names must pass `validate_new_user_name`, older rows stay
readable. A vote may carry a request key (a spent pair token, an idempotency key): UNIQUE in
the votes table and checked in the vote's transaction, so it stores at most one vote
(`RepeatedRequest`), on any number of servers, whatever their clocks.

Imports are idempotent: every vote row has a content key (`pantry.domain.votes.vote_content_key`),
and an import skips the votes the store already holds; each import is one batch
(`import_batches`) that can be undone (`delete_batch`) and restored as a whole.

One `Store` per process is shared by every Streamlit session and thread: each operation
uses its own short-lived connection (SQLite: opened per operation, timeout 30 s,
`busy_timeout`; PostgreSQL: taken from a small per-Store pool), and every write runs in one
transaction that first takes the database's one write lock (SQLite `BEGIN IMMEDIATE`;
PostgreSQL a row lock on the `changes` row '*'), so concurrent writers, in any process or on
any server, queue instead of failing and nothing is half-written. Readers never wait.

No stale per-process state: the store caches nothing it read from the database; every call
reads what is committed now, so what one server writes is what another reads on its next
call. `change_stamp(user)` is one cheap query that changes whenever anything that user's
pages show may have changed (each write transaction bumps the `changes` counters it
concerns), for UI caches that must notice writes made by other processes or servers.

Model weights: `add_model_version` stores the weights file's bytes and their sha256 in the
database (`model_versions.weights`, BLOB / bytea), beside the path. `ModelVersion.path` is
always a local file the caller loads: when a version's file is missing (a server that did
not train it, or a new home) and the database holds its bytes, the store writes them,
checked against the sha256, atomically (`write_bytes_atomic`) to that path in its weights
folder -- or to `weights/db-v<id>-<name>` for a path outside it -- before returning the
version. A file that exists is never overwritten, even if it differs from the stored bytes:
the loader reports it as damaged and the previous version scores, as before. Versions
recorded before schema 6 have only a file and keep working as they did.

Schema migrations are versioned (`SCHEMA_VERSION`, `meta.schema_version`) and idempotent:
CREATE ... IF NOT EXISTS, columns added only when missing (`_ADDED_COLUMNS`), data rewrites
keyed on the version they fix; they run on both backends, inside one transaction. SQLite
files of every earlier version (1-5) are upgraded in place.

Reliability rules: the database file is only ever opened by SQLite (closing any other
descriptor of it would drop every POSIX lock this process's connections hold, so several
`Store` objects on one file, in one process or many, stay safe); a rollback that fails never
hides the error that caused it; stored rows are checked when read (a damaged embedding is
treated as missing and recomputed, damaged model metrics read as {} with
`ModelVersion.metrics_error`, a damaged recipe is a StoreError naming it). A database whose
file or folder cannot be written is opened read-only (`mode=ro`): reads work, writes raise a
clear StoreError, and no migration is attempted. Opening a store removes stale temp files of
interrupted saves from its weights folder (`pantry.base.sweep_stale_temp_files`).

Portability: one set of data statements for both backends, written with `?` placeholders
(translated once for psycopg), plain SQL only: upserts with `INSERT ... ON CONFLICT`, new ids
with `RETURNING id`, no SQLite-only functions. Columns that hold a user are named `user_name`
because `user` is a reserved word in PostgreSQL. Only the DDL (identity ids, BYTEA, `TEXT
COLLATE "C"`), schema introspection, connections and the write lock differ, in the backend
hooks (`_connect`, `_begin`, `_ddl`, `_tables`, `_columns`, ...) that `PostgresStore` overrides.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from urllib.parse import quote
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from pantry.base import redact, sweep_stale_temp_files, write_bytes_atomic
from pantry.domain.recipes import Recipe
from pantry.domain.votes import (OUTCOMES, Vote, check_vote, normalize_timestamp, now_iso, user_key,
                                 validate_new_user_name, validate_user_name, vote_content_key)
from pantry.errors import InvalidInput, PantryError
from pantry.paths import PROJECT_ROOT, absolute, weights_dir_for

if TYPE_CHECKING:  # pragma: no cover
    from pantry.settings import Settings

# 2: votes.generator_reason; 3: import_batches, votes.content_key and votes.batch_id;
# 4: model_versions.path relative to the weights folder (absolute only for files outside it);
# 5: the `changes` counters (`Store.change_stamp`); 6: model_versions.weights (the weights
# file's bytes) and weights_sha256; 7: votes.request_key (UNIQUE: a pair token or an
# idempotency key is spent once) and request_digest, the index votes_by_user_pair;
# 8: votes.repeat_of and votes.group_id (`_migrate_8`)
SCHEMA_VERSION = 8
SQLITE_MAGIC = b"SQLite format 3\x00"
_CHUNK = 500  # ids per IN (...) query, below SQLite's variable limit
_EMBEDDING_CHUNK = 5000  # text hashes per embedding query (SQLite >= 3.32 allows 32766 variables, PostgreSQL 65535)
_MIN_DB_BYTES = 512  # the smallest SQLite page: a non-empty database file is at least this long

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

_VOTE_COLUMNS = ("id, user_name, a, b, outcome, strength, left_side, reasons_json, pantry_json, "
                 "created_at, model_version, generator, generator_reason, deleted_at, repeat_of, group_id")
_MODEL_COLUMNS = "id, user_name, path, created_at, embedder, metrics_json, meta_json, active, weights_sha256"
_BATCH_COLUMNS = ("b.id, b.file_name, b.created_at, b.users_json, b.recipes_added, b.recipes_skipped, "
                  "b.votes_added, b.votes_skipped, b.votes_skipped_deleted, b.deleted_at, "
                  "(SELECT COUNT(*) FROM votes v WHERE v.batch_id = b.id AND v.deleted_at IS NULL)")


class StoreError(PantryError):
    """The database file cannot be used (not a database, newer schema, locked, disk full...)."""


class _ReadOnlyDatabase(StoreError):
    """SQLite refused to write while opening (the file turned out to be read-only)."""


class UnknownRecipe(InvalidInput):
    """A vote refers to a recipe id that is not in the store."""


class RecipeConflict(InvalidInput):
    """A recipe whose id is already stored with other content: stored recipes never change
    (other votes, training and the app depend on what an id means)."""


class RepeatedRequest(PantryError):
    """A vote whose request key (pair token, idempotency key) already stored a vote.

    `vote_id`: that vote; `same`: whether it was stored from the same request body (a retry,
    answered with the first answer) or from another (a second vote on one token: refused)."""

    def __init__(self, message: str, vote_id: int, same: bool):
        super().__init__(message)
        self.vote_id, self.same = vote_id, same


@dataclass(frozen=True)
class ModelVersion:
    """One saved reward-model version. `user` None means the population (global) model.

    `path` is the weights file as an absolute path, resolved against the store's weights
    folder (the table keeps it relative to that folder, so a moved home keeps working).
    When the database holds the weights bytes and that file is missing (a server that did
    not train it), the store has written it from the database before returning the version.
    """

    id: int
    user: str | None
    path: str
    created_at: str
    embedder: str | None
    metrics: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    active: bool = False
    # Set when the stored metrics/meta JSON could not be read (then metrics/meta are {}):
    # a one-line problem the caller can show instead of failing.
    metrics_error: str | None = None
    # sha256 of the weights bytes the database holds for this version (None: an older
    # version recorded with only a file).
    weights_sha256: str | None = None


@dataclass(frozen=True)
class ImportBatch:
    """One import of one file: what it added and skipped, and whether it was undone.

    recipes_added: recipe ids new to the store; recipes_skipped: recipe ids that were
    already stored (their stored copy is updated from the file). votes_added: votes stored
    by this import (they carry its id); votes_skipped: vote lines the store already held
    (duplicates, e.g. the same file imported again), of which votes_skipped_deleted matched
    deleted votes. users: the users of the file's vote lines. deleted_at: when the batch
    was undone (its votes soft-deleted), None while it is active. votes_live: how many of
    its votes are not deleted now.
    """

    id: int
    file_name: str
    created_at: str
    users: tuple[str, ...] = ()
    recipes_added: int = 0
    recipes_skipped: int = 0
    votes_added: int = 0
    votes_skipped: int = 0
    votes_skipped_deleted: int = 0
    deleted_at: str | None = None
    votes_live: int = 0

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None


def _tolerant_strings(text: Any) -> tuple[str, ...]:
    """A stored JSON list of strings (vote reasons/pantry, batch users); () when damaged."""
    try:
        value = json.loads(text or "[]")
    except (ValueError, TypeError):
        return ()
    if not isinstance(value, list):
        return ()
    return tuple(str(x) for x in value if isinstance(x, (str, int, float)))


def _batch_from_row(row: Sequence[Any]) -> ImportBatch:
    (bid, name, created, users, r_added, r_skipped, v_added, v_skipped, v_skipped_deleted, deleted_at,
     live) = row
    return ImportBatch(id=int(bid), file_name=name, created_at=created, users=_tolerant_strings(users),
                       recipes_added=int(r_added), recipes_skipped=int(r_skipped), votes_added=int(v_added),
                       votes_skipped=int(v_skipped), votes_skipped_deleted=int(v_skipped_deleted),
                       deleted_at=deleted_at, votes_live=int(live))


@dataclass
class _Inserted:
    """What `_insert_votes` did: new row ids, and per input vote whether it was stored."""

    ids: list[int]
    added: list[bool]
    skipped: int = 0
    skipped_deleted: int = 0


def _recipe_from_json(text: str, recipe_id: str | None = None) -> Recipe:
    """The Recipe stored as `text` (row id `recipe_id`); a damaged row raises StoreError naming it."""
    try:
        d = json.loads(text)
        if not isinstance(d, dict):
            raise ValueError(f"expected a JSON object, got {type(d).__name__}")
        for key in ("id", "title"):
            if not isinstance(d.get(key), str) or not d[key].strip():
                raise ValueError(f"missing or empty {key!r}")
        ingredients = d.get("ingredients") or ()
        if not isinstance(ingredients, (list, tuple)):
            raise ValueError("'ingredients' is not a list")
        return Recipe(
            id=d["id"], title=d["title"], ingredients=tuple(ingredients),
            steps=tuple(d.get("steps") or ()), minutes=d.get("minutes"), servings=d.get("servings"),
            cuisine=d.get("cuisine"), tags=tuple(d.get("tags") or ()), source=d.get("source"),
        )
    except (ValueError, TypeError, KeyError) as e:  # json.JSONDecodeError is a ValueError
        raise StoreError(f"stored recipe {recipe_id!r} is damaged ({e}); re-import it from its recipes "
                         "file or delete it") from None


_RECIPE_MEANING = ("title", "ingredients", "steps", "minutes", "servings", "cuisine", "tags")


def _same_recipe(stored_json: str, new: Recipe) -> bool:
    """Whether a stored recipe and `new` (same id) are the same recipe: every field but where
    it came from (`source`). A damaged stored row is never "the same"."""
    try:
        old = json.loads(stored_json)
    except ValueError:
        return False
    mine = new.to_dict()
    norm = lambda v: list(v) if isinstance(v, (list, tuple)) else v  # noqa: E731
    return isinstance(old, dict) and all(norm(old.get(k)) == norm(mine.get(k)) for k in _RECIPE_MEANING)


def _vote_from_row(row: Sequence[Any]) -> Vote:
    (vid, user, a, b, outcome, strength, left, reasons, pantry, created, model_version,
     generator, generator_reason, deleted_at, repeat_of, group_id) = row
    return Vote(user=user, a=a, b=b, outcome=outcome, strength=strength, left=left,
                reasons=_tolerant_strings(reasons), pantry=_tolerant_strings(pantry),
                created_at=created, model_version=model_version, generator=generator,
                generator_reason=generator_reason, id=int(vid), deleted=deleted_at is not None,
                repeat_of=None if repeat_of is None else int(repeat_of), group_id=group_id)


def _tolerant_dict(text: Any, what: str, problems: list[str]) -> dict[str, Any]:
    """A stored JSON object, or {} (with a problem noted) when it is damaged."""
    try:
        value = json.loads(text or "{}")
    except (ValueError, TypeError) as e:
        problems.append(f"stored {what} are not valid JSON ({e})")
        return {}
    if not isinstance(value, dict):
        problems.append(f"stored {what} are not a JSON object")
        return {}
    return value


def _model_from_row(row: Sequence[Any], weights_dir: Path) -> ModelVersion:
    vid, user, path, created, embedder, metrics, meta, active, sha = row
    problems: list[str] = []
    metrics_d = _tolerant_dict(metrics, "metrics", problems)
    meta_d = _tolerant_dict(meta, "metadata", problems)
    return ModelVersion(id=int(vid), user=user, path=str(weights_dir / path), created_at=created,
                        embedder=embedder, metrics=metrics_d, meta=meta_d, active=bool(active), weights_sha256=sha,
                        metrics_error=(f"model version {vid}: " + "; ".join(problems)) if problems else None)


# A cached vector component beyond this is damage, not an embedding (sentence embeddings
# are O(1); random bytes read as float32 almost always hold huge or non-finite values).
_MAX_EMBEDDING_ABS = 1e6


def _json_dump(value: Any, what: str) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError) as e:
        raise InvalidInput(f"{what} must be JSON-serialisable: {e}") from None


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _opt_user(user: str | None) -> str | None:
    return None if user is None else validate_user_name(user)


class Store:
    """Users, recipes, votes, model versions and the embedding cache in one SQLite file.

    Safe to share between threads: no connection is kept between calls. `PostgresStore`
    (a subclass) is the same interface on a PostgreSQL database; `Store.open(settings)`
    returns the one the settings name (see the module docstring).

    `weights_dir` is the folder of the saved reward models that model versions refer to;
    the default is the one that goes with this database (`pantry.paths.weights_dir_for`:
    `weights/` beside it, or the project's top-level `weights/` for the project's own
    `data/pantry.sqlite3`), the same folder `Settings.weights_dir` names.
    """

    def __init__(self, path: str | Path, weights_dir: str | Path | None = None, read_only: bool | None = None):
        """`read_only` None: open read-only when the file or its folder cannot be written
        (reads work, writes raise a clear StoreError); True forces read-only."""
        self.path = Path(path).expanduser()
        self.weights_dir = absolute(weights_dir) if weights_dir is not None else weights_dir_for(self.path)
        if self.path.exists() and self.path.is_dir():
            raise StoreError(f"database path {self.path} is a folder, not a file")
        auto = read_only is None
        if read_only is None:
            read_only = self.path.exists() and not (os.access(self.path, os.W_OK)
                                                    and os.access(self.path.parent, os.W_OK))
        self.read_only = bool(read_only)
        self._immutable = False  # read-only WAL file in a folder where SQLite cannot make its -shm
        if self.read_only:
            if not self.path.is_file():
                raise StoreError(f"database {self.path} does not exist (and read-only mode cannot create it)")
        else:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(f"cannot create the folder of database {self.path}: {e.strerror or e}") from None
        # The file is never opened outside SQLite: closing any other descriptor of it would
        # drop the POSIX locks of this process's SQLite connections. SQLite itself refuses a
        # file whose header is not its own ("file is not a database", see `_init_schema`);
        # only a file too short to hold one page (512 bytes), which SQLite would take for a
        # new database and overwrite, is refused here, by its size (stat opens nothing).
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            size = 0
        except OSError as e:
            raise StoreError(f"cannot read database {self.path}: {e.strerror or e}") from None
        if 0 < size < _MIN_DB_BYTES:
            raise self._not_sqlite_error()
        try:
            self._init_schema()
        except _ReadOnlyDatabase:
            if not auto:
                raise
            # os.access said writable, SQLite found otherwise (e.g. a read-only mount): read only.
            self.read_only = True
            self._init_schema()
        if not self.read_only:
            sweep_stale_temp_files(self.weights_dir)

    @classmethod
    def open(cls, settings: "Settings | None" = None) -> "Store":
        """The store the settings name (from the environment when not given): the PostgreSQL
        database of `settings.database_url` (PANTRY_DATABASE_URL) when it is set, else the
        SQLite file `settings.db_path`; either way with `settings.weights_dir`."""
        if settings is None:
            from pantry.settings import Settings

            settings = Settings.from_env()
        url = getattr(settings, "database_url", "") or ""
        if url:
            from pantry.storage.postgres import PostgresStore

            return PostgresStore(url, settings.weights_dir)
        return cls(settings.db_path, settings.weights_dir)

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    def close(self) -> None:
        """Nothing to release (connections are per operation); kept for interface symmetry."""

    # --- connections and transactions ----------------------------------------------------

    def _not_sqlite_error(self) -> StoreError:
        return StoreError(
            f"{self.path} exists but is not a PantryPilot database (not a SQLite file); "
            "nothing was changed. Move it away or set PANTRY_HOME to another folder.")

    def _read_only_error(self) -> StoreError:
        return StoreError(f"the database {self.path} is read-only (the file or its folder cannot be written); "
                          "it can be read, but nothing can be saved to it")

    def _error(self, e: sqlite3.Error) -> StoreError:
        """The StoreError for a SQLite error (with a clear message for the common causes)."""
        text = str(e)
        if "file is not a database" in text:
            return self._not_sqlite_error()
        if "readonly database" in text:
            return self._read_only_error()
        return StoreError(f"database {self.path}: {text}")

    def _connect(self) -> sqlite3.Connection:
        try:
            if self.read_only:
                flags = "mode=ro&immutable=1" if self._immutable else "mode=ro"
                uri = f"file:{quote(str(absolute(self.path)))}?{flags}"
                conn = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA busy_timeout = 30000")
            else:
                conn = sqlite3.connect(str(self.path), timeout=30, isolation_level=None,
                                       check_same_thread=False)
                conn.execute("PRAGMA busy_timeout = 30000")
                conn.execute("PRAGMA synchronous = NORMAL")  # durable enough in WAL mode
        except sqlite3.Error as e:
            if "file is not a database" in str(e):
                raise self._not_sqlite_error() from None
            raise StoreError(f"cannot open database {self.path}: {e}") from None
        return conn

    # Backend hooks: the SQLite ones here; `pantry.storage.postgres.PostgresStore` overrides them.
    _DB_ERRORS: tuple[type[BaseException], ...] = (sqlite3.Error,)

    def _begin(self, conn: Any) -> None:
        """Start a write transaction that holds the database's one write lock (writers queue)."""
        conn.execute("BEGIN IMMEDIATE")

    def _commit(self, conn: Any) -> None:
        conn.execute("COMMIT")

    def _in_transaction(self, conn: Any) -> bool:
        return bool(conn.in_transaction)

    def _rollback_quietly(self, conn: Any) -> None:
        """Roll back if a transaction is open; a failing rollback never hides the error that caused it."""
        try:
            if self._in_transaction(conn):
                conn.execute("ROLLBACK")
        except self._DB_ERRORS:
            pass

    def _release(self, conn: Any, healthy: bool) -> None:
        conn.close()

    @contextmanager
    def _read(self) -> Iterator[Any]:
        conn = self._connect()
        healthy = False
        try:
            yield conn
            healthy = True
        except self._DB_ERRORS as e:
            raise self._error(e) from None
        finally:
            if not healthy:
                self._rollback_quietly(conn)
            else:
                self._end_read(conn)
            self._release(conn, healthy)

    def _end_read(self, conn: Any) -> None:
        """After a read (SQLite: autocommit, nothing to end)."""

    @contextmanager
    def _write(self) -> Iterator[Any]:
        """One write transaction: everything inside is committed together or not at all.

        A failing rollback (e.g. SQLite already rolled the transaction back after an I/O
        error) never hides the error that caused it.
        """
        if self.read_only:
            raise self._read_only_error()
        conn = self._connect()
        healthy = False
        try:
            try:
                self._begin(conn)
                yield conn
                self._commit(conn)
                healthy = True
            except BaseException:
                self._rollback_quietly(conn)
                raise
        except self._DB_ERRORS as e:
            raise self._error(e) from None
        finally:
            self._release(conn, healthy)

    def _check_read_only_schema(self) -> None:
        """Read-only: no migration can run, so the schema must already be this version's."""
        try:
            conn = self._connect()
            try:
                try:
                    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                except sqlite3.OperationalError as e:
                    if not ("unable to open" in str(e) or "readonly database" in str(e)) or self._immutable:
                        raise
                    # A WAL database in a folder SQLite cannot write (it cannot make the -shm
                    # file): read it as immutable, unless a -wal file holds changes not yet in
                    # the database file (immutable reads would silently miss them).
                    wal = self.path.with_name(self.path.name + "-wal")
                    if wal.exists() and wal.stat().st_size > 0:
                        raise StoreError(
                            f"the database {self.path} is read-only and its folder too, and {wal.name} holds "
                            "changes not yet written into it; open it once with write access") from None
                    conn.close()
                    self._immutable = True
                    conn = self._connect()
                    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                version = 0
                if "meta" in tables:
                    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
                    version = int(row[0]) if row else 0
            finally:
                conn.close()
        except sqlite3.DatabaseError as e:
            if "file is not a database" in str(e):
                raise self._not_sqlite_error() from None
            raise StoreError(f"cannot read database {self.path} (read-only): {e}; nothing was changed") from None
        if not tables - {"sqlite_sequence"}:
            raise StoreError(f"{self.path} is read-only and empty (no PantryPilot tables); "
                             "make it writable once so PantryPilot can create them")
        if "meta" not in tables:
            raise StoreError(f"{self.path} is a SQLite database but not a PantryPilot one "
                             f"(tables: {', '.join(sorted(tables))}); nothing was changed")
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer PantryPilot (schema version {version}; this "
                f"code knows up to {SCHEMA_VERSION}); upgrade PantryPilot to use it")
        if version < SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has the schema of an older PantryPilot (version {version}, this code needs "
                f"{SCHEMA_VERSION}) and is read-only, so it cannot be upgraded; make it writable once "
                "and open it again (nothing was changed)")

    # --- schema and migrations (both backends) -------------------------------------------

    def _where(self) -> str:
        """The database, in messages."""
        return str(self.path)

    def _kind(self) -> str:
        return "SQLite database"

    def _tables(self, conn: Any) -> set[str]:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")} - {"sqlite_sequence"}

    def _columns(self, conn: Any, table: str) -> set[str]:
        return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}

    def _ddl(self, statement: str) -> str:
        """A schema statement in this backend's dialect (SQLite: as written)."""
        return statement

    def _begin_schema(self, conn: Any) -> None:
        self._begin(conn)

    # SQLite re-runs the (idempotent) migration on a current schema too: under BEGIN IMMEDIATE
    # that is safe, and its write is what finds a file SQLite cannot write (read-only
    # fallback). PostgreSQL migrates only an older or empty schema, so opening a current one
    # takes no table locks and a server starting never waits on (or deadlocks with) writers.
    _REMIGRATE_CURRENT = True

    def _after_schema(self, conn: Any) -> None:
        # Only now that the file is known to be ours: WAL lets readers and one writer overlap.
        conn.execute("PRAGMA journal_mode = WAL")

    def _schema_error(self, e: BaseException) -> StoreError:
        text = str(e)
        if "file is not a database" in text:
            return self._not_sqlite_error()
        if "readonly database" in text:
            return _ReadOnlyDatabase(f"the database {self.path} is read-only; open it with read_only=True "
                                     "to read it, or make it writable")
        return StoreError(f"cannot use database {self.path}: {e}; nothing was changed")

    def _init_schema(self) -> None:
        if self.read_only:
            self._check_read_only_schema()
            return
        conn = self._connect()
        try:
            self._begin_schema(conn)
            # The first read: a file that is not a SQLite database fails here ("file is not a
            # database") before anything is written.
            tables = self._tables(conn)
            version = 0
            if "meta" in tables:
                row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
                version = int(row[0]) if row else 0
            elif tables:
                raise StoreError(f"{self._where()} is a {self._kind()} but not a PantryPilot one "
                                 f"(tables: {', '.join(sorted(tables))}); nothing was changed")
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self._where()} was written by a newer PantryPilot (schema version {version}; this "
                    f"code knows up to {SCHEMA_VERSION}); upgrade PantryPilot to use it")
            if version < SCHEMA_VERSION or self._REMIGRATE_CURRENT:
                self._migrate(conn, version)
            self._commit(conn)
            self._after_schema(conn)
        except StoreError:
            self._rollback_quietly(conn)
            raise
        except self._DB_ERRORS as e:
            self._rollback_quietly(conn)
            raise self._schema_error(e) from None
        finally:
            self._rollback_quietly(conn)
            self._release(conn, False)

    def _migrate(self, conn: Any, version: int) -> None:
        """Bring a schema at `version` (0: empty) to SCHEMA_VERSION, inside the open transaction.

        Every step is idempotent (CREATE ... IF NOT EXISTS, a column added only when missing,
        data rewrites keyed on the version they fix), so re-running it, or two servers opening
        one new database together (the transaction holds the write lock), changes nothing.
        """
        for statement in _SCHEMA:  # CREATE ... IF NOT EXISTS keeps older tables as they were
            conn.execute(self._ddl(statement))
        for table, added in _ADDED_COLUMNS.items():
            present = self._columns(conn, table)
            for name, decl in added:
                if name not in present:
                    conn.execute(self._ddl(f"ALTER TABLE {table} ADD COLUMN {name} {decl}"))
        self._migrate_8(conn)  # before the data rewrites below, which read votes with every column
        if version < 3:
            self._backfill_content_keys(conn)
        if 0 < version < 4:
            self._relative_weight_paths(conn)
        for statement in _LATE_INDEXES:
            conn.execute(self._ddl(statement))
        conn.execute("INSERT INTO changes (scope, n) VALUES ('*', 0) ON CONFLICT (scope) DO NOTHING")
        conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                     "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(SCHEMA_VERSION),))

    def _migrate_8(self, conn: Any) -> None:
        """Migration 8 (idempotent): votes.repeat_of and votes.group_id, added when missing."""
        present = self._columns(conn, "votes")
        for name, decl in _MIGRATION_8_COLUMNS:
            if name not in present:
                conn.execute(self._ddl(f"ALTER TABLE votes ADD COLUMN {name} {decl}"))
        for statement in _MIGRATION_8_INDEXES:
            conn.execute(self._ddl(statement))

    @staticmethod
    def _backfill_content_keys(conn: sqlite3.Connection) -> None:
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

    def _relative_weight_paths(self, conn: sqlite3.Connection) -> None:
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
            new = self._migrated_weights_path(str(stored))
            if new != stored:
                updates.append((new, vid))
        conn.executemany("UPDATE model_versions SET path = ? WHERE id = ?", updates)

    def _migrated_weights_path(self, stored: str) -> str:
        path = Path(stored).expanduser()
        candidates = [path] if path.is_absolute() else [Path.cwd() / path, PROJECT_ROOT / path]
        candidates = [absolute(c) for c in candidates]
        for candidate in candidates:
            if candidate.is_relative_to(self.weights_dir):
                return candidate.relative_to(self.weights_dir).as_posix()
        for candidate in candidates:
            if candidate.exists():
                return str(candidate)
        if path.name and (self.weights_dir / path.name).is_file():
            return path.name
        return str(candidates[0])

    def _stored_weights_path(self, path: str | Path) -> str:
        """What model_versions.path holds for `path`: relative to the weights folder when the
        file is inside it (a relative `path` already is), else absolute."""
        p = Path(path).expanduser()
        if not p.is_absolute():
            p = self.weights_dir / p
        p = absolute(p)
        if p.is_relative_to(self.weights_dir):
            return p.relative_to(self.weights_dir).as_posix()
        return str(p)

    def journal_mode(self) -> str:
        """The SQLite journal mode ("wal" once opened)."""
        with self._read() as conn:
            return str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower()

    def schema_version(self) -> int:
        with self._read() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            return int(row[0]) if row else 0

    # --- users -------------------------------------------------------------------------

    @staticmethod
    def _find_user(conn: Any, name: str) -> str | None:
        """The stored profile `name` means: itself, else the one equal to it under `user_key`
        (case, NFKC), else None. One indexed query when the name is stored as written."""
        row = conn.execute("SELECT name FROM users WHERE name = ?", (name,)).fetchone()
        if row:
            return str(row[0])
        key = user_key(name)
        same = sorted(str(r[0]) for r in conn.execute("SELECT name FROM users") if user_key(str(r[0])) == key)
        return same[0] if same else None

    @classmethod
    def _ensure_user(cls, conn: sqlite3.Connection, name: str) -> str:
        """The stored name of profile `name`, creating it (inside `conn`'s write transaction,
        which serialises writers, so two servers never create "Maria" and "maria") when no
        profile has that name under `user_key`. A new name must pass `validate_new_user_name`;
        names stored by older versions stay usable as they are."""
        found = cls._find_user(conn, name)
        if found is not None:
            return found
        name = validate_new_user_name(name)
        cur = conn.execute("INSERT INTO users (name, created_at, pantry_text, prefs_json) VALUES (?, ?, '', '{}') "
                           "ON CONFLICT (name) DO NOTHING", (name, now_iso()))
        if cur.rowcount:
            cls._touch(conn, None)  # the list of profiles changed
        return name

    @staticmethod
    def _touch(conn: sqlite3.Connection, *users: str | None) -> None:
        """Bump the change counters (inside the write's transaction): '*' always, and per
        user given its scope (None: '', the writes that are not one user's)."""
        scopes = sorted({"*", *("" if u is None else u for u in users)})
        for i in range(0, len(scopes), _CHUNK):  # one statement (one round trip) per 500 scopes
            chunk = scopes[i:i + _CHUNK]
            conn.execute("INSERT INTO changes (scope, n) VALUES " + ", ".join(["(?, 1)"] * len(chunk))
                         + " ON CONFLICT (scope) DO UPDATE SET n = changes.n + 1", chunk)

    def change_stamp(self, user: str | None = None) -> tuple[int, ...]:
        """A cheap stamp (one query) that changes whenever what `user`'s pages show may have
        changed, as seen from any process or server sharing this database.

        user None: changes on every write. A user: changes on that user's writes (votes
        cast/undone/deleted/restored, pantry, preferences, personal models saved, activated
        or deactivated, recipes generated for them) and on every write that is not one
        user's (recipes added, imports, batch delete/restore, population models, a new
        profile). Each write transaction bumps the counters it concerns (table `changes`).
        """
        scope = "*" if user is None else validate_user_name(user)
        with self._read() as conn:
            rows = dict(conn.execute("SELECT scope, n FROM changes WHERE scope IN (?, ?)",
                                     ("", scope)).fetchall())
        if user is None:
            return (int(rows.get("*", 0)),)
        return (int(rows.get("", 0)), int(rows.get(scope, 0)))

    def ensure_user(self, name: str) -> str:
        """Create the user if needed; return the name it is stored under: an existing profile
        with the same name in another case ("Maria" for "maria") is that profile, not a new one."""
        name = validate_user_name(name)
        with self._write() as conn:
            return self._ensure_user(conn, name)

    def find_user(self, name: str) -> str | None:
        """The stored profile that `name` means (exactly, or the same under case/NFKC folding:
        `pantry.domain.votes.user_key`), or None. Reads only; InvalidInput for a bad name."""
        name = validate_user_name(name)
        with self._read() as conn:
            return self._find_user(conn, name)

    def list_users(self) -> list[str]:
        """All user names, sorted case-insensitively."""
        with self._read() as conn:
            names = [r[0] for r in conn.execute("SELECT name FROM users")]
        return sorted(names, key=lambda n: (n.lower(), n))

    def get_user_pantry(self, user: str) -> str:
        """The user's saved pantry text ("" if none or unknown user)."""
        user = validate_user_name(user)
        with self._read() as conn:
            row = conn.execute("SELECT pantry_text FROM users WHERE name = ?", (user,)).fetchone()
        return row[0] if row else ""

    def set_user_pantry(self, user: str, text: str) -> None:
        """Save the user's pantry text (creating the user if needed)."""
        user = validate_user_name(user)
        if not isinstance(text, str):
            raise InvalidInput(f"pantry text must be a string, got {type(text).__name__}")
        with self._write() as conn:
            user = self._ensure_user(conn, user)
            conn.execute("UPDATE users SET pantry_text = ? WHERE name = ?", (text, user))
            self._touch(conn, user)

    def get_user_prefs(self, user: str) -> dict[str, Any]:
        """The user's saved preferences dict ({} if none or unknown user)."""
        user = validate_user_name(user)
        with self._read() as conn:
            row = conn.execute("SELECT prefs_json FROM users WHERE name = ?", (user,)).fetchone()
        return _tolerant_dict(row[0], "preferences", []) if row else {}  # damaged prefs read as {}

    def set_user_prefs(self, user: str, prefs: Mapping[str, Any]) -> None:
        """Replace the user's preferences with `prefs` (a JSON-serialisable dict)."""
        user = validate_user_name(user)
        if not isinstance(prefs, Mapping):
            raise InvalidInput(f"preferences must be a dict, got {type(prefs).__name__}")
        payload = _json_dump(dict(prefs), "preferences")
        with self._write() as conn:
            user = self._ensure_user(conn, user)
            conn.execute("UPDATE users SET prefs_json = ? WHERE name = ?", (payload, user))
            self._touch(conn, user)

    # --- recipes -----------------------------------------------------------------------

    @staticmethod
    def _add_recipes(conn: sqlite3.Connection, recipes: Iterable[Recipe], clash: str = "refuse") -> int:
        """Store new recipes; a stored id is never rewritten. An id already stored with other
        content (`_same_recipe`) raises RecipeConflict (`clash="refuse"`) or keeps the stored
        recipe (`clash="keep"`: generated recipes, whose ids are content ids)."""
        unique: dict[str, Recipe] = {}
        for r in recipes:
            if not isinstance(r, Recipe):
                raise InvalidInput(f"expected a Recipe, got {type(r).__name__}")
            unique[r.id] = r
        if clash == "refuse":
            stored = Store._get_recipe_json(conn, list(unique))
            for rid, text in stored.items():
                if not _same_recipe(text, unique[rid]):
                    raise RecipeConflict(
                        f"recipe {rid!r} is already stored with other content; stored recipes cannot be "
                        "changed (give the new recipe no id, or a new one)")
        now = now_iso()
        conn.executemany(
            "INSERT INTO recipes (id, json, source, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
            [(r.id, r.to_json(), r.source, now) for r in unique.values()])
        if unique:
            Store._touch(conn, None)
        return len(unique)

    def add_recipes(self, recipes: Iterable[Recipe]) -> int:
        """Insert new recipes by id, in one transaction; return how many distinct ids.

        Stored recipes are immutable: a recipe already stored with the same content is left as
        it is, one whose id is stored with other content raises RecipeConflict (nothing saved).
        """
        recipes = list(recipes)
        with self._write() as conn:
            return self._add_recipes(conn, recipes)

    def get_recipe(self, recipe_id: str) -> Recipe | None:
        with self._read() as conn:
            row = conn.execute("SELECT json FROM recipes WHERE id = ?", (recipe_id,)).fetchone()
        return _recipe_from_json(row[0], recipe_id) if row else None

    @staticmethod
    def _get_recipe_json(conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for chunk in _chunks(list(dict.fromkeys(ids))):
            marks = ", ".join("?" * len(chunk))
            for rid, text in conn.execute(f"SELECT id, json FROM recipes WHERE id IN ({marks})", tuple(chunk)):
                out[rid] = text
        return out

    def get_recipes(self, ids: Iterable[str]) -> dict[str, Recipe]:
        """The stored recipes among `ids`, by id (missing ids are simply absent)."""
        with self._read() as conn:
            found = self._get_recipe_json(conn, list(ids))
        return {rid: _recipe_from_json(text, rid) for rid, text in found.items()}

    def existing_recipe_ids(self, ids: Iterable[str]) -> set[str]:
        """Which of `ids` are in the store."""
        ids = list(dict.fromkeys(ids))
        found: set[str] = set()
        with self._read() as conn:
            for chunk in _chunks(ids):
                marks = ", ".join("?" * len(chunk))
                found.update(r[0] for r in conn.execute(f"SELECT id FROM recipes WHERE id IN ({marks})", tuple(chunk)))
        return found

    def all_recipes(self) -> list[Recipe]:
        """Every stored recipe, oldest first."""
        with self._read() as conn:
            rows = conn.execute("SELECT id, json FROM recipes ORDER BY created_at, id").fetchall()
        return [_recipe_from_json(text, rid) for rid, text in rows]

    def count_recipes(self) -> int:
        with self._read() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM recipes").fetchone()[0])

    def log_generated(self, user: str | None, recipes: Iterable[str | Recipe]) -> str | None:
        """Record that these recipes were just generated (for `user`, or None for no user);
        return the name the user is stored under (created if new).

        Items may be recipe ids or Recipe objects; Recipe objects are also stored in the same
        transaction (a recipe already stored under that id is kept as it is).
        """
        user = _opt_user(user)
        items = list(recipes)
        to_store = [r for r in items if isinstance(r, Recipe)]
        ids = [r.id if isinstance(r, Recipe) else str(r) for r in items]
        now = now_iso()
        with self._write() as conn:
            if user is not None:
                user = self._ensure_user(conn, user)
            if to_store:
                self._add_recipes(conn, to_store, clash="keep")
            conn.executemany("INSERT INTO generated (user_name, recipe_id, created_at) VALUES (?, ?, ?)",
                             [(user, rid, now) for rid in ids])
            self._touch(conn, user)
        return user

    def recent_generated(self, user: str | None = None, limit: int = 500) -> list[Recipe]:
        """Recently generated recipes, newest first, each once; user None means any user."""
        where, params = ("WHERE user_name = ? ", [validate_user_name(user)]) if user is not None else ("", [])
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT recipe_id, MAX(id) AS last_id FROM generated {where}"
                "GROUP BY recipe_id ORDER BY last_id DESC LIMIT ?", (*params, int(limit))).fetchall()
            ids = [r[0] for r in rows]
            found = self._get_recipe_json(conn, ids)
        return [_recipe_from_json(found[rid], rid) for rid in ids if rid in found]

    # --- votes -------------------------------------------------------------------------

    @staticmethod
    def _stored_copies_bulk(conn: Any, votes: Sequence[Vote]) -> dict[str, list[int]]:
        """{content key: [active, deleted]} stored votes that each checked vote is a copy of.

        A stored vote is a copy when it has the same content key (the same line imported
        before, or the same vote with its time), or, for a vote with a time, when it is that
        vote imported earlier without a time and stored under exactly this time (re-importing
        an export of an imported file). A few chunked queries for all the votes, not one or
        two per vote (what a 100,000-vote import needs).
        """
        keys = {vote_content_key(v): v for v in votes}
        bare: dict[str, str] = {}  # key with time -> key without time, for votes with a time
        for key, v in keys.items():
            if v.created_at is not None:
                bare[key] = vote_content_key(v, with_time=False)
        wanted = sorted(set(keys) | set(bare.values()))
        by_key: dict[str, list[int]] = {}  # key -> [total, active]
        by_key_time: dict[tuple[str, str], list[int]] = {}
        for chunk in _chunks(wanted):
            marks = ", ".join("?" * len(chunk))
            for ck, created, live in conn.execute(
                    "SELECT content_key, created_at, CASE WHEN deleted_at IS NULL THEN 1 ELSE 0 END FROM votes "
                    f"WHERE content_key IN ({marks})", tuple(chunk)):
                for counts in (by_key.setdefault(ck, [0, 0]), by_key_time.setdefault((ck, created), [0, 0])):
                    counts[0] += 1
                    counts[1] += int(live)
        out: dict[str, list[int]] = {}
        for key, v in keys.items():
            total, active = by_key.get(key, (0, 0))
            if key in bare:
                more, more_active = by_key_time.get((bare[key], v.created_at), (0, 0))
                total, active = total + more, active + more_active
            out[key] = [active, total - active]
        return out

    @staticmethod
    def _existing_ids(conn: Any, ids: Iterable[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(sorted(set(ids))):
            marks = ", ".join("?" * len(chunk))
            found.update(r[0] for r in conn.execute(f"SELECT id FROM recipes WHERE id IN ({marks})", tuple(chunk)))
        return found

    def _insert_votes(self, conn: sqlite3.Connection, votes: Sequence[Vote], skip_duplicates: bool = False,
                      batch_id: int | None = None, request: tuple[str, str] | None = None) -> _Inserted:
        """Insert checked votes inside `conn`'s transaction.

        With `skip_duplicates` (imports), a vote that is a copy of a stored vote (see
        `_stored_copies_bulk`) is not stored again. Copies are counted, not just looked up: a file
        that holds the same vote twice stores it twice the first time and nothing the
        second time. Votes cast in the app (no `skip_duplicates`) may repeat a pair freely.
        Votes without `created_at` get the current time; an imported one keeps the key of
        its line (without a time), an app vote is keyed with the time it gets.
        """
        checked = [check_vote(v) for v in votes]
        needed = {rid for v in checked for rid in (v.a, v.b)}
        missing = sorted(needed - self._existing_ids(conn, needed))
        if missing:
            shown = ", ".join(repr(m) for m in missing[:5]) + (f" (+{len(missing) - 5} more)" if len(missing) > 5 else "")
            raise UnknownRecipe(f"vote refers to recipe(s) not in the database: {shown}; add the recipes first")
        self._check_repeats(conn, checked)
        out = _Inserted(ids=[], added=[])
        rows: list[tuple[Any, ...]] = []
        now = now_iso()
        stored_as = {user: self._ensure_user(conn, user) for user in sorted({v.user for v in checked})}
        checked = [v if stored_as[v.user] == v.user else replace(v, user=stored_as[v.user]) for v in checked]
        # content key -> [active, deleted] stored copies not yet matched
        copies_left = self._stored_copies_bulk(conn, checked) if skip_duplicates else {}
        for v in checked:
            if skip_duplicates:
                key = vote_content_key(v)
                left = copies_left[key]
                if left[0] or left[1]:
                    kind = 0 if left[0] else 1
                    left[kind] -= 1
                    out.skipped += 1
                    out.skipped_deleted += kind
                    out.added.append(False)
                    continue
            else:
                key = vote_content_key(replace(v, created_at=v.created_at or now))
            rows.append((v.user, v.a, v.b, v.outcome, v.strength, v.left,
                         json.dumps(list(v.reasons), ensure_ascii=False),
                         json.dumps(list(v.pantry), ensure_ascii=False),
                         v.created_at or now, redact(v.model_version), redact(v.generator),
                         redact(v.generator_reason), None, key, batch_id,
                         *(request if request is not None and len(checked) == 1 else (None, None)),
                         v.repeat_of, v.group_id))
            out.added.append(True)
        insert = ("INSERT INTO votes (user_name, a, b, outcome, strength, left_side, reasons_json, pantry_json, "
                  "created_at, model_version, generator, generator_reason, deleted_at, content_key, batch_id, "
                  "request_key, request_digest, repeat_of, group_id) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        if len(rows) == 1:  # one vote cast in the app: one round trip
            out.ids = [int(conn.execute(insert + " RETURNING id", rows[0]).fetchone()[0])]
        elif rows:
            conn.executemany(insert, rows)
            self._after_bulk_write(conn, "votes", len(rows))
            # This transaction holds the write lock, so the newest ids are exactly these rows'
            # (ids only grow), in insertion order: one query instead of one per row.
            newest = conn.execute("SELECT id FROM votes ORDER BY id DESC LIMIT ?", (len(rows),)).fetchall()
            out.ids = [int(r[0]) for r in reversed(newest)]
        self._touch(conn, *{v.user for v in checked})
        return out

    @staticmethod
    def _check_repeats(conn: Any, votes: Sequence[Vote]) -> None:
        """A vote's `repeat_of` must name a stored vote by the same profile on the same pair."""
        wanted = {v.repeat_of for v in votes if v.repeat_of is not None}
        for v in votes:
            if v.repeat_of is not None and (isinstance(v.repeat_of, bool) or not isinstance(v.repeat_of, int)
                                            or v.repeat_of <= 0):
                raise InvalidInput(f"field 'repeat_of' must be a stored vote id, got {v.repeat_of!r}")
        found: dict[int, tuple[str, frozenset[str]]] = {}
        for chunk in _chunks(sorted(wanted)):
            marks = ", ".join("?" * len(chunk))
            for vid, user, a, b in conn.execute(f"SELECT id, user_name, a, b FROM votes WHERE id IN ({marks})",
                                                tuple(chunk)):
                found[int(vid)] = (user, frozenset((a, b)))
        for v in votes:
            if v.repeat_of is not None and found.get(v.repeat_of) != (v.user, frozenset((v.a, v.b))):
                raise InvalidInput(f"field 'repeat_of': vote {v.repeat_of} is not a vote by {v.user!r} "
                                   "on the same two recipes")

    def add_vote(self, vote: Vote, request_key: str | None = None, request_digest: str | None = None,
                 recipes: Sequence[Recipe] = ()) -> int:
        """Save one vote (created_at defaults to now, UTC); return its id.

        Raises UnknownRecipe if `a` or `b` is not in the store, InvalidInput for a bad vote.
        A vote cast in the app is always stored, even when it repeats an earlier one.

        `request_key` (a spent pair token, an idempotency key) makes the vote once-only: when a
        vote with that key is stored already, nothing is saved and RepeatedRequest names it,
        saying whether it came from the same request (`request_digest` equal). The check and
        the insert are one transaction under the write lock, and the key is UNIQUE in the
        database, so concurrent servers cannot both store one. `recipes` (inline recipes of
        the vote) are stored in the same transaction (RecipeConflict for a changed one), so a
        refused vote stores nothing, its profile included.
        """
        with self._write() as conn:
            if request_key is not None:
                row = conn.execute("SELECT id, request_digest FROM votes WHERE request_key = ?",
                                   (request_key,)).fetchone()
                if row is not None:
                    same = request_digest is not None and row[1] == request_digest
                    raise RepeatedRequest(f"vote {int(row[0])} was already stored for this request", int(row[0]), same)
            if recipes:
                self._add_recipes(conn, recipes)
            request = None if request_key is None else (request_key, request_digest)
            return self._insert_votes(conn, [vote], request=request).ids[0]

    def add_votes(self, votes: Iterable[Vote]) -> list[int]:
        """Save several votes in one transaction (all or none); return their ids in order."""
        votes = list(votes)
        with self._write() as conn:
            return self._insert_votes(conn, votes).ids

    def import_records(self, recipes: Iterable[Recipe], votes: Iterable[Vote], file_name: str,
                       skip_duplicates: bool = True) -> tuple[ImportBatch, list[bool]]:
        """Store one file's recipes and votes as one import batch, in ONE transaction.

        Recipes are added by id: one already stored with the same content is kept, one stored
        with other content refuses the whole import (RecipeConflict: stored recipes never
        change). With `skip_duplicates`, a vote the store already holds
        (the same vote line imported before, with or without `created_at`; an exported vote
        imported back) is not added again, so importing a file twice adds nothing the
        second time. The stored votes carry the new batch's id. Returns the batch record and,
        per vote in order, whether it was added (False: skipped as a duplicate).
        """
        recipes, votes = list(recipes), list(votes)
        if not isinstance(file_name, str) or not file_name.strip():
            raise InvalidInput("an import needs a file name")
        users = sorted({check_vote(v).user for v in votes})
        with self._write() as conn:
            ids = list(dict.fromkeys(r.id for r in recipes if isinstance(r, Recipe)))
            already = set(self._get_recipe_json(conn, ids))
            n_recipes = self._add_recipes(conn, recipes)  # a changed stored recipe refuses the import
            created = now_iso()
            cur = conn.execute("INSERT INTO import_batches (file_name, created_at, users_json) VALUES (?, ?, ?) "
                               "RETURNING id",
                               (file_name.strip(), created, json.dumps(users, ensure_ascii=False)))
            batch_id = int(cur.fetchone()[0])
            done = self._insert_votes(conn, votes, skip_duplicates=skip_duplicates, batch_id=batch_id)
            conn.execute("UPDATE import_batches SET recipes_added = ?, recipes_skipped = ?, votes_added = ?, "
                         "votes_skipped = ?, votes_skipped_deleted = ? WHERE id = ?",
                         (n_recipes - len(already), len(already), len(done.ids), done.skipped,
                          done.skipped_deleted, batch_id))
            self._touch(conn, None)
        batch = ImportBatch(id=batch_id, file_name=file_name.strip(), created_at=created, users=tuple(users),
                            recipes_added=n_recipes - len(already), recipes_skipped=len(already),
                            votes_added=len(done.ids), votes_skipped=done.skipped,
                            votes_skipped_deleted=done.skipped_deleted, votes_live=len(done.ids))
        return batch, done.added

    # --- import batches ----------------------------------------------------------------

    def import_batches(self, include_deleted: bool = True) -> list[ImportBatch]:
        """Every import, newest first (undone ones too unless `include_deleted` is False)."""
        where = "" if include_deleted else " WHERE b.deleted_at IS NULL"
        with self._read() as conn:
            rows = conn.execute(f"SELECT {_BATCH_COLUMNS} FROM import_batches b{where} ORDER BY b.id DESC"
                                ).fetchall()
        return [_batch_from_row(r) for r in rows]

    def get_import_batch(self, batch_id: int) -> ImportBatch | None:
        with self._read() as conn:
            row = conn.execute(f"SELECT {_BATCH_COLUMNS} FROM import_batches b WHERE b.id = ?",
                               (int(batch_id),)).fetchone()
        return _batch_from_row(row) if row else None

    def delete_batch(self, batch_id: int) -> int:
        """Undo an import: soft-delete all of its votes that are not deleted yet, atomically.

        Returns how many votes were deleted (0 if the batch already was). Its recipes stay
        (other votes may use them). `restore_batch` brings exactly these votes back.
        """
        with self._write() as conn:
            row = conn.execute("SELECT deleted_at FROM import_batches WHERE id = ?", (int(batch_id),)).fetchone()
            if row is None:
                raise InvalidInput(f"there is no import batch with id {batch_id}")
            if row[0] is not None:
                return 0
            now = now_iso()
            cur = conn.execute("UPDATE votes SET deleted_at = ? WHERE batch_id = ? AND deleted_at IS NULL",
                               (now, int(batch_id)))
            conn.execute("UPDATE import_batches SET deleted_at = ? WHERE id = ?", (now, int(batch_id)))
            self._touch(conn, None)
            return int(cur.rowcount)

    def restore_batch(self, batch_id: int) -> int:
        """Undo `delete_batch`: restore the votes it deleted (not ones deleted one by one
        before), atomically. Returns how many votes came back (0 if the batch was active)."""
        with self._write() as conn:
            row = conn.execute("SELECT deleted_at FROM import_batches WHERE id = ?", (int(batch_id),)).fetchone()
            if row is None:
                raise InvalidInput(f"there is no import batch with id {batch_id}")
            if row[0] is None:
                return 0
            cur = conn.execute("UPDATE votes SET deleted_at = NULL WHERE batch_id = ? AND deleted_at = ?",
                               (int(batch_id), row[0]))
            conn.execute("UPDATE import_batches SET deleted_at = NULL WHERE id = ?", (int(batch_id),))
            self._touch(conn, None)
            return int(cur.rowcount)

    def vote_batches(self, vote_ids: Iterable[int] | None = None) -> dict[int, int]:
        """{vote id: import batch id} for imported votes (all, or among `vote_ids`)."""
        with self._read() as conn:
            if vote_ids is None:
                return {int(v): int(b) for v, b in conn.execute(
                    "SELECT id, batch_id FROM votes WHERE batch_id IS NOT NULL")}
            out: dict[int, int] = {}
            for chunk in _chunks([int(i) for i in dict.fromkeys(vote_ids)]):
                marks = ", ".join("?" * len(chunk))
                out.update({int(v): int(b) for v, b in conn.execute(
                    f"SELECT id, batch_id FROM votes WHERE batch_id IS NOT NULL AND id IN ({marks})", tuple(chunk))})
            return out

    def get_vote(self, vote_id: int) -> Vote | None:
        with self._read() as conn:
            row = conn.execute(f"SELECT {_VOTE_COLUMNS} FROM votes WHERE id = ?", (int(vote_id),)).fetchone()
        return _vote_from_row(row) if row else None

    def _set_deleted(self, vote_id: int, deleted: bool) -> bool:
        with self._write() as conn:
            row = conn.execute("SELECT deleted_at, user_name FROM votes WHERE id = ?", (int(vote_id),)).fetchone()
            if row is None:
                raise InvalidInput(f"there is no vote with id {vote_id}")
            if (row[0] is not None) == deleted:
                return False
            conn.execute("UPDATE votes SET deleted_at = ? WHERE id = ?", (now_iso() if deleted else None, int(vote_id)))
            self._touch(conn, row[1])
            return True

    def delete_vote(self, vote_id: int) -> bool:
        """Soft-delete a vote (it is kept, marked deleted); False if it already was."""
        return self._set_deleted(vote_id, True)

    def restore_vote(self, vote_id: int) -> bool:
        """Undo a soft delete; False if the vote was not deleted."""
        return self._set_deleted(vote_id, False)

    def undo_last_vote(self, user: str) -> Vote | None:
        """Soft-delete the user's newest non-deleted vote and return it (None if there is none)."""
        user = validate_user_name(user)
        with self._write() as conn:
            row = conn.execute(f"SELECT {_VOTE_COLUMNS} FROM votes WHERE user_name = ? AND deleted_at IS NULL "
                               "ORDER BY id DESC LIMIT 1", (user,)).fetchone()
            if row is None:
                return None
            conn.execute("UPDATE votes SET deleted_at = ? WHERE id = ?", (now_iso(), row[0]))
            self._touch(conn, user)
        return replace(_vote_from_row(row), deleted=True)

    def _vote_filter(self, user: str | None, include_deleted: bool, since: str | datetime | None,
                     batch: int | None = None) -> tuple[str, list[Any]]:
        clauses, params = [], []
        if batch is not None:
            clauses.append("batch_id = ?")
            params.append(int(batch))
        if user is not None:
            clauses.append("user_name = ?")
            params.append(validate_user_name(user))
        if not include_deleted:
            clauses.append("deleted_at IS NULL")
        if since is not None:
            clauses.append("created_at >= ?")
            params.append(normalize_timestamp(since, "since"))
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    def votes(self, user: str | None = None, include_deleted: bool = False,
              since: str | datetime | None = None, batch: int | None = None) -> list[Vote]:
        """Votes ordered by id (oldest first); user None means every user; `batch`: only the
        votes stored by that import batch."""
        where, params = self._vote_filter(user, include_deleted, since, batch)
        with self._read() as conn:
            rows = conn.execute(f"SELECT {_VOTE_COLUMNS} FROM votes{where} ORDER BY id", params).fetchall()
        return [_vote_from_row(r) for r in rows]

    def votes_page(self, user: str | None = None, include_deleted: bool = False,
                   since: str | datetime | None = None, limit: int = 50, offset: int = 0) -> tuple[int, list[Vote]]:
        """(how many votes match, the `limit` of them from `offset`, oldest first): counted and
        paged by the database, so a page costs the same at 50 or 500,000 stored votes."""
        where, params = self._vote_filter(user, include_deleted, since)
        limit, offset = max(0, min(int(limit), 10_000)), max(0, min(int(offset), 2**62))
        with self._read() as conn:
            total = int(conn.execute(f"SELECT COUNT(*) FROM votes{where}", params).fetchone()[0])
            rows = conn.execute(f"SELECT {_VOTE_COLUMNS} FROM votes{where} ORDER BY id LIMIT ? OFFSET ?",
                                (*params, limit, offset)).fetchall() if limit and offset < total else []
        return total, [_vote_from_row(r) for r in rows]

    def judged_pairs(self, user: str, ids: Iterable[str]) -> set[frozenset[str]]:
        """The pairs among recipe `ids` that `user` has a (non-deleted) vote on, as frozensets.

        One indexed query (`votes_by_user_pair`) over the candidates only: its cost does not grow
        with the profile's votes (POST /pairs asks it for every round)."""
        user = validate_user_name(user)
        ids = sorted(set(ids))
        if len(ids) < 2:
            return set()
        out: set[frozenset[str]] = set()
        with self._read() as conn:
            for chunk in _chunks(ids, 200):
                marks = ", ".join("?" * len(chunk))
                out.update(frozenset((a, b)) for a, b in conn.execute(
                    f"SELECT a, b FROM votes WHERE user_name = ? AND a IN ({marks}) AND b IN ({marks}) "
                    "AND deleted_at IS NULL", (user, *chunk, *chunk)))
            if len(ids) > 200:  # pairs across chunks: rare (at most 20 candidates a round)
                marks = ", ".join("?" * len(ids))
                out.update(frozenset((a, b)) for a, b in conn.execute(
                    f"SELECT a, b FROM votes WHERE user_name = ? AND a IN ({marks}) AND b IN ({marks}) "
                    "AND deleted_at IS NULL", (user, *ids, *ids)))
        return out

    def vote_counts(self, user: str | None = None) -> dict[str, int]:
        """Non-deleted votes per outcome: {"a": n, "b": n, "tie": n, "both_bad": n}."""
        where, params = self._vote_filter(user, False, None)
        with self._read() as conn:
            rows = conn.execute(f"SELECT outcome, COUNT(*) FROM votes{where} GROUP BY outcome", params).fetchall()
        counts = {o: 0 for o in OUTCOMES}
        counts.update({o: int(n) for o, n in rows})
        return counts

    def vote_tallies(self, user: str | None = None) -> list[tuple[str, str, bool, int]]:
        """(profile, outcome, deleted, count) for every combination present, counted by the
        database (no vote is read into Python: pages that summarise 100,000 votes stay fast);
        profiles in the order of their first vote."""
        where, params = self._vote_filter(user, True, None)
        with self._read() as conn:
            rows = conn.execute(
                "SELECT user_name, outcome, deleted_at IS NOT NULL, COUNT(*), MIN(id) FROM votes"
                f"{where} GROUP BY user_name, outcome, deleted_at IS NOT NULL", params).fetchall()
        first: dict[str, int] = {}
        for name, _o, _d, _n, low in rows:
            first[name] = min(first.get(name, low), low)
        rows.sort(key=lambda r: (first[r[0]], r[0], r[1], bool(r[2])))
        return [(str(name), str(outcome), bool(deleted), int(n)) for name, outcome, deleted, n, _ in rows]

    # --- model versions ----------------------------------------------------------------

    @staticmethod
    def _activate(conn: sqlite3.Connection, version_id: int, user: str | None) -> None:
        if user is None:
            conn.execute("UPDATE model_versions SET active = 0 WHERE user_name IS NULL AND active = 1")
        else:
            conn.execute("UPDATE model_versions SET active = 0 WHERE user_name = ? AND active = 1", (user,))
        conn.execute("UPDATE model_versions SET active = 1 WHERE id = ?", (version_id,))
        Store._touch(conn, user)

    def add_model_version(self, user: str | None, path: str | Path, embedder: str | None,
                          metrics: Mapping[str, Any] | None = None, meta: Mapping[str, Any] | None = None,
                          activate: bool = False) -> int:
        """Record a saved model (user None = population/global); optionally make it active.

        `path` is the weights file: absolute, or relative to `weights_dir`. A file inside
        `weights_dir` is stored relative to it, so the home folder can be moved as a whole.
        The file's bytes are stored too (with their sha256), so a server that did not train
        the model can load it; a path with no file yet is recorded without bytes.
        """
        user = _opt_user(user)
        metrics_json = _json_dump(dict(metrics or {}), "model metrics")
        meta_json = _json_dump(dict(meta or {}), "model metadata")
        data = self._weights_bytes(path)
        with self._write() as conn:
            if user is not None:
                user = self._ensure_user(conn, user)
            cur = conn.execute(
                "INSERT INTO model_versions (user_name, path, created_at, embedder, metrics_json, meta_json, active, "
                "weights, weights_sha256) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?) RETURNING id",
                (user, self._stored_weights_path(path), now_iso(), embedder, metrics_json, meta_json, data,
                 None if data is None else hashlib.sha256(data).hexdigest()))
            version_id = int(cur.fetchone()[0])
            self._touch(conn, user)
            if activate:
                self._activate(conn, version_id, user)
        return version_id

    def get_model_version(self, version_id: int) -> ModelVersion | None:
        with self._read() as conn:
            row = conn.execute(f"SELECT {_MODEL_COLUMNS} FROM model_versions WHERE id = ?",
                               (int(version_id),)).fetchone()
        return self._local(_model_from_row(row, self.weights_dir)) if row else None

    def model_versions(self, user: str | None = None, include_global: bool = True) -> list[ModelVersion]:
        """Model versions, newest first.

        user None: every version (all users and global). A user: that user's versions,
        plus the population/global ones when `include_global`.
        """
        if user is None:
            where, params = "", []
        elif include_global:
            where, params = " WHERE user_name = ? OR user_name IS NULL", [validate_user_name(user)]
        else:
            where, params = " WHERE user_name = ?", [validate_user_name(user)]
        with self._read() as conn:
            rows = conn.execute(f"SELECT {_MODEL_COLUMNS} FROM model_versions{where} ORDER BY id DESC",
                                params).fetchall()
        return [self._local(_model_from_row(r, self.weights_dir)) for r in rows]

    def activate_model(self, version_id: int) -> None:
        """Make this version the one active model of its scope (its user, or global), atomically."""
        with self._write() as conn:
            row = conn.execute("SELECT user_name FROM model_versions WHERE id = ?", (int(version_id),)).fetchone()
            if row is None:
                raise InvalidInput(f"there is no model version with id {version_id}")
            self._activate(conn, int(version_id), row[0])

    def activate_models(self, version_ids: Sequence[int]) -> None:
        """Make each of these versions the active model of its scope, all in one transaction:
        a crash, a kill or an error half way leaves every scope as it was (training activates a
        population and a personal model together; they must never be half-switched)."""
        ids = [int(v) for v in version_ids]
        with self._write() as conn:
            for vid in ids:
                row = conn.execute("SELECT user_name FROM model_versions WHERE id = ?", (vid,)).fetchone()
                if row is None:
                    raise InvalidInput(f"there is no model version with id {vid}")
                self._activate(conn, vid, row[0])

    def deactivate_models(self, user: str | None) -> None:
        """Leave the scope (a user, or None for global) with no active model."""
        user = _opt_user(user)
        with self._write() as conn:
            if user is None:
                conn.execute("UPDATE model_versions SET active = 0 WHERE user_name IS NULL")
            else:
                conn.execute("UPDATE model_versions SET active = 0 WHERE user_name = ?", (user,))
            self._touch(conn, user)

    def active_model(self, user: str | None, fallback_to_global: bool = False) -> ModelVersion | None:
        """The active model of this scope (user None = global), or None.

        With `fallback_to_global`, a user without an active model gets the active global one.
        """
        user = _opt_user(user)
        with self._read() as conn:
            if user is None:
                row = conn.execute(f"SELECT {_MODEL_COLUMNS} FROM model_versions "
                                   "WHERE user_name IS NULL AND active = 1").fetchone()
            else:
                row = conn.execute(f"SELECT {_MODEL_COLUMNS} FROM model_versions "
                                   "WHERE user_name = ? AND active = 1", (user,)).fetchone()
        if row is None and user is not None and fallback_to_global:
            return self.active_model(None)
        return self._local(_model_from_row(row, self.weights_dir)) if row else None

    def _weights_bytes(self, path: str | Path) -> bytes | None:
        """The bytes of the weights file `path` (relative: to `weights_dir`), None when there is no file."""
        p = Path(path).expanduser()
        if not p.is_absolute():
            p = self.weights_dir / p
        try:
            return p.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        except OSError as e:
            raise StoreError(f"cannot read the weights file {p}: {e.strerror or e}; nothing was recorded") from None

    def _local(self, version: ModelVersion) -> ModelVersion:
        """`version` with a local weights file: when its file is missing and the database holds
        its bytes, they are written (atomically, checked against their sha256) to its path, or,
        for a path outside the weights folder, to `weights_dir/db-v<id>-<name>`.

        A file that exists is never overwritten, even when it differs from the stored bytes
        (it is reported as damaged by the loader, and the previous version scores instead).
        """
        if version.weights_sha256 is None:
            return version
        target = Path(version.path)
        if target.exists():
            return version
        if not target.is_relative_to(self.weights_dir):
            target = self.weights_dir / f"db-v{version.id}-{target.name}"
            if target.is_file():
                return replace(version, path=str(target))
        try:
            with self._read() as conn:
                row = conn.execute("SELECT weights FROM model_versions WHERE id = ?", (version.id,)).fetchone()
        except StoreError:
            return version
        data = bytes(row[0]) if row and row[0] is not None else None
        if data is None or hashlib.sha256(data).hexdigest() != version.weights_sha256:
            return version  # damaged stored bytes: the missing file is reported by the loader
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            write_bytes_atomic(target, data)
        except OSError:
            return version  # e.g. a read-only weights folder: the loader says the file is missing
        return replace(version, path=str(target))

    # --- embedding cache ---------------------------------------------------------------

    def get_embeddings(self, model: str, hashes: Iterable[str], dim: int | None = None) -> dict[str, np.ndarray]:
        """Cached float32 vectors for these text hashes under `model` (missing ones absent).

        Cached rows are checked, never trusted: a row whose blob is not a whole number of
        float32s, does not match its `dim` (or the `dim` asked for; without it, the length
        most rows of this model have), or holds a non-finite or absurd value is treated as
        missing, so the caller re-embeds it and `put_embeddings` overwrites it.
        """
        hashes = list(dict.fromkeys(hashes))
        rows: list[Sequence[Any]] = []
        with self._read() as conn:
            for chunk in _chunks(hashes, _EMBEDDING_CHUNK):
                marks = ", ".join("?" * len(chunk))
                rows.extend(self._fetch_blobs(
                    conn, f"SELECT text_hash, dim, vec FROM embeddings WHERE model = ? AND text_hash IN ({marks})",
                    (model, *chunk)))
            names, dims, blobs = zip(*rows) if rows else ((), (), ())
            found = self._checked_vectors(names, dims, blobs)
            lengths = {v.shape[0] for v in found.values()}
            if dim is None and len(lengths) > 1:
                row = conn.execute("SELECT dim FROM embeddings WHERE model = ? GROUP BY dim "
                                   "ORDER BY COUNT(*) DESC, dim LIMIT 1", (model,)).fetchone()
                dim = int(row[0]) if row else None
        if dim is not None:
            found = {h: v for h, v in found.items() if v.shape[0] == int(dim)}
        return found

    def _after_bulk_write(self, conn: Any, table: str, n_rows: int) -> None:
        """After a bulk write (SQLite: nothing; its planner needs no statistics for key lookups)."""

    def _fetch_blobs(self, conn: Any, sql: str, params: Sequence[Any]) -> list[Sequence[Any]]:
        """All rows of a query that returns blobs (PostgreSQL: fetched in binary, not hex)."""
        return conn.execute(sql, params).fetchall()

    @staticmethod
    def _checked_vectors(names: Sequence[str], dims: Sequence[Any], blobs: Sequence[Any]) -> dict[str, np.ndarray]:
        """The sound cached rows as vectors, checked a whole dimension at a time (one
        np.frombuffer per dimension, no Python work per row beyond building the dict)."""
        if not names:
            return {}
        if all(type(b) is bytes for b in blobs) and all(type(d) is int for d in dims):
            d_arr = np.fromiter(dims, dtype=np.int64, count=len(dims))
            lens = np.fromiter(map(len, blobs), dtype=np.int64, count=len(blobs))
            valid = (d_arr > 0) & (lens == 4 * d_arr)
            found: dict[str, np.ndarray] = {}
            for d in np.unique(d_arr[valid]).tolist():
                rows = np.flatnonzero(valid & (d_arr == d))
                # one writable buffer (bytearray), viewed in place: no copy beyond the join
                data = bytearray().join(blobs if len(rows) == len(blobs) else [blobs[i] for i in rows])
                mat = np.frombuffer(data, dtype="<f4").reshape(len(rows), d)
                if mat.dtype != np.float32:  # a big-endian machine
                    mat = mat.astype(np.float32)
                # NaN propagates through max/min and fails both comparisons; inf fails one
                ok = (mat.max(axis=1) <= _MAX_EMBEDDING_ABS) & (mat.min(axis=1) >= -_MAX_EMBEDDING_ABS)
                keep = rows[ok]
                found.update(zip([names[i] for i in keep], mat if len(keep) == len(mat) else mat[ok]))
            return found
        groups: dict[int, list[int]] = {}  # damaged types somewhere: check row by row
        for i, (d, blob) in enumerate(zip(dims, blobs)):
            if not isinstance(blob, (bytes, bytearray, memoryview)):
                continue
            try:
                d = int(d)
            except (TypeError, ValueError):
                continue
            if d > 0 and len(blob) == 4 * d:
                groups.setdefault(d, []).append(i)
        found: dict[str, np.ndarray] = {}
        for d, rows in groups.items():
            mat = np.frombuffer(b"".join(bytes(blobs[i]) if not isinstance(blobs[i], bytes) else blobs[i]
                                         for i in rows), dtype="<f4").reshape(len(rows), d).astype(np.float32)
            with np.errstate(invalid="ignore"):
                ok = np.isfinite(mat).all(axis=1) & (np.abs(mat).max(axis=1) <= _MAX_EMBEDDING_ABS)
            for j in np.flatnonzero(ok):
                found[names[rows[j]]] = mat[j]
        return found

    @staticmethod
    def _checked_vector(blob: Any, dim: Any) -> np.ndarray | None:
        """The cached vector, or None when the row is damaged."""
        if not isinstance(blob, (bytes, bytearray, memoryview)):
            return None
        blob = bytes(blob)
        try:
            dim = int(dim)
        except (TypeError, ValueError):
            return None
        if dim <= 0 or len(blob) != 4 * dim:
            return None
        vec = np.frombuffer(blob, dtype="<f4").astype(np.float32)
        if not np.isfinite(vec).all() or float(np.abs(vec).max()) > _MAX_EMBEDDING_ABS:
            return None
        return vec

    def put_embeddings(self, model: str, vectors: Mapping[str, np.ndarray]) -> int:
        """Cache 1-D vectors (stored as little-endian float32) by text hash; return how many
        were stored (a vector with a non-finite value is not cached)."""
        rows = []
        for h, v in vectors.items():
            arr = np.asarray(v, dtype="<f4")
            if arr.ndim != 1 or arr.shape[0] == 0:
                raise InvalidInput(f"embedding for {h!r} must be one non-empty vector, got shape {arr.shape}")
            if not np.isfinite(arr).all():
                continue  # never cache a non-finite vector (it would be refused on read anyway)
            rows.append((model, h, int(arr.shape[0]), arr.tobytes()))
        if not rows:
            return 0
        with self._write() as conn:
            conn.executemany("INSERT INTO embeddings (model, text_hash, dim, vec) VALUES (?, ?, ?, ?) "
                             "ON CONFLICT (model, text_hash) DO UPDATE SET dim = excluded.dim, vec = excluded.vec",
                             rows)
            self._after_bulk_write(conn, "embeddings", len(rows))
        return len(rows)
