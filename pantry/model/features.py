"""What the reward model sees: [recipe embedding, explicit features].

Explicit features carry what a sentence embedding represents poorly and what a pantry
changes from one request to the next: how much of the recipe the user already has, how
many ingredients they would need to buy, how long it takes and how much work it is.
Transforms are fixed (no fitted scaler), so a saved model needs only the spec name.
Changing the list or a transform means a new `FEATURE_SPEC` version: models saved with
another spec refuse to load rather than silently mis-score.

The ingredient knowledge base that decides what the pantry covers is a parameter
(`kitchen=`, passed on to `pantry.kitchen`); None uses the kitchen package's shared default.
This module never loads one itself
(None reaches `load_kitchen()`, the shared default, exactly as the kitchen functions do).

explicit-v2 adds what a recipe *is*, read the same way for any recipe (no fitted vocabulary):
for each food group (vegetable, meat, fish, dairy, egg, starch, legume, sweet, nut), 1 when
an ingredient line's matched kitchen ingredient (`Kitchen.match_line`, its
`Ingredient.category`) is in it. A sentence embedding of an Italian dish name says little
about whether it is a fish, meat or vegetable dish, and which of those a person eats or
likes is the most common, most stable kind of taste. Presence, not the share of lines: a
dish with meat is a meat dish however many seasoning lines its writer listed. Measured on
giallozafferano-dev (issue 12): shares of lines and cost, difficulty and course read from
tags were tried; tags lowered every protocol, shares gained less than presence where
recipes are new to everyone (`cold`).

explicit-v3 (issue 20) adds the tastes people differ on most, by fixed word lists over the
matched ingredients' names and the recipe's own words (`taste_row`): vegetarian, pork,
chilli heat, spices, richness, oven-baked and the stated cuisine; measured in the README
("Learning speed"). explicit-v4 adds how much of a dish is vegetables (log of its vegetable
and fruit lines) and whether it is starchy (grain, pasta, potatoes, dough or pastry):
light-and-green against filling comfort food, an axis people differ on that presence of a
grain line alone read poorly.
"""

from __future__ import annotations

import functools
import itertools
import math
import threading
from typing import NamedTuple, Sequence

import numpy as np

from pantry.kitchen import Kitchen, PantryItem, missing_ingredients, pantry_coverage
from pantry.kitchen.coverage import _needed_lines, _PantryIndex
from pantry.kitchen.words import tokens
from pantry.domain.recipes import Recipe

FEATURE_NAMES = (
    "pantry_coverage",   # share of non-staple ingredients already in the pantry (0 without pantry)
    "has_pantry",        # 1 when the request had a pantry, so coverage 0 is not ambiguous
    "log_missing",       # log1p(number of non-staple ingredients to buy), 0 without pantry
    "log_minutes",       # log1p(total minutes) / log1p(180); 0 when unknown
    "minutes_known",     # 1 when the recipe states its time
    "log_steps",         # log1p(number of steps) / log1p(20)
    "log_ingredients",   # log1p(number of ingredient lines) / log1p(20)
)
# food group -> the kitchen categories (pantry.kitchen.CATEGORIES) it gathers; herbs, spices,
# condiments, oil, baking and "other" season or bind a dish rather than make it what it is
FOOD_GROUPS = {
    "vegetable": ("vegetable", "fruit"),
    "meat": ("meat", "poultry"),
    "fish": ("fish", "seafood"),
    "dairy": ("dairy",),
    "egg": ("egg",),
    "starch": ("grain", "pasta"),
    "legume": ("legume",),
    "sweet": ("sweetener",),
    "nut": ("nut", "seed"),
}
FEATURE_NAMES = FEATURE_NAMES + tuple(f"has_{g}" for g in FOOD_GROUPS)  # 1: a line in that group
# explicit-v3: the tastes people differ on most, read from the matched kitchen ingredients'
# names and the recipe's own words (fixed word lists, no fitted vocabulary): see `taste_row`
CUISINES = {
    "italian": ("italian",),
    "east_asian": ("chinese", "japanese", "korean", "thai", "vietnamese", "asian"),
    "indian": ("indian",),
    "mexican": ("mexican", "tex-mex"),
    "mediterranean": ("mediterranean", "greek", "middle eastern", "spanish", "turkish", "lebanese"),
    "american": ("american", "british"),
    "french": ("french",),
}
TASTE_NAMES = ("vegetarian", "has_pork", "heat", "log_spices", "richness", "baked", "log_vegetables",
               "starchy") + tuple(
    f"cuisine_{c}" for c in CUISINES)
