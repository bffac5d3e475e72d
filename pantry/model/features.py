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
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from pantry.kitchen import Kitchen, missing_ingredients, pantry_coverage
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
FEATURE_SPEC = "explicit-v2:" + ",".join(FEATURE_NAMES)
_GROUP_OF = {cat: g for g, cats in FOOD_GROUPS.items() for cat in cats}


def food_groups(recipe: Recipe, kitchen: Kitchen | None = None) -> list[float]:
    """1.0 for each of `FOOD_GROUPS` that one of the recipe's ingredient lines falls in, else 0.0."""
    lines = [line for line in recipe.ingredients if line.strip()]
    counts = dict.fromkeys(FOOD_GROUPS, 0)
    if lines:
        if kitchen is None:
            from pantry.kitchen import load_kitchen  # the kitchen package's shared default

            kitchen = load_kitchen()
        for line in lines:
            ing = kitchen.match_line(line)
            group = _GROUP_OF.get(ing.category) if ing is not None else None
            if group is not None:
                counts[group] += 1
    return [1.0 if counts[g] else 0.0 for g in FOOD_GROUPS]


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
    ] + food_groups(recipe, kitchen), dtype=np.float32)


def explicit_matrix(recipes: Sequence[Recipe], pantries: Sequence[Sequence[str]] | Sequence[str] = (),
                    kitchen: Kitchen | None = None) -> np.ndarray:
    """Explicit features for each recipe. `pantries` is one pantry for all, or one per recipe."""
    if pantries and not isinstance(pantries[0], str):
        rows = [explicit_features(r, p, kitchen) for r, p in zip(recipes, pantries)]
    else:
        rows = [explicit_features(r, tuple(pantries), kitchen) for r in recipes]
    if not rows:
        return np.zeros((0, len(FEATURE_NAMES)), dtype=np.float32)
    return np.stack(rows)


def feature_matrix(embeddings: np.ndarray, recipes: Sequence[Recipe],
                   pantries: Sequence[Sequence[str]] | Sequence[str] = (),
                   kitchen: Kitchen | None = None) -> np.ndarray:
    """[embedding | explicit features] rows, float32, one per recipe."""
    return np.concatenate([np.asarray(embeddings, dtype=np.float32),
                           explicit_matrix(recipes, pantries, kitchen)], axis=1)
