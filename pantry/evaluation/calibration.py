"""Calibration: whether the Bradley-Terry probabilities a model's scores imply match how
often people actually chose that way (Brier score, reliability bins, expected calibration error).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from scipy.special import expit
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss

from pantry.evaluation.checks import DiagnosticsInputError, _jsonable, _same_length, _vector


# ----------------------------------------------------------------------------- calibration


def bt_probability(score_a: Any, score_b: Any) -> np.ndarray:
    """Bradley-Terry probability that `a` is preferred: sigmoid(score_a - score_b).

    Computed in a numerically stable way (no overflow for large |differences|).
    """
    a = _vector(score_a, "score_a")
    b = _vector(score_b, "score_b")
    _same_length(score_a=a, score_b=b)
    return expit(a - b)


def _probs_and_labels(p: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    pv = _vector(p, "p")
    yv = _vector(np.asarray(y, dtype=np.float64), "y")
    n = _same_length(p=pv, y=yv)
    if n == 0:
        raise DiagnosticsInputError("need at least one prediction, got empty arrays")
    if not np.all((pv >= 0) & (pv <= 1)):
        raise DiagnosticsInputError("p must be probabilities in [0, 1] (NaN not allowed)")
    if not np.all((yv == 0) | (yv == 1)):
        raise DiagnosticsInputError("y must be 0/1 or booleans (1 = a was preferred)")
    return pv, yv


def brier_score(p: Any, y: Any) -> float:
    """Mean squared error between predicted probability and outcome: mean((p - y)^2).

    `p` = predicted P(a preferred), `y` = 1 if a was preferred else 0. 0 is perfect, 0.25
    is what always predicting 0.5 earns (a collapsed model's score differences are 0, so
    its BT probabilities are all 0.5); lower is better. Rewards being both right and
    appropriately confident.
    """
    pv, yv = _probs_and_labels(p, y)
    if not len(pv):
        return float("nan")
    return float(brier_score_loss(yv, pv, labels=[0, 1]))


class ReliabilityBin(NamedTuple):
    """One bin of a reliability diagram: predictions with lo <= p < hi (last bin: <= hi)."""

    lo: float
    hi: float
    mean_pred: float
    frac_pos: float
    count: int

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(self._asdict())


def expected_calibration_error(
    p: Any, y: Any, n_bins: int = 10
) -> tuple[float, list[ReliabilityBin]]:
    """Expected calibration error and the reliability bins behind it.

    Predictions are put into `n_bins` equal-width bins over [0, 1] by scikit-learn's
    `calibration_curve` (uniform strategy: a prediction exactly on an inner edge goes to the
    lower bin). For each non-empty bin, mean_pred is the average predicted probability and
    frac_pos the share of pairs where `a` really was preferred. ECE = sum over bins of
    (count / n) * |mean_pred - frac_pos|: how far, on average, the stated confidence is
    from the observed frequency. 0 = perfectly calibrated. Matters because active learning
    and best-of-N ranking use these probabilities, not just their ordering. Empty bins are
    omitted from the returned list.
    """
    if n_bins < 1:
        raise DiagnosticsInputError(f"n_bins must be >= 1, got {n_bins}")
    pv, yv = _probs_and_labels(p, y)
    n = len(pv)
    frac_pos, mean_pred = calibration_curve(yv.astype(int), pv, n_bins=n_bins, strategy="uniform", pos_label=1)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    counts = np.bincount(np.searchsorted(edges[1:-1], pv), minlength=n_bins)  # calibration_curve's own rule
    filled = np.flatnonzero(counts)
    if len(filled) != len(frac_pos):  # pragma: no cover - would mean scikit-learn changed its binning
        raise RuntimeError("reliability bins disagree with scikit-learn's calibration_curve")
    bins = [ReliabilityBin(float(edges[b]), float(edges[b + 1]), float(mp), float(fp), int(counts[b]))
            for b, mp, fp in zip(filled, mean_pred, frac_pos)]
    ece = float(sum(bin.count / n * abs(bin.mean_pred - bin.frac_pos) for bin in bins))
    return ece, bins
