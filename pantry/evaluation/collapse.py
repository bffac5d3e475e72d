"""Score collapse: how spread out a model's scores are, how often similar recipes share a
score, and the plain-language alerts those numbers (and the accuracy) raise.

The legacy model gave many different recipes the exact same score; these measures catch it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from pantry.evaluation.checks import (DiagnosticsInputError, _ToDict, _cosine_distance_rows, _matrix, _same_length,
                                      _unit_rows, _vector, CONFIDENCE_95)
from pantry.model.training import wilson_interval

if TYPE_CHECKING:  # an annotation only: diagnostics imports this module
    from pantry.evaluation.diagnostics import AccuracyResult


# ----------------------------------------------------------------------------- spread


@dataclass(frozen=True)
class SpreadResult(_ToDict):
    """How spread out a model's scores over a set of recipes are.

    n: number of recipes scored.
    distinct: number of distinct scores after rounding to `decimals` places.
    distinct_ratio: distinct / n; 1.0 means every recipe got its own score, the legacy
        collapse shows up as a small ratio.
    mode_share: share of recipes that have the single most common (rounded) score; with
        distinct scores it is 1/n, with a collapse it approaches 1.
    std: population standard deviation of the raw scores.
    iqr: interquartile range (75th minus 25th percentile, linear interpolation) of the raw
        scores; robust to a few outliers that can inflate std while most recipes collapse.
    entropy: Shannon entropy of a `bins`-bin histogram of the rounded scores over
        [min, max], divided by log(bins): 1.0 = uniform over the range, 0.0 = all in one bin
        (also 0.0 when all scores are equal).
    """

    n: int
    distinct: int
    distinct_ratio: float
    mode_share: float
    std: float
    iqr: float
    entropy: float


def score_spread(scores: Any, bins: int = 20, decimals: int = 6) -> SpreadResult:
    """Summarise how spread out `scores` (one per recipe) are; see `SpreadResult`.

    Rounding to `decimals` places before counting distinct values means float noise
    (1.0000000001 vs 1.0) is treated as the same score, which is what a person comparing
    the two recipes would see. Scores must be finite; an empty vector is an error.
    """
    s = _vector(scores, "scores")
    n = len(s)
    if n == 0:
        raise DiagnosticsInputError("score_spread needs at least one score, got an empty array")
    if not np.all(np.isfinite(s)):
        bad = int((~np.isfinite(s)).sum())
        raise DiagnosticsInputError(f"scores contain {bad} non-finite value(s) (NaN or inf)")
    if bins < 1:
        raise DiagnosticsInputError(f"bins must be >= 1, got {bins}")
    rounded = np.round(s, decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
    _, counts = np.unique(rounded, return_counts=True)
    distinct = len(counts)
    q25, q75 = np.percentile(s, [25, 75])
    lo, hi = float(rounded.min()), float(rounded.max())
    if hi > lo and bins > 1:
        hist, _ = np.histogram(rounded, bins=bins, range=(lo, hi))
        p = hist[hist > 0] / n
        entropy = float(-(p * np.log(p)).sum() / math.log(bins))
        entropy = min(1.0, max(0.0, entropy))
    else:
        entropy = 0.0
    return SpreadResult(
        n=n,
        distinct=distinct,
        distinct_ratio=distinct / n,
        mode_share=float(counts.max()) / n,
        std=float(s.std()),
        iqr=float(q75 - q25),
        entropy=entropy,
    )


@dataclass(frozen=True)
class CollapsePairResult(_ToDict):
    """Share of pairs of *different* recipes that got the *same* score.

    rate: collapsed_pairs / distinct_pairs (NaN when no pair of different recipes exists).
    collapsed_pairs: pairs with different embeddings whose scores are equal within tolerance.
    distinct_pairs: pairs (among those examined) whose embeddings differ.
    pairs_examined: pairs looked at: all n(n-1)/2 pairs, or `max_pairs` random ones.
    sampled: True when pairs were sampled rather than enumerated.
    low, high: Wilson 95% interval for `rate` (0, 1 when undefined).
    """

    rate: float
    collapsed_pairs: int
    distinct_pairs: int
    pairs_examined: int
    sampled: bool
    low: float
    high: float


def collapse_pair_rate(
    embeddings: Any,
    scores: Any,
    emb_tol: float = 1e-3,
    score_tol: float = 1e-6,
    max_pairs: int = 200_000,
    seed: int = 0,
    chunk: int = 8192,
) -> CollapsePairResult:
    """Among pairs of recipes whose embeddings differ, the share whose scores are equal.

    This is the legacy failure stated directly: the model cannot tell apart recipes that
    the encoder can. Two recipes "differ" when the cosine distance of their embeddings is
    greater than `emb_tol`; their scores are "equal" when |score_i - score_j| <= score_tol.
    Pairs of (near-)duplicate recipes are left out: equal scores for them are correct.

    With n recipes there are n(n-1)/2 pairs. If that is at most `max_pairs`, all pairs are
    examined and the rate is exact. Otherwise `max_pairs` pairs (i, j), i != j, are drawn
    uniformly at random with replacement using `numpy.random.default_rng(seed)`, so the rate
    is a Monte Carlo estimate (standard error about sqrt(rate(1-rate)/max_pairs), i.e.
    below 0.0012 at the default 200,000) and the same seed gives the same answer. Work is
    done in chunks of `chunk` pairs so memory stays bounded.
    """
    emb = _matrix(embeddings, "embeddings")
    s = _vector(scores, "scores")
    n = _same_length(embeddings=emb, scores=s)
    if max_pairs < 1:
        raise DiagnosticsInputError(f"max_pairs must be >= 1, got {max_pairs}")
    total = n * (n - 1) // 2
    if total <= max_pairs:
        ii, jj = np.triu_indices(n, k=1)
        sampled = False
    else:
        rng = np.random.default_rng(seed)
        ii = rng.integers(0, n, size=max_pairs)
        jj = rng.integers(0, n - 1, size=max_pairs)
        jj = jj + (jj >= ii)  # uniform over j != i
        sampled = True
    unit, zero = _unit_rows(emb)
    distinct_pairs = 0
    collapsed = 0
    for start in range(0, len(ii), max(1, chunk)):
        i = ii[start : start + chunk]
        j = jj[start : start + chunk]
        dist = _cosine_distance_rows(unit[i], zero[i], unit[j], zero[j])
        differ = dist > emb_tol
        same_score = np.abs(s[i] - s[j]) <= score_tol
        distinct_pairs += int(differ.sum())
        collapsed += int((differ & same_score).sum())
    low, high = wilson_interval(collapsed, distinct_pairs, CONFIDENCE_95)
    return CollapsePairResult(
        rate=collapsed / distinct_pairs if distinct_pairs else float("nan"),
        collapsed_pairs=collapsed,
        distinct_pairs=distinct_pairs,
        pairs_examined=int(len(ii)),
        sampled=sampled,
        low=low,
        high=high,
    )


# ----------------------------------------------------------------------------- alerts


def _get(obj: Any, key: str, default: Any = None) -> Any:
    """Read a field from a result dataclass or from its `.to_dict()` form."""
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _num(x: Any) -> float:
    return float("nan") if x is None else float(x)


def collapse_alerts(
    spread: SpreadResult | Mapping[str, Any],
    accuracy: AccuracyResult | Mapping[str, Any] | None = None,
    *,
    collapse_pairs: CollapsePairResult | Mapping[str, Any] | float | None = None,
    mode_share_max: float = 0.05,
    distinct_ratio_min: float = 0.9,
    std_min: float = 1e-4,
    tie_rate_max: float = 0.05,
    pair_rate_max: float = 0.01,
    chance: float = 0.5,
) -> list[str]:
    """Plain-language warnings about collapse and untrustworthy accuracy; [] when healthy.

    `spread` (and `accuracy`, `collapse_pairs`) may be the result objects or their
    `.to_dict()` forms (e.g. the output of `diagnose_scores`). Checks, each with its
    threshold keyword:

    - mode_share > mode_share_max (and at least 2 recipes share that score):
      "412 of 500 recipes share one score: collapse".
    - distinct_ratio < distinct_ratio_min: "only 37 distinct scores among 500 recipes".
    - std < std_min (n >= 2): "scores barely vary (std 1.2e-07)".
    - collapse pair rate > pair_rate_max: different recipes getting the same score.
    - accuracy: no decisive pairs; Wilson interval containing `chance` ("accuracy 0.55
      [0.41, 0.68] is not distinguishable from chance"); interval entirely below chance
      (scores may be inverted); tie_rate > tie_rate_max.
    """
    alerts: list[str] = []
    n = int(_get(spread, "n", 0) or 0)
    mode_share = _num(_get(spread, "mode_share"))
    distinct_ratio = _num(_get(spread, "distinct_ratio"))
    distinct = _get(spread, "distinct")
    std = _num(_get(spread, "std"))

    if n > 0 and mode_share > mode_share_max:
        k = int(round(mode_share * n))
        if k >= 2:
            alerts.append(f"{k} of {n} recipes share one score: collapse")
    if n > 0 and distinct_ratio < distinct_ratio_min:
        d = int(distinct) if distinct is not None else int(round(distinct_ratio * n))
        alerts.append(f"only {d} distinct scores among {n} recipes")
    if n >= 2 and std < std_min:
        alerts.append(f"scores barely vary (std {std:.2g})")

    if collapse_pairs is not None:
        if isinstance(collapse_pairs, (int, float)):
            rate, n_pairs = float(collapse_pairs), None
        else:
            rate = _num(_get(collapse_pairs, "rate"))
            n_pairs = _get(collapse_pairs, "distinct_pairs")
        if math.isfinite(rate) and rate > pair_rate_max:
            of = f" of {int(n_pairs):,} pairs" if n_pairs is not None else ""
            alerts.append(
                f"{rate:.1%}{of} of different recipes got the same score: collapse"
            )

    if accuracy is not None:
        n_acc = int(_get(accuracy, "n", 0) or 0)
        if n_acc == 0:
            alerts.append("no decisive votes to measure accuracy on")
        else:
            acc = _num(_get(accuracy, "accuracy"))
            low = _num(_get(accuracy, "low"))
            high = _num(_get(accuracy, "high"))
            tie_rate = _num(_get(accuracy, "tie_rate"))
            if low <= chance <= high:
                alerts.append(
                    f"accuracy {acc:.2f} [{low:.2f}, {high:.2f}] is not distinguishable "
                    f"from chance ({n_acc} decisive pairs)"
                )
            elif high < chance:
                alerts.append(
                    f"accuracy {acc:.2f} [{low:.2f}, {high:.2f}] is below chance: "
                    f"scores may be inverted ({n_acc} decisive pairs)"
                )
            if tie_rate > tie_rate_max:
                alerts.append(
                    f"{tie_rate:.0%} of {n_acc} decisive pairs got exactly equal scores "
                    f"(counted wrong)"
                )
    return alerts