FEATURE_NAMES = FEATURE_NAMES + TASTE_NAMES
# columns about the round or the record, not the dish: left out where a taste is meant
# (pair design, where people differ)
PANTRY_COLUMNS = ("pantry_coverage", "has_pantry", "log_missing")  # about the request, not the dish
NOT_TASTE = frozenset(PANTRY_COLUMNS + ("minutes_known",))
FEATURE_SPEC = "explicit-v4:" + ",".join(FEATURE_NAMES)
_PORK = ("pork", "bacon", "ham", "pancetta", "prosciutto", "guanciale", "sausage", "salami", "chorizo",
         "speck", "lard", "mortadella", "nduja")
_HOT = ("chili", "chilli", "chile", "jalapeno", "cayenne", "chipotle", "sriracha", "hot sauce", "harissa",
        "gochujang", "peperoncino", "habanero", "wasabi", "pepper flakes", "curry paste", "horseradish")
_HOT_WORDS = frozenset({"spicy", "hot", "fiery", "diavola", "arrabbiata", "piccante", "vindaloo", "szechuan",
                        "sichuan", "chili", "chilli", "jerk", "buffalo"})
_RICH = ("cream", "butter", "cheese", "parmesan", "parmigiano", "mozzarella", "cheddar", "ricotta", "mascarpone",
         "gorgonzola", "pecorino", "feta", "brie", "gruyere", "fontina", "provolone", "halloumi", "paneer",
         "bacon", "pancetta", "guanciale", "lard", "coconut milk", "mayonnaise", "ghee")
_FRIED = ("deep-fry", "deep fry", "fried", "frying", "fritt")
_STARCHY = ("potato", "dough", "pastry", "gnocchi", "dumpling", "pie crust")  # besides grain and pasta lines
_BAKED = ("bake", "oven", "roast", "gratin", "casserole", "al forno", "traybake", "forno")
_GROUP_OF = {cat: g for g, cats in FOOD_GROUPS.items() for cat in cats}


def food_groups(recipe: Recipe, kitchen: Kitchen | None = None) -> list[float]:
    """1.0 for each of `FOOD_GROUPS` that one of the recipe's ingredient lines falls in, else 0.0."""
    return taste_row(recipe, kitchen)[:len(FOOD_GROUPS)]


def taste_row(recipe: Recipe, kitchen: Kitchen | None = None) -> list[float]:
    """`FOOD_GROUPS` presence then `TASTE_NAMES` of one recipe, read the same way for any recipe.

    vegetarian: no meat or fish line; has_pork: a meat line naming pork, bacon, ham, ...;
    heat: lines with chilli, cayenne, hot sauce, ... plus a hot word in the title or tags
    (capped at 2, over 2); log_spices: log1p(spice lines) / log1p(8); richness: lines with
    cream, butter, cheese, bacon, ... plus frying (capped at 4, over 4); baked: the oven in
    the title, tags or method; log_vegetables: log1p(vegetable and fruit lines) / log1p(8);
    starchy: a grain or pasta line, potatoes, dough or pastry; cuisine_*: the stated cuisine.
    """
    lines = [line for line in recipe.ingredients if line.strip()]
    counts = dict.fromkeys(FOOD_GROUPS, 0)
    pork = hot = spices = rich = starch = 0
    if lines:
        if kitchen is None:
            from pantry.kitchen import load_kitchen  # the kitchen package's shared default

            kitchen = load_kitchen()
        for line in lines:
            ing = kitchen.match_line(line)
            group = _GROUP_OF.get(ing.category) if ing is not None else None
            if group is not None:
                counts[group] += 1
            name = ing.name if ing is not None else line.lower()
            pork += group == "meat" and any(w in name for w in _PORK)
            hot += any(w in name for w in _HOT)
            spices += ing is not None and ing.category == "spice"
            rich += any(w in name for w in _RICH)
            starch += group == "starch" or any(w in name for w in _STARCHY)
    head = recipe.title.lower() + " " + " ".join(t.lower() for t in recipe.tags)
    method = " ".join(recipe.steps).lower()
    hot += bool(_HOT_WORDS.intersection(tokens(head)))
    rich += any(w in head or w in method for w in _FRIED)
    cuisine = (recipe.cuisine or "").strip().lower()
    groups = [1.0 if counts[g] else 0.0 for g in FOOD_GROUPS]
    return groups + [
        1.0 if lines and not (counts["meat"] or counts["fish"]) else 0.0,
        1.0 if pork else 0.0,
        min(hot, 2) / 2.0,
        math.log1p(spices) / math.log1p(8),
        min(rich, 4) / 4.0,
        1.0 if any(w in head or w in method for w in _BAKED) else 0.0,
        math.log1p(counts["vegetable"]) / math.log1p(8),
        1.0 if starch else 0.0,
    ] + [1.0 if cuisine in names else 0.0 for names in CUISINES.values()]


