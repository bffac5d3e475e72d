"""The `Generator` protocol every recipe source follows, and the request it answers.

A generator turns a `GenerationRequest` (pantry items + options) into complete recipes.
The offline composer and the Ollama client both implement it; `select_generator` in
`pantry.generators` picks one (auto mode falls back to the composer) and says why.

Imports: `pantry.base`, `pantry.domain` and `pantry.kitchen` (for the one list of diets).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Mapping, Protocol

from pantry.base import ProgressFn
from pantry.errors import InvalidInput
from pantry.domain.recipes import Recipe
from pantry.kitchen import DIETS  # the one list of diets (name -> ingredient flag)

__all__ = ["DIETS", "GenerationRequest", "Generator", "MAX_RECIPES_PER_REQUEST", "ProgressFn", "check_recipe_count"]

# One request makes at most this many recipes: the Compare page asks for up to 12, and an
# Ollama generation takes seconds per recipe, so 100,000 would run for hours.
MAX_RECIPES_PER_REQUEST = 50


def check_recipe_count(n: object, name: str = "n") -> int:
    """`n` as a recipe count, or InvalidInput naming `name` and the limits."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise InvalidInput(f"{name} must be a whole number of recipes, got {n!r}")
    if n < 1:
        raise InvalidInput(f"{name} must be at least 1, got {n}")
    if n > MAX_RECIPES_PER_REQUEST:
        raise InvalidInput(f"{name} must be at most {MAX_RECIPES_PER_REQUEST} recipes per request, got {n}")
    return int(n)


@dataclass(frozen=True)
class GenerationRequest:
    """What to cook. Build the pantry fields from `kitchen.read_pantry(text)`.

    `amounts` (canonical name -> quantity as typed: "2", "half", "200 g") and `cooked`
    (canonical names the user has already cooked: "leftover rice") are optional; without them
    every pantry item counts as plenty and raw. A generator should not use more of an item
    than `amounts` says without the extra showing up in `kitchen.missing_ingredients`, and
    should use a `cooked` item as cooked (no cooking step for it). `recent` (optional) are
    the session's latest recipes; it is not part of a request's equality (a prefetch made
    for the same pantry and options still matches).
    """

    pantry: tuple[str, ...]  # canonical pantry items (kitchen.read_pantry(...).pantry)
    n: int = 2
    diets: tuple[str, ...] = ()  # subset of DIETS; every recipe must respect all of them
    cuisine: str | None = None  # None = any
    max_minutes: int | None = None
    servings: int = 2
    seed: int = 0
    amounts: Mapping[str, str] = field(default_factory=dict, hash=False)  # PantryReading.amounts
    cooked: tuple[str, ...] = ()  # PantryReading.cooked
    # Recipes shown in the session's latest rounds, oldest first: a generator should not make
    # the same dish again, nor more of a dish family than its share (pantry.kitchen.dedupe).
    recent: tuple[Recipe, ...] = field(default=(), hash=False, compare=False)

    def __post_init__(self) -> None:
        check_recipe_count(self.n)


class Generator(Protocol):
    name: str  # e.g. "offline-composer" or "ollama:llama3.2:3b"

    def generate(self, request: GenerationRequest, on_progress: ProgressFn | None = None) -> list[Recipe]:
        ...
