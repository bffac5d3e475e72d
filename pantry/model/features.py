"""What the reward model sees: [recipe embedding, explicit features].

Explicit features carry what a sentence embedding represents poorly and what a pantry
changes from one request to the next: how much of the recipe the user already has, how
many ingredients they would need to buy, how long it takes and how much work it is.
Transforms are fixed (no fitted scaler), so a saved model needs only the spec name.
Changing the list or a transform means a new `FEATURE_SPEC` version: models saved with
another spec refuse to load rather than silently mis-score.

The ingredient knowledge base that decides what the pantry covers is a parameter
(`kitchen=`, passed on to `pantry.kitchen`); None uses the kitchen package's shared default.
This module never loads one itself.
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
FEATURE_SPEC = "explicit-v1:" + ",".join(FEATURE_NAMES)


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
    ], dtype=np.float32)


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
