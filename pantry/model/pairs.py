"""Training pairs: votes as aligned arrays (`Pairs`, `make_pairs`), the distinct recipe
rows a fit works on (`pair_rows`, `distinct_rows`) and the one validation split rule
(`validation_split`). Split out of `pantry.model.training` (which re-exports every name)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from pantry.model.train_config import MUCH_MARGIN

@dataclass
class Pairs:
    """Training pairs as aligned arrays. xa/xb: (n, dim) features; y in {1, 0, 0.5}."""

    xa: np.ndarray
    xb: np.ndarray
    y: np.ndarray
    margin: np.ndarray
    ids_a: np.ndarray | None = None  # recipe ids (for per-recipe offsets); None: content only
    ids_b: np.ndarray | None = None
    # optional integer row labels: equal labels mean equal feature rows (Lab.vote_pairs builds
    # one row per distinct recipe and pantry), so the trainer finds the distinct rows without
    # hashing every row's bytes; None: found from the rows themselves
    row_a: np.ndarray | None = None
    row_b: np.ndarray | None = None
    # each vote's weight in the likelihood (a rater's noise: `pantry.evaluation.consistency`);
    # None: every vote counts 1
    weight: np.ndarray | None = None
    # who cast each vote (any labels; equal labels, one rater): the crowd's spread of tastes
    # (`pantry.model.taste_spread`) is read from it; None: unknown
    rater: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, idx: np.ndarray) -> "Pairs":
        return Pairs(self.xa[idx], self.xb[idx], self.y[idx], self.margin[idx],
                     None if self.ids_a is None else self.ids_a[idx],
                     None if self.ids_b is None else self.ids_b[idx],
                     None if self.row_a is None else self.row_a[idx],
                     None if self.row_b is None else self.row_b[idx],
                     None if self.weight is None else self.weight[idx],
                     None if self.rater is None else self.rater[idx])

    def item_index(self, item_ids: Sequence[str]) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Offset indices of each side (-1 for recipes without an offset), or Nones."""
        if not item_ids or self.ids_a is None:
            return None, None
        where = {rid: k for k, rid in enumerate(item_ids)}
        return (np.fromiter((where.get(r, -1) for r in self.ids_a), np.int64, len(self.ids_a)),
                np.fromiter((where.get(r, -1) for r in self.ids_b), np.int64, len(self.ids_b)))

    @property
    def n_decisive(self) -> int:
        return int(np.sum(self.y != 0.5))

    def content_key(self) -> str:
        """A digest of everything the pairs hold (features at full precision, outcomes, margins,
        recipe ids, weights, raters): equal keys, equal pairs, for memos across trainings."""
        h = hashlib.blake2b(digest_size=20)
        for a in (self.xa, self.xb, self.y, self.margin, self.weight):
            if a is None:
                h.update(b"|")
                continue
            a = np.ascontiguousarray(a)
            h.update(f"|{a.dtype.str}{a.shape}".encode())
            h.update(a.data)  # the buffer itself: no copy
        for labels in (self.ids_a, self.ids_b, self.rater):
            # JSON: a label may hold any character, so no separator could keep two lists apart
            h.update(b"|" if labels is None else json.dumps([str(x) for x in labels]).encode())
        return h.hexdigest()

    def digest(self) -> str:
        h = hashlib.sha256()
        for a in (self.xa, self.xb, self.y, self.margin):
            h.update(np.ascontiguousarray(a, dtype=np.float32).tobytes())
        return h.hexdigest()[:16]


def concat_pairs(*parts: Pairs) -> Pairs:
    """Pairs one after another (recipe ids and raters kept only when every part has them)."""
    with_ids = all(p.ids_a is not None for p in parts)
    return Pairs(np.concatenate([p.xa for p in parts]), np.concatenate([p.xb for p in parts]),
                 np.concatenate([p.y for p in parts]), np.concatenate([p.margin for p in parts]),
                 np.concatenate([p.ids_a for p in parts]) if with_ids else None,
                 np.concatenate([p.ids_b for p in parts]) if with_ids else None,
                 rater=np.concatenate([p.rater for p in parts]) if all(p.rater is not None for p in parts)
                 else None)


