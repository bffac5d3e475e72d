"""The SQLite backend: one database file in WAL mode, a connection per operation.

Why it is written this way: the file is only ever opened by SQLite (closing any other
descriptor of it would drop every POSIX lock this process's connections hold, so several
stores on one file, in one process or many, stay safe); writers queue on `BEGIN IMMEDIATE`
(timeout 30 s, `busy_timeout`), readers never wait; a file or folder that cannot be written
is opened read-only (`mode=ro`, or `immutable=1` for a WAL file whose folder SQLite cannot
write), where reads work and writes raise a clear StoreError.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pantry.paths import absolute
from pantry.storage.backend import Backend
from pantry.storage.errors import StoreError, _ReadOnlyDatabase

_MIN_DB_BYTES = 512  # the smallest SQLite page: a non-empty database file is at least this long


class SqliteBackend(Backend):
    """One SQLite file (see the module docstring)."""

    DB_ERRORS: tuple[type[BaseException], ...] = (sqlite3.Error,)

    def __init__(self, path: str | Path, read_only: bool | None = None):
        """`read_only` None: open read-only when the file or its folder cannot be written
        (reads work, writes raise a clear StoreError); True forces read-only."""
        self.path = Path(path).expanduser()
        if self.path.exists() and self.path.is_dir():
            raise StoreError(f"database path {self.path} is a folder, not a file")
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
        # file whose header is not its own ("file is not a database", see `pantry.storage.schema`);
        # only a file too short to hold one page (512 bytes), which SQLite would take for a
        # new database and overwrite, is refused here, by its size (stat opens nothing).
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            size = 0
        except OSError as e:
            raise StoreError(f"cannot read database {self.path}: {e.strerror or e}") from None
        if 0 < size < _MIN_DB_BYTES:
            raise self.not_sqlite_error()

    def not_sqlite_error(self) -> StoreError:
        return StoreError(
            f"{self.path} exists but is not a PantryPilot database (not a SQLite file); "
            "nothing was changed. Move it away or set PANTRY_HOME to another folder.")

    def read_only_error(self) -> StoreError:
        return StoreError(f"the database {self.path} is read-only (the file or its folder cannot be written); "
                          "it can be read, but nothing can be saved to it")

    def error(self, e: sqlite3.Error) -> StoreError:
        """The StoreError for a SQLite error (with a clear message for the common causes)."""
        text = str(e)
        if "file is not a database" in text:
            return self.not_sqlite_error()
        if "readonly database" in text:
            return self.read_only_error()
        return StoreError(f"database {self.path}: {text}")

    def connect(self) -> sqlite3.Connection:
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
                raise self.not_sqlite_error() from None
            raise StoreError(f"cannot open database {self.path}: {e}") from None
        return conn

    def begin(self, conn: Any) -> None:
        """Start a write transaction that holds the database's one write lock (writers queue)."""
        conn.execute("BEGIN IMMEDIATE")

    # --- schema hooks (`pantry.storage.schema`) ------------------------------------------

    def where(self) -> str:
        """The database, in messages."""
        return str(self.path)

    def kind(self) -> str:
        return "SQLite database"

    def tables(self, conn: Any) -> set[str]:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")} - {"sqlite_sequence"}

    def columns(self, conn: Any, table: str) -> set[str]:
        return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}

    def ddl(self, statement: str) -> str:
        """A schema statement in this backend's dialect (SQLite: as written)."""
        return statement

    def begin_schema(self, conn: Any) -> None:
        self.begin(conn)

    # SQLite re-runs the (idempotent) migration on a current schema too: under BEGIN IMMEDIATE
    # that is safe, and its write is what finds a file SQLite cannot write (read-only
    # fallback). PostgreSQL migrates only an older or empty schema, so opening a current one
    # takes no table locks and a server starting never waits on (or deadlocks with) writers.
    REMIGRATE_CURRENT = True

    def after_schema(self, conn: Any) -> None:
        # Only now that the file is known to be ours: WAL lets readers and one writer overlap.
        conn.execute("PRAGMA journal_mode = WAL")

    def schema_error(self, e: BaseException) -> StoreError:
        text = str(e)
        if "file is not a database" in text:
            return self.not_sqlite_error()
        if "readonly database" in text:
            return _ReadOnlyDatabase(f"the database {self.path} is read-only; open it with read_only=True "
                                     "to read it, or make it writable")
        return StoreError(f"cannot use database {self.path}: {e}; nothing was changed")

    def read_only_schema(self) -> tuple[set[str], int]:
        """(tables, schema version) of a database opened read-only, where no migration can run
        (`pantry.storage.schema` checks them); a WAL file whose folder SQLite cannot write is
        read as immutable."""
        try:
            conn = self.connect()
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
                    conn = self.connect()
                    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                version = 0
                if "meta" in tables:
                    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
                    version = int(row[0]) if row else 0
            finally:
                conn.close()
        except sqlite3.DatabaseError as e:
            if "file is not a database" in str(e):
                raise self.not_sqlite_error() from None
            raise StoreError(f"cannot read database {self.path} (read-only): {e}; nothing was changed") from None
        return tables, version

    def journal_mode(self) -> str:
        """The SQLite journal mode ("wal" once opened)."""
        with self.read() as conn:
            return str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower()
