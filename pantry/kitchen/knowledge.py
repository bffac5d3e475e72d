"""The ingredient knowledge base: canonical ingredients and how text names them.

`data/ingredients.json` lists canonical ingredient names with aliases (plurals, synonyms,
UK/US names, foreign names), a category, diet flags and whether the ingredient is a staple
that almost every kitchen has. `load_kitchen()` validates it once per file and shares the
immutable `Kitchen`:
- `Kitchen.lookup("tomatoes")` -> the `tomato` ingredient (a name typed by a person);
- `Kitchen.match_line("1 (15-ounce) can chickpeas, drained")` -> `chickpea` (the ingredient
  named in a recipe's ingredient line);
- `Kitchen.mentions(step)` -> every ingredient a method step talks about.

Matching is deliberately simple and predictable (word tokens, a rule-based singular, longest
alias wins, and a longer name is never read as a shorter, different food: "sea cucumber" is
its own ingredient, and a food the base does not list whose name contains a listed one,
"crab apple", is in `unlisted_foods` and blocks the shorter match) rather than clever: the same text always gives the same answer, and it is fast
enough to run over thousands of recipe lines (an alias index plus a per-Kitchen cache).
The diet vocabulary (`DIETS`: names as people write them -> the ingredient flag), the
categories and flags are defined in `vocab` (standard library only, for light importers) and
re-exported here; the checks themselves are in `diets`.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pantry.errors import InvalidInput
from pantry.kitchen.words import fold, tokens
from pantry.kitchen.vocab import CATEGORIES, DIET_FLAGS, DIETS  # re-exported
from pantry.paths import DATA_DIR

KB_VERSION = 1
DEFAULT_KB_PATH = DATA_DIR / "ingredients.json"
_MATCH_CACHE_LIMIT = 50_000
_PARENS_RE = re.compile(r"\(([^)]*)\)")
_SECONDARY_RE = re.compile(r"\b(?:with|for|plus|in|such as|like|to serve|to garnish|to taste)\b")


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
    grams_per_ml: float | None = None  # density as measured in a kitchen (rice: 0.78), to compare "1 cup" with "160 g"

    def allows(self, diet: str) -> bool:
        """True when this ingredient is fine for `diet` ("vegan", "gluten-free", ...)."""
        return bool(getattr(self, diet_flag(diet)))


def diet_flag(diet: str) -> str:
    """The Ingredient flag a diet name needs ("gluten-free", "Gluten free" -> "gluten_free");
    ValueError naming the known diets for anything else."""
    key = diet.strip().lower().replace("_", "-").replace(" ", "-")
    if key not in DIETS:
        raise ValueError(f"unknown diet {diet!r}: expected one of {', '.join(DIETS)}")
    return DIETS[key]


# Plant words that make a following dairy word another food ("oat cream", "cashew cheese",
# "coconut milk"); shared with the diet checks.
PLANT_WORDS = frozenset(tokens(
    "coconut almond oat soy soya rice cashew peanut nut cocoa cacao shea apple hemp "
    "pea plant vegan"
))


class Kitchen:
    """An immutable ingredient knowledge base with a precomputed alias index.

    Build it with `Kitchen.from_dict(obj)` / `load_kitchen(path)`; both validate the data
    and raise `InvalidInput` naming the bad entry. Safe to share between threads: the only
    mutable state is a result cache for `match_line`, and a lost cache write is harmless.
    """

    def __init__(self, ingredients: Iterable[Ingredient], source: str = "<memory>",
                 unlisted_foods: Iterable[str] = ()):
        self._source = source
        self._items: tuple[Ingredient, ...] = tuple(ingredients)
        self._by_name: dict[str, Ingredient] = {}
        self._index: dict[tuple[str, ...], Ingredient] = {}
        for i, ing in enumerate(self._items):
            if ing.name in self._by_name:
                raise InvalidInput(f"{source}: entry {i} ({ing.name!r}): duplicate name")
            self._by_name[ing.name] = ing
            for phrase in (ing.name, *ing.aliases):
                key = tokens(phrase)
                if not key:
                    raise InvalidInput(f"{source}: entry {i} ({ing.name!r}): alias {phrase!r} has no words")
                other = self._index.get(key)
                if other is not None and other is not ing:
                    raise InvalidInput(
                        f"{source}: entry {i} ({ing.name!r}): alias {phrase!r} is already used by {other.name!r}")
                self._index[key] = ing
        # Foods the base does not list whose names contain a listed one ("crab apple"): they
        # take part in longest-match scanning, so they block the shorter name, and match nothing.
        blocked: dict[tuple[str, ...], Ingredient] = {}
        for phrase in unlisted_foods:
            key = tokens(phrase)
            if not key:
                raise InvalidInput(f"{source}: unlisted food {phrase!r} has no words")
            if key in self._index:
                raise InvalidInput(f"{source}: unlisted food {phrase!r} is an alias of {self._index[key].name!r}")
            blocked[key] = _UNLISTED
        self.unlisted_foods = tuple(dict.fromkeys(unlisted_foods))
        # First token -> candidate phrases, longest first, for scanning ingredient lines.
        by_first: dict[str, list[tuple[tuple[str, ...], Ingredient]]] = {}
        for key, ing in [*self._index.items(), *blocked.items()]:
            by_first.setdefault(key[0], []).append((key, ing))
        for cands in by_first.values():
            cands.sort(key=lambda c: -len(c[0]))
        self._by_first = by_first
        # The same, as first token -> ((length, {phrase: ingredient}), ...) longest first: one
        # dict lookup per length instead of one comparison per phrase (phrases are unique).
        by_length: dict[str, tuple[tuple[int, dict[tuple[str, ...], Ingredient]], ...]] = {}
        for first, cands in by_first.items():
            tables: dict[int, dict[tuple[str, ...], Ingredient]] = {}
            for key, ing in cands:
                tables.setdefault(len(key), {})[key] = ing
            by_length[first] = tuple(sorted(tables.items(), key=lambda t: -t[0]))
        self._by_first_length = by_length
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
        unlisted = obj.get("unlisted_foods", [])
        if not isinstance(unlisted, list) or not all(isinstance(u, str) and u.strip() for u in unlisted):
            raise InvalidInput(f"{source}: 'unlisted_foods' must be a list of non-empty strings")
        return cls((_ingredient_from_entry(e, i, source) for i, e in enumerate(entries)), source,
                   unlisted_foods=[u.strip() for u in unlisted])

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
        key = tokens(text)
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
        A name inside a longer one is never taken for it: "raw sea cucumber" is sea
        cucumber, not cucumber, and "crab apples" (an unlisted food) is nothing, not crab.
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
        text = fold(line)
        if "(" in text:
            parens = " ".join(_PARENS_RE.findall(text))
            text = _PARENS_RE.sub(" ", text)
        else:
            parens = ""
        first, _, after_comma = text.partition(",")
        # "Tortillas, with cheese": words after with/for/plus describe something else.
        m = _SECONDARY_RE.search(first)
        head, tail = (first[:m.start()], first[m.start():]) if m else (first, "")
        for part in (head, tail, after_comma, parens):
            found = self._best_in(tokens(part))
            if found is not None:
                return found
        return None

    def _best_in(self, toks: tuple[str, ...]) -> Ingredient | None:
        best: Ingredient | None = None
        best_len = 0
        covered = 0  # tokens before this index are inside an unlisted food's name
        for i in range(len(toks)):
            found = self._longest_at(toks, i)
            if found is None:
                continue
            n, ing = found
            if ing is _UNLISTED:
                covered = max(covered, i + n)
                continue
            if i + n <= covered:
                continue  # "apple" inside "crab apple": part of another food's name
            if n < best_len or _plant_made(ing, toks, i):
                continue  # "cashew cream" is not cream: keep looking (here "cashew")
            best, best_len = ing, n  # ties: a later (rightmost) match replaces
        return best

    def _longest_at(self, toks: tuple[str, ...], i: int) -> tuple[int, Ingredient] | None:
        """`match_at`, where an unlisted food's name comes back as `_UNLISTED`."""
        for n, table in self._by_first_length.get(toks[i], ()):  # longest first
            ing = table.get(toks[i:i + n])
            if ing is not None:
                return n, ing
        return None

    def unlisted_at(self, toks: tuple[str, ...], i: int) -> int:
        """The number of tokens of the unlisted food ("crab apple") whose name is the longest
        name starting at token `i`, else 0: a scan skips the names inside it."""
        found = self._longest_at(toks, i)
        return found[0] if found is not None and found[1] is _UNLISTED else 0

    def match_at(self, toks: tuple[str, ...], i: int) -> tuple[int, Ingredient] | None:
        """The longest alias that starts at token `i` of `toks` (from `words.tokens`), as
        (number of tokens, ingredient), or None when no alias starts there (or when the
        longest name there is an unlisted food's, "crab apple": no ingredient)."""
        found = self._longest_at(toks, i)
        return None if found is None or found[1] is _UNLISTED else found

    def mentions(self, text: str) -> tuple[Ingredient, ...]:
        """Every ingredient named in free text (a recipe step), left to right, longest alias first.

        "Fry the red onion and garlic in the olive oil" -> (onion, garlic, olive oil). Used to
        check that a step only talks about ingredients the recipe lists.
        """
        toks = tokens(text)
        found: list[Ingredient] = []
        i = 0
        while i < len(toks):
            match = self._longest_at(toks, i)
            if match is None:
                i += 1
                continue
            n, ing = match
            if ing is not _UNLISTED and not _plant_made(ing, toks, i) and not (n == 1 and toks[i] in _STEP_HOMONYMS):
                found.append(ing)
            i += n
        return tuple(found)


