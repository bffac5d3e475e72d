"""Tests for pantry.evaluation.diagnostics: each metric against values worked out by hand."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from pantry.evaluation.checks import CONFIDENCE_95
from pantry.evaluation.diagnostics import (
    AccuracyResult,
    DiagnosticsInputError,
    SpreadResult,
    bt_probability,
    brier_score,
    collapse_alerts,
    collapse_pair_rate,
    diagnose_scores,
    expected_calibration_error,
    margin_distribution,
    nearest_distance,
    ood_curve,
    position_bias,
    score_spread,
    strict_pairwise_accuracy,
    truncation_rate,
    wilson_interval,
)
from pantry.errors import InvalidInput

approx = pytest.approx


def strict_json(obj) -> str:
    return json.dumps(obj, allow_nan=False)


# ----------------------------------------------------------------------------- wilson


def test_wilson_8_of_10():
    # p = 0.8, z^2 = 3.8416, denom = 1 + 3.8416/10 = 1.38416
    # center = (0.8 + 3.8416/20) / 1.38416 = 0.99208 / 1.38416 = 0.716731
    # half = 1.96 * sqrt(0.8*0.2/10 + 3.8416/400) / 1.38416
    #      = 1.96 * sqrt(0.016 + 0.009604) / 1.38416 = 1.96 * 0.160012 / 1.38416 = 0.226580
    low, high = wilson_interval(8, 10)
    assert low == approx(0.4902, abs=1e-4)
    assert high == approx(0.9433, abs=1e-4)


def test_wilson_edges():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    # 10/10: center = 1.19208 / 1.38416 = 0.861230, half = 1.96*sqrt(0.009604)/1.38416
    #        = 0.19208 / 1.38416 = 0.138770 -> low 0.72246, high clipped to 1
    low, high = wilson_interval(10, 10)
    assert low == approx(0.72246, abs=1e-4)
    assert high == 1.0
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


# ----------------------------------------------------------------------------- accuracy

# pair:     0    1    2    3      4    5    6
A = [2.0, 1.0, 3.0, 5.0, 0.0, 0.0, 4.0]
B = [1.0, 1.0, 4.0, 5.0, 9.0, 1.0, 0.0]
OUT = ["a", "a", "b", "tie", "b", "a", "both_bad"]
# decisive pairs: 0 (a: 2>1 right), 1 (a: 1==1 tie -> wrong), 2 (b: 4>3 right),
# 4 (b: 9>0 right), 5 (a: 0<1 wrong); 3 and 6 ignored.
# -> n = 5, correct = 3, accuracy 0.6, ties 1 -> tie_rate 0.2


def test_strict_accuracy_counts_ties_as_wrong():
    res = strict_pairwise_accuracy(A, B, OUT)
    assert isinstance(res, AccuracyResult)
    assert (res.n, res.correct) == (5, 3)
    assert res.accuracy == approx(0.6)
    assert res.tie_rate == approx(0.2)
    assert (res.low, res.high) == approx(wilson_interval(3, 5, CONFIDENCE_95))  # z = 1.96, as ever


def test_collapsed_model_scores_zero_not_half():
    scores = np.full(6, 0.37)
    res = strict_pairwise_accuracy(scores, scores, ["a", "b"] * 3)
    assert res.accuracy == 0.0
    assert res.tie_rate == 1.0


def test_strict_accuracy_exact_float_equality():
    # 1e-12 apart is not a tie (exact float64 equality, no tolerance)
    res = strict_pairwise_accuracy([1.0 + 1e-12], [1.0], ["a"])
    assert res.correct == 1 and res.tie_rate == 0.0


def test_strict_accuracy_no_decisive_votes():
    res = strict_pairwise_accuracy([1.0], [2.0], ["tie"])
    assert res.n == 0 and math.isnan(res.accuracy)
    d = res.to_dict()
    assert d["accuracy"] is None  # NaN becomes None for strict JSON
    strict_json(d)


def test_strict_accuracy_length_mismatch():
    with pytest.raises(DiagnosticsInputError, match="same length"):
        strict_pairwise_accuracy([1.0, 2.0], [1.0], ["a", "b"])
    with pytest.raises(InvalidInput):
        strict_pairwise_accuracy([1.0, 2.0], [1.0, 2.0], ["a"])


def test_margin_distribution():
    # margins: "a" votes first: pair0 2-1=1, pair1 1-1=0, pair5 0-1=-1;
    # then "b" votes: pair2 4-3=1, pair4 9-0=9  -> (1, 0, -1, 1, 9)
    res = margin_distribution(A, B, OUT, bins=5)
    assert res.margins == (1.0, 0.0, -1.0, 1.0, 9.0)
    assert res.share_negative == approx(0.2)
    assert res.share_zero == approx(0.2)
    # histogram over [-1, 9] in 5 bins of width 2: [-1,1) has -1 and 0; [1,3) has 1, 1;
    # [7,9] has 9
    assert res.counts == (2, 2, 0, 0, 1)
    assert res.edges == approx((-1.0, 1.0, 3.0, 5.0, 7.0, 9.0))
    strict_json(res.to_dict())


# ----------------------------------------------------------------------------- spread


def test_score_spread_hand_values():
    res = score_spread([1, 1, 1, 2])
    assert isinstance(res, SpreadResult)
    assert res.n == 4 and res.distinct == 2
    assert res.distinct_ratio == approx(0.5)
    assert res.mode_share == approx(0.75)
    # mean 1.25; squared deviations 3*0.0625 + 0.5625 = 0.75; /4 = 0.1875; sqrt = 0.433013
    assert res.std == approx(0.433013, abs=1e-6)
    # q25 = 1; q75 at position 0.75*3 = 2.25 -> 1 + 0.25*(2-1) = 1.25; iqr = 0.25
    assert res.iqr == approx(0.25)
    # 20-bin histogram over [1, 2]: 3 in the first bin, 1 in the last;
    # H = -(0.75 ln 0.75 + 0.25 ln 0.25) = 0.215762 + 0.346574 = 0.562335; / ln 20 (2.995732)
    assert res.entropy == approx(0.187712, abs=1e-6)
    assert list(res.to_dict()) == [
        "n", "distinct", "distinct_ratio", "mode_share", "std", "iqr", "entropy"
    ]


def test_score_spread_rounding_and_constant():
    # 1 and 1 + 1e-9 round to the same 6-decimal score
    res = score_spread([1.0, 1.0 + 1e-9, 2.0], decimals=6)
    assert res.distinct == 2
    const = score_spread([3.0] * 5)
    assert (const.distinct, const.mode_share, const.std, const.iqr, const.entropy) == (
        1, 1.0, 0.0, 0.0, 0.0
    )


def test_score_spread_uniform_entropy_is_one():
    # 20 points, one per bin of a 20-bin histogram -> H = ln 20 -> normalised 1
    res = score_spread(np.arange(20.0), bins=20)
    assert res.entropy == approx(1.0)
    assert res.distinct_ratio == 1.0 and res.mode_share == approx(0.05)


def test_score_spread_rejects_empty_and_nan():
    with pytest.raises(ValueError, match="empty"):
        score_spread([])
    with pytest.raises(ValueError, match="non-finite"):
        score_spread([1.0, float("nan")])


# ----------------------------------------------------------------------------- alerts


def collapsed_scores() -> np.ndarray:
    # 412 recipes share the score 0.5; 88 others spread over [1, 2]
    return np.concatenate([np.full(412, 0.5), np.linspace(1.0, 2.0, 88)])


def test_collapse_alerts_fire_on_collapse():
    spread = score_spread(collapsed_scores())
    # distinct = 1 + 88 = 89, mode_share = 412/500 = 0.824
    alerts = collapse_alerts(spread)
    assert "412 of 500 recipes share one score: collapse" in alerts
    assert "only 89 distinct scores among 500 recipes" in alerts
    # dict form (as printed by diagnose --json) gives the same alerts
    assert collapse_alerts(spread.to_dict()) == alerts


def test_collapse_alerts_quiet_when_healthy():
    spread = score_spread(np.linspace(-3.0, 3.0, 500))
    assert collapse_alerts(spread) == []
    # 90 right (1 > 0), 10 wrong (-1 < 0), no ties: 0.9 [0.83, 0.94] excludes 0.5
    healthy_acc = strict_pairwise_accuracy([1.0] * 90 + [-1.0] * 10, [0.0] * 100, ["a"] * 100)
    assert collapse_alerts(spread, healthy_acc) == []


def test_collapse_alerts_small_std():
    # std of [0, 2.4e-7] is 1.2e-7; distinct at 9 decimals so only the std alert fires
    spread = score_spread([0.0, 2.4e-7], decimals=9)
    assert collapse_alerts(spread) == ["scores barely vary (std 1.2e-07)"]


def test_collapse_alerts_small_n_distinct_is_not_collapse():
    # 10 distinct scores: mode_share 1/10 > 0.05 but only one recipe "shares" it
    assert collapse_alerts(score_spread(np.arange(10.0))) == []


def test_accuracy_alerts():
    spread = score_spread(np.linspace(0, 1, 100))
    # 11 of 20 right. Wilson: denom = 1.19208, center = (0.55 + 0.09604)/1.19208 = 0.541943,
    # half = 1.96*sqrt(0.012375 + 0.002401)/1.19208 = 0.199862 -> [0.34, 0.74] contains 0.5
    acc = strict_pairwise_accuracy([1.0] * 11 + [0.0] * 9, [0.5] * 20, ["a"] * 20)
    alerts = collapse_alerts(spread, acc)
    assert alerts == [
        "accuracy 0.55 [0.34, 0.74] is not distinguishable from chance (20 decisive pairs)"
    ]
    # all ties: accuracy 0 [0, 0.16] below chance, tie rate 100%
    ties = strict_pairwise_accuracy([1.0] * 20, [1.0] * 20, ["a"] * 20)
    alerts = collapse_alerts(spread, ties)
    assert any("below chance" in a for a in alerts)
    assert "100% of 20 decisive pairs got exactly equal scores (counted wrong)" in alerts
    none = strict_pairwise_accuracy([], [], [])
    assert collapse_alerts(spread, none) == ["no decisive votes to measure accuracy on"]


# ----------------------------------------------------------------------------- calibration


def test_bt_probability():
    # sigmoid(0) = 0.5; sigmoid(ln 3) = 3/4; huge differences do not overflow
    p = bt_probability([0.0, math.log(3), 1000.0, -1000.0], [0.0, 0.0, -1000.0, 1000.0])
    assert p == approx([0.5, 0.75, 1.0, 0.0])


def test_brier_and_ece_constructed_case():
    p = [0.1, 0.1, 0.9, 0.9]
    y = [0, 1, 1, 1]
    # Brier: ((0.1)^2 + (0.9)^2 + (0.1)^2 + (0.1)^2) / 4 = (0.01+0.81+0.01+0.01)/4 = 0.21
    assert brier_score(p, y) == approx(0.21)
    ece, bins = expected_calibration_error(p, y, n_bins=10)
    # scikit-learn's rule: a prediction on an inner edge goes to the lower bin
    # bin [0.0, 0.1]: mean_pred 0.1, frac_pos 0.5, count 2 -> gap 0.4
    # bin [0.8, 0.9]: mean_pred 0.9, frac_pos 1.0, count 2 -> gap 0.1
    # ECE = 2/4 * 0.4 + 2/4 * 0.1 = 0.25; the 8 empty bins are omitted
    assert ece == approx(0.25)
    assert len(bins) == 2
    lo, hi, mean_pred, frac_pos, count = bins[0]
    assert (lo, hi, mean_pred, frac_pos, count) == approx((0.0, 0.1, 0.1, 0.5, 2))
    assert bins[1].to_dict() == approx(
        {"lo": 0.8, "hi": 0.9, "mean_pred": 0.9, "frac_pos": 1.0, "count": 2}
    )


def test_reliability_bins_equal_scikit_learn_and_a_hand_count():
    from sklearn.calibration import calibration_curve

    rng = np.random.default_rng(3)
    for n_bins in (4, 10):
        p = rng.random(500)
        y = rng.random(500) < p
        ece, bins = expected_calibration_error(p, y, n_bins=n_bins)
        true, pred = calibration_curve(y.astype(int), p, n_bins=n_bins)
        assert [b.frac_pos for b in bins] == approx(list(true))
        assert [b.mean_pred for b in bins] == approx(list(pred))
        # the counts and ECE by hand, away from the edges (none of these p sit on one)
        idx = np.minimum((p * n_bins).astype(int), n_bins - 1)
        counts = np.bincount(idx, minlength=n_bins)
        assert [b.count for b in bins] == [int(c) for c in counts if c]
        hand = sum(counts[b] / 500 * abs(p[idx == b].mean() - y[idx == b].mean()) for b in range(n_bins) if counts[b])
        assert ece == approx(hand)


def test_ece_perfectly_calibrated_and_p_equal_one():
    # p = 1 lands in the last bin; all right -> gap 0
    ece, bins = expected_calibration_error([1.0, 1.0, 0.0], [1, 1, 0], n_bins=4)
    assert ece == 0.0
    assert [b.count for b in bins] == [1, 2]


def test_calibration_rejects_bad_input():
    with pytest.raises(ValueError):
        brier_score([1.5], [1])
    with pytest.raises(ValueError):
        brier_score([0.5], [2])
    with pytest.raises(ValueError):
        expected_calibration_error([], [])


# ----------------------------------------------------------------------------- collapse pairs


def test_collapse_pair_rate_hand_case():
    emb = [[1, 0], [0, 1], [1, 0], [1, 1]]
    scores = [5.0, 5.0, 5.0, 7.0]
    # pairs: (0,1) differ, same score -> collapsed; (0,2) identical embeddings -> skipped;
    # (0,3) cos dist 1 - 1/sqrt2 = 0.29 differ, scores differ; (1,2) differ, same -> collapsed;
    # (1,3), (2,3) differ, scores differ.  -> 2 collapsed of 5 distinct pairs = 0.4
    res = collapse_pair_rate(emb, scores)
    assert (res.collapsed_pairs, res.distinct_pairs, res.pairs_examined) == (2, 5, 6)
    assert res.rate == approx(0.4)
    assert res.sampled is False
    strict_json(res.to_dict())


def test_collapse_pair_rate_sampled_estimate():
    rng = np.random.default_rng(1)
    emb = rng.normal(size=(1000, 8))
    scores = np.concatenate([np.zeros(500), np.arange(1, 501, dtype=float)])
    # exact: pairs inside the zero-score group C(500,2) = 124750 of C(1000,2) = 499500
    # -> 0.249750 (random 8-d embeddings all differ)
    res = collapse_pair_rate(emb, scores, max_pairs=50_000, seed=3)
    assert res.sampled and res.pairs_examined == 50_000
    assert res.rate == approx(124750 / 499500, abs=0.01)
    assert collapse_pair_rate(emb, scores, max_pairs=50_000, seed=3) == res  # seeded


def test_collapse_pair_rate_no_distinct_pairs():
    res = collapse_pair_rate([[1.0, 0.0], [2.0, 0.0]], [1.0, 1.0])
    assert res.distinct_pairs == 0 and math.isnan(res.rate)
    assert res.to_dict()["rate"] is None


# ----------------------------------------------------------------------------- OOD


def test_nearest_distance():
    q = [[1, 0], [0, 1], [1, 1]]
    t = [[2, 0], [-1, 0]]
    # [1,0] vs [2,0]: cos 1 -> 0; [0,1]: cos 0 with both -> 1; [1,1] vs [2,0]: 1 - 1/sqrt2
    d = nearest_distance(q, t)
    assert d == approx([0.0, 1.0, 1 - 1 / math.sqrt(2)])
    assert nearest_distance(q, np.zeros((0, 2))).tolist() == [1.0, 1.0, 1.0]
    assert np.isnan(nearest_distance(q, [], empty_value=float("nan"))).all()
    with pytest.raises(ValueError, match="dims"):
        nearest_distance(q, [[1, 2, 3]])


def test_ood_curve_quantile_bins():
    distances = np.arange(8.0)  # 0..7; quantile edges for 2 bins: [0, 3.5, 7]
    scores = [1, 2, 3, 4, 5, 5, 5, 5]
    unc = [0.1] * 4 + [0.5] * 4
    near, far = ood_curve(distances, scores, unc, n_bins=2)
    # near: scores 1..4 -> mean 2.5, std sqrt(((1.5^2+0.5^2)*2)/4) = sqrt(1.25) = 1.118034
    assert (near.lo, near.hi, near.count) == (0.0, 3.5, 4)
    assert near.mean_distance == approx(1.5)
    assert near.mean_score == approx(2.5)
    assert near.std_score == approx(1.118034, abs=1e-6)
    assert near.mean_uncertainty == approx(0.1)
    # far: collapsed to 5 with std 0 even though uncertainty is higher
    assert (far.count, far.mean_score, far.std_score) == (4, 5.0, 0.0)
    assert far.mean_uncertainty == approx(0.5)


def test_ood_curve_repeated_distances_and_no_uncertainty():
    bins = ood_curve([0.2] * 5, [1, 2, 3, 4, 5], None, n_bins=8)
    assert len(bins) == 1 and bins[0].count == 5
    assert bins[0].to_dict()["mean_uncertainty"] is None


# ----------------------------------------------------------------------------- causes


def test_truncation_rate():
    # counts 100, 256, 300, 512 with a 256-token window:
    # truncated: 300 and 512 -> 2 of 4 = 0.5
    # dropped: 0, 0, 44, 256; shares 0, 0, 44/300 = 0.146667, 256/512 = 0.5
    # mean share = 0.646667 / 4 = 0.161667; dropped tokens 300 / 1168 total = 0.256849
    res = truncation_rate([100, 256, 300, 512], max_tokens=256)
    assert (res.n, res.truncated) == (4, 2)
    assert res.rate == approx(0.5)
    assert res.mean_dropped_share == approx(0.161667, abs=1e-6)
    assert res.dropped_token_share == approx(300 / 1168)
    assert truncation_rate([]).rate == 0.0


def test_position_bias():
    # 70 of 100: denom 1.038416, center (0.7 + 0.019208)/1.038416 = 0.692601,
    # half 1.96*sqrt(0.0021 + 0.00009604)/1.038416 = 0.088451 -> [0.6041, 0.7811]: excludes 0.5
    res = position_bias([True] * 70 + [False] * 30)
    assert res.n == 100 and res.left_win_rate == approx(0.7)
    assert res.low == approx(0.6041, abs=1e-4)
    assert res.high == approx(0.7811, abs=1e-4)
    assert res.alert is not None and "position bias" in res.alert
    # 52 of 100 is within chance
    assert position_bias([True] * 52 + [False] * 48).alert is None
    empty = position_bias([])
    assert empty.n == 0 and empty.alert is None
    strict_json(empty.to_dict())


# ----------------------------------------------------------------------------- summary


def test_diagnose_scores_json_shape():
    out = diagnose_scores(collapsed_scores())
    for key in ("n", "distinct_ratio", "mode_share", "std", "iqr", "entropy"):
        assert key in out
    assert out["n"] == 500 and out["mode_share"] == approx(0.824)
    assert "412 of 500 recipes share one score: collapse" in out["alerts"]
    strict_json(out)


def test_diagnose_scores_with_embeddings():
    emb = [[1, 0], [0, 1], [1, 0], [1, 1]]
    out = diagnose_scores([5.0, 5.0, 5.0, 7.0], emb)
    assert out["collapse_pair_rate"] == approx(0.4)
    assert out["collapse_pairs"]["distinct_pairs"] == 5
    assert any("different recipes got the same score" in a for a in out["alerts"])
    strict_json(out)


def _hand_wilson(successes, n, z=1.96):
    """The interval as it was written by hand before scipy computed it."""
    import math
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    center = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return (max(0.0, center - half), min(1.0, center + half))


@pytest.mark.parametrize("successes,n", [(0, 0), (0, 5), (8, 9), (5, 5), (37, 60), (4990, 7000)])
def test_scipy_wilson_equals_the_hand_written_interval(successes, n):
    from pantry.evaluation.checks import CONFIDENCE_95, confidence_of
    from pantry.evaluation.diagnostics import wilson_interval
    np.testing.assert_allclose(wilson_interval(successes, n, CONFIDENCE_95), _hand_wilson(successes, n), atol=1e-12)
    np.testing.assert_allclose(wilson_interval(successes, n, confidence_of(1.0)), _hand_wilson(successes, n, 1.0),
                               atol=1e-9)


def test_one_wilson_interval_in_the_project():
    """The diagnostics re-export the trainer's interval (one signature: successes, n, confidence)."""
    import pantry.evaluation
    from pantry.evaluation import diagnostics
    from pantry.model import training

    assert diagnostics.wilson_interval is training.wilson_interval is pantry.evaluation.wilson_interval


def test_sklearn_brier_equals_the_hand_written_score():
    from pantry.evaluation.diagnostics import brier_score
    rng = np.random.default_rng(0)
    for n in (1, 7, 100):
        p, y = rng.random(n), (rng.random(n) < 0.5).astype(float)
        assert brier_score(p, y) == pytest.approx(float(np.mean((p - y) ** 2)), abs=1e-15)
    assert brier_score([0.5, 0.5], [1, 1]) == 0.25


def test_persona_spearman_averages_ties():
    from pantry.evaluation.personas import _spearman
    assert _spearman(np.array([1, 1, 1, 2, 3.0]), np.arange(5.0)) == pytest.approx(0.894427, abs=1e-6)
