"""Diet checks: does a recipe keep to a diet ("vegetarian", "vegan", "gluten-free",
"dairy-free", "nut-free")?

`diet_violations(recipe, diets)` gives one plain message per broken (ingredient line, diet),
e.g. "bacon is not vegetarian". Lines the knowledge base knows are judged by the
ingredient's diet flags; lines it does not know (LLM recipes name things freely) by a short
best-effort list of meat, fish, dairy, gluten and nut words. A line made for the diet
("vegan butter", "gluten-free pasta") is fine. The diet names are `knowledge.DIETS`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pantry.domain.recipes import Recipe
from pantry.kitchen.knowledge import DIETS, PLANT_WORDS, Kitchen, diet_flag, resolve_kitchen
from pantry.kitchen.words import fold, is_header, tokens

# Words that mark an ingredient line as made for a diet ("vegan butter", "gluten-free pasta").
_DIET_EXEMPT: dict[str, tuple[str, ...]] = {
    "vegetarian": ("vegan", "vegetarian", "plant-based", "plant based", "meatless", "meat-free",
                   "meat free", "veggie", "vegetable-based", "imitation", "mock"),
    "vegan": ("vegan", "plant-based", "plant based"),
    "gluten_free": ("gluten-free", "gluten free", "glutenfree", "gf"),
    "dairy_free": ("vegan", "dairy-free", "dairy free", "non-dairy", "nondairy", "plant-based", "plant based"),
    "nut_free": ("nut-free", "nut free"),
}
_DIET_EXEMPT_RE = {flag: re.compile(r"\b(?:" + "|".join(re.escape(m) for m in markers) + r")\b")
                   for flag, markers in _DIET_EXEMPT.items()}

# Best-effort words for lines the knowledge base does not know (LLM recipes name things
# freely). Matched as singular word tokens.
_MEAT_WORDS = frozenset(tokens(
    "meat beef steak pork bacon ham prosciutto salami pepperoni chorizo sausage pancetta "
    "guanciale lard gelatin gelatine lamb mutton veal venison rabbit goat duck goose chicken "
    "turkey quail pheasant fish salmon tuna cod anchovy anchovies sardine mackerel trout "
    "shrimp prawn crab lobster clam mussel oyster scallop squid calamari octopus crawfish "
    "crayfish caviar roe bresaola mortadella nduja sobrasada jerky suet tallow dripping "
    "liver tripe oxtail brisket mince meatball meatballs pastrami foie bone broth "
    "worcestershire halibut tilapia haddock snapper eel herring pollock"
))
_DAIRY_WORDS = frozenset(tokens(
    "milk cheese butter cream yogurt yoghurt ghee whey casein buttermilk kefir paneer "
    "ricotta mozzarella parmesan cheddar feta brie camembert gouda gruyere mascarpone "
    "halloumi quark curd custard queso burrata"
))
_ANIMAL_WORDS = frozenset(tokens("egg eggs honey mayonnaise mayo meringue aioli"))
_GLUTEN_WORDS = frozenset(tokens(
    "flour bread breadcrumbs panko pasta spaghetti noodle wheat barley rye couscous seitan "
    "beer cracker crouton tortilla bulgur farro spelt semolina pita naan bun brioche "
    "baguette croissant pastry dough biscuit cookie cake malt"
))
_GLUTEN_EXCEPT = frozenset(tokens("rice corn almond coconut chickpea buckwheat tapioca potato"))
_NUT_WORDS = frozenset(tokens(
    "nut nuts almond walnut pecan cashew pistachio hazelnut macadamia peanut praline "
    "marzipan frangipane gianduja"
))


def _unknown_line_violates(toks: tuple[str, ...], flag: str) -> bool:
    words = set(toks)
    meat = bool(words & _MEAT_WORDS)
    dairy = any(t in _DAIRY_WORDS and (i == 0 or toks[i - 1] not in PLANT_WORDS)
                for i, t in enumerate(toks))
    if flag == "vegetarian":
        return meat
    if flag == "vegan":
        return meat or dairy or bool(words & _ANIMAL_WORDS)
    if flag == "dairy_free":
        return dairy
    if flag == "gluten_free":
        return any(t in _GLUTEN_WORDS and (i == 0 or toks[i - 1] not in _GLUTEN_EXCEPT)
                   for i, t in enumerate(toks))
    if flag == "nut_free":
        return bool(words & _NUT_WORDS)
    return False


def diet_violations(recipe: Recipe, diets: Iterable[str], kitchen: Kitchen | None = None) -> list[str]:
    """One message per (ingredient line, diet) that breaks a diet, e.g. "bacon is not vegetarian".

    `diets` uses the names in `DIETS` ("vegetarian", "vegan", "gluten-free", "dairy-free",
    "nut-free"); an unknown diet raises ValueError. Lines the knowledge base does not
    recognise are checked against a short list of obvious meat/fish/dairy/gluten/nut words
    (best effort), so an unknown "chorizo" or "'nduja" still fails vegetarian.
    """
    wanted = [(d.strip().lower(), diet_flag(d)) for d in diets]
    if not wanted:
        return []
    kb = resolve_kitchen(kitchen)
    messages: list[str] = []
    seen: set[str] = set()
    for line in recipe.ingredients:
        if is_header(line):
            continue
        low = fold(line)
        ing = kb.match_line(line)
        toks = tokens(line)
        for diet, flag in wanted:
            if _DIET_EXEMPT_RE[flag].search(low):
                continue
            if ing is not None:
                bad = not getattr(ing, flag)
                what = ing.name
            else:
                bad = _unknown_line_violates(toks, flag)
                what = line.strip()
            label = diet.replace("_", "-")
            msg = f"{what} is not {label}"
            if bad and msg not in seen:
                seen.add(msg)
                messages.append(msg)
    return messages


__all__ = ["DIETS", "diet_violations"]
