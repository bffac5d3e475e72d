"""`Store`: the one interface to everything PantryPilot keeps, a thin facade over the storage
modules (one per thing kept) and a backend (one per database kind).

`Store(path)` is one SQLite file; `PostgresStore(url, weights_dir)` (or `Store.open(settings)`
with `PANTRY_DATABASE_URL` set) is one PostgreSQL database shared by several servers. Both have
the same methods: each forwards to `users`, `recipes`, `votes`, `batches`, `models`,
`embeddings` or `changes`, which write one set of SQL against the backend (`self.db`).
One `Store` per process is shared by every session and thread: it caches nothing it read, so
what one server writes another reads on its next call. How it works: docs/ARCHITECTURE.md.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from pantry.base import sweep_stale_temp_files
from pantry.domain.recipes import Recipe
from pantry.domain.votes import Vote
from pantry.paths import absolute, weights_dir_for
import pantry.storage.changes as changes
from pantry.storage.backend import Backend
from pantry.storage.batches import Batches, ImportBatch
from pantry.storage.embeddings import EmbeddingCache
from pantry.storage.errors import (RecipeConflict, RepeatedRequest, StoreError, UnknownRecipe,  # noqa: F401
                                   _ReadOnlyDatabase)
from pantry.storage.models import ModelVersion, ModelVersions
from pantry.storage.recipes import Recipes
from pantry.storage.schema import SCHEMA_VERSION, init_schema, schema_version  # noqa: F401
from pantry.storage.sqlite_backend import SqliteBackend
from pantry.storage.users import Users
from pantry.storage.votes import Votes

if TYPE_CHECKING:  # pragma: no cover
    from pantry.settings import Settings


def _doc(source: Callable[..., Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a forwarding method the docstring of the method it forwards to (written once, there)."""

    def apply(method: Callable[..., Any]) -> Callable[..., Any]:
        method.__doc__ = source.__doc__
        return method
    return apply


