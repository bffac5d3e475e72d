"""Tests for pantry.evaluation.protocols: the offline protocols on a synthetic fixture with a known answer."""

import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import pantry.evaluation.fitting as fitting
import pantry.evaluation.protocols as ev
from pantry.errors import InvalidInput
from pantry.evaluation.protocols import ModelSettings, evaluate, split_user_votes, vote_arrays
from pantry.domain.votes import Vote
from pantry.model.features import FEATURE_NAMES
from pantry.model.training import TrainConfig

ROOT = Path(__file__).resolve().parents[2]
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


@pytest.mark.parametrize("k, n", [(12, 30), (400, 3000)])  # a user's few recipes (dense), popularity (CG)
def test_item_baseline_is_the_optimum_of_the_one_solvers_objective(k, n):
    from scipy.sparse import identity

    from pantry.model.training import fit_bradley_terry

    rng = np.random.default_rng(k)
    ia = rng.integers(0, k, n)
    ib = (ia + rng.integers(1, k, n)) % k
    y = rng.choice([0.0, 0.5, 1.0], n)
    s = ev.item_bradley_terry(k + 5, ia, ib, y, l2=0.1)
    reference = fit_bradley_terry(identity(k + 5, format="csr"), ia, ib, y, 0.1).coef
    assert np.abs(s - reference).max() < 1e-8 and (s[k:] == 0).all()


@pytest.mark.skipif(not (GZ / "votes.jsonl").exists(), reason="shared data folder not present")
def test_evaluate_files_on_giallozafferano(tmp_path, monkeypatch):
    monkeypatch.setenv("PANTRY_HOME", str(tmp_path))  # the embedding cache lives in the store
    t = time.perf_counter()
    r = ev.evaluate_files(GZ / "recipes.jsonl", GZ / "votes.jsonl", protocol="seen", labels=25, seed=0, seeds=2)
    assert time.perf_counter() - t < 60
    assert r["users"] == 27 and 21 <= r["recipes"] <= 101 and r["seeds"] == [0, 1]
    assert r["accuracy"] > r["baselines"]["popularity"]["mean"] + 0.1
    assert r["accuracy"] > 0.75 and r["tie_rate"] == 0.0
    # one population per user fold and seed (5 folds of users, the folds seeded)
    assert r["cache"] == {"population_fits": 10, "population_reused": 0} and r["runs"][0]["folds"] == 5


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
    alive = []  # every model fitted stays referenced, so no id() below is reused by a later one
    real = fitting.train_reward_model

    def spy(pairs, embedder, spec, cfg=None, prior=None, **kw):
        used = {frozenset((row_of[a.tobytes()], row_of[b.tobytes()])) for a, b in zip(pairs.xa, pairs.xb)}
        res = real(pairs, embedder, spec, cfg, prior=prior, **kw)
        alive.append(res.model)
        pairs_of_model[id(res.model)] = used
        fits.append((used, pairs_of_model.get(id(prior), prior.meta.get("version_name"))))
        return res

    monkeypatch.setattr(fitting, "train_reward_model", spy)
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


# ----------------------------------------------------------------------------- seeds, cold, CLI


def test_seed_interval_is_a_t_interval_over_the_per_seed_values():
    from scipy import stats

    s = ev.seed_interval([0.5, 0.6, 0.7])
    half = stats.t.ppf(0.975, 2) * 0.1 / np.sqrt(3)  # sd of (0.5, 0.6, 0.7) is 0.1
    assert s["mean"] == pytest.approx(0.6) and s["sd"] == pytest.approx(0.1)
    assert s["low"] == pytest.approx(0.6 - half) and s["high"] == pytest.approx(0.6 + half)
    assert half == pytest.approx(0.2484, abs=1e-4)  # 4.303 * 0.1 / sqrt(3), by hand
    assert s["per_seed"] == [0.5, 0.6, 0.7] and s["n"] == 3
    one = ev.seed_interval([0.7])
    assert one["mean"] == 0.7 and one["low"] is None and one["high"] is None  # no spread from one seed


