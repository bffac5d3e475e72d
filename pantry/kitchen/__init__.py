"""Kitchen knowledge: what ingredients are, what a pantry box says, what a recipe needs.

What the package is for, one module per job:
- `knowledge`: the ingredient knowledge base (`data/ingredients.json`): `Ingredient`,
  `Kitchen` (lookup, recipe-line matching), `load_kitchen`, the diet vocabulary `DIETS`;
- `pantry_text`: the pantry text parser (`parse_pantry`, `read_pantry` -> `PantryReading`);
- `amounts`: quantities in text and as comparable numbers (`parse_amount`, `line_amount`);
- `diets`: recipe-versus-diet checks (`diet_violations`);
- `coverage`: recipe-versus-pantry checks (`missing_ingredients`, `pantry_coverage`);
- `dedupe`: near-duplicate recipes (the same dish under another title);
- `words`: the text normalisation all of them share (fold, tokens, singular).
Every function that needs the knowledge base takes it as `kitchen=` (None: the shared
default from `load_kitchen()`), so callers and tests can inject another one.

What it may import: `pantry.domain`, `pantry.base`, `pantry.errors` and `pantry.paths` (the
standard-library-only module that says where the project's data files are), nothing else of
the library. Everything outside the package imports from here
(`from pantry.kitchen import read_pantry`), never from its modules.
"""

from pantry.kitchen.amounts import Amount, amount_ratio, line_amount, parse_amount
from pantry.kitchen.coverage import missing_ingredients, pantry_coverage
from pantry.kitchen.diets import diet_violations
from pantry.kitchen.knowledge import (CATEGORIES, DEFAULT_KB_PATH, DIET_FLAGS, DIETS, Ingredient, Kitchen,
                                      load_kitchen)
from pantry.kitchen.pantry_text import PantryItem, PantryReading, pantry_names, parse_pantry, read_pantry

__all__ = [
    "CATEGORIES", "DEFAULT_KB_PATH", "DIETS", "DIET_FLAGS", "Amount", "Ingredient", "Kitchen", "PantryItem", "PantryReading",
    "amount_ratio", "diet_violations", "line_amount", "load_kitchen", "missing_ingredients", "pantry_coverage",
    "pantry_names", "parse_amount", "parse_pantry", "read_pantry",
]
