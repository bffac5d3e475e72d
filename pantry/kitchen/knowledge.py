"""Ingredient knowledge and pantry parsing.

What this module knows: a small kitchen knowledge base (`data/ingredients.json`) of
canonical ingredient names with aliases (plurals, synonyms, UK/US names), a category,
diet flags and whether the ingredient is a staple that almost every kitchen has.

What it does with that knowledge:
- `Kitchen.lookup("tomatoes")` -> the `tomato` ingredient (a name typed by a person);
- `Kitchen.match_line("1 (15-ounce) can chickpeas, drained")` -> `chickpea` (the ingredient
  named in a recipe's ingredient line);
- `parse_pantry("2 eggs, half an onion")` -> canonical pantry items with quantities;
- `read_pantry(text, extra_items)` -> a `PantryReading`: what the UI and the generators need
  from the pantry box in one call (canonical names, amounts, cooked leftovers, what was not
  understood and a plain note when little was);
- `parse_amount("half")`, `line_amount("2 cloves garlic")`: quantities as numbers, so that
  "2 eggs" in the pantry and "6 eggs" in a recipe can be compared;
- `diet_violations`, `missing_ingredients`, `pantry_coverage`: recipe-versus-diet and
  recipe-versus-pantry checks used by the reward model's features, the generators and the UI.
  With pantry amounts, a line that needs more than the pantry holds counts as missing.

Matching is deliberately simple and predictable (word tokens, a rule-based singular, longest
alias wins) rather than clever: the same text always gives the same answer, and it is fast
enough to run over thousands of recipe lines (an alias index plus a per-Kitchen cache).
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pantry.errors import InvalidInput
from pantry.domain.recipes import Recipe
from pantry.domain.votes import MAX_PANTRY_ITEMS  # one limit for pantry lists everywhere

CATEGORIES: tuple[str, ...] = (
    "vegetable", "fruit", "grain", "pasta", "legume", "dairy", "egg", "meat", "poultry",
    "fish", "seafood", "nut", "seed", "herb", "spice", "condiment", "oil", "sweetener",
    "baking", "other",
)
DIET_FLAGS: tuple[str, ...] = ("vegetarian", "vegan", "gluten_free", "dairy_free", "nut_free")
# Diet names as people (and the UI) write them -> the Ingredient flag that must be true.
DIETS: dict[str, str] = {
    "vegetarian": "vegetarian",
    "vegan": "vegan",
    "gluten-free": "gluten_free",
    "dairy-free": "dairy_free",
    "nut-free": "nut_free",
}
KB_VERSION = 1
DEFAULT_KB_PATH = Path(__file__).resolve().parents[2] / "data" / "ingredients.json"
_MATCH_CACHE_LIMIT = 50_000
_SECONDARY_RE = re.compile(r"\b(?:with|for|plus|such as|like|to serve|to garnish|to taste)\b")


@dataclass(frozen=True)
class Ingredient:
    """One canonical ingredient from the knowledge base."""

    name: str
    aliases: tuple[str, ...]
    category: str
    vegetarian: bool
    vegan: bool
    gluten_free: bool
    dairy_free: bool
    nut_free: bool
    staple: bool
    piece_grams: float | None = None  # typical weight of one piece (an egg: 50), to compare "2" with "100 g"

    def allows(self, diet: str) -> bool:
        """True when this ingredient is fine for `diet` ("vegan", "gluten-free", ...)."""
        return bool(getattr(self, _diet_flag(diet)))


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


# ---------------------------------------------------------------------------
# Text normalisation shared by the index and the queries (the same function on both sides
# is what makes "tomatoes" find "tomato" and "leaves" find "leaf").

_TOKEN_RE = re.compile(r"[a-z]+|\d+")
_IRREGULAR_SINGULAR = {
    "leaves": "leaf", "halves": "half", "loaves": "loaf", "knives": "knife",
    "calves": "calf", "wives": "wife", "children": "child", "geese": "goose",
    "mice": "mouse", "teeth": "tooth", "feet": "foot",
}
_KEEP_S = ("ss", "us", "is", "ous")


def _singular(word: str) -> str:
    """A rule-based singular: good enough for ingredient words, and consistent.

    It only needs to map a singular and its plural to the same key; odd stems
    ("molasses" stays "molasses", "cookies" -> "cooky") are harmless because aliases
    go through the same function.
    """
    if len(word) <= 3:
        return word
    if word in _IRREGULAR_SINGULAR:
        return _IRREGULAR_SINGULAR[word]
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("oes"):
        return word[:-2]
    if word.endswith(("ches", "shes", "sses", "xes", "zes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(_KEEP_S):
        return word[:-1]
    return word


_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss", "ø": "o", "ł": "l"})


def _fold(text: str) -> str:
    """Lowercase and strip accents (jalapeño -> jalapeno, crème -> creme, œufs -> oeufs)."""
    text = unicodedata.normalize("NFKD", text.lower().translate(_LIGATURES))
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def _tokens(text: str) -> tuple[str, ...]:
    """Word tokens of `text`, folded and singularised."""
    return tuple(_singular(t) for t in _TOKEN_RE.findall(_fold(text)))


def _diet_flag(diet: str) -> str:
    key = diet.strip().lower().replace("_", "-").replace(" ", "-")
    if key not in DIETS:
        raise ValueError(f"unknown diet {diet!r}: expected one of {', '.join(DIETS)}")
    return DIETS[key]


# ---------------------------------------------------------------------------
# The knowledge base


class Kitchen:
    """An immutable ingredient knowledge base with a precomputed alias index.

    Build it with `Kitchen.from_dict(obj)` / `load_kitchen(path)`; both validate the data
    and raise `InvalidInput` naming the bad entry. Safe to share between threads: the only
    mutable state is a result cache for `match_line`, and a lost cache write is harmless.
    """

    def __init__(self, ingredients: Iterable[Ingredient], source: str = "<memory>"):
        self._source = source
        self._items: tuple[Ingredient, ...] = tuple(ingredients)
        self._by_name: dict[str, Ingredient] = {}
        self._index: dict[tuple[str, ...], Ingredient] = {}
        for i, ing in enumerate(self._items):
            if ing.name in self._by_name:
                raise InvalidInput(f"{source}: entry {i} ({ing.name!r}): duplicate name")
            self._by_name[ing.name] = ing
            for phrase in (ing.name, *ing.aliases):
                key = _tokens(phrase)
                if not key:
                    raise InvalidInput(f"{source}: entry {i} ({ing.name!r}): alias {phrase!r} has no words")
                other = self._index.get(key)
                if other is not None and other is not ing:
                    raise InvalidInput(
                        f"{source}: entry {i} ({ing.name!r}): alias {phrase!r} is already used by {other.name!r}")
                self._index[key] = ing
        # First token -> candidate phrases, longest first, for scanning ingredient lines.
        by_first: dict[str, list[tuple[tuple[str, ...], Ingredient]]] = {}
        for key, ing in self._index.items():
            by_first.setdefault(key[0], []).append((key, ing))
        for cands in by_first.values():
            cands.sort(key=lambda c: -len(c[0]))
        self._by_first = by_first
        self._match_cache: dict[str, Ingredient | None] = {}

    # -- construction -------------------------------------------------------

    @classmethod
    def from_dict(cls, obj: Any, source: str = "<memory>") -> "Kitchen":
        """Validate a decoded ingredients.json document and build the Kitchen."""
        if not isinstance(obj, dict):
            raise InvalidInput(f"{source}: expected a JSON object with 'version' and 'ingredients'")
        if obj.get("version") != KB_VERSION:
            raise InvalidInput(f"{source}: unsupported version {obj.get('version')!r} (expected {KB_VERSION})")
        entries = obj.get("ingredients")
        if not isinstance(entries, list) or not entries:
            raise InvalidInput(f"{source}: 'ingredients' must be a non-empty list")
        return cls((_ingredient_from_entry(e, i, source) for i, e in enumerate(entries)), source)

    # -- queries ------------------------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        """Canonical names, in file order."""
        return tuple(ing.name for ing in self._items)

    @property
    def staples(self) -> tuple[Ingredient, ...]:
        """Ingredients assumed to be in every kitchen (salt, pepper, oil, water...)."""
        return tuple(ing for ing in self._items if ing.staple)

    def all(self) -> tuple[Ingredient, ...]:
        return self._items

    def by_category(self, category: str) -> tuple[Ingredient, ...]:
        if category not in CATEGORIES:
            raise ValueError(f"unknown category {category!r}: expected one of {', '.join(CATEGORIES)}")
        return tuple(ing for ing in self._items if ing.category == category)

    def get(self, name: str) -> Ingredient | None:
        """The ingredient with exactly this canonical name, or None."""
        return self._by_name.get(name)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.lookup(name) is not None

    def __repr__(self) -> str:
        return f"Kitchen({len(self._items)} ingredients from {self._source})"

    def lookup(self, text: str) -> Ingredient | None:
        """The ingredient whose name or alias is exactly `text` (any case, singular or plural)."""
        key = _tokens(text)
        return self._index.get(key) if key else None

    def match_line(self, line: str) -> Ingredient | None:
        """The ingredient a recipe ingredient line is about, or None.

        "2 cloves garlic, minced" -> garlic; "1 (15-ounce) can chickpeas, drained" ->
        chickpea; "Kosher salt and fresh cracked black pepper" -> black pepper.
        The part before the first comma is searched first (the rest is usually
        preparation: "minced", "for serving"), then the rest, then parenthesised text.
        Within a part the longest alias wins ("black pepper" over "pepper", "cream
        cheese" over "cream"); between equally long aliases the rightmost wins, as the
        head of an English noun phrase comes last ("cheese tortellini" -> tortellini).
        """
        cached = self._match_cache.get(line)
        if cached is not None or line in self._match_cache:
            return cached
        result = self._match_uncached(line)
        if len(self._match_cache) >= _MATCH_CACHE_LIMIT:
            self._match_cache.clear()
        self._match_cache[line] = result
        return result

    def _match_uncached(self, line: str) -> Ingredient | None:
        text = _fold(line)
        parens = " ".join(re.findall(r"\(([^)]*)\)", text))
        text = re.sub(r"\([^)]*\)", " ", text)
        first, _, after_comma = text.partition(",")
        # "Tortillas, with cheese": words after with/for/plus describe something else.
        m = _SECONDARY_RE.search(first)
        head, tail = (first[:m.start()], first[m.start():]) if m else (first, "")
        for part in (head, tail, after_comma, parens):
            found = self._best_in(_tokens(part))
            if found is not None:
                return found
        return None

    def _best_in(self, toks: tuple[str, ...]) -> Ingredient | None:
        best: Ingredient | None = None
        best_len = 0
        for i, tok in enumerate(toks):
            for key, ing in self._by_first.get(tok, ()):
                n = len(key)
                if n < best_len:
                    break  # candidates are sorted longest first
                if toks[i:i + n] == key:
                    if _plant_made(ing, toks, i):
                        break  # "cashew cream" is not cream: keep looking (here "cashew")
                    best, best_len = ing, n  # ties: a later (rightmost) match replaces
                    break
        return best

    def mentions(self, text: str) -> tuple[Ingredient, ...]:
        """Every ingredient named in free text (a recipe step), left to right, longest alias first.

        "Fry the red onion and garlic in the olive oil" -> (onion, garlic, olive oil). Used to
        check that a step only talks about ingredients the recipe lists.
        """
        toks = _tokens(text)
        found: list[Ingredient] = []
        i = 0
        while i < len(toks):
            step = 1
            for key, ing in self._by_first.get(toks[i], ()):
                if toks[i:i + len(key)] == key:
                    if not _plant_made(ing, toks, i) and not (len(key) == 1 and key[0] in _STEP_HOMONYMS):
                        found.append(ing)
                    step = len(key)
                    break
            i += step
        return tuple(found)


# Single-word aliases that in a method are cooking words, not foods: "until crisp" (crisps),
# "toast the rice" (toast), "roll up" (roll), "the dressing", "pour over the dal".
_STEP_HOMONYMS = frozenset(_tokens("crisp toast roll dressing dal"))


def _plant_made(ing: Ingredient, toks: tuple[str, ...], i: int) -> bool:
    """True when a dairy word follows a plant word ("oat cream", "cashew cheese"): another food."""
    return ing.category == "dairy" and i > 0 and toks[i - 1] in _DAIRY_EXCEPT


def _ingredient_from_entry(entry: Any, index: int, source: str) -> Ingredient:
    label = f"{source}: entry {index}"
    if not isinstance(entry, dict):
        raise InvalidInput(f"{label}: expected an object, got {type(entry).__name__}")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"{label}: field 'name' must be a non-empty string")
    label = f"{label} ({name!r})"
    if name != name.strip().lower():
        raise InvalidInput(f"{label}: 'name' must be lowercase without surrounding spaces")
    aliases = entry.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
        raise InvalidInput(f"{label}: field 'aliases' must be a list of non-empty strings")
    category = entry.get("category")
    if category not in CATEGORIES:
        raise InvalidInput(f"{label}: field 'category' is {category!r}, expected one of {', '.join(CATEGORIES)}")
    flags: dict[str, bool] = {}
    for flag in (*DIET_FLAGS, "staple"):
        value = entry.get(flag)
        if not isinstance(value, bool):
            raise InvalidInput(f"{label}: field {flag!r} must be true or false, got {value!r}")
        flags[flag] = value
    if flags["vegan"] and not (flags["vegetarian"] and flags["dairy_free"]):
        raise InvalidInput(f"{label}: vegan ingredients must also be vegetarian and dairy-free")
    piece = entry.get("piece_grams")
    if piece is not None and (isinstance(piece, bool) or not isinstance(piece, (int, float)) or piece <= 0):
        raise InvalidInput(f"{label}: field 'piece_grams' must be a positive number, got {piece!r}")
    return Ingredient(name=name, aliases=tuple(a.strip() for a in aliases), category=category,
                      piece_grams=float(piece) if piece is not None else None, **flags)


@functools.lru_cache(maxsize=8)
def _load_cached(path: str) -> Kitchen:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"ingredients file not found: {p}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidInput(f"cannot read ingredients file {p}: {e}") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidInput(f"{p}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None
    return Kitchen.from_dict(obj, source=str(p))


def load_kitchen(path: str | Path | None = None) -> Kitchen:
    """Load (once per path, then shared) the ingredient knowledge base.

    The default is the repository's `data/ingredients.json`. A Kitchen is immutable, so one
    instance per file is shared by every caller; a bad file raises `InvalidInput` naming
    the file and the entry (and is not cached, so a fixed file loads on the next call).
    """
    return _load_cached(str(Path(path if path is not None else DEFAULT_KB_PATH).resolve()))


def _kitchen(kitchen: Kitchen | None) -> Kitchen:
    return kitchen if kitchen is not None else load_kitchen()


# ---------------------------------------------------------------------------
# Pantry parsing

_SPLIT_RE = re.compile(r"[\n;,]|\s+(?:and|&|\+|plus)\s+", re.IGNORECASE)
_BULLET_RE = re.compile(r"^(?:[-*•·–—>]+|\d+[.)](?=\s+\D)|\[[ xX]?\])\s*")
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
_LEADING_NUM_RE = re.compile(rf"^{_NUM}\s*(?:x\b)?\s*", re.IGNORECASE)
_UNIT_ONLY_RE = re.compile(rf"^(?P<unit>(?:{_UNITS}))\s+of\s+", re.IGNORECASE)
_TRAILING_QTY_RE = re.compile(
    rf"\s*(?:[x×]\s*(?P<n1>\d+)|\((?P<n2>[^)]*)\)|(?P<n3>{_NUM})\s*(?P<u3>(?:{_UNITS}))\.?)\s*$",
    re.IGNORECASE,
)
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
_HARMLESS_WORDS = frozenset(_tokens("""
leftover leftovers left over cooked day old roast roasted grilled boiled steamed poached fried baked
fresh freshly frozen dried canned tinned jarred bottled chopped diced sliced minced grated shredded
crushed ground whole raw ripe organic free range large small medium big baby mini jumbo young
red green yellow orange white black brown purple golden dark light pale pink
plain natural unsalted salted skimmed semi skimmed full fat low reduced lean extra virgin
greek italian spanish french english british chinese japanese thai indian mexican
mature mild strong smoked unsmoked boneless skinless bone skin on peeled unpeeled
pack packet bag box tin can jar bottle bunch head some few bit of my the a an
"""))


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


def _split_quantity(item: str) -> tuple[str | None, str]:
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


def _strip_qualifiers(text: str) -> str:
    for phrase in _QUALIFIER_PHRASES:
        text = re.sub(rf"\b{phrase}\b", " ", text)
    words = text.split()
    while words and words[0] in _QUALIFIERS:
        words.pop(0)
    return " ".join(words)


def _clean_name(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip(" .-:!?\"'`*")
    return text


def _parse_item(raw: str, kitchen: Kitchen) -> PantryItem | None:
    text = _BULLET_RE.sub("", raw.strip()).strip()
    text = _clean_name(text.lower())
    if not text:
        return None
    qty, rest = _split_quantity(text)
    rest = _clean_name(rest)
    # Qualifiers again after a quantity: "some frozen peas", "2 large eggs".
    core = _clean_name(_strip_qualifiers(rest))
    if not core:
        core = rest or text
    # A second quantity after qualifiers ("a bag of frozen peas" is handled above; "leftover 2 cups rice").
    if qty is None and core != rest:
        q2, r2 = _split_quantity(core)
        if q2 and r2.strip():
            qty, core = q2, _clean_name(_strip_qualifiers(r2))
    cooked = bool(_COOKED_RE.search(_fold(text)))
    # With the container kept first: "3 x tins of tomatoes" names canned tomatoes.
    with_unit = _clean_name(_LEADING_NUM_RE.sub("", text))
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
    toks = _tokens(text)
    if not toks:
        return None
    best: tuple[int, int, Ingredient] | None = None  # (length, start, ingredient)
    for i, tok in enumerate(toks):
        for key, ing in kitchen._by_first.get(tok, ()):
            if toks[i:i + len(key)] == key:
                if best is None or len(key) > best[0] or (len(key) == best[0] and i > best[1]):
                    best = (len(key), i, ing)
                break
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
    Duplicates (same name) keep the first. Raises `InvalidInput` when the text is empty,
    longer than `max_chars`, or lists more than 200 items.
    """
    if not isinstance(text, str):
        raise InvalidInput(f"pantry must be text, got {type(text).__name__}")
    if len(text) > max_chars:
        raise InvalidInput(f"pantry text is {len(text)} characters (limit {max_chars})")
    cleaned = _clean_control(text)
    if not cleaned.strip():
        raise InvalidInput("pantry is empty: list what you have, e.g. 'eggs, rice, spinach'")
    pieces = [p for p in _SPLIT_RE.split(cleaned) if p and p.strip()]
    if len(pieces) > MAX_PANTRY_ITEMS:
        raise InvalidInput(f"pantry lists {len(pieces)} items (limit {MAX_PANTRY_ITEMS})")
    kb = _kitchen(kitchen)
    items: list[PantryItem] = []
    seen: set[str] = set()
    for piece in pieces:
        item = _parse_item(piece, kb)
        if item is None or item.name in seen:
            continue
        seen.add(item.name)
        items.append(item)
    if not items:
        raise InvalidInput("pantry is empty: list what you have, e.g. 'eggs, rice, spinach'")
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

    Empty text is fine (no error): the reading then holds only `extra_items`. Too long text or
    too many items raise `InvalidInput`, as in `parse_pantry`. `extra_items` are ingredient
    names (canonical or alias); one the knowledge base does not know goes to `unknown`.
    """
    kb = _kitchen(kitchen)
    items = parse_pantry(text, kb, max_chars) if isinstance(text, str) and _clean_control(text).strip() else []
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


def _pantry_note(names: list[str], unknown: list[str]) -> str:
    """A plain sentence when nothing or little of the pantry was understood, else ""."""
    listed = ", ".join(unknown[:8]) + (f" and {len(unknown) - 8} more" if len(unknown) > 8 else "")
    if not names and not unknown:
        return "No pantry given: recipes are made from common staples."
    if not names:
        return f"None of these were recognised as ingredients: {listed}. Recipes are made from common staples."
    if len(unknown) > len(names):
        have = ", ".join(names)
        return (f"Only {len(names)} of {len(names) + len(unknown)} items were recognised; not recognised: "
                f"{listed}. Recipes are based on {have} and common staples.")
    return ""


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
    q = re.sub(r"\s+", " ", _fold(quantity).strip().rstrip("."))
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
    unit = _singular(rest.split()[0].rstrip("."))
    if unit in _UNIT_BASE:
        base, factor = _UNIT_BASE[unit]
        return Amount(value * factor, base)
    return Amount(value, unit)


def line_amount(line: str) -> Amount | None:
    """The amount a recipe ingredient line asks for: "2 cloves garlic, minced" -> 2 cloves."""
    qty, _ = _split_quantity(_clean_name(_fold(line)))
    return parse_amount(qty)


def amount_ratio(have: Amount | None, need: Amount | None, ingredient: Ingredient | None = None) -> float | None:
    """have / need in a common unit, or None when the two cannot be compared.

    Pieces and grams compare through the ingredient's `piece_grams` ("2" eggs vs "150 g" eggs).
    """
    if have is None or need is None or need.value <= 0:
        return None
    if have.unit == need.unit:
        return have.value / need.value
    piece = ingredient.piece_grams if ingredient is not None else None
    if piece and {have.unit, need.unit} == {"", "g"}:
        h = have.value * piece if have.unit == "" else have.value
        n = need.value * piece if need.unit == "" else need.value
        return h / n
    return None


# ---------------------------------------------------------------------------
# Recipe checks

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
_MEAT_WORDS = frozenset(_tokens(
    "meat beef steak pork bacon ham prosciutto salami pepperoni chorizo sausage pancetta "
    "guanciale lard gelatin gelatine lamb mutton veal venison rabbit goat duck goose chicken "
    "turkey quail pheasant fish salmon tuna cod anchovy anchovies sardine mackerel trout "
    "shrimp prawn crab lobster clam mussel oyster scallop squid calamari octopus crawfish "
    "crayfish caviar roe bresaola mortadella nduja sobrasada jerky suet tallow dripping "
    "liver tripe oxtail brisket mince meatball meatballs pastrami foie bone broth "
    "worcestershire halibut tilapia haddock snapper eel herring pollock"
))
_DAIRY_WORDS = frozenset(_tokens(
    "milk cheese butter cream yogurt yoghurt ghee whey casein buttermilk kefir paneer "
    "ricotta mozzarella parmesan cheddar feta brie camembert gouda gruyere mascarpone "
    "halloumi quark curd custard queso burrata"
))
_DAIRY_EXCEPT = frozenset(_tokens(
    "coconut almond oat soy soya rice cashew peanut nut cocoa cacao shea apple hemp "
    "pea plant vegan"
))
_ANIMAL_WORDS = frozenset(_tokens("egg eggs honey mayonnaise mayo meringue aioli"))
_GLUTEN_WORDS = frozenset(_tokens(
    "flour bread breadcrumbs panko pasta spaghetti noodle wheat barley rye couscous seitan "
    "beer cracker crouton tortilla bulgur farro spelt semolina pita naan bun brioche "
    "baguette croissant pastry dough biscuit cookie cake malt"
))
_GLUTEN_EXCEPT = frozenset(_tokens("rice corn almond coconut chickpea buckwheat tapioca potato"))
_NUT_WORDS = frozenset(_tokens(
    "nut nuts almond walnut pecan cashew pistachio hazelnut macadamia peanut praline "
    "marzipan frangipane gianduja"
))


def _is_header(line: str) -> bool:
    """Section headers and notes in ingredient lists ("For the sauce:")."""
    s = line.strip().lower()
    return (not s or s.endswith(":") or s.startswith(("for the ", "special equipment"))
            or not _TOKEN_RE.search(_fold(s)))


def _unknown_line_violates(toks: tuple[str, ...], flag: str) -> bool:
    words = set(toks)
    meat = bool(words & _MEAT_WORDS)
    dairy = any(t in _DAIRY_WORDS and (i == 0 or toks[i - 1] not in _DAIRY_EXCEPT)
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
    wanted = [(d.strip().lower(), _diet_flag(d)) for d in diets]
    if not wanted:
        return []
    kb = _kitchen(kitchen)
    messages: list[str] = []
    seen: set[str] = set()
    for line in recipe.ingredients:
        if _is_header(line):
            continue
        low = _fold(line)
        ing = kb.match_line(line)
        toks = _tokens(line)
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
            toks = _tokens(raw)
            if toks:
                self.phrases.append(toks)

    def __bool__(self) -> bool:
        return bool(self.names or self.phrases)

    def has(self, ing: Ingredient | None, line: str) -> bool:
        if ing is not None and ing.name in self.names:
            return self._take(ing, line)
        if not self.phrases:
            return False
        toks = _tokens(line)
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
        if _is_header(line):
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
    kb = _kitchen(kitchen)
    index = _PantryIndex(pantry, kb, amounts)
    return [line for line, ing in _needed_lines(recipe, kb) if not index.has(ing, line)]


def pantry_coverage(recipe: Recipe, pantry: Iterable[str], kitchen: Kitchen | None = None,
                    amounts: "Mapping[str, str | Amount] | None" = None) -> float:
    """Share in [0, 1] of the recipe's non-staple ingredient lines that the pantry covers.

    1.0 when the recipe needs nothing beyond staples (even with an empty pantry: nothing
    is missing); otherwise 0.0 for an empty pantry. `amounts` as in `missing_ingredients`.
    """
    kb = _kitchen(kitchen)
    needed = _needed_lines(recipe, kb)
    if not needed:
        return 1.0
    index = _PantryIndex(pantry, kb, amounts)
    if not index:
        return 0.0
    have = sum(1 for line, ing in needed if index.has(ing, line))
    return have / len(needed)


__all__ = [
    "CATEGORIES", "DEFAULT_KB_PATH", "DIETS", "DIET_FLAGS", "Amount", "Ingredient", "Kitchen", "PantryItem", "PantryReading",
    "amount_ratio", "diet_violations", "line_amount", "load_kitchen", "missing_ingredients", "pantry_coverage",
    "pantry_names", "parse_amount", "parse_pantry", "read_pantry",
]