def test_evaluate_seeds_summarises_the_per_seed_runs_and_reuses_the_population():
    ids, votes, feats = fixture()
    r = ev.evaluate_seeds(ids, votes, feats, "seen", labels=30, seeds=[3, 4, 5], settings=NOISELESS)
    single = [evaluate(ids, votes, feats, "seen", labels=30, seed=s, settings=NOISELESS) for s in (3, 4, 5)]
    assert r["seeds"] == [3, 4, 5] and [x["seed"] for x in r["runs"]] == [3, 4, 5]
    # each seed's figures are exactly those of a separate run (the cache changes no result)
    assert r["accuracy_per_seed"] == [x["accuracy"] for x in single]
    assert r["project"]["per_seed"] == r["accuracy_per_seed"]
    assert r["accuracy"] == pytest.approx(np.mean(r["accuracy_per_seed"]))
    expected = ev.seed_interval(r["accuracy_per_seed"])
    assert (r["accuracy_low"], r["accuracy_high"]) == (expected["low"], expected["high"])
    assert r["accuracy_low"] <= r["accuracy"] <= r["accuracy_high"]
    assert r["test_pairs_per_seed"] == [x["test_pairs"] for x in single] and r["test_pairs"] == 3 * 3 * 75
    for name in ("population", "popularity", "user_item_bt"):
        b = r["baselines"][name]
        assert b["per_seed"] == [x["baselines"][name] for x in single]
        assert b["mean"] == pytest.approx(np.mean(b["per_seed"])) and b["low"] <= b["mean"] <= b["high"]
    # seen: the population (every other user's votes) does not depend on the seed
    assert r["cache"] == {"population_fits": 3, "population_reused": 6}
    assert [x["cache"] for x in r["runs"]] == [{"population_fits": 3, "population_reused": 0}] + \
        [{"population_fits": 0, "population_reused": 3}] * 2


def _padded(feats):
    """[embedding | explicit features] rows, so the heuristic applies (explicit columns 0)."""
    return {rid: np.concatenate([x, np.zeros(len(FEATURE_NAMES))]) for rid, x in feats.items()}


def test_cold_holds_recipes_out_of_everyones_training_votes(monkeypatch):
    ids, votes, feats = fixture(disjoint=False)  # every user rated the same 15 recipes
    padded = _padded(feats)
    index = {rid: k for k, rid in enumerate(ids)}
    seed = 2
    va = vote_arrays(votes, index, np.random.default_rng(seed))  # as evaluate builds them
    held = ev.cold_held_out(va, len(ids), seed)
    assert held.sum() == 5  # a third of all 15 recipes
    assert not np.array_equal(held, ev.cold_held_out(va, len(ids), seed + 1))  # seeded
    held_rows = {np.asarray(padded[ids[k]], np.float32).tobytes() for k in np.flatnonzero(held)}
    for u in range(N_USERS):  # the split itself: the same held recipes for everyone
        train, test, _ = split_user_votes(va, u, "cold", 0, "random", np.random.default_rng(0), len(ids), held=held)
        assert not held[va.ia[train]].any() and not held[va.ib[train]].any()
        assert held[va.ia[test]].all() and held[va.ib[test]].all() and len(test) == 10
        others = ev.untouched(va, np.flatnonzero(va.user != u), held)
        assert not held[va.ia[others]].any() and not held[va.ib[others]].any()
        assert len(others) == 2 * 45  # the other users' votes among the 10 kept recipes

    fitted = []  # every pair any model (population or personal) was trained on
    crowd_ids: set[str] = set()  # every recipe the personal models' neighbours voted on
    real = fitting.train_reward_model

    def spy(pairs, *a, **kw):
        fitted.extend(x.tobytes() for x in np.concatenate([pairs.xa, pairs.xb]))
        if kw.get("neighbours") is not None:
            near, me = kw["neighbours"], str(int(pairs.rater[0]))
            crowd_ids.update(near.crowd.ids())
            # the test user is never their own neighbour: not in the crowd (their fold's), and excluded
            assert near.exclude == me and me not in set(near.crowd.labels)
        return real(pairs, *a, **kw)

    monkeypatch.setattr(fitting, "train_reward_model", spy)
    r = evaluate(ids, votes, padded, "cold", seed=seed)
    assert r["protocol"] == "cold" and r["users"] == 3 and r["held_out_recipes"] == 5
    assert all(u["test_pairs"] == 10 and u["train_pairs"] == 45 for u in r["per_user"])
    assert fitted and not held_rows & set(fitted)  # nobody's training data touches a held-out recipe
    assert crowd_ids and not crowd_ids & {str(k) for k in np.flatnonzero(held)}  # nor does who votes alike
    assert set(r["baselines"]) == {"population", "heuristic"}  # personal vs population alone vs heuristic
    assert set(r["unavailable"]) == {"popularity", "user_item_bt"}
    assert "by construction" in r["unavailable"]["popularity"]
    # the explicit columns are 0, so the heuristic scores every recipe alike: ties, all wrong
    assert r["baselines"]["heuristic"] == 0.0


