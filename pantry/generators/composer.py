"""The offline recipe composer: the embedded default generator (no network, no model).

It builds complete recipes from dish *families* described in `data/dishes.json`. A
family is a template (a stir-fry, a dal, a quiche...) with:

- slots, one per role (protein, base, vegetables, aromatics, spices, herbs, sauce...),
  each with its allowed ingredients, how many to pick, a per-serving quantity and unit,
  and an optional preparation note ("sliced");
- title patterns ("{Adj} {Veg1} and {Protein} Curry") and step templates with times;
  a recipe's minutes are the family's prep time plus the times of the steps it uses;
  each step may have a shorter "quick" time used when the request sets `max_minutes`.

Filling a slot prefers what the user has (pantry items and kitchen staples), only picks
ingredients whose knowledge-base diet flags (`pantry.kitchen.knowledge`) satisfy every requested
diet, and never uses an ingredient twice in one recipe. It uses the user's own variety
("rice", not "brown rice", when the slot offers both).

Pantry quantities (`GenerationRequest.amounts`) count: when the dish needs more of an item
than the user has, the line is scaled down to what they have if that leaves at least half
of the dish's amount; otherwise the full amount stays and `kitchen.missing_ingredients`
reports the line as missing. Cooked leftovers (`GenerationRequest.cooked`: "leftover rice")
only go into slots marked `"takes_cooked"`, as "cooked rice", and the steps that would cook
them are replaced by their `"if_cooked"` text (or dropped); they are never used raw. All randomness comes from a
`random.Random` seeded from the request seed, so the same request gives the same recipes.
A batch (`n >= 2`) never holds near-duplicates (`pantry.kitchen.dedupe`).

Ingredient names in dishes.json are resolved through the kitchen knowledge base at load
time; a name the kitchen does not know is dropped from the options (listed in
`DishBook.unknown_ingredients`) rather than used without diet flags.
"""

from __future__ import annotations

import json
import math
import random
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from pantry.kitchen.dedupe import Signature, signature, signature_similarity
from pantry.errors import GeneratorError
from pantry.kitchen import Amount, amount_ratio, line_amount, parse_amount
from pantry.domain.recipes import Recipe, content_id
from pantry.generators.base import DIETS, GenerationRequest, ProgressFn

NAME = "offline-composer"
DEFAULT_DISHES_PATH = Path(__file__).resolve().parents[2] / "data" / "dishes.json"

UNITS = ("g", "ml", "tsp", "tbsp", "cup", "each", "pinch", "to taste")
DEFAULT_ADJECTIVES = ("Simple", "Weeknight", "Easy", "Homestyle", "Rustic")
# Up to this many fresh draws per recipe when a draw is a near-duplicate or too slow.
MAX_DRAWS_PER_RECIPE = 24
DUPLICATE_THRESHOLD = 0.8
# Scale a line down to the pantry amount when that keeps at least this share of the dish's amount.
MIN_SCALE = 0.5
# Cooked weight per raw weight, by kitchen category, for a cooked leftover in a slot sized raw.
COOKED_GAIN = {"grain": 2.5, "pasta": 2.2}


class DishBookError(GeneratorError):
    """dishes.json is missing or malformed (the message names the file and the field)."""


# ---------------------------------------------------------------------------------------
# Loaded, validated dish templates
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Measure:
    """How one ingredient is counted and prepared when a slot asks for grams."""

    unit: str | None = None  # e.g. "clove": "2 cloves garlic"; None = bare count ("2 eggs")
    plural: str | None = None  # plural of the unit, or of the name when unit is None
    grams: float | None = None  # grams per piece; None = keep grams
    whole: bool = False  # round counts up to whole pieces (eggs), else to halves (onion)
    prep: str | None = None  # default preparation note ("minced")
    title: str | None = None  # short name for titles ("Chicken" for "chicken thighs")
    per_serving: float | None = None  # fixed amount per serving, whatever the slot says
    per_serving_unit: str | None = None  # unit of per_serving (one of UNITS); None = pieces


@dataclass(frozen=True)
class Slot:
    role: str
    options: tuple[str, ...]  # display names ("spaghetti"); DishBook.canon maps them to the kitchen
    count: tuple[int, int]  # min, max ingredients for this slot
    qty: float  # per serving, in `unit`, for each ingredient picked
    unit: str
    prep: str | None
    include: float  # 1.0 = required; else probability when nothing suits from the pantry
    takes_cooked: bool = False  # a cooked leftover may fill this slot ("cooked rice")
    cooked_qty: float | None = None  # per serving when cooked; None = qty x COOKED_GAIN of its category


