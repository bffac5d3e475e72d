import math

import numpy as np

from pantry.domain.recipes import Recipe
from pantry.kitchen import Kitchen
from pantry.model import features
from pantry.model.features import FEATURE_NAMES, FEATURE_SPEC, explicit_matrix, feature_matrix


def _recipe(title, ingredients, minutes=20, steps=("Boil the pasta.", "Fry the bacon.", "Mix.")):
    return Recipe(id=title, title=title, ingredients=tuple(ingredients), steps=tuple(steps),
                  minutes=minutes, servings=None, cuisine=None, tags=(), source="test")


BACON_PASTA = _recipe("Bacon pasta", ["200 g spaghetti", "4 slices bacon, chopped", "2 eggs",
                                      "50 g parmesan, grated", "pinch of chilli flakes"])


def _named(recipe, pantry=()):
    return dict(zip(FEATURE_NAMES, explicit_matrix([recipe], pantry)[0]))


def test_bacon_pasta_without_pantry():
    f = _named(BACON_PASTA)
    assert f["pantry_coverage"] == 0.0 and f["has_pantry"] == 0.0 and f["log_missing"] == 0.0
    assert f["minutes_known"] == 1.0
    assert math.isclose(f["log_minutes"], math.log1p(20) / math.log1p(180), rel_tol=1e-6)
    assert math.isclose(f["log_steps"], math.log1p(3) / math.log1p(20), rel_tol=1e-6)
    assert math.isclose(f["log_ingredients"], math.log1p(5) / math.log1p(20), rel_tol=1e-6)


def test_pantry_changes_pantry_features_only():
    f = _named(BACON_PASTA, ("spaghetti", "bacon", "egg"))
    assert f["has_pantry"] == 1.0 and 0.0 < f["pantry_coverage"] <= 1.0
    g = _named(BACON_PASTA)
    assert all(f[n] == g[n] for n in ("log_minutes", "minutes_known", "log_steps", "log_ingredients"))


def test_unknown_minutes():
    f = _named(_recipe("No time", ["1 egg"], minutes=None))
    assert f["log_minutes"] == 0.0 and f["minutes_known"] == 0.0


def test_dimension_and_spec():
    emb = np.ones((2, 384), dtype=np.float32) / np.sqrt(384)
    x = feature_matrix(emb, [BACON_PASTA, BACON_PASTA])
    assert x.shape == (2, 384 + len(FEATURE_NAMES)) and x.dtype == np.float32
    assert FEATURE_SPEC.endswith(":" + ",".join(FEATURE_NAMES))


def _ingredient(name, aliases=(), staple=False):
    return {"name": name, "aliases": list(aliases), "category": "other", "vegetarian": True, "vegan": True,
            "gluten_free": True, "dairy_free": True, "nut_free": True, "staple": staple}


def test_the_kitchen_is_injected(monkeypatch):
    """The pantry features use the kitchen they are given, not one the module loads itself."""
    omelette = _recipe("Omelette", ["4 eggs", "1 onion, chopped"])
    tiny = Kitchen.from_dict({"version": 1, "ingredients": [
        _ingredient("egg", ["eggs"]), _ingredient("onion", staple=True)]}, source="tiny")
    default = dict(zip(FEATURE_NAMES, explicit_matrix([omelette], ("egg",))[0]))
    assert default["pantry_coverage"] == 0.5 and default["log_missing"] == np.float32(math.log1p(1))
    # In the injected kitchen the onion is a staple: the egg covers the whole recipe.
    injected = dict(zip(FEATURE_NAMES, explicit_matrix([omelette], ("egg",), kitchen=tiny)[0]))
    assert injected["pantry_coverage"] == 1.0 and injected["log_missing"] == 0.0
    x = feature_matrix(np.zeros((1, 3), dtype=np.float32), [omelette], [("egg",)], kitchen=tiny)
    assert x[0, 3 + FEATURE_NAMES.index("pantry_coverage")] == 1.0
    assert not hasattr(features, "load_kitchen")  # nothing to load behind the caller's back


def test_food_groups_from_the_kitchen():
    f = _named(BACON_PASTA)  # spaghetti, bacon, eggs, parmesan, chilli flakes
    assert f["has_starch"] == f["has_meat"] == f["has_egg"] == f["has_dairy"] == 1.0
    assert f["has_fish"] == f["has_vegetable"] == f["has_legume"] == 0.0
    clams = _named(_recipe("Clams", ["Spaghetti", "Clams", "Garlic", "Oil", "Parsley", "Black pepper"]))
    assert clams["has_fish"] == 1.0 and clams["has_meat"] == 0.0  # seasoning lines do not dilute it
    assert all(v == 0.0 for n, v in _named(_recipe("Nothing", [])).items() if n.startswith("has_"))
    tiny = Kitchen.from_dict({"version": 1, "ingredients": [
        {**_ingredient("clam", ["clams"]), "category": "seafood"}]}, source="tiny")
    x = explicit_matrix([_recipe("Clams", ["Clams"])], kitchen=tiny)[0]
    assert x[FEATURE_NAMES.index("has_fish")] == 1.0  # the injected kitchen decides


def test_tags_are_not_features():
    """Cost, difficulty and course tags were measured and left out (issue 12): tags change nothing."""
    plain = _recipe("Carbonara", ["Spaghetti", "Eggs"])
    tagged = Recipe(**{**plain.__dict__, "tags": ("first course", "cost 2/5", "difficulty 3/4")})
    assert np.array_equal(explicit_matrix([plain]), explicit_matrix([tagged]))


def test_features_are_deterministic_and_bounded():
    a, b = explicit_matrix([BACON_PASTA] * 2), explicit_matrix([BACON_PASTA])
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[0])
    assert np.all(a >= 0.0) and np.all(a <= 1.0 + 1e-6)
    assert FEATURE_SPEC.startswith("explicit-v4:") and len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)


def test_taste_columns_read_what_a_dish_is():
    """explicit-v3: vegetarian, pork, heat, richness, oven and cuisine from the recipe's own words."""
    f = _named(BACON_PASTA)
    assert f["vegetarian"] == 0.0 and f["has_pork"] == 1.0 and f["heat"] > 0.0 and f["richness"] > 0.0
    salad = Recipe(id="s", title="Green salad", ingredients=("1 cucumber", "2 tomatoes", "olive oil"),
                   steps=("Chop.", "Toss."), minutes=10, cuisine="Greek")
    g = _named(salad)
    assert g["vegetarian"] == 1.0 and g["has_pork"] == 0.0 and g["heat"] == 0.0 and g["richness"] == 0.0
    assert g["baked"] == 0.0 and g["cuisine_mediterranean"] == 1.0 and g["cuisine_italian"] == 0.0
    gratin = Recipe(id="g", title="Spicy potato gratin", ingredients=("4 potatoes", "200 ml cream"),
                    steps=("Bake in the oven for 40 minutes.",), minutes=60, cuisine="French")
    h = _named(gratin)
    assert h["baked"] == 1.0 and h["heat"] == 0.5 and h["richness"] == 0.25 and h["cuisine_french"] == 1.0
    # explicit-v4: potatoes are starchy (a vegetable line too); the salad is two vegetables, not starchy
    assert h["starchy"] == 1.0 and g["starchy"] == 0.0 and f["starchy"] == 1.0
    assert g["log_vegetables"] > h["log_vegetables"] > f["log_vegetables"] - 1e-9
