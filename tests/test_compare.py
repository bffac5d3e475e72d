"""pantry.compare: vote mapping, pair choice (never near-duplicates), retrain hints."""

from __future__ import annotations

import numpy as np
import pytest

from pantry.compare import Matchup, NoPairAvailable, Scored, pick_pair, rank, retrain_hint, vote_from_click
from pantry.model.features import FEATURE_NAMES, FEATURE_SPEC
from pantry.domain.recipes import Recipe
from pantry.model.reward import RewardModel


def _recipe(rid: str, title: str, ingredients: tuple[str, ...], minutes: int = 20) -> Recipe:
    return Recipe(id=rid, title=title, ingredients=ingredients, steps=("cook it",), minutes=minutes)


def _matchup(left: str) -> Matchup:
    a = Scored(_recipe("ra", "Egg Fried Rice", ("rice", "egg")), 0.5, 0.1)
    b = Scored(_recipe("rb", "Tomato Soup", ("tomato", "onion")), -0.2, 0.3)
    return Matchup(a, b, left, "informative", "heuristic", "heuristic", "offline-composer", ("egg", "rice"),
                   generator_reason="offline composer selected")


@pytest.mark.parametrize("left", ["a", "b"])
def test_clicks_map_to_outcomes_through_the_random_placement(left):
    m = _matchup(left)
    right = "b" if left == "a" else "a"
    assert m.outcome("left") == left and m.outcome("right") == right
    assert m.outcome("tie") == "tie" and m.outcome("both_bad") == "both_bad"
    assert m.left_item.recipe.id == "r" + left
    with pytest.raises(ValueError):
        m.outcome("skip")


def test_vote_from_click_records_everything():
    m = _matchup("b")
    v = vote_from_click("ana", m, "left", much=True, reasons=["bland"], note="  too  salty ")
    assert (v.user, v.a, v.b, v.outcome, v.left, v.strength) == ("ana", "ra", "rb", "b", "b", "much")
    assert v.reasons == ("bland", "note: too salty")
    assert v.pantry == ("egg", "rice") and v.generator == "offline-composer" and v.model_version == "heuristic"
    assert v.generator_reason == "offline composer selected"  # why this generator was used is saved
    tie = vote_from_click("ana", m, "tie", much=True)
    assert tie.strength is None and tie.outcome == "tie"


def _features(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8 + len(FEATURE_NAMES))).astype(np.float32)
    return x


def test_pick_pair_never_returns_near_duplicates():
    recipes = [
        _recipe("r1", "Egg Fried Rice", ("2 cups rice", "2 eggs", "1 onion")),
        _recipe("r2", "Egg Fried Rice", ("2 cups rice", "2 eggs", "1 onion")),  # same dish, other id
        _recipe("r3", "Tomato Soup", ("4 tomatoes", "1 onion", "stock")),
    ]
    model = RewardModel.new(8 + len(FEATURE_NAMES), 3, "test", FEATURE_SPEC, seed=0)
    rng = np.random.default_rng(0)
    for _ in range(30):
        i, j, why = pick_pair(recipes, _features(3), model, rng, random_share=0.5)
        assert {recipes[i].id, recipes[j].id} != {"r1", "r2"}
        assert why in ("informative", "random")
    with pytest.raises(NoPairAvailable):
        pick_pair(recipes[:2], _features(2), model, rng)


def test_pick_pair_prefers_unseen_pairs():
    recipes = [_recipe(f"r{k}", f"Dish {name}", (name, "salt")) for k, name in
               enumerate(["apple", "beef", "carrot"])]
    shown = {frozenset(("r0", "r1")), frozenset(("r0", "r2"))}
    i, j, _ = pick_pair(recipes, _features(3), None, np.random.default_rng(1), random_share=0.0, avoid=shown)
    assert {recipes[i].id, recipes[j].id} == {"r1", "r2"}


def test_rank_is_best_first():
    recipes = [_recipe(f"r{k}", f"Dish {k}", ("x",)) for k in range(3)]
    ranked = rank(recipes, np.array([0.1, 0.9, 0.5]), np.zeros(3))
    assert [s.recipe.id for s in ranked] == ["r1", "r2", "r0"]


def test_retrain_hint():
    first = retrain_hint(votes=5, decisive=3, trained_on=None, min_decisive=8)
    assert first.more_needed == 5 and first.state == "first_needs_votes"
    ready = retrain_hint(12, 9, None, 8)
    assert ready.more_needed == 0 and ready.state == "first_ready"
    later = retrain_hint(30, 22, trained_on=20, min_decisive=8)
    assert later.more_needed == 3 and later.state == "retrain_needs_votes"  # max(5, 25% of 20) = 5 new
    now = retrain_hint(40, 25, 20)
    assert now.more_needed == 0 and now.state == "retrain_worthwhile" and now.new_since_training == 5
