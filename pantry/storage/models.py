"""Model versions: which saved reward models exist, which one is active per scope, and their
weights bytes, so any server sharing the database can load a version it did not train.

Why the bytes are in the database: `add_model_version` stores the weights file's bytes and
sha256 beside its path (relative to the weights folder, so a home folder moves as a whole).
`ModelVersion.path` is always a local file: when it is missing and the database holds the
bytes, they are written, checked, atomically to the weights folder first. A file that exists
is never overwritten (a damaged one is reported by the loader, the previous version scores).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from pantry.base import write_bytes_atomic
from pantry.domain.votes import now_iso, validate_user_name
from pantry.errors import InvalidInput
from pantry.paths import absolute
from pantry.storage.changes import touch
from pantry.storage.errors import StoreError
from pantry.storage.rows import json_dump, opt_user, tolerant_dict
from pantry.storage.users import ensure_stored_user

_MODEL_COLUMNS = "id, user_name, path, created_at, embedder, metrics_json, meta_json, active, weights_sha256"


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


def _model_from_row(row: Sequence[Any], weights_dir: Path) -> ModelVersion:
    vid, user, path, created, embedder, metrics, meta, active, sha = row
    problems: list[str] = []
    metrics_d = tolerant_dict(metrics, "metrics", problems)
    meta_d = tolerant_dict(meta, "metadata", problems)
    return ModelVersion(id=int(vid), user=user, path=str(weights_dir / path), created_at=created,
                        embedder=embedder, metrics=metrics_d, meta=meta_d, active=bool(active), weights_sha256=sha,
                        metrics_error=(f"model version {vid}: " + "; ".join(problems)) if problems else None)


class ModelVersions:
    """The model versions of one database (`db`: a `pantry.storage.backend.Backend`), their
    weights files in `weights_dir`."""

    def __init__(self, db: Any, weights_dir: Path):
        self.db, self.weights_dir = db, weights_dir

    @staticmethod
    def _activate(conn: Any, version_id: int, user: str | None) -> None:
        if user is None:
            conn.execute("UPDATE model_versions SET active = 0 WHERE user_name IS NULL AND active = 1")
        else:
            conn.execute("UPDATE model_versions SET active = 0 WHERE user_name = ? AND active = 1", (user,))
        conn.execute("UPDATE model_versions SET active = 1 WHERE id = ?", (version_id,))
        touch(conn, user)

    def add_model_version(self, user: str | None, path: str | Path, embedder: str | None,
                          metrics: Mapping[str, Any] | None = None, meta: Mapping[str, Any] | None = None,
                          activate: bool = False) -> int:
        """Record a saved model (user None = population/global); optionally make it active.

        `path` is the weights file: absolute, or relative to `weights_dir`. A file inside
        `weights_dir` is stored relative to it, so the home folder can be moved as a whole.
        The file's bytes are stored too (with their sha256), so a server that did not train
        the model can load it; a path with no file yet is recorded without bytes.
        """
        user = opt_user(user)
        metrics_json = json_dump(dict(metrics or {}), "model metrics")
        meta_json = json_dump(dict(meta or {}), "model metadata")
        data = self._weights_bytes(path)
        with self.db.write() as conn:
            if user is not None:
                user = ensure_stored_user(conn, user)
            cur = conn.execute(
                "INSERT INTO model_versions (user_name, path, created_at, embedder, metrics_json, meta_json, active, "
                "weights, weights_sha256) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?) RETURNING id",
                (user, self._stored_weights_path(path), now_iso(), embedder, metrics_json, meta_json, data,
                 None if data is None else hashlib.sha256(data).hexdigest()))
            version_id = int(cur.fetchone()[0])
            touch(conn, user)
            if activate:
                self._activate(conn, version_id, user)
        return version_id

    def get_model_version(self, version_id: int) -> ModelVersion | None:
        with self.db.read() as conn:
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
        with self.db.read() as conn:
            rows = conn.execute(f"SELECT {_MODEL_COLUMNS} FROM model_versions{where} ORDER BY id DESC",
                                params).fetchall()
        return [self._local(_model_from_row(r, self.weights_dir)) for r in rows]

    def activate_model(self, version_id: int) -> None:
        """Make this version the one active model of its scope (its user, or global), atomically."""
        with self.db.write() as conn:
            row = conn.execute("SELECT user_name FROM model_versions WHERE id = ?", (int(version_id),)).fetchone()
            if row is None:
                raise InvalidInput(f"there is no model version with id {version_id}")
            self._activate(conn, int(version_id), row[0])

    def activate_models(self, version_ids: Sequence[int]) -> None:
        """Make each of these versions the active model of its scope, all in one transaction:
        a crash, a kill or an error half way leaves every scope as it was (training activates a
        population and a personal model together; they must never be half-switched)."""
        ids = [int(v) for v in version_ids]
        with self.db.write() as conn:
            for vid in ids:
                row = conn.execute("SELECT user_name FROM model_versions WHERE id = ?", (vid,)).fetchone()
                if row is None:
                    raise InvalidInput(f"there is no model version with id {vid}")
                self._activate(conn, vid, row[0])

    def deactivate_models(self, user: str | None) -> None:
        """Leave the scope (a user, or None for global) with no active model."""
        user = opt_user(user)
        with self.db.write() as conn:
            if user is None:
                conn.execute("UPDATE model_versions SET active = 0 WHERE user_name IS NULL")
            else:
                conn.execute("UPDATE model_versions SET active = 0 WHERE user_name = ?", (user,))
            touch(conn, user)

    def active_model(self, user: str | None, fallback_to_global: bool = False) -> ModelVersion | None:
        """The active model of this scope (user None = global), or None.

        With `fallback_to_global`, a user without an active model gets the active global one.
        """
        user = opt_user(user)
        with self.db.read() as conn:
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
            with self.db.read() as conn:
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
