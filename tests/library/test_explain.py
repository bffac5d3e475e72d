"""Why this score (pantry.model.explain), the empirical-Bayes prior shape, and the crowd simulator."""

import math
import random

import numpy as np
import pytest

from pantry.domain.recipes import Recipe
from pantry.model.explain import REMAINDER, explain, phrase
from pantry.model.features import FEATURE_NAMES, FEATURE_SPEC
from pantry.model.reward import heuristic_model
from pantry.model.training import (TrainConfig, choose_prior_scales, explicit_count, make_pairs,
                                   train_reward_model)

EMB = 8
MEAT = FEATURE_NAMES.index("has_meat")
MINUTES = FEATURE_NAMES.index("log_minutes")


def _world(n_recipes: int = 120, seed: int = 0) -> np.ndarray:
    """Rows [random embedding | explicit features] with binary has_meat and a spread of minutes."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n_recipes, EMB + len(FEATURE_NAMES)), np.float32)
    x[:, :EMB] = rng.normal(size=(n_recipes, EMB)) / np.sqrt(EMB)
    x[:, EMB + MEAT] = rng.random(n_recipes) < 0.5
    x[:, EMB + MINUTES] = rng.random(n_recipes)
    x[:, EMB + FEATURE_NAMES.index("log_steps")] = rng.random(n_recipes)
    return x


def _votes(x: np.ndarray, utility: np.ndarray, n: int, seed: int = 0, noise: float = 0.0):
    rng = np.random.default_rng(seed + 1)
    ia, ib = rng.integers(0, len(x), n), rng.integers(0, len(x), n)
    keep = ia != ib
    ia, ib = ia[keep], ib[keep]
    win = utility[ia] + noise * rng.normal(size=len(ia)) > utility[ib]
    return make_pairs(x[ia], x[ib], ["a" if w else "b" for w in win], ids_a=[f"r{i}" for i in ia],
                      ids_b=[f"r{i}" for i in ib])


def _accuracy(scores: np.ndarray, utility: np.ndarray) -> float:
    i, j = np.triu_indices(len(utility), 1)
    keep = utility[i] != utility[j]
    return float(np.mean(np.sign(scores[i] - scores[j])[keep] == np.sign(utility[i] - utility[j])[keep]))


def test_explanation_sums_exactly_to_the_score_with_named_contributions():
    x = _world()
    vegetarian = -3.0 * x[:, EMB + MEAT]
    pairs = _votes(x, vegetarian, 40)
    model = train_reward_model(pairs, "e", FEATURE_SPEC, TrainConfig(members=2, val_split=0),
                               prior=heuristic_model("e", EMB)).model
    ids = [f"r{i}" for i in range(len(x))]  # some rated (with an offset), some not
    assert model.item_ids and set(model.item_ids) < set(ids)
    scores = model.score(x, ids)[0]
    whys = explain(model, x, ids)
    w = model.member_arrays()[0]["linear.weight"][0].astype(np.float64)
    ref = np.asarray(model.meta["reference_row"])  # the typical recipe: the mean row it learned from
    assert ref == pytest.approx(np.concatenate([pairs.xa, pairs.xb]).mean(axis=0), abs=1e-6)
    for k, why in enumerate(whys):
        assert why.score == scores[k] and why.relative
        assert why.baseline == pytest.approx(float(model.score(ref[None, :])[0][0]))
        assert math.isclose(why.total, scores[k], rel_tol=1e-12, abs_tol=1e-12)  # contributions + remainder
        assert math.isclose(why.baseline + why.own, why.remainder, abs_tol=1e-12)
        for c in why.contributions:  # the model's own weight times how far the recipe is from typical
            j = FEATURE_NAMES.index(c.name)
            assert c.value == float(x[k, EMB + j])
            assert c.contribution == pytest.approx(w[EMB + j] * (c.value - ref[EMB + j]))
            assert c.contribution != 0.0
        sizes = [abs(c.contribution) for c in why.contributions]
        assert sizes == sorted(sizes, reverse=True)
    meat = next(k for k in range(len(x)) if x[k, EMB + MEAT] == 1.0)
    named = {c.name: c for c in whys[meat].contributions}
    assert named["has_meat"].contribution < 0  # the person avoids meat, and it says so
    assert phrase(named["has_meat"]).startswith("-") and "meat" in phrase(named["has_meat"])
    assert whys[meat].to_dict()["remainder_label"] == REMAINDER


def test_a_quick_dish_gains_from_its_time_for_a_person_in_a_hurry():
    """Against a typical recipe: for a person who wants quick dishes, a quicker-than-typical
    dish's cooking time is a plus and a slower one's a minus (against an all-zero row both were
    minuses, the quick one only smaller: the browser walk read "-1.09 cooking time (20 min)")."""
    x = _world()
    hurry = -4.0 * x[:, EMB + MINUTES]
    model = train_reward_model(_votes(x, hurry, 60), "e", FEATURE_SPEC, TrainConfig(members=1, val_split=0),
                               prior=heuristic_model("e", EMB)).model
    quick, slow = int(np.argmin(x[:, EMB + MINUTES])), int(np.argmax(x[:, EMB + MINUTES]))
    whys = explain(model, x[[quick, slow]])
    time_part = [{c.name: c.contribution for c in why.contributions}["log_minutes"] for why in whys]
    assert time_part[0] > 0 > time_part[1]
    assert all(math.isclose(why.total, why.score, abs_tol=1e-12) for why in whys)
    old = type(model)(None, model.embedder, model.feature_spec, model.dim, 0, arrays=model.member_arrays())
    assert not explain(old, x[[quick]])[0].relative  # saved without a reference row: as before
    assert explain(old, x[[quick]])[0].baseline == 0.0


def test_a_row_without_a_pantry_says_nothing_about_one_and_yes_no_features_say_which():
    """Scored without a pantry (the Scores page), a recipe's pantry columns are their own
    reference: no "-0.15 share of it in your pantry (0%)" against a typical recipe that was
    asked with one; a yes/no feature names its value ("meat (no)"), so a meatless dish's
    plus reads right."""
    from pantry.model.explain import Contribution, detail
    from pantry.model.features import PANTRY_COLUMNS

    x = _world()
    cov, has = EMB + FEATURE_NAMES.index("pantry_coverage"), EMB + FEATURE_NAMES.index("has_pantry")
    x[:, has], x[:, cov] = 1.0, np.random.default_rng(3).random(len(x))  # voted with a pantry
    likes_coverage = 3.0 * x[:, cov] - 3.0 * x[:, EMB + MEAT]
    model = train_reward_model(_votes(x, likes_coverage, 60), "e", FEATURE_SPEC, TrainConfig(members=1, val_split=0),
                               prior=heuristic_model("e", EMB)).model
    bare = x[:5].copy()
    bare[:, [EMB + FEATURE_NAMES.index(n) for n in PANTRY_COLUMNS]] = 0.0  # scored with no pantry
    for why, score in zip(explain(model, bare), model.score(bare)[0]):
        assert not {c.name for c in why.contributions} & set(PANTRY_COLUMNS)
        assert math.isclose(why.total, score, abs_tol=1e-12)
    asked = explain(model, x[:5])  # with a pantry: its coverage is a part, against the typical share
    assert any("pantry_coverage" in {c.name for c in why.contributions} for why in asked)
    assert detail(Contribution("has_meat", "meat", 0.0, 0.17)) == "no"
    assert phrase(Contribution("vegetarian", "vegetarian", 1.0, 0.17)) == "+0.17 vegetarian (yes)"
    assert detail(Contribution("log_vegetables", "how much vegetable", math.log1p(3) / math.log1p(8), 0.1)) == \
        "3 vegetable lines"


def test_explanation_of_a_model_without_named_columns_is_all_remainder():
    from pantry.model.reward import RewardModel

    model = RewardModel.new(5, 1, "e", "other-spec")
    x = np.random.default_rng(0).normal(size=(3, 5))
    for why in explain(model, x):
        assert why.contributions == () and why.remainder == why.score
    with pytest.raises(ValueError):
        explain(model, np.zeros((2, 4)))


def test_minutes_phrase_reads_back_the_recipes_minutes():
    from pantry.model.explain import Contribution, detail

    c = Contribution("log_minutes", "cooking time", math.log1p(70) / math.log1p(180), -0.3)
    assert detail(c) == "70 min" and phrase(c) == "-0.30 cooking time (70 min)"


def test_explicit_count_reads_the_feature_spec():
    assert explicit_count(FEATURE_SPEC, 384 + len(FEATURE_NAMES)) == len(FEATURE_NAMES)
    assert explicit_count("f", 16) == 0 and explicit_count("explicit-v3:a,b", 2) == 0


def test_evidence_gives_taste_features_room_when_the_votes_follow_them():
    """Votes that follow one named feature: the evidence picks a larger taste-feature scale than
    for votes that follow nothing, and the model learns faster than with one isotropic pull."""
    x = _world(200)
    utility = -2.0 * x[:, EMB + MINUTES] - 1.0 * x[:, EMB + MEAT]
    prior = heuristic_model("e", EMB)
    accs = {}
    for shape in ("evidence", "isotropic"):
        accs[shape] = np.mean([_accuracy(train_reward_model(
            _votes(x, utility, 20, seed=s, noise=0.3), "e", FEATURE_SPEC,
            TrainConfig(members=1, val_split=0, prior_shape=shape), prior=prior).model.score(x)[0], utility)
            for s in range(4)])
    assert accs["evidence"] > accs["isotropic"] and accs["evidence"] > 0.8

    def scales(pairs):
        res = train_reward_model(pairs, "e", FEATURE_SPEC, TrainConfig(members=1, val_split=0), prior=prior)
        return res.metrics["prior_scales"]

    rng = np.random.default_rng(5)
    follows = scales(_votes(x, utility, 60, seed=1))
    random_votes = scales(_votes(x, rng.normal(size=len(x)), 60, seed=1))
    assert follows["explicit"] > random_votes["explicit"]


def test_ard_gives_the_one_feature_the_votes_follow_its_own_room():
    """Per-feature scales (prior_shape "ard"): when every taste column varies but the votes follow
    one of them, that column's scale widens on its own (the group's shared scale would have to
    widen all of them, which the evidence penalises), and the taste is learned at least as well."""
    rng = np.random.default_rng(7)
    x = _world(200)
    x[:, EMB:] = rng.random((200, len(FEATURE_NAMES))) < 0.5  # every taste column varies
    utility = -3.0 * x[:, EMB + MEAT]
    prior = heuristic_model("e", EMB)
    accs, widened = {}, []
    for shape in ("ard", "evidence"):
        accs[shape] = []
        for s in range(4):
            res = train_reward_model(_votes(x, utility, 20, seed=s, noise=0.5), "e", FEATURE_SPEC,
                                     TrainConfig(members=1, val_split=0, prior_shape=shape), prior=prior)
            accs[shape].append(_accuracy(res.model.score(x)[0], utility))
            if shape == "ard":
                sc = res.metrics["prior_scales"]
                widened.append(sc[f"x{MEAT}"] > max(v for k, v in sc.items() if k.startswith("x") and k != f"x{MEAT}"))
    assert sum(widened) >= 3
    assert np.mean(accs["ard"]) >= np.mean(accs["evidence"]) and np.mean(accs["ard"]) > 0.8


def test_a_person_can_go_against_the_crowd():
    """The prior's score is one more column with its own coefficient: a person whose taste is
    the opposite of the crowd's is learned (the crowd's score is turned around), not stuck near it."""
    x = _world(200)
    crowd_taste = -2.0 * x[:, EMB + MINUTES]
    crowd = train_reward_model(_votes(x, crowd_taste, 300, seed=3), "e", FEATURE_SPEC,
                               TrainConfig(members=1, val_split=0, prior_shape="isotropic")).model
    assert _accuracy(crowd.score(x)[0], crowd_taste) > 0.9
    mine = -crowd_taste  # slow cooking, please
    model = train_reward_model(_votes(x, mine, 20, seed=4), "e", FEATURE_SPEC,
                               TrainConfig(members=1, val_split=0), prior=crowd).model
    assert _accuracy(model.score(x)[0], mine) > 0.8


def test_choose_prior_scales_stays_on_the_grid_and_returns_matching_precision():
    x = _world(60).astype(np.float64)
    rng = np.random.default_rng(0)
    ia, ib = rng.integers(0, 60, 30), rng.integers(0, 60, 30)
    y = (x[ia, EMB + MEAT] < x[ib, EMB + MEAT]).astype(np.float64)
    n_exp = len(FEATURE_NAMES)
    scales, precision, ev = choose_prior_scales(x, ia, ib, y, np.zeros(30), np.zeros(30), n_exp, False)
    from pantry.model.training import TAU_STEPS, group_precision, isotropic_scales
    start = isotropic_scales(x, n_exp, False, 1.0)
    assert set(scales) == {"explicit", "embedding"}
    assert all(any(math.isclose(scales[g], start[g] * 4.0 ** k) for k in TAU_STEPS) for g in scales)
    assert np.allclose(precision, group_precision(x, n_exp, scales, False)) and np.isfinite(ev)


def test_evidence_settings_are_recorded_and_isotropic_matches_the_old_objective():
    x = _world()
    pairs = _votes(x, -x[:, EMB + MEAT], 30)
    res = train_reward_model(pairs, "e", FEATURE_SPEC, TrainConfig(members=1, val_split=0))
    scales = res.metrics["prior_scales"]  # offsets: item_var, as set; x<j>: the ard factor of taste column j
    assert {"explicit", "embedding", "offsets"} <= set(scales)
    extra = set(scales) - {"explicit", "embedding", "offsets"}
    assert extra and all(k[0] == "x" and 0 <= int(k[1:]) < len(FEATURE_NAMES) for k in extra)
    ev = train_reward_model(pairs, "e", FEATURE_SPEC, TrainConfig(members=1, val_split=0, prior_shape="evidence"))
    assert set(ev.metrics["prior_scales"]) == {"explicit", "embedding", "offsets"}
    iso = train_reward_model(pairs, "e", FEATURE_SPEC, TrainConfig(members=1, val_split=0, prior_shape="isotropic"))
    assert iso.metrics["prior_scales"] is None
    with pytest.raises(ValueError, match="prior_shape"):
        TrainConfig(prior_shape="round")


# ------------------------------------------------------------------------------ the crowd

def _recipe(title, ingredients, minutes=20, steps=("Chop.", "Cook."), cuisine=None):
    return Recipe(id=title, title=title, ingredients=tuple(ingredients), steps=tuple(steps), minutes=minutes,
                  cuisine=cuisine)


def test_taste_facts_read_what_a_dish_is():
    from pantry.evaluation.crowd import TASTE_AXES, taste_facts

    f = dict(zip(TASTE_AXES, taste_facts(_recipe("Spicy bacon pasta", ["200 g spaghetti", "4 slices bacon",
                                                                        "1 chilli", "50 g parmesan"],
                                                 cuisine="Italian"))))
    assert f["meat"] == 1 and f["pork"] == 1 and f["heat"] > 0 and f["rich"] > 0 and f["starchy"] == 1
    assert f["italian"] == 1 and f["fish"] == 0
    g = dict(zip(TASTE_AXES, taste_facts(_recipe("Salad", ["1 cucumber", "2 tomatoes"], minutes=10))))
    assert g["meat"] == 0 and g["heat"] == 0 and g["rich"] == 0 and g["minutes"] < f["minutes"]


def test_crowd_is_varied_deterministic_and_some_raters_flip():
    from pantry.evaluation.crowd import make_crowd, vote

    a, b = make_crowd(30, seed=1), make_crowd(30, seed=1)
    assert a == b and len({r.name for r in a}) == 30
    assert len({r.name.split(":")[1] for r in a}) > 10  # many different tastes
    flippers = [r for r in a if r.flip]
    assert 0 < len(flippers) < 30
    rng = random.Random(0)
    sure = [vote(flippers[0], 50.0, 0.0, rng) for _ in range(2000)]
    assert 0.05 < sure.count("b") / len(sure) < 0.15  # ~10% flipped even when sure
    steady = next(r for r in a if not r.flip)
    assert all(vote(steady, 50.0, 0.0, rng) == "a" for _ in range(200))


def test_five_taste_world_varies_by_degree_along_five_directions():
    """Five-taste raters: deterministic per seed, each a different mix of the five tastes (not
    one archetype), their weights exactly the map of five numbers, about a third flipping."""
    from pantry.evaluation.crowd import FIVE_TASTE_MAP, FIVE_TASTES, make_five_taste_crowd, five_taste_facts

    a = make_five_taste_crowd(60, seed=3)
    assert a == make_five_taste_crowd(60, seed=3) and a != make_five_taste_crowd(60, seed=4)
    assert len({r.name for r in a}) == 60
    w = np.array([r.weights for r in a])
    taste, *_ = np.linalg.lstsq(FIVE_TASTE_MAP, w.T, rcond=None)
    assert np.allclose(FIVE_TASTE_MAP @ taste, w.T)  # nothing outside the five directions
    assert taste.shape == (len(FIVE_TASTES), 60) and (np.abs(taste) > 1).mean() > 0.5
    assert len({tuple(np.sign(t)) for t in taste.T}) > 10  # many different mixes of likes and dislikes
    assert 5 < sum(1 for r in a if r.flip) < 35
    facts = np.random.default_rng(0).random((7, w.shape[1]))
    assert np.allclose(five_taste_facts(facts) @ taste[:, 0], a[0].utility(facts))


def test_oracle_recovers_a_linear_taste():
    from pantry.evaluation.crowd import oracle_scores

    rng = np.random.default_rng(0)
    facts = rng.random((100, 4))
    w = np.array([2.0, -1.0, 0.0, 3.0])
    ia, ib = rng.integers(0, 100, 200), rng.integers(0, 100, 200)
    out = ["a" if u > v else "b" for u, v in zip(facts[ia] @ w, facts[ib] @ w)]
    scores = oracle_scores(facts[ia], facts[ib], out, facts)
    assert _accuracy(scores, facts @ w) > 0.9


def test_many_rated_recipes_skip_the_search():
    """Above MAX_EVIDENCE_ROWS distinct recipes the isotropic start's scales are used as is."""
    from pantry.model.training import MAX_EVIDENCE_ROWS, isotropic_scales

    n = MAX_EVIDENCE_ROWS + 1
    x = _world(n).astype(np.float64)
    ia, ib = np.arange(n - 1), np.arange(1, n)
    y = (x[ia, EMB + MEAT] < x[ib, EMB + MEAT]).astype(np.float64)
    scales, precision, ev = choose_prior_scales(x, ia, ib, y, np.zeros(n - 1), np.zeros(n - 1), len(FEATURE_NAMES),
                                                False, item_var=10.0)
    assert scales == isotropic_scales(x, len(FEATURE_NAMES), False, 1.0) and math.isnan(ev)
    assert len(precision) == x.shape[1]