# What an unlisted food's name matches while scanning (never returned to a caller).
_UNLISTED = Ingredient(name="", aliases=(), category="other", vegetarian=False, vegan=False, gluten_free=False,
                       dairy_free=False, nut_free=False, staple=False)

# Single-word aliases that in a method are cooking words, not foods: "until crisp" (crisps),
# "toast the rice" (toast), "roll up" (roll), "the dressing", "pour over the dal".
_STEP_HOMONYMS = frozenset(tokens("crisp toast roll dressing dal"))


def _plant_made(ing: Ingredient, toks: tuple[str, ...], i: int) -> bool:
    """True when a dairy word follows a plant word ("oat cream", "cashew cheese"): another food."""
    return ing.category == "dairy" and i > 0 and toks[i - 1] in PLANT_WORDS


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
    density = entry.get("grams_per_ml")
    if density is not None and (isinstance(density, bool) or not isinstance(density, (int, float))
                                or not 0 < density <= 25):
        raise InvalidInput(f"{label}: field 'grams_per_ml' must be a number in (0, 25], got {density!r}")
    return Ingredient(name=name, aliases=tuple(a.strip() for a in aliases), category=category,
                      piece_grams=float(piece) if piece is not None else None,
                      grams_per_ml=float(density) if density is not None else None, **flags)


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

    The default is the project's `data/ingredients.json` (found from the package, not the
    working directory). A Kitchen is immutable, so one
    instance per file is shared by every caller; a bad file raises `InvalidInput` naming
    the file and the entry (and is not cached, so a fixed file loads on the next call).
    """
    # The default path is absolute by construction: no file-system call on this hot path.
    return _load_cached(str(DEFAULT_KB_PATH if path is None else Path(path).resolve()))


def resolve_kitchen(kitchen: Kitchen | None) -> Kitchen:
    """`kitchen`, or the shared default knowledge base when it is None (the `kitchen=None`
    parameter of every kitchen function)."""
    return kitchen if kitchen is not None else load_kitchen()


__all__ = ["CATEGORIES", "DEFAULT_KB_PATH", "DIETS", "DIET_FLAGS", "Ingredient", "Kitchen", "load_kitchen"]
