"""Diagnostics for a recipe reward model: pure functions over numpy arrays.

A reward model gives each recipe a score (higher = preferred). The legacy model "collapsed":
it gave many different recipes the exact same score, so it could not rank them, while its
headline validation accuracy (8 of 9 pairs) looked fine. The functions here measure that
failure and its usual companions so that the app, the CLI (`python -m pantry diagnose
--json`) and tests can catch it:

- how spread out the scores are (`score_spread`, `collapse_pair_rate`, `diagnose_scores`);
- how well the scores explain the votes, counting ties as wrong
  (`strict_pairwise_accuracy`, `margin_distribution`, `wilson_interval`);
- whether the Bradley-Terry probabilities are calibrated (`bt_probability`, `brier_score`,
  `expected_calibration_error`);
- what happens far from the training data (`nearest_distance`, `ood_curve`);
- causes: texts cut off by the encoder
  (`truncation_rate`), and voters who favour the left-hand card (`position_bias`);
- `collapse_alerts` turns the numbers into plain-language warnings.

Everything is pure: no torch, no streamlit, no I/O. Results are small frozen dataclasses
(or NamedTuples) of Python numbers with a `.to_dict()` that is JSON-serialisable with
strict JSON: a value that is undefined (NaN, e.g. accuracy over zero pairs) is kept as NaN
on the object and becomes `None` in `.to_dict()`.

Bad input (wrong shapes, mismatched lengths, an empty score vector where one is needed)
raises `DiagnosticsInputError`, which is both a `ValueError` and the project's
`InvalidInput`, with a message that names the problem.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Mapping, NamedTuple

import numpy as np
from sklearn.calibration import calibration_curve
from scipy.special import expit
from scipy.stats import norm
from sklearn.metrics import brier_score_loss

from pantry.model.training import strict_counts
from pantry.model.training import wilson_interval as _wilson

from pantry.errors import InvalidInput

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


# ----------------------------------------------------------------------------- intervals


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion `successes / n`.

    Why: accuracy on a handful of validation pairs (the legacy model: 8 of 9) is very
    uncertain. The Wilson interval stays inside [0, 1] and behaves well for small n and for
    proportions near 0 or 1, unlike the normal ("Wald") interval. `z=1.96` gives about 95%.
    With n=0 nothing is known and the interval is (0.0, 1.0).
    """
    if n < 0 or successes < 0 or successes > n:
        raise DiagnosticsInputError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    return _wilson(successes, n, confidence=float(2 * norm.cdf(z) - 1))


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
    low, high = wilson_interval(correct, n, z)
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
    low, high = wilson_interval(collapsed, distinct_pairs)
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
    low, high = wilson_interval(wins, n, z)
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
