"""Would a person cook this? Checks of one recipe against its pantry and of its method.

Used by the composer's realism test and `bench/composer_realism.py` (before/after figures),
and by the composer itself as a last check on a draft. Each check returns data (lines,
names, a share), never wording for people:

- `pantry_share`: the share of a recipe's *main* ingredients (not staples, herbs, spices,
  oils, sweeteners or baking basics, nor a spoonful of anything: garlic cloves, 1 tbsp soy
  sauce, a pinch of chili; the ones that make the dish) that the pantry holds;
- `unused_lines`: ingredient lines that no step uses ("1 tbsp olive oil" listed, never heated);
- `heat_order_problems`: steps that add food to a pan, pot or wok before any step heats one,
  and a cooked dish whose first step is "Add ...";
- `same_family`: two recipes that are the same kind of dish (an omelette and another
  omelette), judged by their methods (`pantry.kitchen.dedupe`), so it also works for recipes
  of other generators;
- `clashes`: pairs of main ingredients no one puts in one dish (tuna with tofu, smoked
  salmon with peanut butter) from the kitchen categories.

Imports: `pantry.domain`, `pantry.kitchen`.
"""

from __future__ import annotations

import re
from typing import Iterable

from pantry.domain.recipes import Recipe
from pantry.kitchen.amounts import line_amount
from pantry.kitchen.dedupe import FAMILY_METHOD_SIMILARITY, Signature, signature
from pantry.kitchen.dedupe import same_family as dedupe_same_family
from pantry.kitchen.knowledge import Ingredient, Kitchen, resolve_kitchen

__all__ = ["FAMILY_METHOD_SIMILARITY", "clashes", "cooks", "heat_order_problems", "is_spoonful", "main_ingredients",
           "pantry_share", "same_family", "unused_lines"]

MINOR = frozenset({"herb", "spice", "oil", "sweetener", "baking"})
# A step word that names a kind of ingredient ("the stock", "the cheese", "the noodles").
_GENERIC = {"stock", "cheese", "oil", "noodle", "pasta", "rice", "sauce", "bean", "fish", "sausage", "pepper",
            "chicken", "bread", "tortilla", "pita", "lentil", "egg", "cream", "tomato", "onion", "seed", "milk",
            "nut", "sugar", "pastry", "butter", "fat", "salsa", "paste", "wrap", "shell", "vegetable", "herb",
            "spice", "cheeses", "mince", "dough", "meat", "chili", "chilli", "beans", "potato"}
_COOKS_ON_HEAT = re.compile(r"\b(?:heat|heated|melt|warm|preheat|pre-heat|boil|simmer|fry|fried|sear|saut[eé]|"
                            r"toast|grill|roast|bake|oven|griddle|brown)\b", re.I)
_INTO_PAN = re.compile(r"\b(?:add|stir in|tip in|toss in|drop in)\b.*\b(?:pan|wok|pot|skillet|saucepan|casserole)\b",
                       re.I)
_NO_HEAT = re.compile(r"\b(?:salad|bowl of|mix|whisk|combine|toss together|season)\b", re.I)


def _kb(kitchen: Kitchen | None) -> Kitchen:
    return resolve_kitchen(kitchen)


# A line of at most this much seasons a dish rather than makes it (2 tbsp; 30 g).
SPOONFUL_ML = 30.0
SPOONFUL_G = 30.0
_SPOONFUL_UNITS = frozenset({"pinch", "clove", "dash", "sprig", "splash", "drop"})


def _is_main(ing: Ingredient) -> bool:
    return not ing.staple and ing.category not in MINOR


def is_spoonful(line: str, ingredient: Ingredient | None = None) -> bool:
    """Does `line` ask for no more than a spoonful ("2 cloves garlic", "1 tbsp soy sauce",
    "a pinch of chili flakes", "20 g parmesan")? Such a line seasons the dish; whether the
    pantry holds it says little about whether the dish is made from the pantry. A line with
    no amount ("salt, to taste") is a spoonful only when it says "to taste"."""
    amount = line_amount(line)
    if amount is None:
        return "to taste" in line.lower()
    if amount.unit in _SPOONFUL_UNITS:
        return True
    if amount.unit == "ml":
        return amount.value <= SPOONFUL_ML
    if amount.unit == "g":
        return amount.value <= SPOONFUL_G
    if amount.unit == "" and ingredient is not None and ingredient.piece_grams:
        return amount.value * ingredient.piece_grams <= SPOONFUL_G
    return False


def main_ingredients(recipe: Recipe, kitchen: Kitchen | None = None, spoonfuls: bool = False) -> list[str]:
    """Canonical names of the recipe's main ingredients, in line order, each once.

    Parameters: `spoonfuls` True also counts a line of a spoonful or less (garlic cloves,
    1 tbsp miso) as main: the definition before issue 18's second round, kept for its figures.
    Returns: names; an ingredient is main when any of its lines is."""
    kb = _kb(kitchen)
    out: list[str] = []
    for line in recipe.ingredients:
        ing = kb.match_line(line)
        if ing is not None and _is_main(ing) and ing.name not in out and (spoonfuls or not is_spoonful(line, ing)):
            out.append(ing.name)
    return out


