"""Household ranking (pantry.household): limits first, the least happy member protected,
deterministic; household votes stored for each member present, marked as one group."""

from __future__ import annotations

import numpy as np
import pytest

from pantry.domain.recipes import recipe_from_dict
from pantry.errors import InvalidInput
from pantry.household import (LIKINGS, cast_household_vote, check_members, household_votes, liking, limit_violations,
                              member_limits, normalise_limit, plan_household, rank_household, rank_scores,
                              set_member_limits, standardise)


def _r(title, ingredients, minutes=20):
    return recipe_from_dict({"title": title, "ingredients": ingredients, "steps": ["Cook."], "minutes": minutes})


RECIPES = [_r(f"Dish {k}", [f"{k} eggs", "rice"]) for k in range(6)]


# --- the ranking rule -------------------------------------------------------------------------

def test_opposite_tastes_get_a_compromise_no_member_ranks_last():
    rng = np.random.default_rng(0)
    for trial in range(50):
        n = int(rng.integers(3, 10))
        ana = rng.normal(size=n)
        scores = np.stack([ana, -ana + 0.3 * rng.normal(size=n)])  # Ben likes what Ana does not
        ranked = rank_scores(RECIPES[:0] + [_r(f"R{k}", ["rice"]) for k in range(n)], ["ana", "ben"], scores)
        top = ranked[0]
        assert all(ms.own_rank < n for ms in top.members), (trial, top)
        # the least happy member is better off than under either member's own favourite
        for m in range(2):
            favourite = next(p for p in ranked if p.members[m].own_rank == 1)
            assert top.min_z >= favourite.min_z


def test_the_minimum_decides_then_the_sum_then_the_id():
    recipes = [_r(t, ["rice"]) for t in ("Alpha", "Beta", "Gamma", "Delta")]
    # Alpha: one member thrilled, one unhappy. Beta and Gamma: the same min, Gamma a larger sum.
    scores = np.array([[3.0, 0.5, 1.0, 0.0], [-1.0, 0.5, 0.5, 0.0]])
    ranked = rank_scores(recipes, ["ana", "ben"], scores)
    z = standardise(scores)
    assert [p.recipe.title for p in ranked][0] in ("Beta", "Gamma")
    mins = [p.min_z for p in ranked]
    assert mins == sorted(mins, reverse=True)
    assert ranked[-1].recipe.title == "Alpha" or ranked[-1].min_z == min(z.min(axis=0))
    # equal rows: the id decides, so the ranking does not depend on the input order
    same = np.zeros((2, 4))
    ids = [p.recipe.id for p in rank_scores(recipes, ["ana", "ben"], same)]
    assert ids == sorted(ids) == [p.recipe.id for p in rank_scores(recipes[::-1], ["ana", "ben"], same)]


def test_ranking_is_deterministic_and_scale_free():
    rng = np.random.default_rng(3)
    scores = rng.normal(size=(3, 8))
    recipes = [_r(f"R{k}", ["rice"]) for k in range(8)]
    first = [p.recipe.id for p in rank_scores(recipes, ["a", "b", "c"], scores)]
    assert first == [p.recipe.id for p in rank_scores(recipes, ["a", "b", "c"], scores)]
    scaled = scores * np.array([[10.0], [0.1], [3.0]]) + np.array([[5.0], [-2.0], [0.0]])
    assert first == [p.recipe.id for p in rank_scores(recipes, ["a", "b", "c"], scaled)]  # standardised


def test_liking_words_are_data():
    assert liking(1.0) == "likes" and liking(0.0) == "neutral" and liking(-0.7) == "would_rather_not"
    assert set(LIKINGS) == {"likes", "neutral", "would_rather_not"}


# --- limits -------------------------------------------------------------------------------------

def test_limits_normalised_and_checked():
    assert normalise_limit("Nut allergy") == "nut-free" and normalise_limit("no pork") == "pork-free"
    assert normalise_limit("Gluten_Free") == "gluten-free" and normalise_limit("vegetarian") == "vegetarian"
    with pytest.raises(InvalidInput, match="unknown diet limit"):
        normalise_limit("paleo")
    carbonara = _r("Carbonara", ["200 g spaghetti", "100 g pancetta", "2 eggs", "parmesan"])
    assert any("pork" in m for m in limit_violations(carbonara, ["pork-free"]))
    assert limit_violations(carbonara, ["vegetarian"]) and limit_violations(carbonara, ["gluten-free"])
    assert not limit_violations(_r("Turkey", ["4 slices turkey bacon", "bread"]), ["pork-free"])
    assert limit_violations(_r("Pesto", ["basil", "pine nuts", "walnuts"]), ["nut-free"])


# --- with a store and a lab ---------------------------------------------------------------------

@pytest.fixture
def lab(tmp_path):
    from tests.helpers import lab_at

    lab = lab_at(tmp_path)
    for name in ("ana", "ben", "cy"):
        lab.store.ensure_user(name)
    return lab


