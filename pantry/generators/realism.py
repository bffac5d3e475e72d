"""Would a person cook this? Checks of one recipe against its pantry and of its method.

Used by the composer's realism test and `bench/composer_realism.py` (before/after figures),
and by the composer itself as a last check on a draft. Each check returns data (lines,
names, a share), never wording for people:

- `pantry_share`: the share of a recipe's *main* ingredients (not staples, herbs, spices,
  oils, sweeteners or baking basics: the ones that make the dish) that the pantry holds;
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
from pantry.kitchen.dedupe import FAMILY_METHOD_SIMILARITY, Signature, signature
from pantry.kitchen.dedupe import same_family as dedupe_same_family
from pantry.kitchen.knowledge import Ingredient, Kitchen, resolve_kitchen

__all__ = ["FAMILY_METHOD_SIMILARITY", "clashes", "heat_order_problems", "main_ingredients", "pantry_share",
           "same_family", "unused_lines"]

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


def _is_main(ing: Ingredient) -> bool:
    return not ing.staple and ing.category not in MINOR


def main_ingredients(recipe: Recipe, kitchen: Kitchen | None = None) -> list[str]:
    """Canonical names of the recipe's main ingredients, in line order, each once."""
    kb = _kb(kitchen)
    out: list[str] = []
    for line in recipe.ingredients:
        ing = kb.match_line(line)
        if ing is not None and _is_main(ing) and ing.name not in out:
            out.append(ing.name)
    return out


def pantry_share(recipe: Recipe, pantry: Iterable[str], kitchen: Kitchen | None = None) -> float | None:
    """Share in [0, 1] of the recipe's main ingredients that `pantry` (canonical names) holds;
    None when the recipe has no main ingredient."""
    main = main_ingredients(recipe, kitchen)
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
    ings = [kb.get(n) for n in main_ingredients(recipe, kb)]
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