def pantry_share(recipe: Recipe, pantry: Iterable[str], kitchen: Kitchen | None = None,
                 spoonfuls: bool = False) -> float | None:
    """Share in [0, 1] of the recipe's main ingredients that `pantry` (canonical names) holds;
    None when the recipe has no main ingredient. `spoonfuls` as in `main_ingredients`."""
    main = main_ingredients(recipe, kitchen, spoonfuls)
    if not main:
        return None
    have = set(pantry)
    return sum(1 for m in main if m in have) / len(main)


def unused_lines(recipe: Recipe, kitchen: Kitchen | None = None) -> list[str]:
    """Ingredient lines that no step uses: neither the ingredient nor its kind ("the oil",
    "the cheese") appears in the method. Salt and pepper to taste count as used when a step
    seasons."""
    kb = _kb(kitchen)
    mentioned: set[str] = set()
    for step in recipe.steps:
        mentioned.update(i.name for i in kb.mentions(step))
    method = " ".join(recipe.steps).lower()
    out: list[str] = []
    for line in recipe.ingredients:
        ing = kb.match_line(line)
        if ing is None or ing.name in mentioned:
            continue
        if ing.name in ("salt", "black pepper") and re.search(r"\bseason", method):
            continue
        words = re.findall(r"[a-z]+", ing.name)
        head = words[-1] if words else ""
        if head.rstrip("s") in _GENERIC and re.search(rf"\b{head.rstrip('s')}", method):
            continue
        if ing.category == "oil" and re.search(r"\b(?:oil|fat)\b", method):
            continue
        out.append(line)
    return out


def cooks(steps: Iterable[str]) -> bool:
    """Does a method (its steps) heat anything (fry, bake, boil...)? A salad's does not."""
    return any(_COOKS_ON_HEAT.search(s) for s in steps)


def heat_order_problems(recipe: Recipe) -> list[str]:
    """Steps that put food in a pan, pot or wok before any step heats one, and a first step
    "Add ..." in a recipe that cooks (a salad or a bowl may start by adding)."""
    out: list[str] = []
    heated = False
    cooks = any(_COOKS_ON_HEAT.search(s) for s in recipe.steps)
    for i, step in enumerate(recipe.steps):
        if i == 0 and cooks and re.match(r"\s*add\b", step, re.I) and not _NO_HEAT.search(step):
            out.append(step)
        elif _INTO_PAN.search(step) and not heated and not _COOKS_ON_HEAT.search(step):
            out.append(step)
        if _COOKS_ON_HEAT.search(step):
            heated = True
    return out


def same_family(a: Recipe | Signature, b: Recipe | Signature, kitchen: Kitchen | None = None) -> bool:
    """`pantry.kitchen.dedupe.same_family` for recipes or signatures."""
    sa = a if isinstance(a, Signature) else signature(a, kitchen)
    sb = b if isinstance(b, Signature) else signature(b, kitchen)
    return dedupe_same_family(sa, sb)


# Kitchen categories that do not meet in one dish (the first is a protein the second clashes with).
_CLASHING = {("fish", "poultry"), ("fish", "meat")}
_SWEET_ONLY = frozenset({"jam", "blueberry", "raspberry", "strawberry", "banana"})  # not maple syrup (glazes), chocolate (mole)
_TOFU_LIKE = frozenset({"tofu", "tempeh", "seitan"})


def clashes(recipe: Recipe, kitchen: Kitchen | None = None) -> list[tuple[str, str]]:
    """Pairs of main ingredients that do not belong in one dish: fish or seafood with tofu;
    fish with meat or poultry; two kinds of fish; fish, seafood or meat with berries,
    banana or jam (pancake things)."""
    kb = _kb(kitchen)
    ings = [kb.get(n) for n in main_ingredients(recipe, kb, spoonfuls=True)]
    ings += [i for i in (kb.match_line(line) for line in recipe.ingredients)
             if i is not None and i.name in _SWEET_ONLY and i not in ings]
    out: list[tuple[str, str]] = []
    for i, a in enumerate(ings):
        for b in ings[i + 1:]:
            cats = {(a.category, b.category), (b.category, a.category)}
            fishy = {a.category, b.category} & {"fish", "seafood"}
            if (cats & _CLASHING and a.category != b.category) or (a.category == b.category == "fish"):
                out.append((a.name, b.name))
            elif fishy and ({a.name, b.name} & _TOFU_LIKE):
                out.append((a.name, b.name))
            elif {a.category, b.category} & {"fish", "seafood", "meat", "poultry"} and {a.name, b.name} & _SWEET_ONLY:
                out.append((a.name, b.name))
    return out
