"""Synthetic personas and their simulated votes (pantry/synth.py)."""

from __future__ import annotations

from datetime import datetime

import pytest

from pantry.generators.composer import OfflineComposer
from pantry.domain.recipes import recipe_from_dict
from pantry.evaluation.synth import PERSONAS, has_meat, persona_names, persona_utility, simulate_votes

REQUIRED_KEYS = {"user", "a", "b", "outcome", "left", "pantry", "created_at", "generator"}
OPTIONAL_KEYS = {"strength", "reasons", "model_version"}


@pytest.fixture(scope="module")
def composer():
    return OfflineComposer()


def test_personas():
    names = persona_names()
    for required in ("vegetarian", "quick-weeknight", "spice-lover", "comfort-food"):
        assert required in names
    assert set(names) == set(PERSONAS)


def test_votes_follow_the_vote_format(composer):
    votes = simulate_votes("spice-lover", 25, seed=3, composer=composer)
    assert len(votes) == 25
    for v in votes:
        assert REQUIRED_KEYS <= set(v) <= REQUIRED_KEYS | OPTIONAL_KEYS
        assert v["user"] == "synth-spice-lover"
        assert v["outcome"] in ("a", "b", "tie")
        assert v["left"] in ("a", "b")
        assert v["generator"] == "offline-composer"
        assert isinstance(v["pantry"], list) and len(v["pantry"]) >= 3
        assert all(isinstance(p, str) for p in v["pantry"])
        datetime.fromisoformat(v["created_at"].replace("Z", "+00:00"))
        a, b = recipe_from_dict(v["a"]), recipe_from_dict(v["b"])  # inline recipes validate
        assert a.id != b.id
        if v["outcome"] == "tie":
            assert "strength" not in v
        else:
            assert v.get("strength") in ("slightly", "much")


def test_deterministic_for_a_seed(composer):
    one = simulate_votes("comfort-food", 15, seed=7, composer=composer)
    two = simulate_votes("comfort-food", 15, seed=7)
    assert one == two
    assert simulate_votes("comfort-food", 15, seed=8, composer=composer) != one


def test_given_pantry_and_user(composer):
    pantry = ["pasta", "tomato", "garlic", "onion", "mushroom", "spinach", "parmesan", "bacon"]
    votes = simulate_votes("quick-weeknight", 5, seed=1, user="alice", pantry=pantry, composer=composer)
    assert all(v["user"] == "alice" and v["pantry"] == pantry for v in votes)


def test_unknown_persona():
    with pytest.raises(ValueError, match="unknown persona"):
        simulate_votes("carnivore", 1)


def test_utility_is_pure(composer):
    votes = simulate_votes("health-nut", 3, seed=2, composer=composer)
    r = recipe_from_dict(votes[0]["a"])
    assert persona_utility("health-nut", r) == persona_utility("health-nut", r)


def test_vegetarian_prefers_vegetarian_recipes(composer):
    votes = simulate_votes("vegetarian", 250, seed=11, composer=composer)
    wins = total = 0
    for v in votes:
        if v["outcome"] == "tie":
            continue
        a, b = recipe_from_dict(v["a"]), recipe_from_dict(v["b"])
        if has_meat(a) == has_meat(b):
            continue
        total += 1
        chosen = a if v["outcome"] == "a" else b
        wins += not has_meat(chosen)
    assert total >= 30
    assert wins / total > 0.8, (wins, total)


def test_quick_weeknight_prefers_faster_recipes(composer):
    votes = simulate_votes("quick-weeknight", 150, seed=5, composer=composer)
    faster = total = 0
    for v in votes:
        if v["outcome"] == "tie" or abs(v["a"]["minutes"] - v["b"]["minutes"]) < 15:
            continue
        total += 1
        chosen, other = (v["a"], v["b"]) if v["outcome"] == "a" else (v["b"], v["a"])
        faster += chosen["minutes"] < other["minutes"]
    assert total >= 20 and faster / total > 0.75


def test_spice_lover_prefers_spicy_recipes(composer):
    votes = simulate_votes("spice-lover", 200, seed=9, composer=composer)
    spicy = total = 0
    for v in votes:
        sa, sb = "spicy" in v["a"]["tags"], "spicy" in v["b"]["tags"]
        if v["outcome"] == "tie" or sa == sb:
            continue
        total += 1
        spicy += (v["outcome"] == "a") == sa
    assert total >= 20 and spicy / total > 0.7
