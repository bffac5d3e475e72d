import numpy as np
import pytest

from pantry.errors import NotEnoughVotes
from pantry.model.training import TrainConfig, bt_loss, evaluate_pairs, make_pairs, train_reward_model


def synthetic(n_items=200, n_votes=300, dim=16, seed=0, noise=1.0):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=dim)
    x = rng.normal(size=(n_items, dim)).astype(np.float32)
    u = x @ w
    ia, ib = rng.integers(0, n_items, n_votes), rng.integers(0, n_items, n_votes)
    p = 1 / (1 + np.exp(-(u[ia] - u[ib]) / noise))
    outcomes = ["a" if r < q else "b" for r, q in zip(rng.random(n_votes), p)]
    return x, u, ia, ib, outcomes


def test_learns_a_linear_taste_and_does_not_collapse():
    x, u, ia, ib, out = synthetic()
    pairs = make_pairs(x[ia], x[ib], out)
    res = train_reward_model(pairs, "e", "f", TrainConfig(seed=0))
    assert res.metrics["val_accuracy"] > 0.75
    scores, std = res.model.score(x)
    assert np.corrcoef(scores, u)[0, 1] > 0.8
    assert len(np.unique(np.round(scores, 6))) == len(x)
    assert np.all(std > 0)  # 5 bootstrap members disagree a little
    assert res.metrics["reward_min"] < res.metrics["reward_mean"] < res.metrics["reward_max"]


def test_refuses_below_minimum_decisive_votes():
    x, _, ia, ib, _ = synthetic(n_votes=20)
    outcomes = ["tie"] * 15 + ["a"] * 5
    with pytest.raises(NotEnoughVotes, match="have 5"):
        train_reward_model(make_pairs(x[ia], x[ib], outcomes), "e", "f", TrainConfig(min_decisive=8))


def test_ties_are_half_targets_and_both_bad_dropped():
    x = np.eye(4, dtype=np.float32)
    pairs = make_pairs(x[[0, 1, 2]], x[[1, 2, 3]], ["a", "tie", "both_bad"], ["much", "much", None])
    assert list(pairs.y) == [1.0, 0.5]
    assert list(pairs.margin) == [1.0, 0.0]  # no margin for a tie
    loss = bt_loss(np.zeros(2), np.array([0.5, 0.5]), np.zeros(2))
    np.testing.assert_allclose(loss, np.log(2.0))


def test_strict_accuracy_counts_tied_scores_wrong():
    from pantry.model.reward import RewardModel
    model = RewardModel.new(3, 1, "e", "f")  # all-zero weights: every score is 0
    x = np.eye(3, dtype=np.float32)
    m = evaluate_pairs(model, make_pairs(x[[0, 1]], x[[1, 2]], ["a", "b"]))
    assert m["accuracy"] == 0.0 and m["tied_scores"] == 2


def test_prior_pull_keeps_a_personal_model_near_the_prior():
    x, u, ia, ib, out = synthetic(seed=1)
    pairs = make_pairs(x[ia], x[ib], out)
    prior = train_reward_model(pairs, "e", "f", TrainConfig(seed=0)).model
    # a few contradicting votes: with a strong pull the model stays close to the prior
    flipped = make_pairs(x[ia[:30]], x[ib[:30]], ["b" if o == "a" else "a" for o in out[:30]])
    strong = train_reward_model(flipped, "e", "f", TrainConfig(l2=10.0, val_split=0, prior_shape="isotropic"), prior=prior).model
    weak = train_reward_model(flipped, "e", "f", TrainConfig(l2=0.0, val_split=0, prior_shape="isotropic"), prior=prior).model
    dist = lambda m: np.linalg.norm(m.parameters_vector() - prior.parameters_vector())  # member k is pulled to prior member k
    assert dist(strong) < dist(weak)


def test_progress_and_epoch_callbacks():
    x, _, ia, ib, out = synthetic(n_votes=100)
    seen, epochs = [], []
    train_reward_model(make_pairs(x[ia], x[ib], out), "e", "f", TrainConfig(members=2),
                       on_progress=lambda d, t, m: seen.append((d, t)), on_epoch=epochs.append)
    assert seen and seen[-1][0] == seen[-1][1]
    assert epochs and epochs[0].val_loss is not None


def test_per_recipe_offsets_remember_judgements_content_cannot_explain(tmp_path):
    # two recipes with identical features: only an offset can tell them apart
    x = np.zeros((2, 4), dtype=np.float32)
    outcomes = ["a"] * 9 + ["b"]
    pairs = make_pairs(x[[0] * 10], x[[1] * 10], outcomes, ids_a=["r1"] * 10, ids_b=["r2"] * 10)
    res = train_reward_model(pairs, "e", "f", TrainConfig(val_split=0, min_decisive=2, members=3))
    scores, _ = res.model.score(x, ["r1", "r2"])
    assert scores[0] > scores[1]
    fresh, _ = res.model.score(x)  # unknown recipes: content only, so a tie here
    assert fresh[0] == fresh[1]
    from pantry.model.reward import load_model
    loaded = load_model(res.model.save(tmp_path / "m.pt"))
    assert loaded.item_ids == ("r1", "r2")
    np.testing.assert_allclose(loaded.score(x, ["r1", "r2"])[0], scores)
    without = train_reward_model(pairs, "e", "f", TrainConfig(val_split=0, min_decisive=2, members=1, item_var=0))
    assert without.model.item_ids == ()


