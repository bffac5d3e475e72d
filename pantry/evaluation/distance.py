"""Out of distribution: each recipe's cosine distance to the nearest training recipe and how
accuracy falls with that distance (`nearest_distance`, `ood_curve`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pantry.evaluation.checks import (DiagnosticsInputError, _ToDict, _matrix, _same_length, _unit_rows,
                                      _vector)


# ----------------------------------------------------------------------------- out of distribution


def nearest_distance(
    query_emb: Any, train_emb: Any, empty_value: float = 1.0, chunk: int = 1024
) -> np.ndarray:
    """Cosine distance from each query row to its nearest training row, shape (n_query,).

    Why: the legacy model collapsed on recipes unlike its training data; this is the "how
    unlike" axis. Distances are 1 - cosine similarity, in [0, 2]. If there are no training
    rows, every query gets `empty_value` (default 1.0: "orthogonal to everything known";
    pass float('nan') to mark "undefined" instead). All-zero vectors follow the convention
    of `collapse_pair_rate`: distance 0 to another zero vector, 1 to anything else.
    Work is chunked over query rows so memory stays about chunk * n_train floats.
    """
    q = _matrix(query_emb, "query_emb")
    t = np.asarray(train_emb, dtype=np.float64)
    if t.size == 0:
        return np.full(len(q), float(empty_value), dtype=np.float64)
    t = _matrix(t, "train_emb")
    if q.shape[1] != t.shape[1]:
        raise DiagnosticsInputError(
            f"query_emb has {q.shape[1]} dims but train_emb has {t.shape[1]}"
        )
    qu, qz = _unit_rows(q)
    tu, tz = _unit_rows(t)
    out = np.empty(len(q), dtype=np.float64)
    any_zero_train = bool(tz.any())
    for start in range(0, len(q), max(1, chunk)):
        sim = qu[start : start + chunk] @ tu.T
        if any_zero_train:
            both_zero = qz[start : start + chunk, None] & tz[None, :]
            sim = np.where(both_zero, 1.0, sim)
        out[start : start + chunk] = 1.0 - sim.max(axis=1)
    return np.clip(out, 0.0, 2.0)


@dataclass(frozen=True)
class OodBin(_ToDict):
    """Recipes whose distance-to-training falls in [lo, hi] (a quantile bin).

    count: recipes in the bin. mean_distance: their mean distance.
    mean_score, std_score: their scores; a std that shrinks towards 0 as distance grows
        is the legacy collapse ("default output for unfamiliar inputs").
    mean_uncertainty: their mean model uncertainty (e.g. ensemble std); it should GROW
        with distance. NaN when no uncertainties were given.
    """

    lo: float
    hi: float
    count: int
    mean_distance: float
    mean_score: float
    std_score: float
    mean_uncertainty: float


def ood_curve(
    distances: Any, scores: Any, uncertainties: Any = None, n_bins: int = 8
) -> list[OodBin]:
    """Score spread and uncertainty as a function of distance to the training data.

    Recipes are split into `n_bins` quantile bins of `distances` (e.g. from
    `nearest_distance`), so bins hold about equal numbers of recipes. Repeated quantile
    edges (many equal distances) are merged, so fewer bins may come back; empty bins are
    omitted. Recipes with a non-finite distance are left out. `uncertainties` may be None.
    Bins are ordered nearest first.
    """
    if n_bins < 1:
        raise DiagnosticsInputError(f"n_bins must be >= 1, got {n_bins}")
    d = _vector(distances, "distances")
    s = _vector(scores, "scores")
    u = (
        np.full(len(d), np.nan)
        if uncertainties is None
        else _vector(uncertainties, "uncertainties")
    )
    _same_length(distances=d, scores=s, uncertainties=u)
    keep = np.isfinite(d)
    d, s, u = d[keep], s[keep], u[keep]
    if len(d) == 0:
        return []
    edges = np.unique(np.quantile(d, np.linspace(0.0, 1.0, n_bins + 1)))
    if len(edges) == 1:
        edges = np.array([edges[0], edges[0]])
    idx = np.searchsorted(edges[1:-1], d, side="right")
    result: list[OodBin] = []
    for b in range(len(edges) - 1):
        mask = idx == b
        count = int(mask.sum())
        if count == 0:
            continue
        ub = u[mask]
        finite_u = ub[np.isfinite(ub)]
        result.append(
            OodBin(
                lo=float(edges[b]),
                hi=float(edges[b + 1]),
                count=count,
                mean_distance=float(d[mask].mean()),
                mean_score=float(s[mask].mean()),
                std_score=float(s[mask].std()),
                mean_uncertainty=float(finite_u.mean()) if len(finite_u) else float("nan"),
            )
        )
    return result
