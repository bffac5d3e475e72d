"""What every storage module needs from a database, whichever it is: `Backend`.

A backend owns connections, the one write lock, error mapping and the schema hooks; the
storage modules (users, recipes, votes, ...) write one set of `?`-placeholder SQL against it.
This base class holds the transaction logic both backends share (`read`, `write`); the
SQLite one (`sqlite_backend.SqliteBackend`) and the PostgreSQL one
(`postgres_backend.PostgresBackend`) fill in the hooks.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Sequence

from pantry.storage.errors import StoreError


class Backend:
    """Connections and transactions of one database (see the module docstring).

    Safe to share between threads: no connection is kept between calls (PostgreSQL keeps a
    small pool of idle ones). Subclasses set `DB_ERRORS`, `REMIGRATE_CURRENT` and the hooks
    below, and the schema hooks `pantry.storage.schema` calls: `where`, `kind`, `tables`,
    `columns`, `ddl`, `begin_schema`, `after_schema`, `schema_error` (and `journal_mode`).
    """

    DB_ERRORS: tuple[type[BaseException], ...] = ()
    # Whether the (idempotent) migration re-runs on a current schema when the database opens.
    REMIGRATE_CURRENT = False
    read_only = False

    # --- hooks a backend fills in ----------------------------------------------------------

    def connect(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def error(self, e: BaseException) -> StoreError:  # pragma: no cover - abstract
        """The StoreError for a database error (with a clear message for the common causes)."""
        raise NotImplementedError

    def read_only_error(self) -> StoreError:  # pragma: no cover - abstract
        raise NotImplementedError

    def begin(self, conn: Any) -> None:  # pragma: no cover - abstract
        """Start a write transaction that holds the database's one write lock (writers queue)."""
        raise NotImplementedError

    def commit(self, conn: Any) -> None:
        conn.execute("COMMIT")

    def in_transaction(self, conn: Any) -> bool:
        return bool(conn.in_transaction)

    def release(self, conn: Any, healthy: bool) -> None:
        conn.close()

    def close(self) -> None:
        """Release whatever the backend keeps between calls (nothing by default)."""

    def end_read(self, conn: Any) -> None:
        """After a read (autocommit: nothing to end)."""

    def after_bulk_write(self, conn: Any, table: str, n_rows: int) -> None:
        """After a bulk write (nothing by default)."""

    def fetch_blobs(self, conn: Any, sql: str, params: Sequence[Any]) -> list[Sequence[Any]]:
        """All rows of a query that returns blobs (PostgreSQL: fetched in binary, not hex)."""
        return conn.execute(sql, params).fetchall()

    # --- transactions (both backends) ------------------------------------------------------

    def rollback_quietly(self, conn: Any) -> None:
        """Roll back if a transaction is open; a failing rollback never hides the error that caused it."""
        try:
            if self.in_transaction(conn):
                conn.execute("ROLLBACK")
        except self.DB_ERRORS:
            pass

    @contextmanager
    def read(self) -> Iterator[Any]:
        conn = self.connect()
        healthy = False
        try:
            yield conn
            healthy = True
        except self.DB_ERRORS as e:
            raise self.error(e) from None
        finally:
            if not healthy:
                self.rollback_quietly(conn)
            else:
                self.end_read(conn)
            self.release(conn, healthy)

    @contextmanager
    def write(self) -> Iterator[Any]:
        """One write transaction: everything inside is committed together or not at all.

        A failing rollback (e.g. SQLite already rolled the transaction back after an I/O
        error) never hides the error that caused it.
        """
        if self.read_only:
            raise self.read_only_error()
        conn = self.connect()
        healthy = False
        try:
            try:
                self.begin(conn)
                yield conn
                self.commit(conn)
                healthy = True
            except BaseException:
                self.rollback_quietly(conn)
                raise
        except self.DB_ERRORS as e:
            raise self.error(e) from None
        finally:
            self.release(conn, healthy)
