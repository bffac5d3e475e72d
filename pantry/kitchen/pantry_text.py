"""The pantry box: free text ("2 eggs, half an onion, leftover rice") -> canonical items.

- `parse_pantry(text)` -> `PantryItem`s: canonical names where the knowledge base knows the
  item (unknown ones kept as typed), quantities as typed, cooked leftovers marked;
- `read_pantry(text, extra_items)` -> a `PantryReading`: what the UI and the generators need
  from the pantry box in one call (canonical names, amounts, cooked leftovers, what was not
  understood and a plain note when little was).

A person's unknown item is better reported as unknown than matched wrongly: an item matches
an ingredient only when its other words are harmless modifiers ("baby spinach", "free-range
eggs"), so "salsa di soia" stays unknown instead of becoming salsa.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from pantry.domain.votes import MAX_PANTRY_ITEMS  # one limit for pantry lists everywhere
from pantry.errors import InvalidInput
from pantry.kitchen.amounts import LEADING_NUM_RE, split_quantity
from pantry.kitchen.knowledge import Ingredient, Kitchen, resolve_kitchen
from pantry.kitchen.words import clean_name, fold, tokens


class EmptyPantry(InvalidInput):
    """The pantry text names nothing: blank, or only separators, bullets or markup."""


_SPLIT_RE = re.compile(r"[\n;,]|\s+(?:and|&|\+|plus)\s+", re.IGNORECASE)
# markup pasted from a web page or an editor: a script or style block goes whole, any other
# line-like tag ("<br>", "<li>", "</p>") separates items as a new line does, any other tag
# ("<b>", "</i>") separates words; "a<b" or "<3 eggs" are not tags
_SCRIPT_RE = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG_RE = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
_BLOCK_TAG_RE = re.compile(r"</?(?:br|p|li|div|tr|td|th|ul|ol|h[1-6])\b[^<>]*>", re.IGNORECASE)
_BULLET_RE = re.compile(r"^(?:[-*•·–—>]+|\d+[.)](?=\s+\D)|\[[ xX]?\])\s*")
_QUALIFIERS = frozenset("""
leftover leftovers some frozen fresh freshly dried canned tinned jarred bottled chopped cooked raw
organic large small medium big little huge tiny ripe overripe old stale half-used opened unopened
homemade store-bought storebought extra whole sliced diced minced grated shredded bagged loose
spare remaining few bit of my the an a plenty lots more left over about approx approximately
""".split())
_QUALIFIER_PHRASES = ("left over", "store bought", "a few", "a bit of")
# Words that say a pantry item is already cooked ("leftover rice", "cooked chicken").
_COOKED_RE = re.compile(r"\b(?:leftovers?|left[\s-]+over|cooked|day[\s-]+old|roast(?:ed)?|grilled|boiled|steamed|poached)\b")
# Words that may sit around a known ingredient without making it another food: "baby spinach",
# "free-range eggs", "smoked paprika". A pantry item whose extra words are not all in this list
# is kept as unknown instead of being matched on one of its words ("salsa di soia" is not salsa).
_HARMLESS_WORDS = frozenset(tokens("""
leftover leftovers left over cooked day old roast roasted grilled boiled steamed poached fried baked
fresh freshly frozen dried canned tinned jarred bottled chopped diced sliced minced grated shredded
crushed ground whole raw ripe organic free range large small medium big baby mini jumbo young
red green yellow orange white black brown purple golden dark light pale pink
plain natural unsalted salted skimmed semi skimmed full fat low reduced lean extra virgin
greek italian spanish french english british chinese japanese thai indian mexican
mature mild strong smoked unsmoked boneless skinless bone skin on peeled unpeeled
pack packet bag box tin can jar bottle bunch head some few bit of my the a an
"""))


@dataclass(frozen=True)
class PantryItem:
    """One thing a person said they have.

    `name` is the canonical ingredient name when the knowledge base knows it (`known`),
    else the cleaned lowercase text, so nothing the person typed is silently dropped.
    """

    name: str
    known: bool
    quantity: str | None
    raw: str
    cooked: bool = False  # typed as already cooked: "leftover rice", "cooked chicken"


def _clean_control(text: str) -> str:
    """Drop control and format characters (keeping line breaks and tabs as separators)."""
    out = []
    for ch in text:
        if ch == "\n":
            out.append(ch)
        elif ch == "\t":
            out.append(" ")
        elif ch == "\r":
            out.append("\n")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co"):
            continue
        else:
            out.append(ch)
    return "".join(out)


def _strip_qualifiers(text: str) -> str:
    for phrase in _QUALIFIER_PHRASES:
        text = re.sub(rf"\b{phrase}\b", " ", text)
    words = text.split()
    while words and words[0] in _QUALIFIERS:
        words.pop(0)
    return " ".join(words)


def _parse_item(raw: str, kitchen: Kitchen) -> PantryItem | None:
    text = _BULLET_RE.sub("", raw.strip()).strip()
    text = clean_name(text.lower())
    if not text:
        return None
    qty, rest = split_quantity(text)
    rest = clean_name(rest)
    # Qualifiers again after a quantity: "some frozen peas", "2 large eggs".
    core = clean_name(_strip_qualifiers(rest))
    if not core:
        core = rest or text
    # A second quantity after qualifiers ("a bag of frozen peas" is handled above; "leftover 2 cups rice").
    if qty is None and core != rest:
        q2, r2 = split_quantity(core)
        if q2 and r2.strip():
            qty, core = q2, clean_name(_strip_qualifiers(r2))
    cooked = bool(_COOKED_RE.search(fold(text)))
    # With the container kept first: "3 x tins of tomatoes" names canned tomatoes.
    with_unit = clean_name(LEADING_NUM_RE.sub("", text))
    for candidate in (with_unit, rest, core):
        ing = kitchen.lookup(candidate) if candidate else None
        if ing is not None:
            return PantryItem(name=ing.name, known=True, quantity=qty, raw=raw.strip(), cooked=cooked)
    ing = _match_with_harmless_words(core, kitchen)
    if ing is not None:
        return PantryItem(name=ing.name, known=True, quantity=qty, raw=raw.strip(), cooked=cooked)
    if not core:
        return None
    return PantryItem(name=core, known=False, quantity=qty, raw=raw.strip(), cooked=cooked)


def _match_with_harmless_words(text: str, kitchen: Kitchen) -> Ingredient | None:
    """The ingredient named in `text` when every other word is a harmless modifier, else None.

    "baby spinach leaves" -> spinach would need "leaves" to be harmless (it is not listed, so
    the alias index must know the phrase); "salsa di soia" -> None, because "di soia" changes
    what the food is. A person's unknown item is better reported as unknown than matched wrongly.
    """
    toks = tokens(text)
    if not toks:
        return None
    best: tuple[int, int, Ingredient] | None = None  # (length, start, ingredient)
    covered = 0  # tokens before this index are inside an unlisted food's name ("ground cherries")
    for i in range(len(toks)):
        covered = max(covered, i + kitchen.unlisted_at(toks, i))
        match = kitchen.match_at(toks, i)
        if match is not None and i + match[0] <= covered:
            continue
        if match is not None and (best is None or match[0] >= best[0]):
            best = (match[0], i, match[1])  # longest wins; between equals, the rightmost
    if best is None:
        return None
    n, i, ing = best
    others = toks[:i] + toks[i + n:]
    return ing if all(t in _HARMLESS_WORDS for t in others) else None


def parse_pantry(text: str, kitchen: Kitchen | None = None, max_chars: int = 5000) -> list[PantryItem]:
    """Parse free pantry text ("2 eggs, half an onion, spinach") into canonical items.

    Items are separated by commas, semicolons, new lines and " and "/" & ". Quantities,
    units and qualifiers ("leftover", "some frozen", "a bunch of", "3 x tins of") are
    removed from the name and kept in `quantity`. Unknown items are kept (known=False).
    Markup pasted with the list is read past: tags separate words, script and style blocks
    are dropped. Duplicates (same name) keep the first. Raises `InvalidInput` when the text is empty,
    longer than `max_chars`, or lists more than 200 items.
    """
    if not isinstance(text, str):
        raise InvalidInput(f"pantry must be text, got {type(text).__name__}")
    if len(text) > max_chars:
        raise InvalidInput(f"pantry text is {len(text)} characters (limit {max_chars})")
    cleaned = _TAG_RE.sub(" ", _BLOCK_TAG_RE.sub("\n", _SCRIPT_RE.sub(" ", _clean_control(text))))
    if not cleaned.strip():
        raise EmptyPantry("pantry is empty: list what you have, e.g. 'eggs, rice, spinach'")
    pieces = [p for p in _SPLIT_RE.split(cleaned) if p and p.strip()]
    if len(pieces) > MAX_PANTRY_ITEMS:
        raise InvalidInput(f"pantry lists {len(pieces)} items (limit {MAX_PANTRY_ITEMS})")
    kb = resolve_kitchen(kitchen)
    items: list[PantryItem] = []
    seen: set[str] = set()
    for piece in pieces:
        item = _parse_item(piece, kb)
        if item is None or item.name in seen:
            continue
        seen.add(item.name)
        items.append(item)
    if not items:
        raise EmptyPantry("pantry is empty: list what you have, e.g. 'eggs, rice, spinach'")
    return items


def pantry_names(items: Iterable[PantryItem]) -> tuple[str, ...]:
    """The names of parsed pantry items, in order."""
    return tuple(item.name for item in items)


@dataclass(frozen=True)
class PantryReading:
    """What a pantry text box means, in the form the UI and the generators use.

    - `names`: canonical names of the recognised items (typed ones first, then `extra_items`);
    - `amounts`: canonical name -> quantity as typed ("2", "half", "200 g"), only for items with
      a quantity; pass it as `GenerationRequest.amounts` and to `missing_ingredients`;
    - `cooked`: canonical names typed as already cooked ("leftover rice"); pass it as
      `GenerationRequest.cooked`;
    - `unknown`: the items not recognised, as typed;
    - `recognised`: how many distinct items were recognised;
    - `note`: "" or one plain sentence for the person when nothing or little was recognised
      (what was not understood and what the recipes are then based on);
    - `items`: the parsed typed items themselves.
    `pantry` is `names` plus the unknown items' cleaned text: what to pass as
    `GenerationRequest.pantry` (an LLM can still use an unknown item; the composer ignores it).
    """

    names: tuple[str, ...]
    amounts: dict[str, str]
    cooked: tuple[str, ...]
    unknown: tuple[str, ...]
    recognised: int
    note: str
    items: tuple[PantryItem, ...] = ()

    @property
    def pantry(self) -> tuple[str, ...]:
        extra = tuple(i.name for i in self.items if not i.known and i.name not in self.names)
        return self.names + extra


def read_pantry(text: str, extra_items: Iterable[str] = (), kitchen: Kitchen | None = None,
                max_chars: int = 5000) -> PantryReading:
    """Read the pantry box (free text) plus items picked from a list, for the UI in one call.

    Empty text is fine (no error): the reading then holds only `extra_items`; so is text with
    nothing but separators, bullets or markup (",,, ;" or a bare list of dashes), read as
    empty. Too long text or too many items raise `InvalidInput`, as in `parse_pantry`.
    `extra_items` are ingredient names (canonical or alias); one the knowledge base does not
    know goes to `unknown`.
    """
    kb = resolve_kitchen(kitchen)
    try:
        items = parse_pantry(text, kb, max_chars) if isinstance(text, str) and _clean_control(text).strip() else []
    except EmptyPantry:
        items = []
    if text is not None and not isinstance(text, str):
        raise InvalidInput(f"pantry must be text, got {type(text).__name__}")
    names: list[str] = []
    amounts: dict[str, str] = {}
    cooked: list[str] = []
    unknown: list[str] = []
    for item in items:
        if not item.known:
            unknown.append(item.raw)
            continue
        names.append(item.name)
        if item.quantity:
            amounts[item.name] = item.quantity
        if item.cooked:
            cooked.append(item.name)
    for extra in extra_items:
        ing = kb.lookup(extra) if isinstance(extra, str) else None
        if ing is None:
            if isinstance(extra, str) and extra.strip() and extra.strip() not in unknown:
                unknown.append(extra.strip())
        elif ing.name not in names:
            names.append(ing.name)
    return PantryReading(names=tuple(names), amounts=amounts, cooked=tuple(cooked), unknown=tuple(unknown),
                         recognised=len(names), note=_pantry_note(names, unknown), items=tuple(items))


NOTE_ITEM_CHARS = 40  # an unrecognised item is quoted at most this long in the note (a pasted essay is one item)


def _pantry_note(names: list[str], unknown: list[str]) -> str:
    """A plain sentence when nothing or little of the pantry was understood, else ""."""
    shown = [u if len(u) <= NOTE_ITEM_CHARS else u[:NOTE_ITEM_CHARS - 1] + "…" for u in unknown[:8]]
    listed = ", ".join(shown) + (f" and {len(unknown) - 8} more" if len(unknown) > 8 else "")
    if not names and not unknown:
        return "No pantry given: recipes are made from common staples."
    if not names:
        return f"None of these were recognised as ingredients: {listed}. Recipes are made from common staples."
    if len(unknown) > len(names):
        have = ", ".join(names)
        return (f"Only {len(names)} of {len(names) + len(unknown)} items were recognised; not recognised: "
                f"{listed}. Recipes are based on {have} and common staples.")
    return ""


__all__ = ["PantryItem", "PantryReading", "pantry_names", "parse_pantry", "read_pantry"]
