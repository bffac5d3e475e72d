"""pantry.model.crowd_tastes: the axes of taste a crowd shares, and a person's taste on them."""

from __future__ import annotations

import numpy as np

from pantry.model.crowd_tastes import MIN_RATERS, fit_crowd_tastes, person_tastes, taste_verdicts
from pantry.model.like_you import Crowd, Neighbours
from pantry.model.pairs import Pairs
from pantry.model.training import TrainConfig, train_reward_model
from tests.helpers import crowd_pairs, newcomer_pairs

N_RECIPES, DIM = 40, 4


def _world(shared: bool, raters: int = 60, votes: int = 30, seed: int = 0):
    """Recipes whose features say nothing of taste. With `shared`, each recipe sits on two
    hidden axes and each rater weighs them their own way (tastes only votes reveal); without,
    every rater has a private appeal per dish. Returns (the crowd's Pairs, features, positions)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N_RECIPES, DIM))
    axes = rng.normal(0, 1.0, (N_RECIPES, 2))
    rows = []
    for r in range(raters):
        util = axes @ rng.normal(0, 2.0, 2) if shared else rng.normal(0, 2.0, N_RECIPES)
        for _ in range(votes):
            a, b = rng.choice(N_RECIPES, 2, replace=False)
            rows.append((f"u{r}", a, b, float(rng.random() < 1 / (1 + np.exp(-(util[a] - util[b]))))))
    return crowd_pairs(rows, x), x, axes


def _crowd(pairs: Pairs) -> Crowd:
    return Crowd(pairs.ids_a, pairs.ids_b, pairs.y, pairs.rater)


def _newcomer(x, axes, taste, votes: int, seed: int = 1):
    """A newcomer's decisive votes among two thirds of the recipes (their taste on the axes);
    returns (their Pairs, the recipes they never rated, their utility)."""
    util = axes @ np.asarray(taste, np.float64)
    return (*newcomer_pairs(x, util, votes, np.random.default_rng(seed)), util)


def _ordered(scores, util, recipes) -> float:
    i, j = np.triu_indices(len(recipes), 1)
    s, u = scores[recipes], util[recipes]
    return float(np.mean(np.sign(s[i] - s[j]) == np.sign(u[i] - u[j])))


def test_shared_axes_are_found_and_private_views_give_none():
    pairs, _, axes = _world(shared=True)
    tastes = fit_crowd_tastes(_crowd(pairs), None)
    assert tastes is not None and tastes.rank >= 1 and tastes.raters == 60
    # the positions span the hidden axes: a linear map of them recovers each axis closely
    pos = np.array([tastes.positions[tastes.ids.index(f"r{k}")] for k in range(N_RECIPES)])
    for axis in axes.T:
        fit = np.linalg.lstsq(np.column_stack([pos, np.ones(N_RECIPES)]), axis, rcond=None)[0]
        assert np.corrcoef(np.column_stack([pos, np.ones(N_RECIPES)]) @ fit, axis)[0, 1] > 0.9
    private, _, _ = _world(shared=False)
    assert fit_crowd_tastes(_crowd(private), None) is None  # no axis carries from rater to rater
    few, _, _ = _world(shared=True, raters=MIN_RATERS - 1)
    assert fit_crowd_tastes(_crowd(few), None) is None


def test_a_persons_taste_from_six_votes_orders_the_dishes_they_never_rated():
    pairs, x, axes = _world(shared=True)
    tastes = fit_crowd_tastes(_crowd(pairs), None)
    mine, unrated, util = _newcomer(x, axes, [2.0, -1.0], votes=6)
    said = taste_verdicts(tastes, mine.ids_a, mine.ids_b, mine.y, np.zeros(len(mine)))
    assert said.axes == tastes.rank and said.scale == 1.0
    scores = np.array([said.offsets[said.ids.index(f"r{k}")] for k in range(N_RECIPES)])
    assert _ordered(scores, util, unrated) > 0.8
    # no vote on two crowd recipes: nothing to learn a taste from
    assert taste_verdicts(tastes, ["new1"], ["new2"], np.array([1.0]), np.zeros(1)) is None


def test_many_peoples_tastes_at_once_equal_each_fitted_alone():
    pairs, x, axes = _world(shared=True)
    tastes = fit_crowd_tastes(_crowd(pairs), None)
    where = {rid: j for j, rid in enumerate(tastes.ids)}
    people = [_newcomer(x, axes, t, votes=8, seed=s)[0] for s, t in enumerate(([1, 0], [0, 1], [-1, 1]))]
    idx = [(np.array([where[r] for r in p.ids_a]), np.array([where[r] for r in p.ids_b]), p.y) for p in people]
    alone = [person_tastes(tastes, a, b, y, np.zeros(len(y)))[0] for a, b, y in idx]
    a, b, y = (np.concatenate(z) for z in zip(*idx))
    who = np.repeat(np.arange(3), [len(p) for p in people])
    np.testing.assert_allclose(person_tastes(tastes, a, b, y, np.zeros(len(y)), who, 3), alone, atol=1e-8)


def test_a_newcomer_with_few_votes_gets_the_crowds_axes_through_training():
    """Through `train_reward_model`: with 5 votes no half of the newcomer's recipes can judge the
    trust, so crowd raters playing such a newcomer do; their taste on the axes is trusted and
    orders the dishes they never rated far better than their votes alone."""
    pairs, x, axes = _world(shared=True)
    mine, unrated, util = _newcomer(x, axes, [2.0, -1.0], votes=5)
    cfg = TrainConfig(members=1, val_split=0.0, min_decisive=0)
    res = train_reward_model(mine, "test", "test-spec", cfg, neighbours=Neighbours(_crowd(pairs), votes=pairs.subset))
    info = res.metrics["like_you"]
    assert info is not None and info["axes"] >= 1 and info["scale"] > 0 and info["raters"] == 60
    alone = train_reward_model(mine, "test", "test-spec", cfg).model
    ids = [f"r{k}" for k in range(N_RECIPES)]
    with_axes = res.model.score(x.astype(np.float32), ids)[0]
    without = alone.score(x.astype(np.float32), ids)[0]
    assert _ordered(with_axes, util, unrated) > _ordered(without, util, unrated) + 0.2


def test_a_persons_taste_is_the_map_even_where_every_vote_is_all_but_certain():
    """Far-apart positions, a weak prior and votes that all agree make a plain Newton step overshoot and
    cycle; the damped steps reach the same optimum as a general-purpose minimiser."""
    from dataclasses import replace

    from scipy.optimize import minimize

    pairs, x, axes = _world(shared=True)
    tastes = fit_crowd_tastes(_crowd(pairs), None)
    tastes = replace(tastes, positions=tastes.positions * 10.0, precision=tastes.precision / 100.0)
    mine, _, _ = _newcomer(x, axes, [2.0, -1.0], votes=20)
    where = {rid: j for j, rid in enumerate(tastes.ids)}
    a = np.array([where[r] for r in mine.ids_a])
    b = np.array([where[r] for r in mine.ids_b])
    y = mine.y.astype(np.float64)
    got = person_tastes(tastes, a, b, y, np.zeros(len(y)))[0]
    xd = tastes.positions[a] - tastes.positions[b]

    def nlp(u):
        z = xd @ u
        gap = u - tastes.mean
        return float(np.sum(y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z)) + 0.5 * gap @ tastes.precision @ gap)

    best = minimize(nlp, tastes.mean, method="BFGS", options={"gtol": 1e-10}).x
    assert nlp(got) <= nlp(best) + 1e-6
    np.testing.assert_allclose(got, best, atol=1e-3)
