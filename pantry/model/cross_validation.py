"""Strict held-out scoring: the strict-accuracy rule (`strict_counts`), its Wilson interval,
pair metrics (`evaluate_pairs`) and k-fold cross-validation of a training procedure
(`cross_validate`). Split out of `pantry.model.training` (which re-exports every name)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from pantry.errors import NotEnoughVotes
from pantry.model.reward import RewardModel, _score_arrays
from pantry.model.train_config import Member
from pantry.model.pairs import Pairs
from pantry.model.solver import bt_loss

def strict_counts(d: np.ndarray, y: np.ndarray) -> tuple[int, int, int]:
    """(decisive pairs, correct, tied) for score differences d = s_a - s_b and targets y.

    The one strict-accuracy rule: a decisive pair (y 1 or 0) is correct only when the
    winner scores strictly higher; a tied score is wrong (a collapsed model scores 0, not
    0.5); ties (y 0.5) are not scored. A NaN difference is wrong but not a tie.
    """
    d, y = np.asarray(d, np.float64), np.asarray(y, np.float64)
    dec = (y == 1.0) | (y == 0.0)
    signed = np.where(y[dec] == 1.0, d[dec], -d[dec])
    return int(dec.sum()), int(np.sum(signed > 0)), int(np.sum(signed == 0))


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of `successes / n` (closed form, as scipy's binomtest(...)
    .proportion_ci(method="wilson"); no scipy.stats import); (0, 1) when n is 0."""
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if n == 0:
        return (0.0, 1.0)
    from statistics import NormalDist
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    denom = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, center - half), min(1.0, center + half))


def pair_scores(model: Member | RewardModel, pairs: Pairs,
                item_ids: Sequence[str] = ()) -> tuple[np.ndarray, np.ndarray]:
    """Scores of both sides of each pair, by a RewardModel (member 0) or one member (arrays,
    or a torch RewardMember from older code)."""
    if isinstance(model, RewardModel):
        return model.score(pairs.xa, pairs.ids_a)[0], model.score(pairs.xb, pairs.ids_b)[0]
    if not isinstance(model, dict):  # a torch module: its parameters as arrays
        from pantry.model.reward import _member_arrays
        model = _member_arrays(model)
    ia, ib = pairs.item_index(item_ids)
    return (_score_arrays(model, np.asarray(pairs.xa, np.float64), ia),
            _score_arrays(model, np.asarray(pairs.xb, np.float64), ib))


def evaluate_pairs(model: Member | RewardModel, pairs: Pairs, item_ids: Sequence[str] = ()) -> dict:
    """Strict metrics on pairs: a decisive pair counts as correct only if the winner scores higher."""
    sa, sb = pair_scores(model, pairs, item_ids)
    d = sa - sb
    y = pairs.y.astype(np.float64)
    n_dec, correct, ties = strict_counts(d, y)
    dec = y != 0.5
    signed = np.where(y[dec] == 1.0, d[dec], -d[dec])
    return {
        "loss": float(np.mean(bt_loss(d, y))) if len(d) else float("nan"),
        "accuracy": correct / n_dec if n_dec else float("nan"),
        "n_decisive": n_dec,
        "tied_scores": ties,
        "mean_margin": float(np.mean(signed)) if n_dec else float("nan"),
    }


# ------------------------------------------------------------------------ cross-validation

CV_FOLDS = 5  # few folds: the app runs this on every retrain and must answer in seconds


@dataclass
class CrossValidation:
    """Strict pairwise accuracy on votes no fit saw, pooled over k folds.

    Every vote is held out exactly once: the procedure under test is fitted on the other
    folds and scores the held-out fold. `pairs`/`correct` count decisive held-out votes
    (ties are trained on but not scored); a tied score counts as wrong. `low`/`high` is the
    Wilson 95% interval of the pooled accuracy; `loss` the mean held-out Bradley-Terry
    log loss (ties included). Numbers only: pages and the CLI format them.
    """

    folds: int
    pairs: int
    correct: int
    accuracy: float
    low: float
    high: float
    tie_rate: float
    loss: float
    fold_accuracy: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def metrics(self) -> dict:
        """The keys stored in a model version's metrics (and read by the sidebar)."""
        return {"cv_accuracy": self.accuracy, "cv_low": self.low, "cv_high": self.high,
                "cv_pairs": self.pairs, "cv_correct": self.correct, "cv_folds": self.folds,
                "cv_loss": self.loss}

    def at_least_as_good_as(self, other: "CrossValidation") -> bool:
        """True when this scores no fewer held-out votes right than `other` (same votes)."""
        return self.correct >= other.correct


def fold_assignment(n: int, folds: int, seed: int = 0) -> np.ndarray:
    """Fold number (0..folds-1) of each of n pairs: a seeded shuffle dealt round-robin."""
    perm = np.random.default_rng([seed, 5]).permutation(n)
    out = np.empty(n, dtype=np.int64)
    out[perm] = np.arange(n) % max(1, folds)
    return out


def usable_folds(pairs: Pairs, folds: int = CV_FOLDS) -> int:
    """`folds`, reduced so each fold holds out at least one pair (0 when CV is impossible)."""
    if len(pairs) < 2 or pairs.n_decisive < 2:
        return 0
    return max(2, min(folds, len(pairs)))


def _summary(sa: np.ndarray, sb: np.ndarray, y: np.ndarray, folds: int, fold_accuracy: list[float],
             seconds: float) -> CrossValidation:
    y = y.astype(np.float64)
    d = sa - sb
    n, correct, ties = strict_counts(d, y)
    low, high = wilson_interval(correct, n)
    loss = float(np.mean(bt_loss(d, y))) if len(d) else float("nan")
    return CrossValidation(folds, n, correct, correct / n if n else float("nan"), low, high,
                           ties / n if n else 0.0, loss, fold_accuracy, seconds)


def cross_validate(pairs: Pairs, fit: Callable[[Pairs], RewardModel | Member], folds: int = CV_FOLDS,
                   seed: int = 0, on_fold: Callable[[int, int, CrossValidation], None] | None = None
                   ) -> CrossValidation:
    """k-fold cross-validation of a training procedure `fit(train_pairs) -> model`.

    Two procedures compared with the same `pairs`, `folds` and `seed` are scored on exactly
    the same held-out votes, each by a model that never saw them. `on_fold(done, folds,
    so_far)` reports the pooled figure after each fold (for a live chart).
    """
    start = time.perf_counter()
    folds = usable_folds(pairs, folds)
    if folds == 0:
        raise NotEnoughVotes(f"cross-validation needs at least 2 decisive votes, have {pairs.n_decisive}")
    assign = fold_assignment(len(pairs), folds, seed)
    sa, sb = np.zeros(len(pairs)), np.zeros(len(pairs))
    done = np.zeros(len(pairs), dtype=bool)
    fold_accuracy: list[float] = []
    for k in range(folds):
        test = np.flatnonzero(assign == k)
        model = fit(pairs.subset(np.flatnonzero(assign != k)))
        held = pairs.subset(test)
        sa[test], sb[test] = pair_scores(model, held, getattr(model, "item_ids", ()) or ())
        done[test] = True
        fold_accuracy.append(_summary(sa[test], sb[test], held.y, 1, [], 0.0).accuracy)
        if on_fold:
            on_fold(k + 1, folds, _summary(sa[done], sb[done], pairs.y[done], folds, list(fold_accuracy),
                                           time.perf_counter() - start))
    return _summary(sa, sb, pairs.y, folds, fold_accuracy, time.perf_counter() - start)