def test_train_options_describe_every_config_field():
    from dataclasses import fields

    from pantry.model.training import TrainOption, config_from, train_options
    options = train_options()
    assert [o.name for o in options] == [f.name for f in fields(TrainConfig)]
    assert all(isinstance(o, TrainOption) and o.label and o.help for o in options)
    by_name = {o.name: o for o in options}
    assert by_name["refit"].kind == "bool" and by_name["members"].kind == "int" and by_name["l2"].kind == "float"
    assert by_name["members"].minimum == 1 and by_name["members"].default == TrainConfig().members
    assert config_from({"members": 3, "unknown": 1}).members == 3
    with pytest.raises(ValueError, match="members must be between 1 and 20"):
        config_from({"members": 0})
    with pytest.raises(ValueError, match="refit must be true or false"):
        config_from({"refit": "yes"})


def test_newton_history_is_per_iteration_from_the_prior_to_the_exact_optimum():
    from scipy.optimize import minimize

    from pantry.model.training import fit_bradley_terry
    x, _, ia, ib, out = synthetic(n_votes=300, dim=64, seed=0)
    pairs = make_pairs(x[ia], x[ib], out, ["much" if k % 5 == 0 else None for k in range(len(out))])
    seen = []
    res = train_reward_model(pairs, "e", "f", TrainConfig(members=1, val_split=0.2), on_epoch=seen.append)
    history = res.history
    assert [h.epoch for h in history] == list(range(len(history))), "iteration 0 (the start) then every iteration"
    assert 3 <= len(history) - 1 <= 30 and history[0].train_loss > history[-1].train_loss
    assert seen == history and history[-1].val_loss is not None
    # the optimum of the same objective found independently (scipy BFGS): Newton matches it
    from pantry.model.training import distinct_rows
    rows, ra, rb = distinct_rows(pairs.xa, pairs.xb)
    delta = rows[ra] - rows[rb]
    y, m, l2 = pairs.y.astype(np.float64), pairs.margin.astype(np.float64), 0.7
    fit = fit_bradley_terry(rows, ra, rb, y, l2, margin=m)
    objective = lambda c: float(np.sum(bt_loss(delta @ c, y, m)) + l2 * c @ c)  # noqa: E731
    reference = minimize(objective, np.zeros(64), method="BFGS", options={"gtol": 1e-10, "maxiter": 5000})
    assert fit.converged and objective(fit.coef) <= reference.fun + 1e-8
    np.testing.assert_allclose(fit.coef, reference.x, atol=1e-4)


def test_validation_split_is_seeded_and_skipped_when_too_small():
    from pantry.model.training import validation_split
    val, train = validation_split(20, 0.2, seed=3)
    assert len(val) == 4 and sorted(np.concatenate([val, train])) == list(range(20))
    assert np.array_equal(val, validation_split(20, 0.2, seed=3)[0])
    assert len(validation_split(5, 0.2, seed=0)[0]) == 0, "a 1-pair validation set is no validation set"


def test_training_touches_no_global_torch_state():
    import torch
    x, _, ia, ib, out = synthetic(n_votes=60)
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_reward_model(make_pairs(x[ia], x[ib], out), "e", "f", TrainConfig(members=2))
    assert torch.equal(torch.rand(3), expected) and torch.get_num_threads() == threads


def test_cross_validation_scores_each_vote_once_by_a_fit_that_did_not_see_it():
    from pantry.model.training import cross_validate, fixed_model, fold_assignment, settings_fit
    x, _, ia, ib, out = synthetic(n_votes=120, seed=2)
    out[:10] = ["tie"] * 10
    pairs = make_pairs(x[ia], x[ib], out)
    seen = []

    def fit(train):
        seen.append(len(train))
        return settings_fit("e", "f", TrainConfig(members=3), None)(train)

    cv = cross_validate(pairs, fit, folds=5, seed=0)
    assert cv.folds == 5 and sum(len(pairs) - n for n in seen) == len(pairs), "each pair held out once"
    assert cv.pairs == pairs.n_decisive == 110 and 0.7 < cv.accuracy <= 1 and cv.low < cv.accuracy < cv.high
    assert set(cv.metrics()) >= {"cv_accuracy", "cv_low", "cv_high", "cv_pairs", "cv_folds"}
    assert np.array_equal(fold_assignment(len(pairs), 5, 0), fold_assignment(len(pairs), 5, 0))
    from pantry.model.reward import RewardModel
    flat = cross_validate(pairs, fixed_model(RewardModel.new(16, 1, "e", "f")), folds=5, seed=0)
    assert flat.pairs == cv.pairs and flat.accuracy == 0.0 and flat.tie_rate == 1.0, "a tied score is wrong"
    assert cv.at_least_as_good_as(flat) and not flat.at_least_as_good_as(cv)


