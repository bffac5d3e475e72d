"""Kitchen knowledge: what ingredients are, what a pantry box says, what a recipe needs.

What the package is for, one module per job:
- `knowledge`: the ingredient knowledge base (`data/ingredients.json`): `Ingredient`,
  `Kitchen` (lookup, recipe-line matching), `load_kitchen`, the diet vocabulary `DIETS`;
- `pantry_text`: the pantry text parser (`parse_pantry`, `read_pantry` -> `PantryReading`);
- `amounts`: quantities in text and as comparable numbers (`parse_amount`, `line_amount`);
- `diets`: recipe-versus-diet checks (`diet_violations`);
- `coverage`: recipe-versus-pantry checks (`missing_ingredients`, `pantry_coverage`);
- `dedupe`: near-duplicate recipes (the same dish under another title);
- `words`: the text normalisation all of them share (fold, tokens, singular);
- `vocab`: the fixed vocabulary (categories, diet flags, `DIETS`), standard library only.
Every function that needs the knowledge base takes it as `kitchen=` (None: the shared
default from `load_kitchen()`), so callers and tests can inject another one.

What it may import: `pantry.domain`, `pantry.base`, `pantry.errors` and `pantry.paths` (the
standard-library-only module that says where the project's data files are), nothing else of
the library. Everything outside the package imports from here
(`from pantry.kitchen import read_pantry`), never from its modules.
"""

import importlib

# Names are imported from their module on first use (PEP 562), so `pantry.kitchen.vocab`
# (DIETS for a command-line parser) loads without the knowledge base, the recipe type or pydantic.
_EXPORTS = {
    "Amount": "amounts", "amount_ratio": "amounts", "line_amount": "amounts", "parse_amount": "amounts",
    "missing_ingredients": "coverage", "pantry_coverage": "coverage",
    "diet_violations": "diets",
    "CATEGORIES": "vocab", "DIET_FLAGS": "vocab", "DIETS": "vocab",
    "DEFAULT_KB_PATH": "knowledge", "Ingredient": "knowledge", "Kitchen": "knowledge", "load_kitchen": "knowledge",
    "PantryItem": "pantry_text", "PantryReading": "pantry_text", "pantry_names": "pantry_text",
    "parse_pantry": "pantry_text", "read_pantry": "pantry_text",
}

__all__ = [
    "CATEGORIES", "DEFAULT_KB_PATH", "DIETS", "DIET_FLAGS", "Amount", "Ingredient", "Kitchen", "PantryItem", "PantryReading",
    "amount_ratio", "diet_violations", "line_amount", "load_kitchen", "missing_ingredients", "pantry_coverage",
    "pantry_names", "parse_amount", "parse_pantry", "read_pantry",
]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pantry.kitchen' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"pantry.kitchen.{module}"), name)
    globals()[name] = value  # next time: a plain module attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
