"""Near-duplicate recipes: the rule, and a filter that keeps the first of each group.

Used wherever two recipes should really differ: a batch from a generator, the pair shown
to a user, a best-of-N list.

The rule (`near_duplicate(a, b, threshold=0.8)`):

1. Recipes with the same id, or the same content id (title + ingredients + steps, see
   `recipes.content_id`), are duplicates.
2. Otherwise two similarities in [0, 1] are combined:
   - ingredients `J`: Jaccard similarity of the canonical ingredient sets. Each line is
     mapped to a kitchen ingredient with `Kitchen.match_line` ("2 cloves garlic, minced"
     -> "garlic"); a line the kitchen does not know falls back to its lowercased words
     without numbers, units and preparation words ("1 pack gochujang" -> "gochujang").
     Quantities therefore never matter: the same dish for 2 or for 4 is a duplicate.
   - title `T`: Jaccard similarity of lowercased title words, without filler words
     ("and", "with", ...).
   - method `M`: Jaccard similarity of the content words of the steps (only when both
     recipes have a method of at least 8 content words). `score = max(0.75 * J + 0.25 * T, 0.5 * J + 0.5 * M)`: the second
     term catches one template with one ingredient swapped ("Tomato and Feta Frittata" vs
     "Tomato Frittata with Basil": same steps word for word, parsley vs basil), which a
     person sees as the same dish under another name.
   - dish `D`: the same dish under another title. `main` is the set of ingredients that make
     the dish (canonical, leaving out staples, herbs, spices, oils, sweeteners and baking
     basics); when both recipes have a method, `D = 0.6 * O + 0.4 * M`, where `O` is the
     share of the smaller `main` found in the other (an extra side or topping does not make
     another dish). An egg,
     spinach and onion frittata with or without goat cheese, called "Spinach and Red Onion
     Frittata" or "Fluffy Goat Cheese Frittata", is one dish: D >= 0.8. A frittata and an
     omelette of the same eggs and spinach are two (their methods differ).
   `score = max(0.75 * J + 0.25 * T, 0.5 * J + 0.5 * M, D)`.
   The recipes are near-duplicates when `score >= threshold`.
   With the default 0.8, identical ingredient sets need at least a fifth of the title words
   in common; different titles over almost the same ingredients (J >= 0.9, T >= 0.5) or
   the same title over largely the same ingredients (J >= 0.74) also count.

Within a session (`fresh_for_session`, used by the Compare round) two looser notions count
too: the same *dish family* (`same_family`: methods sharing at least
FAMILY_METHOD_SIMILARITY of their content words: an omelette and another omelette) and the
same *dish* (the same family over at least two thirds of the smaller `main`: "Savoury Tofu
Fried Rice" and "Broccoli Fried Rice with Tofu"). A dish shown in the last rounds is not
shown again, and a family takes at most a fair share of the recent rounds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

from pantry.domain.recipes import Recipe, content_id
from pantry.kitchen.knowledge import Kitchen, resolve_kitchen

INGREDIENT_WEIGHT = 0.75
TITLE_WEIGHT = 0.25
DEFAULT_THRESHOLD = 0.8
METHOD_INGREDIENT_WEIGHT = 0.5
MIN_METHOD_WORDS = 8  # a one-line method ('Cook.') says nothing about sameness
DISH_MAIN_WEIGHT = 0.6
# Kitchen categories that flavour a dish rather than make it (left out of `Signature.main`).
MINOR_CATEGORIES = frozenset({"herb", "spice", "oil", "sweetener", "baking"})
# Two methods this alike (Jaccard of their content words) are one kind of dish. Measured on
# composed recipes: 97% of same-family pairs reach it, 0.05% of other pairs.
FAMILY_METHOD_SIMILARITY = 0.45
SAME_DISH_MAIN_OVERLAP = 2 / 3
# In a session: a family at most this many times among the recent recipes, and not again
# within this many of the latest ones (two rounds).
FAMILY_CAP = 2
FAMILY_GAP = 4

_TITLE_STOP = frozenset("a an and the with of in on for to or style easy simple quick".split())
_LINE_STOP = frozenset(
    """a an and or of the to taste for serving optional about some few
    g kg mg ml l litre litres liter liters tsp tbsp teaspoon teaspoons tablespoon tablespoons cup cups
    oz ounce ounces lb lbs pound pounds pinch pinches handful handfuls can cans tin tins pack packs
    packet packets bunch bunches clove cloves slice slices piece pieces large small medium
    chopped diced sliced minced grated crushed peeled drained rinsed halved quartered torn
    finely roughly thinly fresh freshly ground dried cooked beaten melted softened juiced zested
    into cut plus extra more""".split())
_WORD = re.compile(r"[a-zà-ÿ]+")


def title_tokens(title: str) -> frozenset[str]:
    return frozenset(w for w in _WORD.findall(title.lower()) if w not in _TITLE_STOP)


def jaccard(a: Iterable[str] | frozenset[str], b: Iterable[str] | frozenset[str]) -> float:
    a = a if isinstance(a, frozenset) else frozenset(a)
    b = b if isinstance(b, frozenset) else frozenset(b)
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def overlap(a: frozenset[str], b: frozenset[str]) -> float:
    """Share of the smaller set found in the other (1.0 when one holds all of the other)."""
    if not a or not b:
        return 1.0 if a == b else 0.0
    return len(a & b) / min(len(a), len(b))


def similarity_score(ingredient_sim: float, title_sim: float) -> float:
    return INGREDIENT_WEIGHT * ingredient_sim + TITLE_WEIGHT * title_sim


def canonical_line(line: str, kitchen: Kitchen | None = None) -> str:
    """The canonical ingredient a line names, or its content words when the kitchen does not know it.

    `kitchen`: the knowledge base to match with (None: the shared default). A knowledge base
    that cannot be loaded raises its `InvalidInput`; nothing here hides it.
    """
    return _canonical_line(line, resolve_kitchen(kitchen))


@lru_cache(maxsize=65536)
def _canonical_line(line: str, kitchen: Kitchen) -> str:
    ing = kitchen.match_line(line)
    if ing is not None:
        return ing.name
    words = [w for w in _WORD.findall(line.lower().split(",")[0]) if w not in _LINE_STOP]
    return " ".join(words) or line.strip().lower()


@dataclass(frozen=True)
class Signature:
    """What the rule compares, computed once per recipe (reuse it when comparing many)."""

    id: str
    content_id: str
    ingredients: frozenset[str]
    title: frozenset[str]
    method: frozenset[str]
    main: frozenset[str] = frozenset()  # the ingredients that make the dish (see module docstring)


def _is_main(name: str, kitchen: Kitchen) -> bool:
    ing = kitchen.get(name)
    return ing is None or not (ing.staple or ing.category in MINOR_CATEGORIES)


def signature(recipe: Recipe, kitchen: Kitchen | None = None) -> Signature:
    """What the rule compares for `recipe`; `kitchen` as in `canonical_line`."""
    kb = resolve_kitchen(kitchen)
    ingredients = frozenset(_canonical_line(line, kb) for line in recipe.ingredients)
    return Signature(
        id=recipe.id,
        content_id=content_id(recipe.title, recipe.ingredients, recipe.steps),
        ingredients=ingredients,
        main=frozenset(n for n in ingredients if _is_main(n, kb)),
        title=title_tokens(recipe.title),
        method=frozenset(w for step in recipe.steps for w in _WORD.findall(step.lower())
                         if len(w) > 2 and w not in _LINE_STOP),
    )


def signature_similarity(a: Signature, b: Signature) -> float:
    if a.id == b.id or a.content_id == b.content_id:
        return 1.0
    j = jaccard(a.ingredients, b.ingredients)
    score = similarity_score(j, jaccard(a.title, b.title))
    if len(a.method) >= MIN_METHOD_WORDS and len(b.method) >= MIN_METHOD_WORDS:
        m = jaccard(a.method, b.method)
        score = max(score, METHOD_INGREDIENT_WEIGHT * j + (1 - METHOD_INGREDIENT_WEIGHT) * m)
        if a.main and b.main:
            score = max(score, DISH_MAIN_WEIGHT * overlap(a.main, b.main) + (1 - DISH_MAIN_WEIGHT) * m)
    return score


def similarity(a: Recipe, b: Recipe, kitchen: Kitchen | None = None) -> float:
    """The combined similarity score in [0, 1] (1.0 for the same id or content)."""
    return signature_similarity(signature(a, kitchen), signature(b, kitchen))


def near_duplicate(a: Recipe, b: Recipe, threshold: float = DEFAULT_THRESHOLD,
                   kitchen: Kitchen | None = None) -> bool:
    """True when `a` and `b` are the same dish for practical purposes (see module docstring)."""
    return similarity(a, b, kitchen) >= threshold


def drop_near_duplicates(recipes: Iterable[Recipe], threshold: float = DEFAULT_THRESHOLD,
                         kitchen: Kitchen | None = None) -> list[Recipe]:
    """The recipes in order, leaving out any that is a near-duplicate of one kept before it."""
    kept: list[Recipe] = []
    sigs: list[Signature] = []
    for r in recipes:
        sig = signature(r, kitchen)
        if not any(signature_similarity(sig, k) >= threshold for k in sigs):
            kept.append(r)
            sigs.append(sig)
    return kept


def same_family(a: Signature, b: Signature) -> bool:
    """True when two recipes are the same kind of dish: both have a real method and the
    methods share at least FAMILY_METHOD_SIMILARITY of their content words."""
    if len(a.method) < MIN_METHOD_WORDS or len(b.method) < MIN_METHOD_WORDS:
        return False
    return jaccard(a.method, b.method) >= FAMILY_METHOD_SIMILARITY


def same_dish(a: Signature, b: Signature) -> bool:
    """The same family over largely the same main ingredients (whatever the titles say)."""
    return same_family(a, b) and bool(a.main) and overlap(a.main, b.main) >= SAME_DISH_MAIN_OVERLAP


def fresh_for_session(recipes: Iterable[Recipe], recent: Iterable[Recipe], kitchen: Kitchen | None = None,
                      cap: int = FAMILY_CAP, gap: int = FAMILY_GAP) -> list[Recipe]:
    """The candidates a session has not had enough of: leaves out a recipe that is the same
    dish (`same_dish`) as one in `recent` (oldest first), one of the same family as any of
    the last `gap` recent recipes, and one whose family already holds `cap` of them."""
    recent_sigs = [signature(r, kitchen) for r in recent]
    return [r for r in recipes if not session_conflict(signature(r, kitchen), recent_sigs, cap, gap)]


def session_conflict(sig: Signature, recent: list[Signature], cap: int = FAMILY_CAP, gap: int = FAMILY_GAP) -> bool:
    """True when a recipe (its signature) should not follow `recent` (oldest first): the same
    dish as one of them, the same family as one of the last `gap`, or a family that already
    holds `cap` of them (see `fresh_for_session`)."""
    family = [same_family(sig, o) for o in recent]
    if sum(family) >= cap or (gap and any(family[-gap:])):
        return True
    return any(f and same_dish(sig, o) for f, o in zip(family, recent))