def explicit_features(recipe: Recipe, pantry: Sequence[str] = (), kitchen: Kitchen | None = None) -> np.ndarray:
    """The explicit features (`FEATURE_NAMES`) of one recipe for one pantry."""
    if pantry:
        coverage = pantry_coverage(recipe, pantry, kitchen)
        missing = len(missing_ingredients(recipe, pantry, kitchen))
        pantry_row = [coverage, 1.0, math.log1p(missing)]
    else:
        pantry_row = [0.0, 0.0, 0.0]
    minutes = recipe.minutes
    return np.array(pantry_row + [
        math.log1p(minutes) / math.log1p(180) if minutes else 0.0,
        1.0 if minutes else 0.0,
        math.log1p(len(recipe.steps)) / math.log1p(20),
        math.log1p(len(recipe.ingredients)) / math.log1p(20),
    ] + taste_row(recipe, kitchen), dtype=np.float32)


# ---- the fast path: per-recipe facts cached, pantry part vectorised ------------------------
#
# `explicit_features` above is the definition (one recipe, one pantry, through the kitchen
# functions); `explicit_matrix` computes exactly the same values for many recipes at once:
# - what does not depend on the pantry (the recipe columns, the food groups, which lines need
#   shopping for and the kitchen ingredient each names) is computed once per distinct recipe
#   content ((ingredients, minutes, number of steps), under one kitchen) and kept in a
#   `RecipeFactsCache` (bounded; a `Lab` holds one, otherwise one per call);
# - what does (coverage, missing) is one indicator vector per distinct pantry indexed by the
#   needed lines' ingredient positions, summed per recipe (no per-line Python work), except
#   for pantry items the kitchen does not know (word phrases), which are checked per line as
#   `pantry_coverage` does.

_N_RECIPE = 4  # log_minutes, minutes_known, log_steps, log_ingredients
_LOG1P = tuple(math.log1p(k) for k in range(256))  # log1p(missing), exactly as math.log1p gives it


def _log1p(k: int) -> float:
    return _LOG1P[k] if k < len(_LOG1P) else math.log1p(k)


class RecipeFacts(NamedTuple):
    """The pantry-independent part of one recipe's explicit features."""

    row: np.ndarray  # float32: the recipe columns, the food groups, the taste columns (FEATURE_NAMES[3:])
    needed: np.ndarray  # int32: kitchen position of each line to shop for (-1: the kitchen does not know it)
    lines: tuple[str, ...]  # those lines, as written (for pantry items the kitchen does not know)


def _positions(kb: Kitchen) -> dict[str, int]:
    return {ing.name: i for i, ing in enumerate(kb.all())}


def recipe_facts(recipe: Recipe, kb: Kitchen, positions: dict[str, int] | None = None) -> RecipeFacts:
    """What `explicit_features` reads from a recipe whatever the pantry (see `RecipeFacts`)."""
    positions = positions if positions is not None else _positions(kb)
    minutes = recipe.minutes
    values = [math.log1p(minutes) / math.log1p(180) if minutes else 0.0, 1.0 if minutes else 0.0,
              math.log1p(len(recipe.steps)) / math.log1p(20),
              math.log1p(len(recipe.ingredients)) / math.log1p(20)]
    values += taste_row(recipe, kb)
    needed = _needed_lines(recipe, kb)
    ids = np.fromiter((positions[ing.name] if ing is not None else -1 for _, ing in needed), np.int32, len(needed))
    return RecipeFacts(np.array(values, dtype=np.float32), ids, tuple(line for line, _ in needed))


