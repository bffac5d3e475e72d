"""Diagnostics for a recipe reward model: pure functions over numpy arrays.

A reward model gives each recipe a score (higher = preferred). The legacy model "collapsed":
it gave many different recipes the exact same score, so it could not rank them, while its
headline validation accuracy (8 of 9 pairs) looked fine. The functions here measure that
failure and its usual companions so that the app, the CLI (`python -m pantry diagnose
--json`) and tests can catch it:

- how spread out the scores are (`score_spread`, `collapse_pair_rate`, `diagnose_scores`;
  module `collapse`);
- how well the scores explain the votes, counting ties as wrong
  (`strict_pairwise_accuracy`, `margin_distribution`, with `wilson_interval`, the one Wilson
  interval of the project, `pantry.model.training.wilson_interval`, re-exported here);
- whether the Bradley-Terry probabilities are calibrated (`bt_probability`, `brier_score`,
  `expected_calibration_error`; module `calibration`);
- what happens far from the training data (`nearest_distance`, `ood_curve`; module `distance`);
- causes: texts cut off by the encoder
  (`truncation_rate`), and voters who favour the left-hand card (`position_bias`);
- `collapse_alerts` turns the numbers into plain-language warnings (module `collapse`).

This module holds accuracy, margins and the causes, and re-exports the others' public names
(input checks and JSON-ready results: module `checks`).

Everything is pure: no torch, no streamlit, no I/O. Results are small frozen dataclasses
(or NamedTuples) of Python numbers with a `.to_dict()` that is JSON-serialisable with
strict JSON: a value that is undefined (NaN, e.g. accuracy over zero pairs) is kept as NaN
on the object and becomes `None` in `.to_dict()`.

Bad input (wrong shapes, mismatched lengths, an empty score vector where one is needed)
raises `DiagnosticsInputError`, which is both a `ValueError` and the project's
`InvalidInput`, with a message that names the problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pantry.evaluation.calibration import ReliabilityBin, bt_probability, brier_score, expected_calibration_error
from pantry.evaluation.checks import (DiagnosticsInputError, _ToDict, _json_float, _outcomes, _same_length, _signed_margins,
                                      _vector, confidence_of)
from pantry.evaluation.collapse import (CollapsePairResult, SpreadResult, collapse_alerts, collapse_pair_rate,
                                        score_spread)
from pantry.evaluation.distance import OodBin, nearest_distance, ood_curve
from pantry.model.training import strict_counts, wilson_interval

__all__ = [
    "DiagnosticsInputError",
    "AccuracyResult",
    "SpreadResult",
    "MarginResult",
    "ReliabilityBin",
    "CollapsePairResult",
    "OodBin",
    "TruncationResult",
    "PositionBias",
    "wilson_interval",
    "strict_pairwise_accuracy",
    "score_spread",
    "collapse_alerts",
    "margin_distribution",
    "bt_probability",
    "brier_score",
    "expected_calibration_error",
    "collapse_pair_rate",
    "nearest_distance",
    "ood_curve",
    "truncation_rate",
    "position_bias",
    "diagnose_scores",
]


# ----------------------------------------------------------------------------- accuracy


@dataclass(frozen=True)
class AccuracyResult(_ToDict):
    """Strict pairwise accuracy over decisive votes.

    accuracy: share of decisive pairs whose preferred recipe scored strictly higher
        (NaN when n == 0). correct, n: the counts behind it.
    low, high: Wilson 95% interval for the accuracy (0, 1 when n == 0).
    tie_rate: share of decisive pairs whose two scores were exactly equal (all counted
        wrong); a high tie rate is the signature of a collapsed model.
    """

    accuracy: float
    correct: int
    n: int
    low: float
    high: float
    tie_rate: float


def strict_pairwise_accuracy(
    score_a: Any, score_b: Any, outcome: Any, z: float = 1.96
) -> AccuracyResult:
    """Share of decisive votes where the preferred recipe has a strictly higher score.

    `outcome[i]` is "a" or "b" (which recipe the person preferred); other outcomes ("tie",
    "both_bad", ...) are ignored. A pair counts as correct only if the preferred side's
    score is strictly greater. Equal scores count as WRONG: a model that gives every recipe
    the same score must score 0, not 50%, otherwise collapse hides behind a coin-flip
    accuracy. Equality is exact after conversion to float64 (no tolerance): scores that a
    model emits as the same float are a tie, ones that differ in the last bit are not. A NaN
    score makes its pair wrong but not a tie.
    """
    a = _vector(score_a, "score_a")
    b = _vector(score_b, "score_b")
    n_all = _same_length(score_a=a, score_b=b)
    out = _outcomes(outcome, n_all)
    y = np.where(out == "a", 1.0, np.where(out == "b", 0.0, 0.5))
    n, correct, ties = strict_counts(a - b, y)
    low, high = wilson_interval(correct, n, confidence_of(z))
    return AccuracyResult(
        accuracy=correct / n if n else float("nan"),
        correct=correct,
        n=n,
        low=low,
        high=high,
        tie_rate=ties / n if n else 0.0,
    )


@dataclass(frozen=True)
class MarginResult(_ToDict):
    """Signed margins (preferred score minus other score) over decisive votes.

    margins: one per decisive vote, "a" votes first then "b" votes, in input order.
    counts, edges: a histogram of the finite margins (`len(edges) == len(counts) + 1`;
        both empty when there are none).
    share_negative: share of decisive votes the model gets the wrong way round.
    share_zero: share of exact ties (also wrong under strict accuracy).
    """

    n: int
    margins: tuple[float, ...]
    counts: tuple[int, ...]
    edges: tuple[float, ...]
    share_negative: float
    share_zero: float


def margin_distribution(score_a: Any, score_b: Any, outcome: Any, bins: int = 20) -> MarginResult:
    """Distribution of preferred-minus-other score margins on decisive votes.

    Why: accuracy only says which side of zero each margin falls on. A healthy model has
    most of its mass well right of zero; a collapsed one piles up at exactly zero; a model
    whose margins are all tiny has learned little even where it is "right".
    """
    if bins < 1:
        raise DiagnosticsInputError(f"bins must be >= 1, got {bins}")
    margins = _signed_margins(score_a, score_b, outcome)
    n = len(margins)
    finite = margins[np.isfinite(margins)]
    if len(finite):
        counts, edges = np.histogram(finite, bins=bins)
    else:
        counts, edges = np.zeros(0, dtype=int), np.zeros(0)
    return MarginResult(
        n=n,
        margins=tuple(float(m) for m in margins),
        counts=tuple(int(c) for c in counts),
        edges=tuple(float(e) for e in edges),
        share_negative=float((margins < 0).sum() / n) if n else 0.0,
        share_zero=float((margins == 0).sum() / n) if n else 0.0,
    )


# ----------------------------------------------------------------------------- causes


@dataclass(frozen=True)
class TruncationResult(_ToDict):
    """How much recipe text the encoder never reads.

    n: texts. truncated: texts longer than max_tokens. rate: truncated / n.
    mean_dropped_share: mean over all texts of (tokens beyond max_tokens) / tokens.
    dropped_token_share: all dropped tokens / all tokens.
    """

    n: int
    truncated: int
    rate: float
    mean_dropped_share: float
    dropped_token_share: float
    max_tokens: int


def truncation_rate(token_counts: Any, max_tokens: int = 256) -> TruncationResult:
    """Share of texts longer than the encoder's window, and how much of them is lost.

    all-MiniLM-L6-v2 reads 256 word pieces (special tokens included) and silently drops
    the rest. Long, complex recipes lose their later steps, so two recipes that differ only
    there embed the same and must get the same score: collapse that no reward model can
    fix. Count tokens with the encoder's own tokenizer, special tokens included. An empty
    input gives zeros.
    """
    if max_tokens < 1:
        raise DiagnosticsInputError(f"max_tokens must be >= 1, got {max_tokens}")
    c = _vector(token_counts, "token_counts")
    if np.any(c < 0) or not np.all(np.isfinite(c)):
        raise DiagnosticsInputError("token_counts must be finite and >= 0")
    n = len(c)
    if n == 0:
        return TruncationResult(0, 0, 0.0, 0.0, 0.0, int(max_tokens))
    dropped = np.maximum(c - max_tokens, 0.0)
    share = np.divide(dropped, c, out=np.zeros_like(c), where=c > 0)
    total = float(c.sum())
    truncated = int((c > max_tokens).sum())
    return TruncationResult(
        n=n,
        truncated=truncated,
        rate=truncated / n,
        mean_dropped_share=float(share.mean()),
        dropped_token_share=float(dropped.sum() / total) if total > 0 else 0.0,
        max_tokens=int(max_tokens),
    )


@dataclass(frozen=True)
class PositionBias(_ToDict):
    """How often the recipe shown on the left won.

    left_win_rate: share of decisive votes won by the left card (NaN when n == 0).
    n: decisive votes with a known left side. low, high: Wilson 95% interval.
    alert: a plain-language warning when the interval excludes 0.5, else None.
    """

    left_win_rate: float
    n: int
    low: float
    high: float
    alert: str | None


def position_bias(left_won: Any, z: float = 1.96) -> PositionBias:
    """Do people pick the left card more (or less) often than chance?

    `left_won[i]` is True when the recipe shown on the left won decisive vote i (only votes
    whose left side is known). Without position bias the rate is 0.5; if the Wilson interval
    excludes 0.5 the votes carry a layout effect the model would learn as taste, so the
    app should randomise sides (it should anyway) and the alert says so.
    """
    arr = np.asarray(left_won)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise DiagnosticsInputError(f"left_won must be 1-D, got shape {arr.shape}")
    if arr.size and not np.all((arr == 0) | (arr == 1)):
        raise DiagnosticsInputError("left_won must hold booleans (True = left card won)")
    n = int(arr.size)
    wins = int(arr.astype(bool).sum())
    low, high = wilson_interval(wins, n, confidence_of(z))
    rate = wins / n if n else float("nan")
    alert = None
    if n and (high < 0.5 or low > 0.5):
        side = "left" if low > 0.5 else "right"
        alert = (
            f"the left card won {rate:.0%} of {n} votes [{low:.2f}, {high:.2f}]: "
            f"position bias towards the {side}"
        )
    return PositionBias(left_win_rate=rate, n=n, low=low, high=high, alert=alert)


# ----------------------------------------------------------------------------- summary


def diagnose_scores(
    scores: Any,
    embeddings: Any = None,
    *,
    bins: int = 20,
    decimals: int = 6,
    max_pairs: int = 200_000,
    seed: int = 0,
) -> dict[str, Any]:
    """One JSON-able summary of a score vector; what `python -m pantry diagnose --json` prints.

    Top-level keys: n, distinct, distinct_ratio, mode_share, std, iqr, entropy (see
    `SpreadResult`), min, max, mean, alerts (from `collapse_alerts`), and, when
    `embeddings` (one row per score) are given, collapse_pair_rate (a float or None) and
    collapse_pairs (the full `CollapsePairResult.to_dict()`).
    """
    spread = score_spread(scores, bins=bins, decimals=decimals)
    s = _vector(scores, "scores")
    out: dict[str, Any] = spread.to_dict()
    out.update(min=float(s.min()), max=float(s.max()), mean=float(s.mean()))
    pairs = None
    if embeddings is not None:
        pairs = collapse_pair_rate(embeddings, s, max_pairs=max_pairs, seed=seed)
        out["collapse_pair_rate"] = _json_float(pairs.rate)
        out["collapse_pairs"] = pairs.to_dict()
    out["alerts"] = collapse_alerts(spread, collapse_pairs=pairs)
    return out
