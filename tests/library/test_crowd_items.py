"""pantry.model.crowd_items: the crowd's per-recipe verdicts, and how far they carry to a newcomer."""

from __future__ import annotations

import numpy as np

from pantry.model.crowd_items import MIN_RATERS, crowd_item_vars, crowd_offsets, own_factor_of
from pantry.model.pairs import Pairs
from pantry.model.reward import RewardModel
from pantry.model.solver import fit_bradley_terry
from pantry.model.training import POPULATION_CONFIG, TrainConfig, train_reward_model

N_RECIPES, DIM = 40, 4


def _world(shared: bool, n_raters: int = 30, votes: int = 40, seed: int = 0, dim: int = DIM):
    """Recipes with random features; every rater likes feature 0. With `shared`, each recipe also
    has an appeal everyone sees (how well it is written, beyond its features); without it, each
    rater has their own appeal per recipe (verdicts that do not carry)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N_RECIPES, dim))
    appeal = rng.normal(0, 2.0, N_RECIPES)
    xa, xb, y, ia, ib, who = [], [], [], [], [], []
    for r in range(n_raters):
        mine = appeal if shared else rng.normal(0, 2.0, N_RECIPES)
        u = x[:, 0] + mine
        for _ in range(votes):
            a, b = rng.choice(N_RECIPES, 2, replace=False)
            xa.append(x[a]), xb.append(x[b]), ia.append(f"r{a}"), ib.append(f"r{b}"), who.append(f"u{r}")
            y.append(float(rng.random() < 1 / (1 + np.exp(-(u[a] - u[b])))))
    n = len(y)
    pairs = Pairs(np.array(xa, np.float32), np.array(xb, np.float32), np.array(y, np.float32),
                  np.zeros(n, np.float32), np.array(ia, dtype=object), np.array(ib, dtype=object),
                  rater=np.array(who))
    return pairs, x, appeal


def _arrays(pairs: Pairs):
    """The offsets' inputs, with the content part everyone shares (feature 0, its weight fitted
    on the votes, as a content model's would be) as d0."""
    ids = sorted(set(pairs.ids_a) | set(pairs.ids_b))
    oa, ob = pairs.item_index(ids)
    rows = np.concatenate([pairs.xa[:, :1], pairs.xb[:, :1]]).astype(np.float64)
    n = len(pairs)
    w = fit_bradley_terry(rows, np.arange(n), np.arange(n, 2 * n), pairs.y.astype(np.float64), 1e-3).coef
    d0 = (pairs.xa[:, 0] - pairs.xb[:, 0]).astype(np.float64) * w[0]
    return oa, ob, pairs.y.astype(np.float64), d0, np.zeros(n), len(ids)


def test_a_verdict_everyone_shares_carries_and_a_private_one_does_not():
    pairs, _, _ = _world(shared=True)
    oa, ob, y, d0, m, k = _arrays(pairs)
    shared, own = crowd_item_vars(oa, ob, y, d0, m, None, pairs.rater, k, 10.0)
    assert shared > 0 and own < 1.0  # a person's own verdict on a dish is mostly noise around everyone's
    pairs, _, _ = _world(shared=False)
    oa, ob, y, d0, m, k = _arrays(pairs)
    shared, own = crowd_item_vars(oa, ob, y, d0, m, None, pairs.rater, k, 10.0)
    assert shared == 0.0 and own >= 0.3  # nothing carries to others; a person's own verdicts do


def test_too_few_raters_carry_nothing():
    pairs, _, _ = _world(shared=True, n_raters=MIN_RATERS - 1, votes=200)
    oa, ob, y, d0, m, k = _arrays(pairs)
    assert crowd_item_vars(oa, ob, y, d0, m, None, pairs.rater, k, 10.0) == (0.0, 1.0)
    pairs, _, _ = _world(shared=True)
    oa, ob, y, d0, m, k = _arrays(pairs)
    assert crowd_item_vars(oa, ob, y, d0, m, None, pairs.rater, k, 0.0) == (0.0, 1.0)  # offsets switched off


def test_the_own_factor_is_read_safely():
    model = RewardModel.new(3, 1, "test", "test-spec")
    assert own_factor_of(None) == 1.0 and own_factor_of(model) == 1.0
    for bad in ("x", None, -1, 100.0, float("nan"), [0.1]):
        model.meta["own_offset_factor"] = bad
        assert own_factor_of(model) == 1.0
    for good in (0.1, 3.0):
        model.meta["own_offset_factor"] = good
        assert own_factor_of(model) == good


def test_own_verdicts_that_depart_further_than_the_configured_variance_get_a_factor_above_1():
    """Raters whose private appeal of a dish varies far more than the configured offset variance
    (sd 2 against item_var 0.3): the measured factor for a person's own offsets goes beyond 1
    rather than stopping at the configured variance."""
    pairs, _, _ = _world(shared=False, votes=120)
    oa, ob, y, d0, m, k = _arrays(pairs)
    shared, own = crowd_item_vars(oa, ob, y, d0, m, None, pairs.rater, k, 0.3)
    assert shared == 0.0 and own > 1.0