@dataclass(frozen=True)
class Step:
    text: str
    minutes: int
    quick: int
    needs: tuple[str, ...]  # roles that must be filled for this step to appear
    unless: tuple[str, ...] = ()  # roles that must be empty for this step to appear
    cooks: tuple[str, ...] = ()  # roles this step cooks: replaced when they hold cooked leftovers
    if_cooked: str | None = None  # the step's text when a role in `cooks` is already cooked; None = drop it
    cooked_minutes: int = 0


@dataclass(frozen=True)
class Family:
    id: str
    name: str
    cuisine: str
    tags: tuple[str, ...]
    prep: int
    quick_prep: int
    slots: tuple[Slot, ...]
    titles: tuple[str, ...]
    steps: tuple[Step, ...]
    adjectives: tuple[str, ...]

    def min_minutes(self) -> int:
        """The fastest this family can be: quick prep + quick times of unconditional steps."""
        required = {s.role for s in self.slots if s.include >= 1.0}
        return self.quick_prep + sum(st.quick for st in self.steps if _step_used(st, required))


@dataclass
class DishBook:
    families: tuple[Family, ...]
    measures: dict[str, Measure]
    adjectives: dict[str, tuple[str, ...]]  # ingredient -> adjectives it suggests
    spicy: frozenset[str]  # ingredients that make a dish spicy
    cuisine_groups: dict[str, tuple[str, ...]]
    flags: dict[str, dict[str, bool]]  # canonical name -> diet -> allowed
    staples: frozenset[str]  # canonical names
    categories: dict[str, str]  # canonical name -> kitchen category
    canon: dict[str, str] = field(default_factory=dict)  # display name -> canonical name
    unknown_ingredients: tuple[str, ...] = ()
    path: str = ""

    @property
    def cuisines(self) -> tuple[str, ...]:
        return tuple(sorted({f.cuisine for f in self.families}))


_PLACEHOLDER = re.compile(r"\{([A-Za-z_]+[0-9]?)\}")


def _fail(path: str, where: str, msg: str) -> DishBookError:
    return DishBookError(f"{path}: {where}: {msg}")


def _req(obj: dict, key: str, kind: type | tuple, path: str, where: str) -> Any:
    if key not in obj:
        raise _fail(path, where, f"field '{key}' is missing")
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        want = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise _fail(path, where, f"field '{key}' must be {want}, got {type(value).__name__}")
    return value


def _str_list(obj: dict, key: str, path: str, where: str, required: bool = True) -> list[str]:
    if key not in obj and not required:
        return []
    value = _req(obj, key, list, path, where)
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise _fail(path, where, f"'{key}[{i}]' must be a non-empty string")
    return [v.strip() for v in value]