def test_cold_personal_model_learns_content_the_population_lacks():
    ids, votes, feats = fixture()  # disjoint users: other people's votes say nothing about mine
    r = ev.evaluate_seeds(ids, votes, _padded(feats), "cold", seeds=[0, 1], settings=NOISELESS)
    assert r["protocol"] == "cold" and r["seeds"] == [0, 1] and len(r["runs"]) == 2
    assert r["accuracy"] > 0.85 and r["accuracy"] > r["baselines"]["population"]["mean"]
    assert set(r["baselines"]) == {"population", "heuristic"} and "popularity" in r["unavailable"]


class _HashEmbedder:
    """A stand-in encoder: a fixed random vector per text (no model download)."""

    name, dim = "hash-test", 6

    def encode(self, texts, on_progress=None):
        import zlib

        return np.stack([np.random.default_rng(zlib.crc32(t.encode())).normal(size=self.dim) for t in texts]
                        ).astype(np.float32)


def test_cli_evaluate_seeds_json(tmp_path, monkeypatch, capsys):
    import json

    from pantry import cli

    recipes = tmp_path / "recipes.jsonl"
    recipes.write_text("".join(json.dumps({"id": f"r{k}", "title": f"dish {k}", "ingredients": [f"item {k}"],
                                           "steps": []}) + "\n" for k in range(12)))
    rng = np.random.default_rng(0)
    lines = [json.dumps({"user": f"u{u}", "a": f"r{i}", "b": f"r{j}", "outcome": str(rng.choice(["a", "b", "tie"]))})
             for u in range(3) for i in range(12) for j in range(i + 1, 12)]
    votes = tmp_path / "votes.jsonl"
    votes.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(ev, "default_embedder", lambda: _HashEmbedder())
    assert cli.main(["evaluate", "--recipes", str(recipes), "--votes", str(votes), "--protocol", "cold",
                     "--seeds", "3", "--seed", "7", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["protocol"] == "cold" and out["seeds"] == [7, 8, 9] and out["embedding"] == "hash-test"
    assert len(out["accuracy_per_seed"]) == 3 and len(out["runs"]) == 3 and len(out["test_pairs_per_seed"]) == 3
    assert out["test_pairs"] == sum(out["test_pairs_per_seed"])
    for s in [out["project"], *out["baselines"].values()]:
        assert {"mean", "low", "high", "per_seed"} <= set(s) and len(s["per_seed"]) == 3
    assert set(out["baselines"]) == {"population", "heuristic"} and "popularity" in out["unavailable"]
    # the table form names the interval and says why popularity has no number
    assert cli.main(["evaluate", "--recipes", str(recipes), "--votes", str(votes), "--protocol", "cold",
                     "--seeds", "2"]) == 0
    text = capsys.readouterr().out
    assert "t interval" in text and "pantry (this project)" in text and "not available by construction" in text


# ----------------------------------------------------------------------------- user folds, sampling, workers


def many_users(n_users: int = 12, n_recipes: int = 20, per_user: int = 40, seed: int = 0):
    """n_users raters over shared recipes, per_user random pairs each, tastes around a shared one."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_recipes, DIM))
    ids = [f"r{k}" for k in range(n_recipes)]
    feats = {rid: x[k] for k, rid in enumerate(ids)}
    iu = np.triu_indices(n_recipes, 1)
    common = rng.normal(size=DIM)
    votes = []
    for u in range(n_users):
        w = common + 0.5 * rng.normal(size=DIM)
        for p in rng.choice(len(iu[0]), size=per_user, replace=False):
            a, b = int(iu[0][p]), int(iu[1][p])
            votes.append(Vote(user=f"u{u:02d}", a=ids[a], b=ids[b], outcome="a" if x[a] @ w > x[b] @ w else "b"))
    return ids, votes, feats


def _spy_populations(monkeypatch):
    """Record, per population model handed to a personal fit, whose votes it was fitted on."""
    fitted = {}  # id(model) -> users in its training votes
    used = []  # (test user, users in the population it was pulled toward)
    real_population, real_model = ev._Trainer.population, ev._Trainer.model

    def population(self, rows):
        out = real_population(self, rows)
        fitted[id(out[0])] = {self.va.users[u] for u in np.unique(self.va.user[rows])}
        return out

    def model(self, population, train, members=None):
        (owner,) = {self.va.users[u] for u in np.unique(self.va.user[train])}
        used.append((owner, fitted[id(population)]))
        return real_model(self, population, train, members)

    monkeypatch.setattr(ev._Trainer, "population", population)
    monkeypatch.setattr(ev._Trainer, "model", model)
    return fitted, used


@pytest.mark.parametrize("protocol", ["seen", "unseen", "cold"])
def test_user_folds_never_let_a_test_users_votes_into_its_population(monkeypatch, protocol):
    ids, votes, feats = many_users()
    fitted, used = _spy_populations(monkeypatch)
    r = evaluate(ids, votes, feats, protocol, labels=10, seed=3, folds=3)
    assert r["folds"] == 3 and r["users_in_data"] == 12 and r["users"] == 12 and r["cache"]["population_fits"] == 3
    assert len(fitted) == 3 and len(used) == 12  # one population per fold, one personal fit per user
    folds = [frozenset(set(u["user"] for u in r["per_user"]) - seen) for seen in fitted.values()]
    assert sorted(len(f) for f in folds) == [4, 4, 4] and len(set(folds)) == 3  # balanced, disjoint folds
    for owner, population_users in used:
        assert owner not in population_users  # never the test user, nor anyone of the fold
        assert len(population_users) == 8  # every user of the other two folds
    # folds are seeded: another seed draws other folds; 0 is leave-one-user-out
    assert not np.array_equal(ev.user_folds(12, 3, 3), ev.user_folds(12, 3, 4))
    assert list(ev.user_folds(12, 0, 3)) == list(range(12)) and list(ev.user_folds(5, 5, 0)) == list(range(5))


def test_users_samples_test_raters_but_the_population_learns_from_everyone_else(monkeypatch):
    ids, votes, feats = many_users()
    fitted, used = _spy_populations(monkeypatch)
    calls = []
    r = evaluate(ids, votes, feats, "seen", labels=10, seed=1, folds=4, users=5,
                 on_progress=lambda done, total, msg: calls.append((done, total)))
    tested = [u["user"] for u in r["per_user"]]
    assert r["users"] == 5 and len(set(tested)) == 5 and r["users_in_data"] == 12
    assert calls == [(k, 5) for k in range(1, 6)]  # one progress report per test user
    for owner, population_users in used:  # all 12 users' votes feed the populations, not only the 5 tested
        assert owner not in population_users and len(population_users) == 9
    again = evaluate(ids, votes, feats, "seen", labels=10, seed=1, folds=4, users=5)
    assert [u["user"] for u in again["per_user"]] == tested  # seeded
    other = evaluate(ids, votes, feats, "seen", labels=10, seed=2, folds=4, users=5)
    assert [u["user"] for u in other["per_user"]] != tested
    with pytest.raises(InvalidInput, match="users"):
        evaluate(ids, votes, feats, "seen", labels=10, users=0)
    with pytest.raises(InvalidInput, match="folds"):
        evaluate(ids, votes, feats, "seen", labels=10, folds=1)


def test_worker_processes_give_the_same_result_as_one_process(monkeypatch):
    ids, votes, feats = many_users(n_users=10)
    one = evaluate(ids, votes, _padded(feats), "unseen", seed=0, folds=2)
    monkeypatch.setattr(ev, "PARALLEL_MIN_USERS", 1)  # small data: force the pool
    # Spawned workers re-run the parent's __main__ file; under pytest after an AppTest that is
    # the Streamlit app script, which must not run in a worker (the CLI's __main__ is pantry's).
    import types
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    calls = []
    two = evaluate(ids, votes, _padded(feats), "unseen", seed=0, folds=2, workers=2,
                   on_progress=lambda done, total, msg: calls.append(done))
    assert two["workers"] == 2 and one["workers"] == 1
    assert two["per_user"] == one["per_user"] and two["accuracy"] == one["accuracy"]
    assert two["baselines"] == one["baselines"] and two["cache"] == one["cache"]
    assert calls and calls[-1] == two["users"] and calls == sorted(calls)


def test_cli_evaluate_users_folds_and_progress_on_stderr(tmp_path, monkeypatch, capsys):
    import json

    from pantry import cli

    ids, votes, _ = many_users(n_users=9)
    recipes = tmp_path / "recipes.jsonl"
    recipes.write_text("".join(json.dumps({"id": rid, "title": f"dish {rid}", "ingredients": [f"item {rid}"],
                                           "steps": []}) + "\n" for rid in ids))
    (tmp_path / "votes.jsonl").write_text("".join(json.dumps({"user": v.user, "a": v.a, "b": v.b,
                                                              "outcome": v.outcome}) + "\n" for v in votes))
    monkeypatch.setattr(ev, "default_embedder", lambda: _HashEmbedder())
    args = ["evaluate", "--recipes", str(recipes), "--votes", str(tmp_path / "votes.jsonl"), "--protocol", "seen",
            "--labels", "10", "--seeds", "1"]
    assert cli.main(args + ["--users", "4", "--folds", "3", "--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["users"] == 4 and out["runs"][0]["users_in_data"] == 9 and out["runs"][0]["folds"] == 3
    lines = [line for line in captured.err.splitlines() if line.startswith("progress ")]
    assert lines and lines[0].startswith("progress 1/4") and lines[-1].startswith("progress 4/4")
    assert cli.main(args + ["--users", "0"]) == 2
    assert "--users must be at least 1" in capsys.readouterr().err
    assert cli.main(args + ["--folds", "1"]) == 2
    assert "--folds" in capsys.readouterr().err


def _shared_appeal(n_users: int = 40, n_recipes: int = 60, per_user: int = 24, votes: int = 120, seed: int = 0):
    """Many raters who share a view of each recipe beyond its features (an appeal everyone
    sees), plus a small taste of their own over the features: popularity is strong here."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_recipes, DIM))
    appeal = rng.normal(0, 2.0, n_recipes)
    ids = [f"r{k}" for k in range(n_recipes)]
    out = []
    for u in range(n_users):
        w = rng.normal(0, 0.3, DIM)
        mine = rng.choice(n_recipes, per_user, replace=False)
        util = x[mine] @ w + appeal[mine]
        for _ in range(votes):
            i, j = rng.choice(per_user, 2, replace=False)
            p = 1 / (1 + np.exp(-(util[i] - util[j])))
            out.append(Vote(user=f"u{u}", a=ids[mine[i]], b=ids[mine[j]], outcome="a" if rng.random() < p else "b"))
    return ids, out, {rid: x[k] for k, rid in enumerate(ids)}


def test_where_people_share_a_view_of_a_dish_the_personal_model_keeps_it():
    """On recipes the person never rated but others did (`unseen`), the personal model starts
    from the crowd's verdict on each (its per-recipe offsets), so it is never far below
    popularity; content alone (the model before) was far below it here."""
    ids, votes, feats = _shared_appeal()
    r = ev.evaluate_seeds(ids, votes, _padded(feats), "unseen", seeds=[0], users=20)
    pop = r["baselines"]["popularity"]["mean"]
    assert pop > 0.7  # a world where others' verdicts predict a newcomer (content alone: about 0.58)
    assert r["accuracy"] >= pop - 0.03
    assert r["baselines"]["population"]["mean"] >= pop - 0.03  # the population model keeps them too