class Store:
    """Users, recipes, votes, import batches, model versions and the embedding cache of one
    database (see the module docstring); safe to share between threads.

    `weights_dir` is the folder of the saved reward models that model versions refer to;
    the default is the one that goes with this database (`pantry.paths.weights_dir_for`:
    `weights/` beside it, or the project's top-level `weights/` for the project's own
    `data/pantry.sqlite3`), the same folder `Settings.weights_dir` names.
    """

    def __init__(self, path: str | Path, weights_dir: str | Path | None = None, read_only: bool | None = None):
        """`read_only` None: open read-only when the file or its folder cannot be written
        (reads work, writes raise a clear StoreError); True forces read-only."""
        db = SqliteBackend(path, read_only)
        self.path: Path | None = db.path
        self._attach(db, absolute(weights_dir) if weights_dir is not None else weights_dir_for(db.path),
                     fall_back_to_read_only=read_only is None)

    def _attach(self, db: Backend, weights_dir: Path, fall_back_to_read_only: bool = False) -> None:
        """Open the schema of `db` (migrating it when needed) and build the storage modules on it."""
        self.db = db
        self.weights_dir = weights_dir
        try:
            init_schema(db, weights_dir)
        except _ReadOnlyDatabase:
            if not fall_back_to_read_only:
                raise
            # os.access said writable, SQLite found otherwise (e.g. a read-only mount): read only.
            db.read_only = True
            init_schema(db, weights_dir)
        if not db.read_only:
            sweep_stale_temp_files(weights_dir)
        self._users = Users(db)
        self._recipes = Recipes(db)
        self._votes = Votes(db)
        self._batches = Batches(db, self._votes)
        self._models = ModelVersions(db, weights_dir)
        self._embeddings = EmbeddingCache(db)

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
            return PostgresStore(url, settings.weights_dir)
        return cls(settings.db_path, settings.weights_dir)

    @property
    def read_only(self) -> bool:
        """Whether writes are refused (a database file or folder that cannot be written)."""
        return self.db.read_only

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    def close(self) -> None:
        """Release the backend's idle connections (SQLite: none, connections are per operation)."""
        self.db.close()

    def journal_mode(self) -> str:
        """The SQLite journal mode ("wal" once opened); "postgresql" on PostgreSQL."""
        return self.db.journal_mode()

    def schema_version(self) -> int:
        """The schema version the database holds."""
        return schema_version(self.db)

    @_doc(changes.change_stamp)
    def change_stamp(self, user: str | None = None) -> tuple[int, ...]:
        return changes.change_stamp(self.db, user)

    # --- users (pantry.storage.users) ----------------------------------------------------

    @_doc(Users.ensure_user)
    def ensure_user(self, name: str) -> str:
        return self._users.ensure_user(name)

    @_doc(Users.find_user)
    def find_user(self, name: str) -> str | None:
        return self._users.find_user(name)

    @_doc(Users.list_users)
    def list_users(self) -> list[str]:
        return self._users.list_users()

    @_doc(Users.get_user_pantry)
    def get_user_pantry(self, user: str) -> str:
        return self._users.get_user_pantry(user)

    @_doc(Users.set_user_pantry)
    def set_user_pantry(self, user: str, text: str) -> None:
        return self._users.set_user_pantry(user, text)

    @_doc(Users.get_user_prefs)
    def get_user_prefs(self, user: str) -> dict[str, Any]:
        return self._users.get_user_prefs(user)

    @_doc(Users.set_user_prefs)
    def set_user_prefs(self, user: str, prefs: Mapping[str, Any]) -> None:
        return self._users.set_user_prefs(user, prefs)

    # --- recipes (pantry.storage.recipes) ------------------------------------------------

    @_doc(Recipes.add_recipes)
    def add_recipes(self, recipes: Iterable[Recipe]) -> int:
        return self._recipes.add_recipes(recipes)

    @_doc(Recipes.get_recipe)
    def get_recipe(self, recipe_id: str) -> Recipe | None:
        return self._recipes.get_recipe(recipe_id)

    @_doc(Recipes.get_recipes)
    def get_recipes(self, ids: Iterable[str]) -> dict[str, Recipe]:
        return self._recipes.get_recipes(ids)

    @_doc(Recipes.existing_recipe_ids)
    def existing_recipe_ids(self, ids: Iterable[str]) -> set[str]:
        return self._recipes.existing_recipe_ids(ids)

    @_doc(Recipes.all_recipes)
    def all_recipes(self) -> list[Recipe]:
        return self._recipes.all_recipes()

    @_doc(Recipes.count_recipes)
    def count_recipes(self) -> int:
        return self._recipes.count_recipes()

    @_doc(Recipes.log_generated)
    def log_generated(self, user: str | None, recipes: Iterable[str | Recipe]) -> str | None:
        return self._recipes.log_generated(user, recipes)

    @_doc(Recipes.recent_generated)
    def recent_generated(self, user: str | None = None, limit: int = 500) -> list[Recipe]:
        return self._recipes.recent_generated(user, limit)

    # --- votes (pantry.storage.votes) ----------------------------------------------------

    @_doc(Votes.add_vote)
    def add_vote(self, vote: Vote, request_key: str | None = None, request_digest: str | None = None,
                 recipes: Sequence[Recipe] = ()) -> int:
        return self._votes.add_vote(vote, request_key, request_digest, recipes)

    @_doc(Votes.add_votes)
    def add_votes(self, votes: Iterable[Vote], request_key: str | None = None,
                  request_digest: str | None = None, recipes: Sequence[Recipe] = ()) -> list[int]:
        return self._votes.add_votes(votes, request_key, request_digest, recipes)

    @_doc(Votes.get_vote)
    def get_vote(self, vote_id: int) -> Vote | None:
        return self._votes.get_vote(vote_id)

    @_doc(Votes.delete_vote)
    def delete_vote(self, vote_id: int) -> bool:
        return self._votes.delete_vote(vote_id)

    @_doc(Votes.restore_vote)
    def restore_vote(self, vote_id: int) -> bool:
        return self._votes.restore_vote(vote_id)

    @_doc(Votes.undo_last_vote)
    def undo_last_vote(self, user: str) -> Vote | None:
        return self._votes.undo_last_vote(user)

    @_doc(Votes.votes)
    def votes(self, user: str | None = None, include_deleted: bool = False,
              since: str | datetime | None = None, batch: int | None = None) -> list[Vote]:
        return self._votes.votes(user, include_deleted, since, batch)

    @_doc(Votes.votes_page)
    def votes_page(self, user: str | None = None, include_deleted: bool = False,
                   since: str | datetime | None = None, limit: int = 50, offset: int = 0) -> tuple[int, list[Vote]]:
        return self._votes.votes_page(user, include_deleted, since, limit, offset)

    @_doc(Votes.judged_pairs)
    def judged_pairs(self, user: str, ids: Iterable[str]) -> set[frozenset[str]]:
        return self._votes.judged_pairs(user, ids)

    @_doc(Votes.vote_counts)
    def vote_counts(self, user: str | None = None) -> dict[str, int]:
        return self._votes.vote_counts(user)

    @_doc(Votes.vote_tallies)
    def vote_tallies(self, user: str | None = None) -> list[tuple[str, str, bool, int]]:
        return self._votes.vote_tallies(user)

    # --- import batches (pantry.storage.batches) -----------------------------------------

    @_doc(Batches.import_records)
    def import_records(self, recipes: Iterable[Recipe], votes: Iterable[Vote], file_name: str,
                       skip_duplicates: bool = True) -> tuple[ImportBatch, list[bool]]:
        return self._batches.import_records(recipes, votes, file_name, skip_duplicates)

    @_doc(Batches.import_batches)
    def import_batches(self, include_deleted: bool = True) -> list[ImportBatch]:
        return self._batches.import_batches(include_deleted)

    @_doc(Batches.get_import_batch)
    def get_import_batch(self, batch_id: int) -> ImportBatch | None:
        return self._batches.get_import_batch(batch_id)

    @_doc(Batches.delete_batch)
    def delete_batch(self, batch_id: int) -> int:
        return self._batches.delete_batch(batch_id)

    @_doc(Batches.restore_batch)
    def restore_batch(self, batch_id: int) -> int:
        return self._batches.restore_batch(batch_id)

    @_doc(Batches.vote_batches)
    def vote_batches(self, vote_ids: Iterable[int] | None = None) -> dict[int, int]:
        return self._batches.vote_batches(vote_ids)

    # --- model versions (pantry.storage.models) ------------------------------------------

    @_doc(ModelVersions.add_model_version)
    def add_model_version(self, user: str | None, path: str | Path, embedder: str | None,
                          metrics: Mapping[str, Any] | None = None, meta: Mapping[str, Any] | None = None,
                          activate: bool = False) -> int:
        return self._models.add_model_version(user, path, embedder, metrics, meta, activate)

    @_doc(ModelVersions.get_model_version)
    def get_model_version(self, version_id: int) -> ModelVersion | None:
        return self._models.get_model_version(version_id)

    @_doc(ModelVersions.model_versions)
    def model_versions(self, user: str | None = None, include_global: bool = True) -> list[ModelVersion]:
        return self._models.model_versions(user, include_global)

    @_doc(ModelVersions.activate_model)
    def activate_model(self, version_id: int) -> None:
        return self._models.activate_model(version_id)

    @_doc(ModelVersions.activate_models)
    def activate_models(self, version_ids: Sequence[int]) -> None:
        return self._models.activate_models(version_ids)

    @_doc(ModelVersions.deactivate_models)
    def deactivate_models(self, user: str | None) -> None:
        return self._models.deactivate_models(user)

    @_doc(ModelVersions.active_model)
    def active_model(self, user: str | None, fallback_to_global: bool = False) -> ModelVersion | None:
        return self._models.active_model(user, fallback_to_global)

    # --- embedding cache (pantry.storage.embeddings) -------------------------------------

    @_doc(EmbeddingCache.get_embeddings)
    def get_embeddings(self, model: str, hashes: Iterable[str], dim: int | None = None) -> dict[str, np.ndarray]:
        return self._embeddings.get_embeddings(model, hashes, dim)

    @_doc(EmbeddingCache.put_embeddings)
    def put_embeddings(self, model: str, vectors: Mapping[str, np.ndarray]) -> int:
        return self._embeddings.put_embeddings(model, vectors)


class PostgresStore(Store):
    """`Store` on a PostgreSQL database (`pantry.storage.postgres_backend`): only the backend
    differs. `url`: a libpq URL or `key=value` string; `where`: its host:port/db, for messages."""

    def __init__(self, url: str, weights_dir: str | Path, connect_timeout: int = 10):
        from pantry.storage.postgres_backend import PostgresBackend  # psycopg only when PostgreSQL is used

        db = PostgresBackend(url, connect_timeout)
        self.url, self.where, self.path = db.url, db.location, None
        self._attach(db, Path(weights_dir).expanduser().resolve())

    def __repr__(self) -> str:
        return f"PostgresStore({self.where!r})"