def _population(shared: bool) -> RewardModel:
    pairs, _, _ = _world(shared=shared)
    cfg = TrainConfig(**{**POPULATION_CONFIG.to_dict(), "members": 2, "val_split": 0.0})
    return train_reward_model(pairs, "test", "test-spec", cfg).model


def test_a_population_keeps_offsets_only_where_its_voters_agree():
    shared = _population(True)
    assert shared.meta["metrics"]["offset_variance"] > 0
    off = shared.member_arrays()[0]["offsets"]
    _, x, appeal = _world(shared=True)
    truth = np.array([appeal[int(rid[1:])] for rid in shared.item_ids])
    assert np.corrcoef(off, truth)[0, 1] > 0.8  # the offsets are the appeal everyone sees
    private = _population(False)
    assert private.meta["metrics"]["offset_variance"] == 0.0
    assert not np.any(private.member_arrays()[0]["offsets"])
    assert crowd_offsets(private, ["r1"]) is None  # nothing to inherit


def test_offsets_carry_even_where_the_content_head_could_learn_every_recipe():
    """With more feature columns than recipes, a content head fitted on all the crowd's votes
    learns each recipe's appeal, shrunk, and left nothing over it for offsets to carry when they
    were judged on top of it: the population was content alone, and below plain popularity on
    raters it never saw. Judged on top of a content head fitted on the same half of the raters
    (`by_half`), the offsets carry the appeal everyone sees."""
    pairs, x, appeal = _world(shared=True, dim=48)
    cfg = TrainConfig(**{**POPULATION_CONFIG.to_dict(), "members": 1, "val_split": 0.0})
    model = train_reward_model(pairs, "test", "test-spec", cfg).model
    assert model.meta["metrics"]["offset_variance"] > 0
    ids = [f"r{k}" for k in range(N_RECIPES)]
    truth = x[:, 0] + appeal
    i, j = np.triu_indices(N_RECIPES, 1)

    def ordered(s):
        return float(np.mean(np.sign(s[i] - s[j]) == np.sign(truth[i] - truth[j])))

    with_offsets, content = model.score(x.astype(np.float32), ids)[0], model.score(x.astype(np.float32), None)[0]
    assert ordered(with_offsets) > ordered(content)


def test_a_personal_model_inherits_the_crowds_verdicts_and_its_own_votes_override_them():
    population = _population(True)
    _, x, appeal = _world(shared=True)
    best, worst = (f"r{k}" for k in (int(np.argmax(appeal)), int(np.argmin(appeal))))
    # a newcomer rates three other recipes, and says `worst` beats `best` (twice)
    rated = [k for k in range(N_RECIPES) if f"r{k}" not in (best, worst)][:3]
    ids_a = [f"r{rated[0]}", f"r{rated[1]}", f"r{rated[0]}", f"r{rated[2]}", f"r{rated[1]}", f"r{rated[2]}",
             worst, worst] * 2
    ids_b = [f"r{rated[1]}", f"r{rated[0]}", f"r{rated[2]}", f"r{rated[0]}", f"r{rated[2]}", f"r{rated[1]}",
             best, best] * 2
    row = {f"r{k}": x[k] for k in range(N_RECIPES)}
    n = len(ids_a)
    mine = Pairs(np.array([row[i] for i in ids_a], np.float32), np.array([row[i] for i in ids_b], np.float32),
                 np.ones(n, np.float32), np.zeros(n, np.float32), np.array(ids_a, dtype=object),
                 np.array(ids_b, dtype=object))
    cfg = TrainConfig(members=2, val_split=0.0, min_decisive=0)
    personal = train_reward_model(mine, "test", "test-spec", cfg, prior=population).model
    factor = population.meta["own_offset_factor"]
    assert factor < 1.0  # everyone shares the appeal: a newcomer's own verdicts are shrunk to it
    assert personal.meta["metrics"]["offset_variance"] == cfg.item_var * factor
    assert set(population.item_ids) <= set(personal.item_ids)
    from pantry.model.crowd_items import verdict_summary

    summary = verdict_summary(personal)
    assert summary["personal"] and summary["recipes"] == personal.meta["metrics"]["crowd_recipes_with_offset"]
    assert summary["own_factor"] == factor
    assert personal.meta["metrics"]["crowd_recipes_with_offset"] == len(personal.item_ids) - len(
        set(ids_a) | set(ids_b))
    # a recipe the newcomer never rated keeps the crowd's verdict: scored above one with the
    # same features and no verdict (content alone)
    never = next(f"r{k}" for k in np.argsort(-appeal) if f"r{k}" not in set(ids_a) | set(ids_b))
    k = int(never[1:])
    with_verdict = personal.score(x[k:k + 1], [never])[0][0]
    content_only = personal.score(x[k:k + 1], ["unknown-recipe"])[0][0]
    assert with_verdict - content_only > 0.5
    # their own votes override the crowd's verdict on the two recipes they judged
    s = personal.score(np.stack([x[int(worst[1:])], x[int(best[1:])]]), [worst, best])[0]
    p = population.score(np.stack([x[int(worst[1:])], x[int(best[1:])]]), [worst, best])[0]
    assert p[0] < p[1] and s[0] > s[1]