def make_pairs(xa: np.ndarray, xb: np.ndarray, outcomes: list[str],
               strengths: list[str | None] | None = None,
               ids_a: Sequence[str] | None = None, ids_b: Sequence[str] | None = None,
               row_a: np.ndarray | None = None, row_b: np.ndarray | None = None) -> Pairs:
    """Turn outcomes ("a", "b", "tie", "both_bad") into training arrays (both_bad dropped).

    With recipe ids, a personal model can learn an offset per rated recipe.
    """
    strengths = strengths or [None] * len(outcomes)
    keep, y, margin = [], [], []
    for i, (o, s) in enumerate(zip(outcomes, strengths)):
        if o not in ("a", "b", "tie"):
            continue
        keep.append(i)
        y.append(1.0 if o == "a" else 0.0 if o == "b" else 0.5)
        margin.append(MUCH_MARGIN if (s == "much" and o != "tie") else 0.0)
    idx = np.array(keep, dtype=np.int64)
    dim = xa.shape[1] if xa.ndim == 2 else 0
    return Pairs(np.asarray(xa, np.float32)[idx] if len(idx) else np.zeros((0, dim), np.float32),
                 np.asarray(xb, np.float32)[idx] if len(idx) else np.zeros((0, dim), np.float32),
                 np.array(y, np.float32), np.array(margin, np.float32),
                 None if ids_a is None else np.asarray(list(ids_a), dtype=object)[idx],
                 None if ids_b is None else np.asarray(list(ids_b), dtype=object)[idx],
                 None if row_a is None else np.asarray(row_a, np.int64)[idx],
                 None if row_b is None else np.asarray(row_b, np.int64)[idx])


def pair_rows(pairs: Pairs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`distinct_rows` of a Pairs' two sides, from its row labels when it has them (fast)."""
    if pairs.row_a is None or pairs.row_b is None or not len(pairs):
        return distinct_rows(pairs.xa, pairs.xb)
    labels = np.concatenate([pairs.row_a, pairs.row_b])
    uniq, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    n = len(pairs)
    rows = np.empty((len(first), pairs.xa.shape[1]), np.float64)
    in_a = first < n
    rows[in_a] = pairs.xa[first[in_a]]
    rows[~in_a] = pairs.xb[first[~in_a] - n]
    inverse = inverse.reshape(-1).astype(np.int64)
    return rows, inverse[:n], inverse[n:]


def distinct_rows(xa: np.ndarray, xb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, ia, ib): the distinct feature rows of both sides and each pair's row indices."""
    both = np.concatenate([np.asarray(xa, np.float64), np.asarray(xb, np.float64)])
    if not len(both):
        return both, np.zeros(0, np.int64), np.zeros(0, np.int64)
    where: dict[bytes, int] = {}
    inverse = np.array([where.setdefault(row.tobytes(), len(where)) for row in both], dtype=np.int64)
    first = np.zeros(len(where), dtype=np.int64)
    first[inverse[::-1]] = np.arange(len(both))[::-1]
    return both[first], inverse[:len(xa)], inverse[len(xa):]


def validation_split(n: int, val_split: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(validation, training) indices of n pairs: a seeded shuffle, the first `val_split` held out.

    No validation set when it would hold fewer than 2 pairs or leave fewer than 2 to train on.
    The one split rule: training, the Retrain page's reports and the CLI all use it.
    """
    perm = np.random.default_rng(seed).permutation(n)
    n_val = int(round(n * val_split))
    if n_val < 2 or n - n_val < 2:
        n_val = 0
    return perm[:n_val], perm[n_val:]