@functools.lru_cache(maxsize=65_536)
def _line_tokens(line: str) -> tuple[str, ...]:
    """`words.tokens` of an ingredient line (pure; bounded cache): pantry words are looked up in them."""
    return tokens(line)


def _facts_key(recipe: Recipe) -> tuple:
    return (recipe.ingredients, recipe.minutes, recipe.steps, recipe.title, recipe.tags, recipe.cuisine)


class RecipeFactsCache:
    """A bounded, thread-safe cache of `RecipeFacts` by recipe content, for one kitchen.

    Keyed by (ingredients, minutes, steps, title, tags, cuisine): everything the facts read,
    so a recipe whose id changes but not these keeps its entry, and two recipes with the
    same content share one. At most `maxsize` entries (the oldest go first); used with
    another kitchen than the one it holds facts for, it starts again empty. An entry costs
    about 1 KB (with the recipe's ingredient lines it keeps alive): ~150 MB when full.
    """

    def __init__(self, maxsize: int = 150_000):
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self._lock = threading.Lock()
        self._facts: dict[tuple, RecipeFacts] = {}
        self._kitchen: Kitchen | None = None
        self._positions: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._facts)

    def clear(self) -> None:
        with self._lock:
            self._facts.clear()

    def get_many(self, recipes: Sequence[Recipe], kb: Kitchen) -> list[RecipeFacts]:
        """The facts of each recipe (computed for the ones not seen before)."""
        return self._get(recipes, kb)[0]

    def _get(self, recipes: Sequence[Recipe], kb: Kitchen) -> tuple[list[RecipeFacts], dict[str, int]]:
        """(facts, the kitchen positions their `needed` refer to)."""
        keys = [_facts_key(r) for r in recipes]
        with self._lock:
            if self._kitchen is not kb:
                self._facts.clear()
                self._kitchen, self._positions = kb, _positions(kb)
            positions = self._positions
            get = self._facts.get
            found = [get(k) for k in keys]
        todo = [i for i, f in enumerate(found) if f is None]
        if not todo:
            return found, positions
        fresh: dict[tuple, RecipeFacts] = {}
        for i in todo:  # outside the lock: pure functions of the recipe and the kitchen
            f = fresh.get(keys[i])
            if f is None:
                f = fresh[keys[i]] = recipe_facts(recipes[i], kb, positions)
            found[i] = f
        with self._lock:
            if self._kitchen is kb:
                facts = self._facts
                facts.update(fresh)
                if len(facts) > self.maxsize:
                    for k in list(itertools.islice(facts, len(facts) - self.maxsize)):
                        del facts[k]
        return found, positions


def _pantry_key(pantry: Sequence) -> tuple:
    """A hashable stand-in for a pantry that `_PantryIndex` reads the same way."""
    return tuple(x.name if isinstance(x, PantryItem) else (x if isinstance(x, str) else None) for x in pantry)