def test_a_personal_model_without_offsets_inherits_nothing():
    population = _population(True)
    pairs, _, _ = _world(shared=True, n_raters=1, seed=5)
    pairs.rater = None
    personal = train_reward_model(pairs, "test", "test-spec", TrainConfig(members=1, val_split=0.0, item_var=0.0),
                                  prior=population).model
    assert personal.item_ids == ()


def test_many_offsets_are_solved_by_conjugate_gradients_to_the_same_optimum(monkeypatch):
    """Over thousands of recipes a sparse direct solve of the offsets' Newton step fills in
    (seconds a step); conjugate gradients reach the same optimum."""
    import pantry.model.solver as solver
    from scipy.sparse import eye as sparse_eye

    rng = np.random.default_rng(3)
    k, n = 600, 6000
    appeal = rng.normal(0, 1.5, k)
    ia, ib = rng.integers(0, k, n), rng.integers(0, k, n)
    keep = ia != ib
    ia, ib = ia[keep], ib[keep]
    y = (rng.random(len(ia)) < 1 / (1 + np.exp(-(appeal[ia] - appeal[ib])))).astype(float)
    rows = sparse_eye(k + 1, k, format="csr")
    assert k > solver.SPARSE_DIRECT_MAX
    by_cg = solver.fit_bradley_terry(rows, ia, ib, y, 0.05)
    monkeypatch.setattr(solver, "SPARSE_DIRECT_MAX", 10 ** 9)
    direct = solver.fit_bradley_terry(rows, ia, ib, y, 0.05)
    assert by_cg.converged and direct.converged
    np.testing.assert_allclose(by_cg.coef, direct.coef, atol=1e-7)
    assert np.corrcoef(by_cg.coef, appeal)[0, 1] > 0.9


def test_the_verdict_summary_says_what_a_model_carries():
    from pantry.model.crowd_items import verdict_summary

    shared = _population(True)
    summary = verdict_summary(shared)
    assert summary["recipes"] == len(shared.item_ids) and summary["variance"] > 0 and not summary["personal"]
    assert summary["own_factor"] == shared.meta["own_offset_factor"] < 1
    assert verdict_summary(_population(False)) is None  # verdicts that do not carry
    assert verdict_summary(None) is None
    assert verdict_summary(RewardModel.new(3, 1, "test", "test-spec")) is None


def test_halves_too_small_for_a_content_head_of_their_own_judge_on_the_whole_one(monkeypatch):
    """Below `HALF_VOTES_PER_COLUMN` votes per content column in each half, a content head fitted
    on half the raters is weaker than the one the population keeps, and offsets chosen to make
    up for it would not carry (a household of five sharing one taste lost 0.025 of its
    cross-validated accuracy that way): the offsets are judged on the whole content head."""
    import pantry.model.training as training

    seen = []
    real = training.crowd_item_vars

    def spy(*args, by_half=None, **kwargs):
        seen.append(by_half is not None)
        return real(*args, by_half=by_half, **kwargs)

    monkeypatch.setattr(training, "crowd_item_vars", spy)
    cfg = TrainConfig(**{**POPULATION_CONFIG.to_dict(), "members": 1, "val_split": 0.0})
    for dim, votes, expect in ((48, 40, True), (48, 20, False), (120, 40, False)):
        seen.clear()
        pairs, _, _ = _world(shared=True, dim=dim, votes=votes)
        train_reward_model(pairs, "test", "test-spec", cfg)
        assert seen == [expect], (dim, votes)


def test_content_heads_of_other_halves_are_refused():
    """The content heads `by_half` carries must be fitted on the very halves of the raters the
    offsets are judged on (else a head that saw the test half would favour the offsets)."""
    import pytest

    from pantry.model.crowd_items import rater_halves

    pairs, _, _ = _world(shared=True)
    oa, ob, y, d0, m, k = _arrays(pairs)
    right = rater_halves(pairs.rater, np.random.default_rng(0))
    shared, own = crowd_item_vars(oa, ob, y, d0, m, None, pairs.rater, k, 10.0, 0, by_half=(right, d0, d0))
    assert (shared, own) == crowd_item_vars(oa, ob, y, d0, m, None, pairs.rater, k, 10.0, 0)  # same heads: same
    with pytest.raises(ValueError, match="other halves"):
        crowd_item_vars(oa, ob, y, d0, m, None, pairs.rater, k, 10.0, 0, by_half=(~right, d0, d0))
