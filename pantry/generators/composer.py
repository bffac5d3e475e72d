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
ingredients whose knowledge-base diet flags (`pantry.kitchen`) satisfy every requested
diet, and never uses an ingredient twice in one recipe. All randomness comes from a
`random.Random` seeded from the request seed, so the same request gives the same recipes.
A batch (`n >= 2`) never holds near-duplicates (`pantry.dedupe`).

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

from ..dedupe import Signature, signature, signature_similarity
from ..errors import GeneratorError
from ..recipes import Recipe, content_id
from .base import DIETS, GenerationRequest, ProgressFn

NAME = "offline-composer"
DEFAULT_DISHES_PATH = Path(__file__).resolve().parents[2] / "data" / "dishes.json"

DIET_FLAG = {
    "vegetarian": "vegetarian",
    "vegan": "vegan",
    "gluten-free": "gluten_free",
    "dairy-free": "dairy_free",
    "nut-free": "nut_free",
}
UNITS = ("g", "ml", "tsp", "tbsp", "cup", "each", "pinch", "to taste")
DEFAULT_ADJECTIVES = ("Simple", "Weeknight", "Easy", "Homestyle", "Rustic")
# Up to this many fresh draws per recipe when a draw is a near-duplicate or too slow.
MAX_DRAWS_PER_RECIPE = 24
DUPLICATE_THRESHOLD = 0.8


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


@dataclass(frozen=True)
class Step:
    text: str
    minutes: int
    quick: int
    needs: tuple[str, ...]  # roles that must be filled for this step to appear
    unless: tuple[str, ...] = ()  # roles that must be empty for this step to appear


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
        from ..kitchen import load_kitchen
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
            slots.append(Slot(role=role, options=opts, count=(count[0], count[1]), qty=float(qty),
                              unit=unit, prep=sr.get("prep"), include=float(include)))
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
            for ph in list(needs) + list(unless) + [m.group(1) for m in _PLACEHOLDER.finditer(text)]:
                if ph != "m" and ph not in roles:
                    raise _fail(ps, swhere, f"refers to '{ph}', which is not a slot of this family")
            steps.append(Step(text=text, minutes=minutes, quick=quick, needs=needs, unless=unless))
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
        flags[n] = {d: bool(getattr(ing, attr)) for d, attr in DIET_FLAG.items()}
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
                servings: int | None = None) -> str:
    """One ingredient line: '300 g spaghetti', '2 cloves garlic, minced', '1 tbsp olive oil'."""
    note = prep if prep is not None else (measure.prep if measure else None)
    tail = f", {note}" if note else ""
    if measure is not None and measure.per_serving is not None and servings is not None:
        if measure.per_serving_unit is not None:
            qty, unit = measure.per_serving * servings, measure.per_serving_unit
        else:
            qty, unit = measure.per_serving * servings * (measure.grams or 1), "g"
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
        (`pantry.dedupe.near_duplicate`); if the constraints leave too little room for n
        distinct recipes, fewer are returned, and GeneratorError is raised when not even
        min(n, 2) distinct recipes can be made.
        """
        n = int(request.n)
        if n < 1:
            raise GeneratorError(f"asked for {n} recipes; n must be at least 1")
        if request.servings is None or int(request.servings) < 1:
            raise GeneratorError(f"servings must be at least 1, got {request.servings!r}")
        bad = [d for d in request.diets if d not in DIET_FLAG]
        if bad:
            raise GeneratorError(f"unknown diet(s) {', '.join(bad)}; known: {', '.join(DIETS)}")
        if request.max_minutes is not None and int(request.max_minutes) < 1:
            raise GeneratorError(f"max_minutes must be at least 1, got {request.max_minutes!r}")
        families, weights, pantry = self._plan(request)
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
                cand = self._compose_one(fam, request, pantry, rng, minimal=minimal)
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

    def _kitchen_obj(self):
        if self._kitchen is None:
            from ..kitchen import load_kitchen
            self._kitchen = load_kitchen()
        return self._kitchen

    def _plan(self, request: GenerationRequest) -> tuple[list[Family], list[float], frozenset[str]]:
        """Families that can satisfy the request, with pantry-driven weights (cached)."""
        key = (tuple(sorted(request.pantry)), tuple(sorted(request.diets)),
               (request.cuisine or "").strip().lower(), request.max_minutes)
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
        pantry = self._canonical_pantry(request.pantry)
        feasible: list[Family] = []
        weights: list[float] = []
        for f in cands:
            ok = True
            from_pantry = 0.0  # expected non-staple lines the user already has
            to_buy = 0.0  # expected non-staple lines the user would need to buy
            for s in f.slots:
                canon = {book.canon[o] for o in self._allowed(s.options, request.diets)}
                have = len(canon & pantry)
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
    def _compose_one(self, fam: Family, request: GenerationRequest, pantry: frozenset[str],
                     rng: random.Random, minimal: bool = False) -> _Draft | None:
        book = self.book
        canon = book.canon
        rich_pantry = len(pantry) >= 6
        used: set[str] = set()  # canonical names already in the recipe
        picks: dict[str, list[str]] = {}
        for s in fam.slots:
            allowed = [o for o in self._allowed(s.options, request.diets) if canon[o] not in used]
            have = [o for o in allowed if canon[o] in pantry]
            staple = [o for o in allowed if canon[o] in book.staples and canon[o] not in pantry]
            other = [o for o in allowed if canon[o] not in pantry and canon[o] not in book.staples]
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
            rng.shuffle(other)
            chosen: list[str] = []
            seen: set[str] = set()
            # With a real pantry, buy only what the slot needs; otherwise fill it up.
            for pool, limit in ((have, k), (staple, k), (other, lo if rich_pantry and (have or staple) else k)):
                for o in pool:
                    if len(chosen) >= limit:
                        break
                    if canon[o] not in seen:
                        chosen.append(o)
                        seen.add(canon[o])
            if len(chosen) < lo:
                if required:
                    return None
                continue
            picks[s.role] = chosen
            used.update(seen)
        return self._render(fam, picks, request, rng)

    def _render(self, fam: Family, picks: dict[str, list[str]], request: GenerationRequest,
                rng: random.Random) -> _Draft | None:
        book = self.book
        servings = int(request.servings)
        steps_used = [st for st in fam.steps if _step_used(st, picks)]
        full = fam.prep + sum(st.minutes for st in steps_used)
        quick = request.max_minutes is not None and full > request.max_minutes
        total = (fam.quick_prep + sum(st.quick for st in steps_used)) if quick else full
        if request.max_minutes is not None and total > request.max_minutes:
            return None

        lines: list[str] = []
        for s in fam.slots:
            for name in picks.get(s.role, ()):
                lines.append(format_line(name, s.qty * servings, s.unit, s.prep, book.measures.get(name), servings))

        words = {role: _join(names) for role, names in picks.items()}
        steps = [_fill_step(st.text, words, st.quick if quick else st.minutes) for st in steps_used]

        title = self._title(fam, picks, rng)
        names = [n for ns in picks.values() for n in ns]
        canon = [book.canon[n] for n in names]
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

    def _title(self, fam: Family, picks: dict[str, list[str]], rng: random.Random) -> str:
        book = self.book

        def short(name: str) -> str:
            m = book.measures.get(name)
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
