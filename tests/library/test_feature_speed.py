"""The fast explicit features (cached per recipe, pantry part vectorised) give exactly the
values of the per-recipe definition (`explicit_features`), on varied recipes and pantries, and are
fast warm."""

import threading
import time

import numpy as np
import pytest

from pantry.domain.recipes import Recipe
from pantry.generators import GenerationRequest
from pantry.generators.composer import OfflineComposer
from pantry.kitchen import Kitchen, PantryItem, load_kitchen
from pantry.model.features import (FEATURE_NAMES, RecipeFactsCache, explicit_features, explicit_matrix,
                                   feature_matrix)


def _recipe(rid, ingredients, minutes=25, steps=("Cook.",)):
    return Recipe(id=rid, title=rid, ingredients=tuple(ingredients), steps=tuple(steps), minutes=minutes)


ODD = [
    _recipe("headers", ["For the sauce:", "2 tomatoes", "", "Special equipment: a pan", "1 tsp salt",
                        "3 cloves garlic", "---"], minutes=None),
    _recipe("unknown", ["2 cups zorbleberries", "1 handful of moon dust", "Kosher salt and black pepper"], minutes=0),
    _recipe("staples only", ["salt", "pepper", "2 tbsp olive oil", "water"], steps=()),
    _recipe("empty", [], minutes=500),
    _recipe("repeats", ["2 eggs", "2 eggs", "1 cup cashew cream", "Tortillas, with cheese", "1 (15-ounce) can chickpeas, drained"]),
    _recipe("accents", ["1 Jalapeño, sliced", "100 g crème fraîche", "2 œufs", "Fresh CILANTRO leaves"], minutes=12),
    _recipe("many", [f"{i} g item{i} with spinach" for i in range(150)] + ["1 onion"] * 50),
]

PANTRIES = [
    (), ("egg",), ("tomatoes", "garlic", "onion"), ("eggs", "spinach", "rice", "chicken", "parmesan"),
    ("zorbleberries",), ("moon dust", "egg"), ("  ", ""), ("cashew", "tortilla", "chickpeas", "cheese"),
    ("olive oil", "salt"), ("item3", "item7 with"),
]


@pytest.fixture(scope="module")
def recipes():
    composer = OfflineComposer()
    out = list(ODD)
    for seed, pantry in enumerate(PANTRIES * 3):
        out += composer.generate(GenerationRequest(pantry=tuple(p for p in pantry if p.strip()), n=8, seed=seed))
    assert len(out) >= 200
    return out


def _check(got, recipes, pantries):
    want = np.stack([explicit_features(r, p) for r, p in zip(recipes, pantries)])
    assert got.dtype == np.float32 and got.shape == want.shape
    bad = np.argwhere(got != want)
    assert not len(bad), f"{len(bad)} values differ, first {bad[:3]}: {got[tuple(bad[0])]} vs {want[tuple(bad[0])]}"


def test_one_pantry_for_all_matches_the_definition(recipes):
    cache = RecipeFactsCache()
    for pantry in PANTRIES:
        _check(explicit_matrix(recipes, pantry, cache=cache), recipes, [pantry] * len(recipes))
    _check(explicit_matrix(recipes, list(PANTRIES[3])), recipes, [PANTRIES[3]] * len(recipes))  # no cache


def test_one_pantry_per_recipe_matches_the_definition(recipes):
    pantries = [PANTRIES[i % len(PANTRIES)] for i in range(len(recipes))]
    pantries[0] = [PantryItem(name="egg", known=True, quantity="2", raw="2 eggs"),
                   PantryItem(name="moon dust", known=False, quantity=None, raw="moon dust")]
    pantries[1] = list(pantries[1])
    _check(explicit_matrix(recipes, pantries), recipes, pantries)


def _tiny():
    return Kitchen.from_dict({"version": 1, "ingredients": [
        {"name": "egg", "aliases": ["eggs"], "category": "egg", "vegetarian": True, "vegan": False,
         "gluten_free": True, "dairy_free": True, "nut_free": True, "staple": False},
        {"name": "salt", "aliases": [], "category": "spice", "vegetarian": True, "vegan": True,
         "gluten_free": True, "dairy_free": True, "nut_free": True, "staple": True}]})