def test_limits_live_in_the_profile_preferences_beside_other_settings(lab):
    store = lab.store
    store.set_user_prefs("ana", {"train": {"l2": 2.0}})
    assert set_member_limits(store, "ana", ["Vegetarian", "nut allergy", "vegetarian"]) == ("vegetarian", "nut-free")
    assert member_limits(store, "ana") == ("vegetarian", "nut-free")
    assert store.get_user_prefs("ana")["train"] == {"l2": 2.0}  # kept
    with pytest.raises(InvalidInput):
        set_member_limits(store, "ana", ["paleo"])
    assert member_limits(store, "ana") == ("vegetarian", "nut-free")  # nothing saved
    store.set_user_prefs("ben", {"diets": "vegan"})  # damaged: not a list
    assert member_limits(store, "ben") == ()
    assert set_member_limits(store, "Ana", ["vegan"]) == ("vegan",)  # the stored profile, as every lookup
    assert member_limits(store, "ana") == ("vegan",) and "Ana" not in store.list_users()
    with pytest.raises(InvalidInput, match="no profile named 'zed'"):
        set_member_limits(store, "zed", ["vegan"])  # a diet never creates a profile
    assert "zed" not in store.list_users()


def test_members_are_checked(lab):
    assert check_members(lab.store, ["ana", "ben"]) == ("ana", "ben")
    for bad, msg in ((["ana"], "2 to 6"), (["ana", "ana"], "twice"), (["ana", "zed"], "no profile"),
                     ("ana,ben", "list"), (["ana", "b!"], "user name")):
        with pytest.raises(InvalidInput, match=msg):
            check_members(lab.store, bad)


def test_a_diet_limit_is_never_violated_and_every_member_is_scored(lab):
    from pantry.generators import GenerationRequest, OfflineComposer

    set_member_limits(lab.store, "ben", ["vegetarian"])
    set_member_limits(lab.store, "cy", ["pork-free", "nut-free"])
    meaty = [_r("Bacon Rice", ["4 slices bacon", "rice", "egg"]), _r("Chicken Rice", ["1 chicken breast", "rice"]),
             _r("Nutty Rice", ["rice", "50 g cashews"])]
    made = OfflineComposer().generate(GenerationRequest(pantry=("egg", "rice", "spinach", "onion"), n=8, seed=2))
    ranking = rank_household(lab, ["ana", "ben", "cy"], meaty + list(made), ("egg", "rice", "spinach", "onion"))
    removed = {r.title for r, _ in ranking.removed}
    assert {"Bacon Rice", "Chicken Rice", "Nutty Rice"} <= removed
    for pick in ranking.ranked:
        assert not limit_violations(pick.recipe, ["vegetarian", "pork-free", "nut-free"], lab.kitchen)
        assert [ms.member for ms in pick.members] == ["ana", "ben", "cy"]
        assert all(np.isfinite(ms.score) and ms.liking in LIKINGS for ms in pick.members)
    assert ranking.models["ana"][0] == "heuristic"
    again = rank_household(lab, ["ana", "ben", "cy"], meaty + list(made), ("egg", "rice", "spinach", "onion"))
    assert [p.recipe.id for p in again.ranked] == [p.recipe.id for p in ranking.ranked]
    d = ranking.to_dict()
    assert d["ranked"][0]["members"][0]["member"] == "ana" and "liking" in d["ranked"][0]["members"][0]


def test_plan_household_generates_within_the_members_diets(lab):
    from pantry.generators import GenerationRequest, GeneratorChoice, OfflineComposer

    set_member_limits(lab.store, "ben", ["vegetarian"])
    choice = GeneratorChoice(OfflineComposer(), "offline-composer", "offline", "offline composer selected", None,
                             "offline")
    ranking = plan_household(lab, choice, GenerationRequest(pantry=("egg", "rice", "onion"), n=6, seed=1),
                             ["ana", "ben"])
    assert ranking.ranked and not ranking.removed  # asked of the generator: nothing had to be removed
    assert lab.store.get_recipes([ranking.ranked[0].recipe.id])  # stored: a vote can name it


def test_a_household_vote_is_stored_for_each_member_present_as_one_group(lab):
    store = lab.store
    store.add_recipes(RECIPES[:2])
    ids = cast_household_vote(store, ["ana", "ben"], RECIPES[0].id, RECIPES[1].id, "a", left="b",
                              pantry=("rice",))
    votes = [store.get_vote(i) for i in ids]
    assert [v.user for v in votes] == ["ana", "ben"] and len({v.group_id for v in votes}) == 1
    assert votes[0].group_id.startswith("household-") and all(v.outcome == "a" for v in votes)
    assert store.votes("cy") == []  # not present: no vote
    other = cast_household_vote(store, ["ana", "cy"], RECIPES[0].id, RECIPES[1].id, "tie")
    assert store.get_vote(other[0]).group_id != votes[0].group_id
    with pytest.raises(InvalidInput):
        household_votes(["ana", "ben"], "x", "y", "a", strength="very")
    with pytest.raises(InvalidInput):
        cast_household_vote(store, ["ana"], RECIPES[0].id, RECIPES[1].id, "a")
    assert len(store.votes()) == 4  # nothing stored by the refused ones
