"""Tests for pantry.evaluation.protocols: the offline protocols on a synthetic fixture with a known answer."""

import os
import time
from pathlib import Path

import numpy as np
import pytest

import pantry.evaluation.protocols as ev
from pantry.errors import InvalidInput
from pantry.evaluation.protocols import ModelSettings, evaluate, split_user_votes, vote_arrays
from pantry.domain.votes import Vote
from pantry.model.features import FEATURE_NAMES
from pantry.model.training import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PANTRY_SHARED_DATA", ROOT.parent / "shared" / "data"))
GZ = SHARED / "giallozafferano-dev"

N_USERS, PER_USER, DIM = 3, 15, 5
# noiseless data and unrelated users: trust the user's own votes (weak pull to the population)
NOISELESS = ModelSettings(personal=TrainConfig(l2=0.01, item_var=0.0))


def fixture(disjoint: bool = True, seed: int = 0):
    """3 users, 15 recipes each (all 105 pairs voted), preference = a known linear function.

    With `disjoint`, every user rated their own recipes, so a pair identifies its user.
    """
    rng = np.random.default_rng(seed)
    n_recipes = N_USERS * PER_USER if disjoint else PER_USER
    x = rng.normal(size=(n_recipes, DIM))
    ids = [f"r{k}" for k in range(n_recipes)]
    feats = {rid: x[k] for k, rid in enumerate(ids)}
    votes = []
    for u in range(N_USERS):
        w = rng.normal(size=DIM)
        mine = range(u * PER_USER, (u + 1) * PER_USER) if disjoint else range(PER_USER)
        mine = list(mine)
        for i in range(len(mine)):
            for j in range(i + 1, len(mine)):
                a, b = mine[i], mine[j]
                outcome = "a" if x[a] @ w > x[b] @ w else "b"
                votes.append(Vote(user=f"u{u}", a=ids[a], b=ids[b], outcome=outcome))
    return ids, votes, feats


def test_seen_noiseless_is_near_perfect_and_uses_k_labels():
    ids, votes, feats = fixture()
    r = evaluate(ids, votes, feats, "seen", labels=50, seed=0, settings=NOISELESS)
    assert r["users"] == 3 and r["protocol"] == "seen" and r["labels"] == 50
    assert all(u["train_pairs"] == 50 and u["test_pairs"] == 105 - 50 for u in r["per_user"])
    assert r["test_pairs"] == 3 * 55
    assert r["accuracy"] > 0.9
    assert r["accuracy_low"] <= r["accuracy"] <= r["accuracy_high"]
    assert set(r["baselines"]) == {"population", "popularity", "user_item_bt"}  # no heuristic: 5 columns
    assert "heuristic" in r["unavailable"]
    # disjoint users: other users' votes say nothing about this user's recipes -> all ties
    assert r["baselines"]["popularity"] == 0.0
    assert r["seconds"] >= 0


def test_seen_skips_users_without_k_plus_20_decisive_votes():
    ids, votes, feats = fixture()
    r = evaluate(ids, votes, feats, "seen", labels=86, seed=0)
    assert r["users"] == 0 and r["skipped_users"] == ["u0", "u1", "u2"]
    assert evaluate(ids, votes, feats, "seen", labels=85)["users"] == 3


def test_orientation_is_randomised_by_the_seed():
    ids, votes, feats = fixture()
    index = {rid: k for k, rid in enumerate(ids)}
    va = vote_arrays(votes, index, np.random.default_rng(0))
    flipped = np.array([index[v.a] != a for v, a in zip(votes, va.ia)])
    assert 0.35 < flipped.mean() < 0.65
    for v, a, b, y in zip(votes, va.ia, va.ib, va.y):  # labels follow the flip
        winner = index[v.a] if v.outcome == "a" else index[v.b]
        assert winner == (a if y == 1.0 else b)
    va2 = vote_arrays(votes, index, np.random.default_rng(1))
    assert not np.array_equal(va.ia, va2.ia)


def test_unseen_split_obeys_the_protocol():
    ids, votes, feats = fixture(disjoint=False)
    index = {rid: k for k, rid in enumerate(ids)}
    va = vote_arrays(votes, index, np.random.default_rng(0))
    for u in range(N_USERS):
        train, test, pool = split_user_votes(va, u, "unseen", 0, "random", np.random.default_rng(u), len(ids))
        held = set(va.ia[test]) | set(va.ib[test])
        assert len(held) == 5  # a third of the 15 recipes
        assert len(test) == 10  # every decisive pair among the held-out recipes
        assert not (set(va.ia[train]) | set(va.ib[train])) & held
        assert len(train) == 45  # every pair among the other 10
        assert (va.user[train] == u).all() and (va.user[test] == u).all()


def test_unseen_noiseless_generalises_to_new_recipes():
    ids, votes, feats = fixture()
    r = evaluate(ids, votes, feats, "unseen", seed=0, settings=NOISELESS)
    assert r["users"] == 3 and r["labels"] is None
    assert r["accuracy"] > 0.9
    # recipes without a training vote all score 0 in the per-user item model: ties = wrong
    assert r["baselines"]["user_item_bt"] == 0.0