def load_dish_book(path: str | Path | None = None, kitchen: Any = None) -> DishBook:
    """Read and validate dishes.json; resolve every ingredient through the kitchen KB.

    Raises DishBookError naming the file and the family/field when the file is missing,
    not JSON, or structurally wrong.
    """
    p = Path(path) if path is not None else DEFAULT_DISHES_PATH
    ps = str(p)
    try:
        raw = p.read_text(encoding="utf-8")
    except OSError as e:
        raise DishBookError(f"{ps}: cannot read dish templates ({e.strerror or e})") from None
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as e:
        raise DishBookError(f"{ps}: not valid JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
    if not isinstance(doc, dict):
        raise _fail(ps, "top level", f"must be a JSON object, got {type(doc).__name__}")
    if kitchen is None:
        from pantry.kitchen import load_kitchen
        kitchen = load_kitchen()

    unknown: set[str] = set()
    resolved_cache: dict[str, str | None] = {}

    def resolve(name: str) -> str | None:
        key = name.strip().lower()
        if key not in resolved_cache:
            ing = kitchen.lookup(key)
            resolved_cache[key] = ing.name if ing is not None else None
            if ing is None:
                unknown.add(key)
        return resolved_cache[key]

    groups_raw = doc.get("groups", {})
    if not isinstance(groups_raw, dict):
        raise _fail(ps, "groups", "must be an object of name -> list of ingredients")
    groups: dict[str, list[str]] = {}
    for gname, items in groups_raw.items():
        groups[gname] = _str_list(groups_raw, gname, ps, f"groups.{gname}")

    canon: dict[str, str] = {}

    def expand(names: list[str], where: str) -> tuple[str, ...]:
        """Display names (as written, lowercased), '@group' expanded, unknown ones dropped."""
        out: list[str] = []
        for n in names:
            if n.startswith("@"):
                if n[1:] not in groups:
                    raise _fail(ps, where, f"unknown group '{n}' (defined groups: {', '.join(sorted(groups)) or 'none'})")
                names_in = groups[n[1:]]
            else:
                names_in = [n]
            for m in names_in:
                m = m.strip().lower()
                c = resolve(m)
                if c is not None and m not in out:
                    canon[m] = c
                    out.append(m)
        return tuple(out)

    measures: dict[str, Measure] = {}
    mraw = doc.get("measures", {})
    if not isinstance(mraw, dict):
        raise _fail(ps, "measures", "must be an object of ingredient -> measure")
    for name, m in mraw.items():
        where = f"measures.{name}"
        if not isinstance(m, dict):
            raise _fail(ps, where, "must be an object")
        c = name.strip().lower()
        grams = m.get("grams")
        if grams is not None and (isinstance(grams, bool) or not isinstance(grams, (int, float)) or grams <= 0):
            raise _fail(ps, where, f"'grams' must be a positive number, got {grams!r}")
        per = m.get("per_serving")
        if per is not None and (isinstance(per, bool) or not isinstance(per, (int, float)) or per <= 0):
            raise _fail(ps, where, f"'per_serving' must be a positive number, got {per!r}")
        per_unit = m.get("per_serving_unit")
        if per_unit is not None and per_unit not in UNITS:
            raise _fail(ps, where, f"'per_serving_unit' must be one of {', '.join(UNITS)}, got {per_unit!r}")
        if per is not None and per_unit is None and not grams:
            raise _fail(ps, where, "'per_serving' without 'per_serving_unit' needs 'grams' (a piece weight)")
        measures[c] = Measure(unit=m.get("unit"), plural=m.get("plural"), grams=grams,
                              whole=bool(m.get("whole", False)), prep=m.get("prep"), title=m.get("title"),
                              per_serving=per, per_serving_unit=per_unit)

    adjectives: dict[str, tuple[str, ...]] = {}
    araw = doc.get("adjectives", {})
    if not isinstance(araw, dict):
        raise _fail(ps, "adjectives", "must be an object of ingredient -> list of adjectives")
    for name in araw:
        words = _str_list(araw, name, ps, f"adjectives.{name}")
        adjectives[name.strip().lower()] = tuple(words)

    spicy = frozenset(n.lower() for n in _str_list(doc, "spicy", ps, "spicy", required=False))

    cg_raw = doc.get("cuisine_groups", {})
    if not isinstance(cg_raw, dict):
        raise _fail(ps, "cuisine_groups", "must be an object of name -> list of cuisines")
    cuisine_groups = {k.lower(): tuple(c.lower() for c in _str_list(cg_raw, k, ps, f"cuisine_groups.{k}"))
                      for k in cg_raw}

    fams_raw = _req(doc, "families", list, ps, "top level")
    if not fams_raw:
        raise _fail(ps, "families", "is empty")
    families: list[Family] = []
    seen_ids: set[str] = set()
    for fi, fr in enumerate(fams_raw):
        where = f"families[{fi}]"
        if not isinstance(fr, dict):
            raise _fail(ps, where, "must be an object")
        fid = _req(fr, "id", str, ps, where)
        where = f"family '{fid}'"
        if fid in seen_ids:
            raise _fail(ps, where, "duplicate id")
        seen_ids.add(fid)
        name = _req(fr, "name", str, ps, where)
        cuisine = _req(fr, "cuisine", str, ps, where).strip().lower()
        tags = tuple(_str_list(fr, "tags", ps, where, required=False))
        prep = _req(fr, "prep_minutes", int, ps, where)
        quick_prep = fr.get("quick_prep_minutes", prep)
        if not isinstance(quick_prep, int) or isinstance(quick_prep, bool) or not 0 <= quick_prep <= prep:
            raise _fail(ps, where, "'quick_prep_minutes' must be a whole number between 0 and prep_minutes")
        slots: list[Slot] = []
        for si, sr in enumerate(_req(fr, "slots", list, ps, where)):
            swhere = f"{where} slots[{si}]"
            if not isinstance(sr, dict):
                raise _fail(ps, swhere, "must be an object")
            role = _req(sr, "role", str, ps, swhere)
            swhere = f"{where} slot '{role}'"
            if any(s.role == role for s in slots):
                raise _fail(ps, swhere, "duplicate role")
            opts = expand(_str_list(sr, "options", ps, swhere), swhere)
            count = sr.get("count", [1, 1])
            if isinstance(count, int) and not isinstance(count, bool):
                count = [count, count]
            if (not isinstance(count, list) or len(count) != 2
                    or not all(isinstance(c, int) and not isinstance(c, bool) for c in count)
                    or not 1 <= count[0] <= count[1]):
                raise _fail(ps, swhere, f"'count' must be [min, max] with 1 <= min <= max, got {count!r}")
            qty = _req(sr, "qty", (int, float), ps, swhere)
            if qty < 0:
                raise _fail(ps, swhere, f"'qty' must be >= 0, got {qty}")
            unit = _req(sr, "unit", str, ps, swhere)
            if unit not in UNITS:
                raise _fail(ps, swhere, f"'unit' must be one of {', '.join(UNITS)}, got {unit!r}")
            include = sr.get("include", 1.0)
            if isinstance(include, bool) or not isinstance(include, (int, float)) or not 0 < include <= 1:
                raise _fail(ps, swhere, f"'include' must be a probability in (0, 1], got {include!r}")
            takes_cooked = sr.get("takes_cooked", False)
            if not isinstance(takes_cooked, bool):
                raise _fail(ps, swhere, f"'takes_cooked' must be true or false, got {takes_cooked!r}")
            cooked_qty = sr.get("cooked_qty")
            if cooked_qty is not None and (isinstance(cooked_qty, bool) or not isinstance(cooked_qty, (int, float))
                                           or cooked_qty <= 0):
                raise _fail(ps, swhere, f"'cooked_qty' must be a positive number, got {cooked_qty!r}")
            slots.append(Slot(role=role, options=opts, count=(count[0], count[1]), qty=float(qty),
                              unit=unit, prep=sr.get("prep"), include=float(include), takes_cooked=takes_cooked,
                              cooked_qty=float(cooked_qty) if cooked_qty is not None else None))
        if not slots:
            raise _fail(ps, where, "has no slots")
        roles = {s.role for s in slots}
        titles = tuple(_str_list(fr, "titles", ps, where))
        if not titles:
            raise _fail(ps, where, "'titles' is empty")
        steps: list[Step] = []
        for sti, st in enumerate(_req(fr, "steps", list, ps, where)):
            swhere = f"{where} steps[{sti}]"
            if not isinstance(st, dict):
                raise _fail(ps, swhere, "must be an object")
            text = _req(st, "text", str, ps, swhere)
            minutes = _req(st, "minutes", int, ps, swhere)
            quick = st.get("quick", minutes)
            if not isinstance(quick, int) or isinstance(quick, bool) or not 0 <= quick <= minutes:
                raise _fail(ps, swhere, "'quick' must be a whole number between 0 and 'minutes'")
            needs = st.get("needs", [])
            if isinstance(needs, str):
                needs = [needs]
            needs = tuple(needs)
            unless = st.get("unless", [])
            if isinstance(unless, str):
                unless = [unless]
            unless = tuple(unless)
            cooks = st.get("cooks", [])
            cooks = tuple([cooks] if isinstance(cooks, str) else cooks)
            if_cooked = st.get("if_cooked")
            if if_cooked is not None and not isinstance(if_cooked, str):
                raise _fail(ps, swhere, "'if_cooked' must be text")
            cooked_minutes = st.get("cooked_minutes", 0)
            if not isinstance(cooked_minutes, int) or isinstance(cooked_minutes, bool) or cooked_minutes < 0:
                raise _fail(ps, swhere, "'cooked_minutes' must be a whole number >= 0")
            placeholders = [m.group(1) for m in _PLACEHOLDER.finditer(text + " " + (if_cooked or ""))]
            for ph in list(needs) + list(unless) + list(cooks) + placeholders:
                if ph != "m" and ph not in roles:
                    raise _fail(ps, swhere, f"refers to '{ph}', which is not a slot of this family")
            steps.append(Step(text=text, minutes=minutes, quick=quick, needs=needs, unless=unless, cooks=cooks,
                              if_cooked=if_cooked, cooked_minutes=cooked_minutes))
        if not steps:
            raise _fail(ps, where, "has no steps")
        for t in titles:
            for m in _PLACEHOLDER.finditer(t):
                base = _title_role(m.group(1))
                if base != "Adj" and base.lower() not in roles:
                    raise _fail(ps, f"{where} title {t!r}", f"refers to '{m.group(1)}', which is not a slot")
        adjs = tuple(_str_list(fr, "adjectives", ps, where, required=False)) or DEFAULT_ADJECTIVES
        families.append(Family(id=fid, name=name, cuisine=cuisine, tags=tags, prep=prep,
                               quick_prep=quick_prep, slots=tuple(slots), titles=titles,
                               steps=tuple(steps), adjectives=adjs))

    # Knowledge-base facts for every ingredient we may use.
    names = set(canon.values())
    flags: dict[str, dict[str, bool]] = {}
    categories: dict[str, str] = {}
    staples: set[str] = set()
    for n in names:
        ing = kitchen.lookup(n)
        flags[n] = {d: bool(getattr(ing, attr)) for d, attr in DIETS.items()}
        categories[n] = ing.category
        if ing.staple:
            staples.add(n)
    return DishBook(families=tuple(families), measures=measures, adjectives=adjectives, spicy=spicy,
                    cuisine_groups=cuisine_groups, flags=flags, staples=frozenset(staples),
                    categories=categories, canon=canon, unknown_ingredients=tuple(sorted(unknown)), path=ps)


def _title_role(ph: str) -> str:
    """'Veg1' -> 'Veg', 'Protein' -> 'Protein'."""
    return ph[:-1] if ph[-1:].isdigit() else ph


# ---------------------------------------------------------------------------------------
# Quantities and lines
# ---------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------
# The composer
# ---------------------------------------------------------------------------------------

_OPTIONAL = re.compile(r"\[([^\[\]]*)\]")


def _outside_placeholders(text: str) -> set[str]:
    """Placeholders outside [...] segments: the step needs these roles filled."""
    return {m.group(1) for m in _PLACEHOLDER.finditer(_OPTIONAL.sub("", text))} - {"m"}


def _step_used(step: Step, picked: Iterable[str]) -> bool:
    picked = set(picked)
    return (set(step.needs) <= picked and _outside_placeholders(step.text) <= picked
            and not set(step.unless) & picked)


def _fill_step(text: str, words: dict[str, str], minutes: int) -> str:
    def keep(m: re.Match) -> str:
        inner = m.group(1)
        needed = {p.group(1) for p in _PLACEHOLDER.finditer(inner)} - {"m"}
        return inner if needed <= set(words) else ""

    text = _OPTIONAL.sub(keep, text)
    text = _PLACEHOLDER.sub(lambda mm: str(minutes) if mm.group(1) == "m" else words[mm.group(1)], text)
    text = re.sub(r"\b1 minutes\b", "1 minute", " ".join(text.split()))
    text = text.replace(" ,", ",").replace(" .", ".")
    return text[:1].upper() + text[1:]


COOKED_PREFIX = "cooked "


def _cooked_name(canon: str) -> str:
    """How a cooked leftover is named in a recipe: "cooked rice", "cooked chicken"."""
    return COOKED_PREFIX + canon


@dataclass(frozen=True)
class _Have:
    """The pantry as the composer uses it: canonical names, cooked leftovers, amounts."""

    names: frozenset[str] = frozenset()
    cooked: frozenset[str] = frozenset()
    amounts: dict[str, Amount] = field(default_factory=dict)


@dataclass
class _Draft:
    family: Family
    picks: dict[str, list[str]]  # role -> display names
    recipe: Recipe
    signature: Signature | None = None


class OfflineComposer:
    """Template-based recipe generator; the embedded default (Generator protocol)."""

    name = NAME

    def __init__(self, dishes_path: str | Path | None = None, kitchen: Any = None):
        self._dishes_path = dishes_path
        self._kitchen = kitchen
        self._book: DishBook | None = None
        self._plan_cache: dict[tuple, tuple[list[Family], list[float], frozenset[str]]] = {}

    # -- loading -------------------------------------------------------------------------
    @property
    def book(self) -> DishBook:
        if self._book is None:
            if self._dishes_path is None and self._kitchen is None:
                self._book = _default_book()
            else:
                self._book = load_dish_book(self._dishes_path, self._kitchen)
        return self._book

    @property
    def families(self) -> tuple[Family, ...]:
        return self.book.families

    @property
    def cuisines(self) -> tuple[str, ...]:
        return self.book.cuisines

    # -- public API ----------------------------------------------------------------------
    def compose(self, request: GenerationRequest) -> list[Recipe]:
        """Same as `generate(request)` (without progress reports)."""
        return self.generate(request)

    def generate(self, request: GenerationRequest, on_progress: ProgressFn | None = None) -> list[Recipe]:
        """`request.n` recipes for the pantry, respecting diets, cuisine and max_minutes.

        Deterministic for a request. For n >= 2 no two recipes are near-duplicates
        (`pantry.kitchen.dedupe.near_duplicate`); if the constraints leave too little room for n
        distinct recipes, fewer are returned, and GeneratorError is raised when not even
        min(n, 2) distinct recipes can be made. Pantry amounts and cooked leftovers are
        respected as the module docstring says.
        """
        n = int(request.n)
        if n < 1:
            raise GeneratorError(f"asked for {n} recipes; n must be at least 1")
        if request.servings is None or int(request.servings) < 1:
            raise GeneratorError(f"servings must be at least 1, got {request.servings!r}")
        bad = [d for d in request.diets if d not in DIETS]
        if bad:
            raise GeneratorError(f"unknown diet(s) {', '.join(bad)}; known: {', '.join(DIETS)}")
        if request.max_minutes is not None and int(request.max_minutes) < 1:
            raise GeneratorError(f"max_minutes must be at least 1, got {request.max_minutes!r}")
        families, weights, pantry = self._plan(request)
        have = _Have(names=pantry, cooked=self._canonical_pantry(request.cooked or ()) & pantry,
                     amounts=self._amounts(request.amounts))
        rng = random.Random(f"{NAME}|{request.seed}|{'|'.join(sorted(pantry))}")
        out: list[_Draft] = []
        used_families: dict[str, int] = {}
        for i in range(n):
            draft = None
            for attempt in range(MAX_DRAWS_PER_RECIPE):
                # Spread a batch over families: down-weight families already used.
                w = [wt / (1 + 4 * used_families.get(f.id, 0)) for f, wt in zip(families, weights)]
                fam = rng.choices(families, weights=w, k=1)[0]
                minimal = attempt >= MAX_DRAWS_PER_RECIPE // 2 and request.max_minutes is not None
                cand = self._compose_one(fam, request, have, rng, minimal=minimal)
                if cand is None:
                    continue
                if n > 1:
                    cand.signature = signature(cand.recipe)
                    if any(signature_similarity(cand.signature, prev.signature) >= DUPLICATE_THRESHOLD
                           for prev in out):
                        continue
                draft = cand
                break
            if draft is None:
                break
            out.append(draft)
            used_families[draft.family.id] = used_families.get(draft.family.id, 0) + 1
            if on_progress is not None:
                on_progress(i + 1, n, f"composed '{draft.recipe.title}'")
        if len(out) < min(n, 2):
            raise GeneratorError(
                f"the offline composer could only make {len(out)} distinct recipe(s) of {n} "
                f"for these constraints; try fewer diets, another cuisine or a longer time limit")
        return [d.recipe for d in out]

    # -- planning ------------------------------------------------------------------------
    def _canonical_pantry(self, items: Iterable[str]) -> frozenset[str]:
        kitchen = self._kitchen_obj()
        out = set()
        for item in items:
            key = (item or "").strip().lower()
            if not key:
                continue
            ing = kitchen.lookup(key) if kitchen is not None else None
            out.add(ing.name if ing is not None else key)
        return frozenset(out)

    def _amounts(self, amounts: Any) -> dict[str, Amount]:
        """request.amounts (name -> "2" / "half" / "200 g") as canonical name -> Amount."""
        kitchen = self._kitchen_obj()
        out: dict[str, Amount] = {}
        for key, value in dict(amounts or {}).items():
            ing = kitchen.lookup(key) if isinstance(key, str) else None
            amount = value if isinstance(value, Amount) else parse_amount(value)
            if ing is not None and amount is not None:
                out[ing.name] = amount
        return out

    def _kitchen_obj(self):
        if self._kitchen is None:
            from pantry.kitchen import load_kitchen
            self._kitchen = load_kitchen()
        return self._kitchen

    def _plan(self, request: GenerationRequest) -> tuple[list[Family], list[float], frozenset[str]]:
        """Families that can satisfy the request, with pantry-driven weights (cached).

        A cooked leftover counts as "in the pantry" only for slots that take cooked items.
        """
        key = (tuple(sorted(request.pantry)), tuple(sorted(request.diets)),
               (request.cuisine or "").strip().lower(), request.max_minutes, tuple(sorted(request.cooked or ())))
        hit = self._plan_cache.get(key)
        if hit is not None:
            return hit
        book = self.book
        cands = list(book.families)
        cuisine = key[2]
        where = f" of cuisine '{request.cuisine}'" if cuisine else ""
        if cuisine:
            allowed = set(book.cuisine_groups.get(cuisine, ())) | {cuisine}
            cands = [f for f in cands if f.cuisine in allowed]
            if not cands:
                raise GeneratorError(
                    f"the offline composer has no dishes for cuisine '{request.cuisine}'; "
                    f"available: {', '.join(book.cuisines)}")
        if request.max_minutes is not None:
            limit = int(request.max_minutes)
            fast = [f for f in cands if f.min_minutes() <= limit]
            if not fast:
                quickest = min(f.min_minutes() for f in cands)
                raise GeneratorError(
                    f"no offline dish{where} can be made in {limit} minutes (the quickest takes {quickest})")
            cands = fast
        cooked = self._canonical_pantry(request.cooked or ())
        pantry = self._canonical_pantry(request.pantry) | cooked
        feasible: list[Family] = []
        weights: list[float] = []
        for f in cands:
            ok = True
            from_pantry = 0.0  # expected non-staple lines the user already has
            to_buy = 0.0  # expected non-staple lines the user would need to buy
            for s in f.slots:
                canon = {book.canon[o] for o in self._allowed(s.options, request.diets)}
                usable = pantry if s.takes_cooked else pantry - cooked
                have = len(canon & usable)
                staple = len((canon - pantry) & book.staples)
                if s.include >= 1.0:
                    if len(canon) < s.count[0]:
                        ok = False
                        break
                    from_pantry += min(have, s.count[1])
                    to_buy += max(0, s.count[0] - have - staple)
                elif have:
                    from_pantry += min(have, s.count[1])
            if not ok:
                continue
            feasible.append(f)
            if pantry:
                share = from_pantry / max(1.0, from_pantry + to_buy)
                # Strongly prefer dishes made mostly from what the user has.
                weights.append(math.exp(7.0 * share) * (1.0 + 0.1 * min(from_pantry, 5)))
            else:
                weights.append(1.0)
        if not feasible:
            raise GeneratorError(
                f"no offline dish{where} fits the diets ({', '.join(request.diets)})"
                + (f" within {request.max_minutes} minutes" if request.max_minutes else ""))
        result = (feasible, weights, pantry)
        self._plan_cache[key] = result
        if len(self._plan_cache) > 256:
            self._plan_cache.pop(next(iter(self._plan_cache)))
        return result

    def _allowed(self, options: Iterable[str], diets: tuple[str, ...]) -> list[str]:
        book = self.book
        return [o for o in options if all(book.flags[book.canon[o]][d] for d in diets)]

    # -- one recipe ----------------------------------------------------------------------
    def _line(self, slot: Slot, name: str, canon: str, servings: int, scale: float = 1.0) -> str:
        """The ingredient line for `name` in `slot`; a cooked leftover is sized as cooked."""
        qty = slot.qty
        if name == _cooked_name(canon):
            gain = COOKED_GAIN.get(self.book.categories.get(canon, ""), 1.0)
            qty = slot.cooked_qty if slot.cooked_qty is not None else slot.qty * gain
        return format_line(name, qty * servings, slot.unit, slot.prep, self.book.measures.get(name), servings, scale)

    def _share_of_need(self, slot: Slot, name: str, canon: str, servings: int, have: "_Have",
                       scale: float = 1.0) -> float | None:
        """What the pantry holds of `canon` / what the line asks for; None = no amount to compare."""
        amount = have.amounts.get(canon)
        if amount is None:
            return None
        line = self._line(slot, name, canon, servings, scale)
        return amount_ratio(amount, line_amount(line), self._kitchen_obj().get(canon))

    def _compose_one(self, fam: Family, request: GenerationRequest, have_: "_Have",
                     rng: random.Random, minimal: bool = False) -> _Draft | None:
        book = self.book
        canon = book.canon
        pantry, cooked = have_.names, have_.cooked
        servings = int(request.servings)
        rich_pantry = len(pantry) >= 6
        used: set[str] = set()  # canonical names already in the recipe
        picks: dict[str, list[str]] = {}
        names_canon: dict[str, str] = {}  # display name in this recipe -> canonical name
        for s in fam.slots:
            allowed = [o for o in self._allowed(s.options, request.diets) if canon[o] not in used]
            if not s.takes_cooked:
                allowed = [o for o in allowed if canon[o] not in cooked]  # never cook a leftover again
            # One display name per pantry ingredient: the user's own variety when offered.
            variants: dict[str, list[str]] = {}
            for o in allowed:
                if canon[o] in pantry:
                    variants.setdefault(canon[o], []).append(o)
            have, short = [], []
            for c, opts in variants.items():
                name = _cooked_name(c) if c in cooked else (c if c in opts else rng.choice(opts))
                names_canon[name] = c
                share = self._share_of_need(s, name, c, servings, have_)
                (short if share is not None and share < MIN_SCALE else have).append(name)
            staple = [o for o in allowed if canon[o] in book.staples and canon[o] not in pantry]
            other = [o for o in allowed if canon[o] not in pantry and canon[o] not in book.staples]
            for o in staple + other:
                names_canon[o] = canon[o]
            required = s.include >= 1.0
            if not required:
                if minimal:
                    continue
                if have:
                    p = max(0.85, s.include)
                elif staple:
                    p = s.include
                else:
                    p = s.include * (0.3 if rich_pantry else 1.0)
                if rng.random() >= p:
                    continue
            lo = s.count[0] if required else 1
            k = rng.randint(lo, max(lo, s.count[1]))
            rng.shuffle(have)
            rng.shuffle(staple)
            rng.shuffle(short)
            rng.shuffle(other)
            chosen: list[str] = []
            seen: set[str] = set()
            # With a real pantry, buy only what the slot needs; otherwise fill it up. An item
            # the pantry holds too little of comes after staples: it means buying more.
            found = bool(have or staple or short)
            for pool, limit in ((have, k), (staple, k), (short, k), (other, lo if rich_pantry and found else k)):
                for o in pool:
                    if len(chosen) >= limit:
                        break
                    if names_canon[o] not in seen:
                        chosen.append(o)
                        seen.add(names_canon[o])
            if len(chosen) < lo:
                if required:
                    return None
                continue
            picks[s.role] = chosen
            used.update(seen)
        return self._render(fam, picks, request, rng, names_canon, have_)

    def _render(self, fam: Family, picks: dict[str, list[str]], request: GenerationRequest,
                rng: random.Random, names_canon: dict[str, str] | None = None,
                have: "_Have | None" = None) -> _Draft | None:
        book = self.book
        names_canon = names_canon or {}
        have = have or _Have()
        canon_of = lambda n: names_canon.get(n) or book.canon[n]  # noqa: E731
        servings = int(request.servings)
        cooked_roles = {role for role, names in picks.items()
                        if names and all(n == _cooked_name(canon_of(n)) and canon_of(n) in have.cooked for n in names)}
        # (text, minutes, quick minutes) of the steps this recipe uses
        plan: list[tuple[str, int, int]] = []
        for st in fam.steps:
            if not _step_used(st, picks):
                continue
            if set(st.cooks) & cooked_roles:
                if st.if_cooked is None or not _outside_placeholders(st.if_cooked) <= set(picks):
                    continue  # the leftover is already cooked: no cooking step
                plan.append((st.if_cooked, st.cooked_minutes, st.cooked_minutes))
            else:
                plan.append((st.text, st.minutes, st.quick))
        full = fam.prep + sum(m for _, m, _ in plan)
        quick = request.max_minutes is not None and full > request.max_minutes
        total = (fam.quick_prep + sum(q for _, _, q in plan)) if quick else full
        if request.max_minutes is not None and total > request.max_minutes:
            return None

        lines: list[str] = []
        for s in fam.slots:
            for name in picks.get(s.role, ()):
                lines.append(self._fitted_line(s, name, canon_of(name), servings, have))

        words = {role: _join(names) for role, names in picks.items()}
        steps = [_fill_step(text, words, q if quick else m) for text, m, q in plan]

        title = self._title(fam, picks, rng)
        names = [n for ns in picks.values() for n in ns]
        canon = [canon_of(n) for n in names]
        tags = list(dict.fromkeys(fam.tags))
        if total <= 30 and "quick" not in tags:
            tags.append("quick")
        if any(n in book.spicy for n in names) and "spicy" not in tags:
            tags.append("spicy")
        tags = [t for t in tags if t not in ("vegan", "vegetarian")]
        if all(book.flags[c]["vegetarian"] for c in canon):
            tags.append("vegetarian")
        if all(book.flags[c]["vegan"] for c in canon):
            tags.append("vegan")
        recipe = Recipe(
            id=content_id(title, lines, steps),
            title=title,
            ingredients=tuple(lines),
            steps=tuple(steps),
            minutes=int(total),
            servings=servings,
            cuisine=fam.cuisine,
            tags=tuple(tags),
            source=NAME,
        )
        return _Draft(family=fam, picks=picks, recipe=recipe)

    def _fitted_line(self, slot: Slot, name: str, canon: str, servings: int, have: "_Have") -> str:
        """The line, scaled down to the pantry amount when the pantry holds at least MIN_SCALE of it."""
        line = self._line(slot, name, canon, servings)
        share = self._share_of_need(slot, name, canon, servings, have)
        if share is None or share >= 1 or share < MIN_SCALE:
            return line  # enough, not comparable, or too little to cook the dish: buy the rest
        scale = share
        for _ in range(6):  # rounding may land just above the pantry amount: shave a little
            fitted = self._line(slot, name, canon, servings, scale)
            again = self._share_of_need(slot, name, canon, servings, have, scale)
            if again is None or again >= 1 - 1e-9:
                return fitted
            scale *= 0.9
        return line

    def _title(self, fam: Family, picks: dict[str, list[str]], rng: random.Random) -> str:
        book = self.book

        def short(name: str) -> str:
            m = book.measures.get(name)
            if name.startswith(COOKED_PREFIX):
                name = name[len(COOKED_PREFIX):]  # "Rice Donburi", not "Cooked Rice Donburi"
            return m.title if m is not None and m.title else _title_case(name)

        usable = []
        for t in fam.titles:
            ok = True
            for m in _PLACEHOLDER.finditer(t):
                ph = m.group(1)
                base = _title_role(ph)
                if base == "Adj":
                    continue
                idx = int(ph[-1]) - 1 if ph[-1:].isdigit() else 0
                role = base.lower()
                if role not in picks or idx >= len(picks[role]):
                    ok = False
                    break
            if ok:
                usable.append(t)
        template = rng.choice(usable) if usable else fam.name
        adjs = list(fam.adjectives)
        for ns in picks.values():
            for n in ns:
                adjs.extend(book.adjectives.get(n, ()) * 2)  # ingredient-driven words weigh double
        adj = rng.choice(adjs)

        def sub(m: re.Match) -> str:
            ph = m.group(1)
            base = _title_role(ph)
            if base == "Adj":
                return adj
            idx = int(ph[-1]) - 1 if ph[-1:].isdigit() else 0
            return short(picks[base.lower()][idx])

        return " ".join(_PLACEHOLDER.sub(sub, template).split())


@lru_cache(maxsize=1)
def _default_book() -> DishBook:
    return load_dish_book(None, None)
