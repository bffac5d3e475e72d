"""Input checks and JSON-ready results shared by the diagnostics modules.

Every diagnostic checks its arrays here (shape, length, content) and raises
`DiagnosticsInputError` with a message that names the problem; results are frozen
dataclasses whose `.to_dict()` turns NaN into None (strict JSON).
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

import numpy as np

from pantry.errors import InvalidInput


class DiagnosticsInputError(InvalidInput, ValueError):
    """Arrays given to a diagnostic have the wrong shape, length or content."""


# ----------------------------------------------------------------------------- helpers


def _json_float(x: float) -> float | None:
    """A Python float, or None where it is NaN/inf (strict JSON has no NaN)."""
    x = float(x)
    return x if math.isfinite(x) else None


def _jsonable(value: Any) -> Any:
    """Recursively turn floats/ndarrays/tuples into strict-JSON-friendly Python values."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return _json_float(value)
    return value


class _ToDict:
    """Mixin: `.to_dict()` for frozen dataclasses, NaN -> None, tuples -> lists."""

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))  # type: ignore[call-overload]


def _vector(x: Any, name: str) -> np.ndarray:
    """`x` as a 1-D float64 array, or a clear error."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise DiagnosticsInputError(f"{name} must be 1-D, got shape {arr.shape}")
    return arr


def _matrix(x: Any, name: str) -> np.ndarray:
    """`x` as a 2-D float64 array, or a clear error."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2:
        raise DiagnosticsInputError(f"{name} must be 2-D (rows, dims), got shape {arr.shape}")
    return arr


def _same_length(**arrays: np.ndarray) -> int:
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        desc = ", ".join(f"{k}={v}" for k, v in lengths.items())
        raise DiagnosticsInputError(f"arrays must have the same length, got {desc}")
    return next(iter(lengths.values()))


def _outcomes(outcome: Any, n: int) -> np.ndarray:
    """Outcome labels as a 1-D array of str, checked against the score length."""
    arr = np.asarray(outcome, dtype=object)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise DiagnosticsInputError(f"outcome must be 1-D, got shape {arr.shape}")
    if len(arr) != n:
        raise DiagnosticsInputError(f"outcome has {len(arr)} entries but there are {n} score pairs")
    return np.array([str(o) for o in arr], dtype=object)


def _signed_margins(score_a: Any, score_b: Any, outcome: Any) -> np.ndarray:
    """Preferred-minus-other score differences for decisive ("a"/"b") votes only."""
    a = _vector(score_a, "score_a")
    b = _vector(score_b, "score_b")
    n = _same_length(score_a=a, score_b=b)
    out = _outcomes(outcome, n)
    is_a = out == "a"
    is_b = out == "b"
    diff = a - b
    return np.concatenate([diff[is_a], -diff[is_b]]) if n else np.zeros(0)


def _unit_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows scaled to unit L2 norm, and a mask of rows whose norm is zero (left as zero)."""
    norms = np.linalg.norm(x, axis=1)
    zero = norms == 0.0
    safe = np.where(zero, 1.0, norms)
    return x / safe[:, None], zero


def _cosine_distance_rows(
    u: np.ndarray, u_zero: np.ndarray, v: np.ndarray, v_zero: np.ndarray
) -> np.ndarray:
    """Row-wise cosine distance 1 - cos(u_i, v_i) of unit rows, in [0, 2].

    Convention for all-zero vectors (cosine undefined): two zero vectors are at distance 0
    (they are the same point), a zero and a non-zero vector at distance 1 (orthogonal).
    """
    sim = np.einsum("ij,ij->i", u, v)
    sim = np.where(u_zero & v_zero, 1.0, sim)
    return np.clip(1.0 - sim, 0.0, 2.0)


def confidence_of(z: float) -> float:
    """The two-sided confidence level of `z` standard errors (1.96 -> about 0.95), as
    `wilson_interval(successes, n, confidence)` takes it (the diagnostics speak in z)."""
    from statistics import NormalDist  # not scipy.stats: importing it costs 0.4 s in every CLI train

    return float(2 * NormalDist().cdf(z) - 1)


CONFIDENCE_95 = confidence_of(1.96)  # the diagnostics' "95%": z = 1.96 exactly