def _pantry_columns(facts: Sequence[RecipeFacts], pantries: Sequence[Sequence], group: np.ndarray | None,
                    kb: Kitchen, positions: dict[str, int]) -> np.ndarray:
    """The pantry columns (coverage, has_pantry, log_missing), float64, one row per recipe:
    recipe i with pantry `pantries[group[i]]` (group None: `pantries[0]` for all)."""
    n = len(facts)
    out = np.zeros((n, 3), dtype=np.float64)
    indexes = [_PantryIndex(p, kb) if p else None for p in pantries]  # None: no pantry, all zeros
    if all(ix is None for ix in indexes):
        return out
    group = np.zeros(n, dtype=np.int64) if group is None else group
    # have_item[g, k]: pantry g holds kitchen ingredient k (the last column: lines the kitchen does not know)
    have_item = np.zeros((len(pantries), len(positions) + 1), dtype=bool)
    for g, ix in enumerate(indexes):
        if ix is not None:
            have_item[g, [positions[name] for name in ix.names]] = True
    counts = np.fromiter((len(f.needed) for f in facts), np.int64, n)
    ids = np.concatenate([f.needed for f in facts]) if counts.any() else np.zeros(0, np.int32)
    line_group = np.repeat(group, counts)
    hit = have_item[line_group, ids]
    words = [g for g, ix in enumerate(indexes) if ix is not None and ix.phrases]
    if words:  # pantry items the kitchen does not know: their words in the line, as _PantryIndex.has
        todo = np.flatnonzero(~hit & np.isin(line_group, words))
        if len(todo):
            lines = [line for f in facts for line in f.lines]
            seen: dict[tuple[int, str], bool] = {}  # the same line in many recipes: checked once per call
            # a pantry item's words can only be in a line that has its first word: most lines have none
            firsts = {g: frozenset(p[0] for p in indexes[g].phrases) for g in words}
            found = []
            for j, g in zip(todo.tolist(), line_group[todo].tolist()):
                key = (g, lines[j])
                f = seen.get(key)
                if f is None:
                    toks = _line_tokens(key[1])
                    f = seen[key] = not firsts[g].isdisjoint(toks) and indexes[g].has_words(toks)
                found.append(f)
            hit[todo] = found
    ends = np.cumsum(counts)
    cum = np.concatenate([[0], np.cumsum(hit, dtype=np.int64)])
    have = cum[ends] - cum[ends - counts]
    coverage = np.where(counts > 0, have / np.maximum(counts, 1), 1.0)
    missing = counts - have
    log_missing = (np.asarray(_LOG1P)[missing] if missing.max(initial=0) < len(_LOG1P)
                   else np.array([_log1p(int(m)) for m in missing]))
    with_pantry = np.array([ix is not None for ix in indexes])[group]
    out[with_pantry, 0] = coverage[with_pantry]
    out[with_pantry, 1] = 1.0
    out[with_pantry, 2] = log_missing[with_pantry]
    return out


def explicit_matrix(recipes: Sequence[Recipe], pantries: Sequence[Sequence[str]] | Sequence[str] = (),
                    kitchen: Kitchen | None = None, cache: RecipeFactsCache | None = None) -> np.ndarray:
    """Explicit features for each recipe. `pantries` is one pantry for all, or one per recipe.

    The same values as `explicit_features` row by row (float32). `cache` keeps the
    pantry-independent part between calls (a Lab passes its own); None: one per call.
    """
    if kitchen is None:
        from pantry.kitchen import load_kitchen  # the kitchen package's shared default

        kitchen = load_kitchen()
    kb = kitchen
    per_recipe = bool(pantries) and not isinstance(pantries[0], str)
    if per_recipe:
        n = min(len(recipes), len(pantries))  # as zip(recipes, pantries)
        recipes = recipes[:n] if len(recipes) != n else recipes
    if not len(recipes):
        return np.zeros((0, len(FEATURE_NAMES)), dtype=np.float32)
    cache = cache if cache is not None else RecipeFactsCache(max(len(recipes), 1))
    facts, positions = cache._get(recipes, kb)
    out = np.empty((len(recipes), len(FEATURE_NAMES)), dtype=np.float32)
    out[:, 3:] = np.stack([f.row for f in facts])
    if not per_recipe:
        out[:, :3] = _pantry_columns(facts, [tuple(pantries)], None, kb, positions)
        return out
    groups: dict[tuple, int] = {}
    group = np.empty(len(recipes), dtype=np.int64)
    for i, p in enumerate(pantries[:len(recipes)]):
        key = p if type(p) is tuple else tuple(p)  # empty exactly when the pantry is
        try:
            g = groups.setdefault(key, len(groups))
        except TypeError:  # an unhashable item: what _PantryIndex reads of it
            g = groups.setdefault(_pantry_key(key), len(groups))
        group[i] = g
    out[:, :3] = _pantry_columns(facts, list(groups), group, kb, positions)
    return out


def feature_matrix(embeddings: np.ndarray, recipes: Sequence[Recipe],
                   pantries: Sequence[Sequence[str]] | Sequence[str] = (),
                   kitchen: Kitchen | None = None, cache: RecipeFactsCache | None = None) -> np.ndarray:
    """[embedding | explicit features] rows, float32, one per recipe (`cache`: see `explicit_matrix`)."""
    return np.concatenate([np.asarray(embeddings, dtype=np.float32),
                           explicit_matrix(recipes, pantries, kitchen, cache)], axis=1)
