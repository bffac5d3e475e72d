"""Recipe text: ingredient lines ("300 g spaghetti", "2 cloves garlic, minced") and step
wording. Pure functions of the dish book's measures, kept apart from the composer's choices.

Imports: `pantry.generators.dishbook`.
"""

from __future__ import annotations

import math
import re

from pantry.generators.dishbook import OPTIONAL, PLACEHOLDER, Measure

__all__ = ["COOKED_PREFIX", "format_line"]

_FRACTIONS = {0.25: "1/4", 0.5: "1/2", 0.75: "3/4"}


def _fraction(x: float) -> str:
    whole = int(x)
    frac = round(x - whole, 2)
    if frac == 0:
        return str(whole)
    f = _FRACTIONS.get(frac)
    if f is None:
        return f"{x:g}"
    return f"{whole} {f}" if whole else f


def _round_to(x: float, step: float) -> float:
    return max(step, round(x / step) * step)


def _plural(word: str) -> str:
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es" if not word.endswith("s") else word
    if word.endswith("o"):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def format_line(name: str, qty: float, unit: str, prep: str | None, measure: Measure | None,
                servings: int | None = None, scale: float = 1.0) -> str:
    """One ingredient line: '300 g spaghetti', '2 cloves garlic, minced', '1 tbsp olive oil'.

    `scale` multiplies the final amount (used to fit a line to what the pantry holds).
    """
    note = prep if prep is not None else (measure.prep if measure else None)
    tail = f", {note}" if note else ""
    if measure is not None and measure.per_serving is not None and servings is not None:
        if measure.per_serving_unit is not None:
            qty, unit = measure.per_serving * servings, measure.per_serving_unit
        else:
            qty, unit = measure.per_serving * servings * (measure.grams or 1), "g"
    qty *= scale
    if unit == "to taste":
        return f"{name}, to taste"
    if unit == "pinch":
        return f"a pinch of {name}{tail}"
    if unit == "g" and measure is not None and measure.grams:
        count = qty / measure.grams
        count = max(1.0, math.ceil(count - 0.15)) if measure.whole else _round_to(count, 0.5)
        if measure.unit:
            u = measure.unit if count <= 1 else (measure.plural or _plural(measure.unit))
            return f"{_fraction(count)} {u} {name}{tail}"
        n = name if count <= 1 else (measure.plural or _plural(name))
        return f"{_fraction(count)} {n}{tail}"
    if unit == "each":
        count = _round_to(qty, 0.5)
        n = name if count <= 1 else ((measure.plural if measure and measure.plural and not measure.unit else None)
                                      or _plural(name))
        return f"{_fraction(count)} {n}{tail}"
    if unit in ("g", "ml"):
        step = 5 if qty < 50 else 10 if qty < 300 else 25
        return f"{int(_round_to(qty, step))} {unit} {name}{tail}"
    if unit == "tsp":
        return f"{_fraction(_round_to(qty, 0.25))} tsp {name}{tail}"
    if unit == "tbsp":
        return f"{_fraction(_round_to(qty, 0.5))} tbsp {name}{tail}"
    if unit == "cup":
        c = _round_to(qty, 0.25)
        return f"{_fraction(c)} {'cup' if c <= 1 else 'cups'} {name}{tail}"
    return f"{qty:g} {unit} {name}{tail}"


def _join(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _title_case(s: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in s.split())


def _fill_step(text: str, words: dict[str, str], minutes: int) -> str:
    def keep(m: re.Match) -> str:
        inner = m.group(1)
        needed = {p.group(1) for p in PLACEHOLDER.finditer(inner)} - {"m"}
        return inner if needed <= set(words) else ""

    text = OPTIONAL.sub(keep, text)
    text = PLACEHOLDER.sub(lambda mm: str(minutes) if mm.group(1) == "m" else words[mm.group(1)], text)
    text = re.sub(r"\b1 minutes\b", "1 minute", " ".join(text.split()))
    text = text.replace(" ,", ",").replace(" .", ".")
    return text[:1].upper() + text[1:]


COOKED_PREFIX = "cooked "


def _cooked_name(canon: str) -> str:
    """How a cooked leftover is named in a recipe: "cooked rice", "cooked chicken"."""
    return COOKED_PREFIX + canon
