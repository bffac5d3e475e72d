"""pantry.model.taste_spread: how much people differ per taste column, from a crowd's votes."""

from __future__ import annotations

import numpy as np

from pantry.model.pairs import Pairs
from pantry.model.taste_spread import column_shares, taste_spread


def _crowd(n_raters: int = 40, votes: int = 60, seed: int = 0) -> Pairs:
    """Raters who differ a lot on column 0 (meat), a little on column 1, not at all on column 2;
    column 3 never varies. Columns 0 and 4 say the same thing (meat and 'not vegetarian')."""
    rng = np.random.default_rng(seed)
    xa, xb, y, who = [], [], [], []
    for r in range(n_raters):
        w = np.array([rng.normal(0, 3.0), rng.normal(0, 0.7), 1.0])
        for _ in range(votes):
            a, b = rng.integers(0, 2, 3).astype(float), rng.integers(0, 2, 3).astype(float)
            pa = 1 / (1 + np.exp(-(a - b) @ w))
            noise = rng.normal(size=(2, 3))  # three "embedding" columns before the explicit ones
            xa.append(np.r_[noise[0], a, 1.0, a[0]])
            xb.append(np.r_[noise[1], b, 1.0, b[0]])
            y.append(float(rng.random() < pa))
            who.append(f"u{r}")
    n = len(y)
    return Pairs(np.array(xa), np.array(xb), np.array(y), np.zeros(n), rater=np.array(who))


def test_the_spread_is_large_where_people_differ_and_small_where_they_agree():
    s = taste_spread(_crowd(), n_explicit=5)
    assert s is not None and s.shape == (5,) and (s > 0).all()
    meat = s[0] + s[4]  # two columns that say the same thing share the difference between people
    assert meat > 5 * s[1] and s[1] > s[2]  # meat >> a little >> agreed (a shared weight is no spread)
    assert s[3] == s.min()  # a column that never varies gets the floor


def test_no_spread_without_enough_raters_or_labels():
    pairs = _crowd(n_raters=2)
    assert taste_spread(pairs, 5) is None  # two people cannot say how people differ
    pairs.rater = None
    assert taste_spread(_crowd().subset(np.arange(0)), 5) is None
    assert taste_spread(pairs, 5) is None


def test_column_shares_follow_the_spread_over_varying_columns():
    shares = column_shares(np.array([4.0, 1.0, 3.0]), np.array([True, True, False]))
    np.testing.assert_allclose(shares, [0.8, 0.2, 0.0])
    assert column_shares(None, np.array([True])) is None


def test_a_population_model_carries_the_spread_and_a_personal_fit_uses_it():
    from pantry.model.taste_spread import spread_of as prior_spread
    from pantry.model.training import TrainConfig, train_reward_model

    crowd = _crowd()
    spec = "explicit-v9:a,b,c,d,e"
    cfg = TrainConfig(members=1, val_split=0.0, prior_shape="ard")
    population = train_reward_model(crowd, "test", spec, cfg).model
    spread = prior_spread(population, 5)
    assert spread is not None and spread[0] + spread[4] > 5 * spread[1]
    mine = crowd.subset(np.flatnonzero(crowd.rater == "u0")[:12])
    mine.rater = None
    personal = train_reward_model(mine, "test", spec, cfg, prior=population)
    assert prior_spread(personal.model, 5) is not None  # passed on: the next fit and the Scores page read it
    assert personal.metrics["prior_scales"] is not None
    # a spread of another length (a model of other features) is not used
    population.meta["taste_spread"] = [1.0, 2.0]
    assert prior_spread(population, 5) is None


def test_spread_shares_name_where_people_differ_largest_first():
    from pantry.model.reward import RewardModel
    from pantry.model.taste_spread import spread_shares

    names = ("pantry_coverage", "has_meat", "heat", "baked")
    model = RewardModel.new(8, 1, "test", "explicit-v9:" + ",".join(names), seed=0)
    assert spread_shares(model, names) == []  # no crowd behind it
    model.meta["taste_spread"] = [5.0, 2.0, 6.0, 0.5]
    shares = spread_shares(model, names)
    assert [n for n, _ in shares] == ["heat", "has_meat", "baked"]  # the pantry column is not a taste
    assert abs(sum(v for _, v in shares) - 1.0) < 1e-9 and shares[0][1] > 0.7
    model.meta["taste_spread"] = [1.0, float("nan"), 1.0, 1.0]
    assert spread_shares(model, names) == []