def test_cross_validation_with_few_votes_uses_fewer_folds():
    from pantry.model.training import cross_validate, settings_fit
    x, _, ia, ib, out = synthetic(n_votes=3, seed=4)
    cv = cross_validate(make_pairs(x[ia], x[ib], out), settings_fit("e", "f", TrainConfig(), None), folds=5)
    assert cv.folds == 3 and cv.pairs == 3


def test_few_recipes_many_features_step_is_the_dense_newton_step():
    """With fewer distinct recipes than features the solver works in the R x R system; the
    optimum is the same as the dense D x D Newton solve (padding rows forces that path)."""
    from pantry.model.training import fit_bradley_terry

    rng = np.random.default_rng(3)
    rows = rng.normal(size=(12, 60)) * 0.2
    ia = rng.integers(0, 12, 80)
    ib = (ia + 1 + rng.integers(0, 11, 80)) % 12
    y = (rng.random(80) < 0.6).astype(float)
    lam = rng.uniform(0.5, 2.0, 60)
    fast = fit_bradley_terry(rows, ia, ib, y, lam)
    dense = fit_bradley_terry(np.vstack([rows, np.zeros((60, 60))]), ia, ib, y, lam)
    assert fast.converged and np.allclose(fast.coef, dense.coef, atol=1e-9)


def test_a_persons_offsets_solved_dense_reach_the_sparse_solves_optimum(monkeypatch):
    """A person's few offsets take the dense Newton step (scipy.sparse's overhead dominates
    there); the optimum is the sparse direct solve's, with ties, margins, weights and votes on
    a side without an offset."""
    import pantry.model.solver as solver
    from pantry.model.crowd_items import fit_offsets

    rng = np.random.default_rng(5)
    k, n = 20, 90
    oa = rng.integers(0, k + 1, n)  # k: the all-zero row (a recipe without an offset)
    ob = (oa + 1 + rng.integers(0, k, n)) % (k + 1)
    y = rng.choice([0.0, 0.5, 1.0], n)
    d0, m, w = rng.normal(0, 1, n), rng.choice([0.0, 0.7], n), rng.uniform(0.3, 2.0, n)
    dense = fit_offsets(oa, ob, y, d0, m, w, k, 0.8)
    monkeypatch.setattr(solver, "DENSE_OFFSETS_MAX", 0)
    sparse = fit_offsets(oa, ob, y, d0, m, w, k, 0.8)
    assert np.abs(dense).max() > 0.1 and np.allclose(dense, sparse, rtol=0.0, atol=1e-9)


@pytest.mark.parametrize("shape", ["isotropic", "evidence", "ard"])
def test_a_votes_weight_is_a_likelihood_weight_in_the_fit_and_the_prior_search(shape):
    """Pairs.weight (a rater's noise, issue 22) enters the likelihood everywhere, the evidence
    search for the prior's shape included: weight 2 on every vote is exactly each vote twice,
    and weight 0.3 moves a personal model less from its prior than weight 1."""
    from dataclasses import replace

    x, u, ia, ib, out = synthetic(n_votes=40, seed=3)
    prior = train_reward_model(make_pairs(x[ia], x[ib], out), "e", "f", TrainConfig(seed=0, members=1)).model
    cfg = TrainConfig(seed=0, members=1, val_split=0, prior_shape=shape)
    mine = make_pairs(x[ia[:20]], x[ib[:20]], ["b" if o == "a" else "a" for o in out[:20]])
    twice = make_pairs(x[np.r_[ia[:20], ia[:20]]], x[np.r_[ib[:20], ib[:20]]],
                       ["b" if o == "a" else "a" for o in out[:20]] * 2)
    doubled = train_reward_model(replace(mine, weight=np.full(20, 2.0)), "e", "f", cfg, prior=prior).model
    repeated = train_reward_model(twice, "e", "f", cfg, prior=prior).model
    np.testing.assert_allclose(doubled.parameters_vector(), repeated.parameters_vector(), rtol=1e-4, atol=1e-5)
    dist = lambda m: np.linalg.norm(m.parameters_vector() - prior.parameters_vector())  # noqa: E731
    light = train_reward_model(replace(mine, weight=np.full(20, 0.3)), "e", "f", cfg, prior=prior).model
    full = train_reward_model(mine, "e", "f", cfg, prior=prior).model
    assert dist(light) < dist(full)