def test_feature_matrix_and_an_injected_kitchen(recipes):
    tiny = _tiny()
    cache = RecipeFactsCache()
    default = explicit_matrix(recipes, ("egg", "onion"), cache=cache)
    got = explicit_matrix(recipes, ("egg", "onion"), kitchen=tiny, cache=cache)  # another kitchen: not the cached facts
    want = np.stack([explicit_features(r, ("egg", "onion"), tiny) for r in recipes])
    assert np.array_equal(got, want) and not np.array_equal(got, default)
    emb = np.arange(len(recipes) * 3, dtype=np.float32).reshape(-1, 3)
    x = feature_matrix(emb, recipes, ("egg",), cache=cache)
    assert np.array_equal(x[:, :3], emb) and np.array_equal(x[:, 3:], explicit_matrix(recipes, ("egg",)))
    assert explicit_matrix([], ("egg",)).shape == (0, len(FEATURE_NAMES))


def test_cache_is_bounded_and_keyed_by_content(recipes):
    cache = RecipeFactsCache(maxsize=50)
    explicit_matrix(recipes, ("egg",), cache=cache)
    assert len(cache) == 50
    with pytest.raises(ValueError):
        RecipeFactsCache(0)
    r = recipes[5]
    renamed = Recipe(**{**r.__dict__, "id": "other id"})  # the title is read too (heat and oven words)
    longer = Recipe(id=r.id, title=r.title, ingredients=r.ingredients, steps=r.steps, minutes=(r.minutes or 0) + 7)
    cache = RecipeFactsCache()
    explicit_matrix([r, renamed], (), cache=cache)
    assert len(cache) == 1  # same content, one entry
    _check(explicit_matrix([r, longer], ("egg",), cache=cache), [r, longer], [("egg",)] * 2)


def test_threads_share_one_cache(recipes):
    cache = RecipeFactsCache(maxsize=120)
    kitchens = [load_kitchen(), _tiny()]
    want = [explicit_matrix(recipes, ("egg", "rice"), kitchen=k) for k in kitchens]
    errors = []

    def work(k):  # two threads per kitchen: the cache switches kitchens under them
        try:
            for _ in range(3):
                assert np.array_equal(explicit_matrix(recipes, ("egg", "rice"), kitchen=kitchens[k], cache=cache),
                                      want[k])
        except AssertionError as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i % 2,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(cache) <= 120


def test_warm_features_are_fast(recipes):
    """20,000 already-seen recipes: well under the per-recipe definition's time (which costs
    ~0.3 ms a recipe); the bound is loose for a loaded 2-core CI box."""
    many = (recipes * (20_000 // len(recipes) + 1))[:20_000]
    many = [Recipe(id=f"{i}", title=r.title, ingredients=tuple(r.ingredients), steps=r.steps, minutes=r.minutes)
            for i, r in enumerate(many)]  # fresh objects, as a store returns them
    cache = RecipeFactsCache()
    explicit_matrix(many, ("egg", "onion"), kitchen=load_kitchen(), cache=cache)
    t = time.perf_counter()
    explicit_matrix(many, ("egg", "onion", "garlic"), cache=cache)
    assert time.perf_counter() - t < 1.0


def test_lab_embedder_made_once_under_threads_and_loaded_only_when_it_is(tmp_path, monkeypatch):
    from pantry import lab as lab_module
    from pantry.model import embedding
    from pantry.settings import Settings
    from tests.helpers import store_at

    made = []

    class SlowEmbedder:  # stands in for Embedder: slow to construct, loads its model on first encode
        def __init__(self, *args, **kwargs):
            time.sleep(0.05)
            made.append(self)
            self.loaded = False
            self.dim = 3
            self.name = "fake"

        def encode(self, texts, on_progress=None):
            self.loaded = True
            return np.zeros((len(texts), 3), dtype=np.float32)

    monkeypatch.setattr(embedding, "Embedder", SlowEmbedder)
    settings = Settings(**{**Settings.from_env().__dict__, "home": tmp_path})
    lab = lab_module.Lab(settings, store_at(tmp_path))
    assert not lab.embedder_loaded
    got = []
    threads = [threading.Thread(target=lambda: got.append(lab.embedder)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 1 and all(e is made[0] for e in got)
    assert not lab.embedder_loaded  # made, but its model is not loaded yet
    x = lab.features(list(ODD), ("egg",))
    assert lab.embedder_loaded and len(lab.recipe_facts) == len(ODD)
    assert np.array_equal(x[:, 3:], explicit_matrix(list(ODD), ("egg",)))
