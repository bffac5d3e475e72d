"""Recipe versus pantry: what the recipe needs that the pantry lacks, and how much it covers.

`missing_ingredients(recipe, pantry, amounts=...)` -> the ingredient lines (as written) to shop
for; `pantry_coverage(...)` -> the share in [0, 1] of the recipe's non-staple lines the pantry
covers. Staples (salt, pepper, oil, water...) never count as missing; with pantry amounts, a
line that needs more than the pantry holds counts as missing. Used by the reward model's
features, the generators and the UI.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pantry.domain.recipes import Recipe
from pantry.kitchen.amounts import Amount, amount_ratio, line_amount, parse_amount
from pantry.kitchen.knowledge import Ingredient, Kitchen, resolve_kitchen
from pantry.kitchen.pantry_text import PantryItem
from pantry.kitchen.words import is_header, tokens

class _PantryIndex:
    """A pantry as canonical names plus word phrases for items the KB does not know.

    With `amounts` (name -> quantity text or `Amount`), it also tracks how much of each
    ingredient is left as the recipe's lines use it up, so two lines that each need 2 eggs
    from a pantry of 3 leave the second one missing.
    """

    def __init__(self, pantry: Iterable[str], kb: Kitchen, amounts: "Mapping[str, str | Amount] | None" = None):
        self.names: set[str] = set()
        self.phrases: list[tuple[str, ...]] = []
        self.left: dict[str, Amount] = {}
        for key, value in (amounts or {}).items():
            ing = kb.lookup(key) if isinstance(key, str) else None
            amount = value if isinstance(value, Amount) else parse_amount(value)
            if ing is not None and amount is not None:
                self.left[ing.name] = amount
        for raw in pantry:
            if isinstance(raw, PantryItem):
                raw = raw.name
            if not isinstance(raw, str) or not raw.strip():
                continue
            ing = kb.lookup(raw)
            if ing is not None:
                self.names.add(ing.name)
                continue
            toks = tokens(raw)
            if toks:
                self.phrases.append(toks)

    def __bool__(self) -> bool:
        return bool(self.names or self.phrases)

    def has(self, ing: Ingredient | None, line: str) -> bool:
        if ing is not None and ing.name in self.names:
            return self._take(ing, line)
        return bool(self.phrases) and self.has_words(tokens(line))

    def has_words(self, toks: tuple[str, ...]) -> bool:
        """Whether a pantry item the KB does not know appears in these line tokens (`words.tokens`)."""
        for phrase in self.phrases:
            n = len(phrase)
            if any(toks[i:i + n] == phrase for i in range(len(toks) - n + 1)):
                return True
        return False

    def _take(self, ing: Ingredient, line: str) -> bool:
        """Use up the line's amount of `ing`; False when the pantry holds less than it needs."""
        have = self.left.get(ing.name)
        if have is None:
            return True  # no amount given: assume there is enough
        need = line_amount(line)
        ratio = amount_ratio(have, need, ing)
        if ratio is None:
            return True  # not comparable ("1 bag" vs "200 g"): give the benefit of the doubt
        if ratio < 1 - 1e-9:
            return False
        self.left[ing.name] = Amount(have.value * (1 - 1 / ratio), have.unit)
        return True


def _needed_lines(recipe: Recipe, kb: Kitchen) -> list[tuple[str, Ingredient | None]]:
    """The recipe's ingredient lines that need shopping for: not headers, not staples."""
    out = []
    for line in recipe.ingredients:
        if is_header(line):
            continue
        ing = kb.match_line(line)
        if ing is not None and ing.staple:
            continue
        out.append((line, ing))
    return out


def missing_ingredients(recipe: Recipe, pantry: Iterable[str], kitchen: Kitchen | None = None,
                        amounts: "Mapping[str, str | Amount] | None" = None) -> list[str]:
    """The recipe's ingredient lines (as written) that the pantry lacks.

    Staples (salt, pepper, oil, water...) never count as missing. A line whose ingredient
    the KB knows is present when the pantry holds that canonical ingredient; a line the KB
    does not know is present when a pantry item's words appear in it. With `amounts`
    (canonical name -> quantity as typed, e.g. `PantryReading.amounts`), a line that needs
    more than the pantry has left is missing ("6 eggs" with 2 eggs in the pantry); amounts
    that cannot be compared ("1 bag" vs "200 g") count as enough.
    """
    kb = resolve_kitchen(kitchen)
    index = _PantryIndex(pantry, kb, amounts)
    return [line for line, ing in _needed_lines(recipe, kb) if not index.has(ing, line)]


def pantry_coverage(recipe: Recipe, pantry: Iterable[str], kitchen: Kitchen | None = None,
                    amounts: "Mapping[str, str | Amount] | None" = None) -> float:
    """Share in [0, 1] of the recipe's non-staple ingredient lines that the pantry covers.

    1.0 when the recipe needs nothing beyond staples (even with an empty pantry: nothing
    is missing); otherwise 0.0 for an empty pantry. `amounts` as in `missing_ingredients`.
    """
    kb = resolve_kitchen(kitchen)
    needed = _needed_lines(recipe, kb)
    if not needed:
        return 1.0
    index = _PantryIndex(pantry, kb, amounts)
    if not index:
        return 0.0
    have = sum(1 for line, ing in needed if index.has(ing, line))
    return have / len(needed)


__all__ = ["missing_ingredients", "pantry_coverage"]