def test_constant_model_scores_zero_because_ties_are_wrong():
    ids, votes, feats = fixture()
    zero = {rid: np.zeros(DIM) for rid in feats}
    settings = ModelSettings(personal=TrainConfig(item_var=0.0))
    r = evaluate(ids, votes, zero, "seen", labels=10, settings=settings)
    assert r["accuracy"] == 0.0 and r["tie_rate"] == 1.0
    assert r["accuracy_low"] == 0.0


def test_active_selection_uses_k_labels_from_the_pool():
    ids, votes, feats = fixture()
    r = evaluate(ids, votes, feats, "seen", labels=10, selection="active", seed=0, settings=NOISELESS)
    assert r["selection"] == "active" and r["users"] == 3
    assert all(u["train_pairs"] == 10 and u["test_pairs"] == 52 for u in r["per_user"])
    assert r["accuracy"] > 0.75 and "accuracy_random_same_split" in r
    with pytest.raises(InvalidInput):
        evaluate(ids, votes, feats, "unseen", selection="active")


def test_bad_arguments_and_unknown_recipes():
    ids, votes, feats = fixture()
    with pytest.raises(InvalidInput):
        evaluate(ids, votes, feats, "sometimes")
    with pytest.raises(InvalidInput, match="no features"):
        evaluate(ids[:-1], votes, feats, "seen", labels=5)


def test_item_baseline_is_bradley_terry_over_recipe_ids():
    ia, ib = np.array([0, 0, 1, 0]), np.array([1, 2, 2, 1])
    s = ev.item_bradley_terry(4, ia, ib, np.ones(4), l2=0.1)
    assert s[0] > s[1] > s[2] and s[3] == 0.0  # recipe 3 has no vote: score 0


@pytest.mark.skipif(not (GZ / "votes.jsonl").exists(), reason="shared data folder not present")
def test_evaluate_files_on_giallozafferano():
    t = time.perf_counter()
    r = ev.evaluate_files(GZ / "recipes.jsonl", GZ / "votes.jsonl", protocol="seen", labels=25, seed=0)
    assert time.perf_counter() - t < 60
    assert r["users"] == 27 and 21 <= r["recipes"] <= 101
    assert r["accuracy"] > r["baselines"]["popularity"] + 0.1
    assert r["accuracy"] > 0.75 and r["tie_rate"] == 0.0


def test_the_apps_trainer_obeys_the_protocol_and_learns(monkeypatch):
    """evaluate trains with train_reward_model; population priors never see the test user."""

    ids, votes, feats = fixture()
    # [embedding | explicit features] layout, so the population is pulled toward the heuristic
    padded = {rid: np.concatenate([x, np.zeros(len(FEATURE_NAMES))]) for rid, x in feats.items()}
    index = {rid: k for k, rid in enumerate(ids)}
    row_of = {np.asarray(padded[rid], np.float32).tobytes(): k for rid, k in index.items()}
    by_user = {}
    for v in votes:
        by_user.setdefault(v.user, set()).add(frozenset((index[v.a], index[v.b])))
    fits = []  # (pairs used, prior's pairs or "heuristic")
    pairs_of_model = {}
    real = ev.train_reward_model

    def spy(pairs, embedder, spec, cfg=None, prior=None, **kw):
        used = {frozenset((row_of[a.tobytes()], row_of[b.tobytes()])) for a, b in zip(pairs.xa, pairs.xb)}
        res = real(pairs, embedder, spec, cfg, prior=prior, **kw)
        pairs_of_model[id(res.model)] = used
        fits.append((used, pairs_of_model.get(id(prior), prior.meta.get("version_name"))))
        return res

    monkeypatch.setattr(ev, "train_reward_model", spy)
    r = evaluate(ids, votes, padded, "seen", labels=50, seed=0)
    assert r["users"] == 3 and r["settings"]["population_prior"] == "heuristic"
    assert all(u["train_pairs"] == 50 and u["test_pairs"] == 55 and u["scored_by"] == "personal"
               for u in r["per_user"])
    population = [f for f in fits if f[1] == "heuristic"]
    personal = [f for f in fits if f[1] != "heuristic"]
    assert len(population) == 3 and len(personal) == 3  # one population model per test user
    for used, prior_pairs in personal:
        owners = [u for u, mine in by_user.items() if used <= mine]
        assert len(owners) == 1 and len(used) == 50  # K of one user's votes
        assert not prior_pairs & by_user[owners[0]]  # the prior never saw that user
    assert r["accuracy"] > 0.75  # noiseless linear preferences: far above chance
    assert r["accuracy"] > r["baselines"]["popularity"]


def test_too_few_training_votes_fall_back_to_the_population_model():
    ids, votes, feats = fixture()
    r = evaluate(ids, votes, feats, "seen", labels=5, seed=0)
    assert all(u["scored_by"] == "population" for u in r["per_user"])  # 5 < min_decisive, as in the app
