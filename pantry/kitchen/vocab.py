"""The kitchen's fixed vocabulary: food categories, diet flags and diet names.

Standard library only and imported by nothing heavy, so a command-line parser can offer
`--diet` choices without loading the knowledge base (or pydantic). `knowledge` re-exports
these; everything outside the package reads them as `pantry.kitchen.DIETS` etc.
"""

from __future__ import annotations

CATEGORIES: tuple[str, ...] = (
    "vegetable", "fruit", "grain", "pasta", "legume", "dairy", "egg", "meat", "poultry",
    "fish", "seafood", "nut", "seed", "herb", "spice", "condiment", "oil", "sweetener",
    "baking", "other",
)
DIET_FLAGS: tuple[str, ...] = ("vegetarian", "vegan", "gluten_free", "dairy_free", "nut_free")
# Diet names as people (and the UI) write them -> the Ingredient flag that must be true.
DIETS: dict[str, str] = {
    "vegetarian": "vegetarian",
    "vegan": "vegan",
    "gluten-free": "gluten_free",
    "dairy-free": "dairy_free",
    "nut-free": "nut_free",
}

__all__ = ["CATEGORIES", "DIETS", "DIET_FLAGS"]
