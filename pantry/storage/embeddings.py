"""The embedding cache: float32 vectors by (encoder model, text hash), so a recipe is embedded
once per encoder whichever server or process asks.

Why every row is checked on read: a damaged row (wrong length, non-finite or absurd values)
is treated as missing, so the caller re-embeds it and `put_embeddings` overwrites it.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from pantry.errors import InvalidInput
from pantry.storage.rows import chunks

_EMBEDDING_CHUNK = 5000  # text hashes per embedding query (SQLite >= 3.32 allows 32766 variables, PostgreSQL 65535)
# A cached vector component beyond this is damage, not an embedding (sentence embeddings
# are O(1); random bytes read as float32 almost always hold huge or non-finite values).
_MAX_EMBEDDING_ABS = 1e6


class EmbeddingCache:
    """The embedding cache of one database (`db`: a `pantry.storage.backend.Backend`)."""

    def __init__(self, db: Any):
        self.db = db

    def get_embeddings(self, model: str, hashes: Iterable[str], dim: int | None = None) -> dict[str, np.ndarray]:
        """Cached float32 vectors for these text hashes under `model` (missing ones absent).

        Cached rows are checked, never trusted: a row whose blob is not a whole number of
        float32s, does not match its `dim` (or the `dim` asked for; without it, the length
        most rows of this model have), or holds a non-finite or absurd value is treated as
        missing, so the caller re-embeds it and `put_embeddings` overwrites it.
        """
        hashes = list(dict.fromkeys(hashes))
        rows: list[Sequence[Any]] = []
        with self.db.read() as conn:
            for chunk in chunks(hashes, _EMBEDDING_CHUNK):
                marks = ", ".join("?" * len(chunk))
                rows.extend(self.db.fetch_blobs(
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
        with self.db.write() as conn:
            conn.executemany("INSERT INTO embeddings (model, text_hash, dim, vec) VALUES (?, ?, ?, ?) "
                             "ON CONFLICT (model, text_hash) DO UPDATE SET dim = excluded.dim, vec = excluded.vec",
                             rows)
            self.db.after_bulk_write(conn, "embeddings", len(rows))
        return len(rows)
