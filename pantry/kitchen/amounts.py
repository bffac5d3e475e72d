"""Quantities: where they are in text, and what they mean as numbers.

- `split_quantity("2 eggs")` -> ("2", "eggs"); `split_quantity("half an onion")` -> ("half", "onion"):
  the quantity words at the start (or end) of a pantry item or an ingredient line;
- `parse_amount("half")`, `parse_amount("200 g")`: a quantity as an `Amount` in a base unit,
  so that "2 eggs" in the pantry and "6 eggs" in a recipe can be compared;
- `line_amount("2 cloves garlic")`: the amount a recipe ingredient line asks for;
- `amount_ratio(have, need, ingredient)`: have / need in a common unit (pieces and grams
  compare through the ingredient's typical piece weight).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pantry.kitchen.knowledge import Ingredient
from pantry.kitchen.words import clean_name, fold, singular

# ---------------------------------------------------------------------------
# Quantity syntax: "2", "1 1/2", "½", "half a dozen", "a bag of", "3 x tins of", "(400 g)"

_NUM = r"(?:\d+\s+\d+/\d+|\d+/\d+|\d+(?:\.\d+)?|\d*[½⅓⅔¼¾⅛⅜⅝⅞])"
_WORD_QTY = (
    r"half\s+a\s+dozen|a\s+dozen|dozen|a\s+half|half(?:\s+an?)?|a\s+quarter(?:\s+of)?|quarter(?:\s+of)?"
    r"|a\s+couple(?:\s+of)?|couple(?:\s+of)?|a\s+few|few|several|some|lots\s+of|a\s+lot\s+of|plenty\s+of"
    r"|a\s+little(?:\s+bit\s+of)?|a\s+bit\s+of|a\s+bit|loads\s+of|a\s+handful\s+of|a\s+pinch\s+of"
    r"|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|an|a"
)
_UNITS = (
    r"kg|kgs|kilos?|kilograms?|g|gr|grams?|grammes?|mg|oz|ounces?|lbs?|pounds?|ml|millilit(?:er|re)s?|cl"
    r"|l|lit(?:er|re)s?|cups?|tbsps?|tbs|tablespoons?|tsps?|teaspoons?|pints?|quarts?|gallons?"
    r"|cans?|tins?|jars?|bags?|box(?:es)?|packets?|packs?|packages?|pkgs?|bunch(?:es)?|heads?"
    r"|bottles?|cartons?|loa(?:f|ves)|slices?|sticks?|pieces?|handfuls?|pinch(?:es)?|dash(?:es)?"
    r"|sprigs?|stalks?|blocks?|bulbs?|knobs?|tubs?|containers?|punnets?|sacks?|bowls?|lumps?|cloves?"
    r"|dozens?|pots?|sachets?|rolls?|wedges?|portions?|servings?|bars?|boxes|cubes?|fillets?|rashers?"
    r"|strips?|ears?|racks?|wheels?|wedges?|scoops?|spoonfuls?"
)
_QTY_RE = re.compile(
    rf"^(?P<qty>(?:{_NUM}|(?:{_WORD_QTY})\b)(?:\s*(?:-|to)\s*{_NUM})?)"
    rf"(?:\s*x\b)?\s*(?P<unit>(?:{_UNITS})\b\.?)?\s*(?:of\s+)?",
    re.IGNORECASE,
)
LEADING_NUM_RE = re.compile(rf"^{_NUM}\s*(?:x\b)?\s*", re.IGNORECASE)
_UNIT_ONLY_RE = re.compile(rf"^(?P<unit>(?:{_UNITS}))\s+of\s+", re.IGNORECASE)
_TRAILING_QTY_RE = re.compile(
    rf"\s*(?:[x×]\s*(?P<n1>\d+)|\((?P<n2>[^)]*)\)|(?P<n3>{_NUM})\s*(?P<u3>(?:{_UNITS}))\.?)\s*$",
    re.IGNORECASE,
)


def split_quantity(item: str) -> tuple[str | None, str]:
    """("2 eggs") -> ("2", "eggs"); ("half an onion") -> ("half", "onion")."""
    qty: str | None = None
    m = _QTY_RE.match(item)
    if m and m.group("qty") and (m.end() < len(item)):
        words = m.group("qty").lower()
        words = re.sub(r"\s+of$", "", words)
        if words in ("a", "an") and not m.group("unit"):
            words = "1"
        elif words in ("half a", "half an"):
            words = "half"
        unit = (m.group("unit") or "").rstrip(".").lower()
        qty = " ".join(p for p in (words, unit) if p) or None
        item = item[m.end():]
    else:
        m = _UNIT_ONLY_RE.match(item)
        if m:
            qty = m.group("unit").lower()
            item = item[m.end():]
    m = _TRAILING_QTY_RE.search(item)
    if m and m.start() > 0:
        trail = m.group("n1") or m.group("n2") or " ".join(p for p in (m.group("n3"), m.group("u3")) if p)
        trail = (trail or "").strip()
        if trail and qty is None and any(ch.isdigit() for ch in trail):
            qty = trail
        item = item[:m.start()]
    return qty, item


# ---------------------------------------------------------------------------
# Amounts: "2", "half", "200 g", "1 1/2 cups" as numbers in comparable units


@dataclass(frozen=True)
class Amount:
    """A quantity in a base unit: "" = pieces, "g", "ml", or another measure word ("can", "bunch")."""

    value: float
    unit: str


_WORD_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "half": 0.5, "a half": 0.5,
    "a quarter": 0.25, "quarter": 0.25, "a couple": 2, "couple": 2, "a dozen": 12, "dozen": 12,
    "half a dozen": 6,
}
_UNICODE_FRACTIONS = {"½": 0.5, "⅓": 1 / 3, "⅔": 2 / 3, "¼": 0.25, "¾": 0.75, "⅛": 0.125, "⅜": 0.375,
                      "⅝": 0.625, "⅞": 0.875}
# unit word (singular) -> (base unit, factor)
_UNIT_BASE: dict[str, tuple[str, float]] = {
    "g": ("g", 1), "gr": ("g", 1), "gram": ("g", 1), "gramme": ("g", 1), "kg": ("g", 1000), "kgs": ("g", 1000),
    "kilo": ("g", 1000), "kilogram": ("g", 1000), "mg": ("g", 0.001), "oz": ("g", 28.35), "ounce": ("g", 28.35),
    "lb": ("g", 453.6), "lbs": ("g", 453.6), "pound": ("g", 453.6),
    "ml": ("ml", 1), "milliliter": ("ml", 1), "millilitre": ("ml", 1), "cl": ("ml", 10), "l": ("ml", 1000),
    "liter": ("ml", 1000), "litre": ("ml", 1000), "cup": ("ml", 240), "tbsp": ("ml", 15), "tb": ("ml", 15),
    "tablespoon": ("ml", 15), "tsp": ("ml", 5), "teaspoon": ("ml", 5), "pint": ("ml", 473), "quart": ("ml", 946),
    "gallon": ("ml", 3785), "each": ("", 1), "piece": ("", 1), "dozen": ("", 12),
    "tin": ("can", 1), "can": ("can", 1), "packet": ("pack", 1), "pack": ("pack", 1), "package": ("pack", 1),
    "pkg": ("pack", 1),
}
_VAGUE = frozenset({"some", "few", "a few", "several", "lots of", "a lot of", "plenty of", "a little",
                    "a little bit of", "a bit of", "a bit", "loads of", "plenty", "lots"})


def _number(text: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    total = 0.0
    for part in text.split():
        if part in _UNICODE_FRACTIONS:
            total += _UNICODE_FRACTIONS[part]
        elif part[:-1].isdigit() and part[-1] in _UNICODE_FRACTIONS:
            total += int(part[:-1]) + _UNICODE_FRACTIONS[part[-1]]
        elif re.fullmatch(r"\d+/\d+", part):
            a, b = part.split("/")
            if int(b) == 0:
                return None
            total += int(a) / int(b)
        elif re.fullmatch(r"\d+(?:\.\d+)?", part):
            total += float(part)
        else:
            return None
    return total


def parse_amount(quantity: str | None) -> Amount | None:
    """A pantry or recipe quantity as an `Amount`, or None when it says no clear amount.

    "2" -> 2 pieces; "half" -> 0.5 pieces; "200 g" / "0.2 kg" -> 200 g; "1 cup" -> 240 ml;
    "3 tins" -> 3 cans; "half a dozen" -> 6 pieces; "2-3" -> 2 (the lower end: never assume
    more than was said). Vague words ("some", "a few", "a bunch" of something) give None or a
    count in their own unit ("1 bunch"), which only compares with the same unit.
    """
    if not quantity or not isinstance(quantity, str):
        return None
    q = re.sub(r"\s+", " ", fold(quantity).strip().rstrip("."))
    q = re.sub(r"\s*(?:-|to)\s*\d[\d./ ]*(?=\s|$)", " ", q).strip()  # ranges: keep the lower end
    if not q or q in _VAGUE:
        return None
    value: float | None = None
    rest = ""
    for words in sorted(_WORD_NUMBERS, key=len, reverse=True):
        if q == words or q.startswith(words + " "):
            value, rest = float(_WORD_NUMBERS[words]), q[len(words):].strip()
            break
    if value is None:
        m = re.match(r"^((?:\d+\s+)?(?:\d+/\d+|\d+(?:\.\d+)?)?[½⅓⅔¼¾⅛⅜⅝⅞]?)\s*(.*)$", q)
        num = _number(m.group(1)) if m else None
        if num is None:
            return None
        value, rest = num, m.group(2).strip()
    rest = re.sub(r"^(?:x\s*)?(?:of\s+)?", "", rest).strip()
    if not rest:
        return Amount(value, "")
    unit = singular(rest.split()[0].rstrip("."))
    if unit in _UNIT_BASE:
        base, factor = _UNIT_BASE[unit]
        return Amount(value * factor, base)
    return Amount(value, unit)


def line_amount(line: str) -> Amount | None:
    """The amount a recipe ingredient line asks for: "2 cloves garlic, minced" -> 2 cloves."""
    qty, _ = split_quantity(clean_name(fold(line)))
    return parse_amount(qty)


def amount_ratio(have: Amount | None, need: Amount | None, ingredient: Ingredient | None = None) -> float | None:
    """have / need in a common unit, or None when the two cannot be compared.

    Pieces and grams compare through the ingredient's `piece_grams` ("2" eggs vs "150 g" eggs);
    volumes and grams through its `grams_per_ml` ("1 cup" rice = 240 ml x 0.78 = 187 g, enough
    for "160 g rice"); pieces and volumes through both.
    """
    if have is None or need is None or need.value <= 0:
        return None
    if have.unit == need.unit:
        return have.value / need.value
    h, n = _grams(have, ingredient), _grams(need, ingredient)
    return h / n if h is not None and n else None


def _grams(amount: Amount, ingredient: Ingredient | None) -> float | None:
    """The amount in grams, when its unit and the ingredient's weights allow it."""
    if amount.unit == "g":
        return amount.value
    if ingredient is None:
        return None
    if amount.unit == "" and ingredient.piece_grams:
        return amount.value * ingredient.piece_grams
    if amount.unit == "ml" and ingredient.grams_per_ml:
        return amount.value * ingredient.grams_per_ml
    return None


__all__ = ["Amount", "amount_ratio", "line_amount", "parse_amount", "split_quantity"]
