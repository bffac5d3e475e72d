"""The dish book (`data/dishes.json`): its format as pydantic models, and loading it.

The offline composer (`pantry.generators.composer`) builds recipes from dish *families*
described here. A family is a template (a stir-fry, a dal, a quiche...) with:

- slots, one per role (protein, base, vegetables, aromatics, spices, herbs, sauce...),
  each with its allowed ingredients (names, or "@group" for a named list in `groups`),
  how many to pick (`count`: n or [min, max]), a per-serving quantity (`qty`) and `unit`,
  an optional preparation note ("sliced"), the probability that an optional slot is used
  (`include`), whether a cooked leftover may fill it (`takes_cooked`, `cooked_qty`), and
  whether the composer may put a versatile pantry item of the same kind in it
  (`substitute`, default true; false where the options are the dish: a ratatouille);
- title patterns ("{Adj} {Veg1} and {Protein} Curry") and step templates with times
  (`minutes`, a shorter `quick` time used under a time limit, `needs`/`unless` roles,
  `cooks` roles whose cooked leftovers replace the step by `if_cooked`).
  In templates `{role}` names a slot, `{m}` the step's minutes, `[...]` is dropped when a
  placeholder inside it has nothing in its slot; `{Role1}` in titles is the slot's first pick.

The models (`DishBookFile`, `Family`, `Slot`, `Step`, `Measure`) are the one definition of
the format: every field's type and limit, and the rules between fields (unique ids and
roles, placeholders that name slots, groups that exist). `load_dish_book` validates with
them and raises DishBookError naming the file, the family, the slot and the field; then it
resolves every ingredient name through the kitchen knowledge base (a name the kitchen does
not know is dropped from the options and listed in `DishBook.unknown_ingredients`, rather
than used without diet flags).

Imports: pydantic, `pantry.errors`, `pantry.domain`, `pantry.paths` and `pantry.kitchen` (the
knowledge base itself is loaded only when no kitchen is given).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Iterable

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from pantry.domain.fields import (Flag, finite_number, loads_json, loc_text, one_of, problems, rule_error, text,
                                  whole_number)
from pantry.errors import GeneratorError
from pantry.kitchen import DIETS
from pantry.paths import DATA_DIR

DEFAULT_DISHES_PATH = DATA_DIR / "dishes.json"

UNITS = ("g", "ml", "tsp", "tbsp", "cup", "each", "pinch", "to taste")
DEFAULT_ADJECTIVES = ("Simple", "Weeknight", "Easy", "Homestyle", "Rustic")
MAX_MINUTES = 24 * 60  # one step, or the preparation of one family
MAX_PICKS = 50  # ingredients one slot may take
MAX_QTY = 100_000.0  # per serving, in the slot's unit
MAX_SHOWN_PROBLEMS = 3

PLACEHOLDER = re.compile(r"\{([A-Za-z_]+[0-9]?)\}")
OPTIONAL = re.compile(r"\[([^\[\]]*)\]")


class DishBookError(GeneratorError):
    """dishes.json is missing or malformed (the message names the file and the field)."""


# --- template syntax -------------------------------------------------------------------------

def title_role(ph: str) -> str:
    """'Veg1' -> 'Veg', 'Protein' -> 'Protein'."""
    return ph[:-1] if ph[-1:].isdigit() else ph


def outside_placeholders(text_: str) -> set[str]:
    """Placeholders outside [...] segments: the step needs these roles filled."""
    return {m.group(1) for m in PLACEHOLDER.finditer(OPTIONAL.sub("", text_))} - {"m"}


def step_used(step: "Step", picked: Iterable[str]) -> bool:
    """Does `step` appear in a recipe whose filled roles are `picked`?"""
    picked = set(picked)
    return (set(step.needs) <= picked and outside_placeholders(step.text) <= picked
            and not set(step.unless) & picked)


# --- the format --------------------------------------------------------------------------------

def _one_or_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _count_pair(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    return value


def _lower(value: str) -> str:
    return value.lower()


Name = text(required=True)  # a non-empty string, stripped
Label = text()  # an optional string, stripped; blank reads as null
Names = tuple[Name, ...]
Roles = Annotated[Names, BeforeValidator(_one_or_list)]  # "protein" or ["protein", "veg"]
Minutes = whole_number(0, MAX_MINUTES)
Pick = whole_number(1, MAX_PICKS)


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class Measure(_Part):
    """How one ingredient is counted and prepared when a slot asks for grams."""

    unit: Label | None = None  # e.g. "clove": "2 cloves garlic"; None = bare count ("2 eggs")
    plural: Label | None = None  # plural of the unit, or of the name when unit is None
    grams: finite_number(gt=0, le=MAX_QTY) | None = None  # grams per piece; None = keep grams
    whole: Flag = False  # round counts up to whole pieces (eggs), else to halves (onion)
    prep: Label | None = None  # default preparation note ("minced")
    title: Label | None = None  # short name for titles ("Chicken" for "chicken thighs")
    per_serving: finite_number(gt=0, le=MAX_QTY) | None = None  # fixed amount per serving, whatever the slot says
    per_serving_unit: one_of(UNITS) | None = None  # unit of per_serving; None = pieces

    @model_validator(mode="after")
    def _piece_weight(self) -> "Measure":
        if self.per_serving is not None and self.per_serving_unit is None and not self.grams:
            raise rule_error("'per_serving' without 'per_serving_unit' needs 'grams' (a piece weight)")
        return self


class Slot(_Part):
    role: Name
    options: Names  # as written ("@group" allowed); after loading: display names the kitchen knows
    count: Annotated[tuple[Pick, Pick], BeforeValidator(_count_pair)] = (1, 1)  # min, max picks
    qty: finite_number(ge=0, le=MAX_QTY)  # per serving, in `unit`, for each ingredient picked
    unit: one_of(UNITS)
    prep: Label | None = None
    include: finite_number(gt=0, le=1) = 1.0  # 1.0 = required; else probability when nothing suits from the pantry
    takes_cooked: Flag = False  # a cooked leftover may fill this slot ("cooked rice")
    cooked_qty: finite_number(gt=0, le=MAX_QTY) | None = None  # per serving when cooked; None = qty x COOKED_GAIN
    substitute: Flag = True  # False: the options are the dish (ratatouille's vegetables): no pantry item stands in

    @model_validator(mode="after")
    def _count_order(self) -> "Slot":
        if self.count[0] > self.count[1]:
            raise rule_error(f"'count' must be [min, max] with 1 <= min <= max, got [{self.count[0]}, {self.count[1]}]")
        return self



def _quick_default(data: Any, quick: str, full: str) -> Any:
    """A time's quick variant (used under a time limit) defaults to the full time."""
    if isinstance(data, dict) and quick not in data and full in data:
        return {**data, quick: data[full]}
    return data


def _check_quicker(quick_value: int, full_value: int, quick: str, full: str) -> None:
    if quick_value > full_value:
        raise rule_error(f"'{quick}' ({quick_value}) must be at most '{full}' ({full_value})")


class Step(_Part):
    text: Name
    minutes: Minutes
    quick: Minutes  # the time under a time limit; defaults to `minutes`
    needs: Roles = ()  # roles that must be filled for this step to appear
    unless: Roles = ()  # roles that must be empty for this step to appear
    cooks: Roles = ()  # roles this step cooks: replaced when they hold cooked leftovers
    if_cooked: Label | None = None  # the step's text when a role in `cooks` is already cooked; None = drop it
    cooked_minutes: Minutes = 0

    @model_validator(mode="before")
    @classmethod
    def _quick_defaults_to_minutes(cls, data: Any) -> Any:
        return _quick_default(data, "quick", "minutes")

    @model_validator(mode="after")
    def _quick_is_quicker(self) -> "Step":
        _check_quicker(self.quick, self.minutes, "quick", "minutes")
        return self


class Family(_Part):
    id: Name
    name: Name
    cuisine: Annotated[Name, AfterValidator(_lower)]
    tags: Names = ()
    prep: Minutes = Field(alias="prep_minutes")
    quick_prep: Minutes = Field(alias="quick_prep_minutes")  # defaults to prep_minutes
    slots: Annotated[tuple[Slot, ...], Field(min_length=1)]
    titles: Annotated[Names, Field(min_length=1)]
    steps: Annotated[tuple[Step, ...], Field(min_length=1)]
    adjectives: Annotated[Names, AfterValidator(lambda words: words or DEFAULT_ADJECTIVES)] = DEFAULT_ADJECTIVES

    @model_validator(mode="before")
    @classmethod
    def _quick_prep_defaults_to_prep(cls, data: Any) -> Any:
        return _quick_default(data, "quick_prep_minutes", "prep_minutes")

    @model_validator(mode="after")
    def _templates_name_slots(self) -> "Family":
        _check_quicker(self.quick_prep, self.prep, "quick_prep_minutes", "prep_minutes")
        roles: set[str] = set()
        for slot in self.slots:
            if slot.role in roles:
                raise rule_error(f"slot '{slot.role}': duplicate role")
            roles.add(slot.role)
        for i, st in enumerate(self.steps):
            placeholders = [m.group(1) for m in PLACEHOLDER.finditer(st.text + " " + (st.if_cooked or ""))]
            for ph in [*st.needs, *st.unless, *st.cooks, *placeholders]:
                if ph != "m" and ph not in roles:
                    raise rule_error(f"steps[{i}] refers to '{ph}', which is not a slot of this family")
        for t in self.titles:
            for m in PLACEHOLDER.finditer(t):
                base = title_role(m.group(1))
                if base != "Adj" and base.lower() not in roles:
                    raise rule_error(f"title {t!r} refers to '{m.group(1)}', which is not a slot")
        return self

    def min_minutes(self) -> int:
        """The fastest this family can be: quick prep + quick times of unconditional steps."""
        required = {s.role for s in self.slots if s.include >= 1.0}
        return self.quick_prep + sum(st.quick for st in self.steps if step_used(st, required))


class DishBookFile(_Part):
    """The whole of dishes.json. Unknown keys (version, description) are ignored."""

    groups: dict[str, Names] = {}  # name -> ingredients, used in options as "@name"
    measures: dict[str, Measure] = {}  # ingredient -> how it is counted
    adjectives: dict[str, Names] = {}  # ingredient -> title adjectives it suggests
    spicy: Names = ()  # ingredients that make a dish spicy
    cuisine_groups: dict[str, Names] = {}  # "asian" -> cuisines it covers
    families: Annotated[tuple[Family, ...], Field(min_length=1)]

    @model_validator(mode="after")
    def _ids_and_groups(self) -> "DishBookFile":
        seen: set[str] = set()
        defined = ", ".join(sorted(self.groups)) or "none"
        for fam in self.families:
            if fam.id in seen:
                raise rule_error(f"family '{fam.id}': duplicate id")
            seen.add(fam.id)
            for slot in fam.slots:
                for name in slot.options:
                    if name.startswith("@") and name[1:] not in self.groups:
                        raise rule_error(f"family '{fam.id}' slot '{slot.role}': unknown group '{name}' "
                                         f"(defined groups: {defined})")
        return self


# --- loaded, resolved through the kitchen ------------------------------------------------------

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


# Lists and maps of objects in the dish book; for some, the field that names an item.
_CONTAINERS = {"families": ("family", "id"), "slots": ("slot", "role"), "steps": None, "measures": None}


def _where(doc: Any, loc: tuple) -> tuple[str, tuple]:
    """Split a pydantic error location into a place people recognise and the field within it:
    ('families', 3, 'slots', 0, 'unit') -> ("family 'dal' slot 'base'", ('unit',));
    ('families', 3, 'steps', 2, 'quick') -> ("family 'dal' steps[2]", ('quick',))."""
    places: list[str] = []
    node, i = doc, 0
    while i + 1 < len(loc) and loc[i] in _CONTAINERS and isinstance(node, dict):
        name, key = loc[i], loc[i + 1]
        try:
            node = node.get(name)[key]
        except (KeyError, IndexError, TypeError):
            node = None
        naming = _CONTAINERS[name]
        named = node.get(naming[1]) if naming and isinstance(node, dict) else None
        places.append(f"{naming[0]} {named!r}" if isinstance(named, str) else
                      f"{name}[{key}]" if isinstance(key, int) else f"{name}.{key}")
        i += 2
    return " ".join(places), tuple(loc[i:])


def _describe(path: str, doc: Any, error: ValidationError) -> str:
    found = problems(error)
    parts = []
    for p in found[:MAX_SHOWN_PROBLEMS]:
        where, rest = _where(doc, p.loc)
        if p.kind == "rule" or not rest:
            parts.append(f"{where}: {p.message}" if where else
                         (p.message if p.kind == "rule" else f"the dish book {p.message}"))
        else:
            line = p.render(where=loc_text(rest))
            parts.append(f"{where}: {line}" if where else line)
    more = f" (+{len(found) - MAX_SHOWN_PROBLEMS} more)" if len(found) > MAX_SHOWN_PROBLEMS else ""
    return f"{path}: " + "; ".join(parts) + more


def read_dish_book(path: str | Path | None = None) -> DishBookFile:
    """Read and validate dishes.json (no kitchen involved); DishBookError names what is wrong."""
    p = Path(path) if path is not None else DEFAULT_DISHES_PATH
    ps = str(p)
    try:
        raw = p.read_text(encoding="utf-8")
    except OSError as e:
        raise DishBookError(f"{ps}: cannot read dish templates ({e.strerror or e})") from None
    except UnicodeDecodeError as e:
        raise DishBookError(f"{ps}: not UTF-8 text (byte {e.start + 1})") from None
    try:
        doc = loads_json(raw)
    except json.JSONDecodeError as e:
        raise DishBookError(f"{ps}: not valid JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
    except (RecursionError, ValueError) as e:
        raise DishBookError(f"{ps}: not valid JSON ({'nested too deeply' if isinstance(e, RecursionError) else e})") \
            from None
    try:
        return DishBookFile.model_validate(doc)
    except ValidationError as e:
        raise DishBookError(_describe(ps, doc, e)) from None


def load_dish_book(path: str | Path | None = None, kitchen: Any = None) -> DishBook:
    """Read and validate dishes.json; resolve every ingredient through the kitchen KB.

    Raises DishBookError naming the file and the family/field when the file is missing,
    not JSON, or structurally wrong.
    """
    book = read_dish_book(path)
    ps = str(Path(path) if path is not None else DEFAULT_DISHES_PATH)
    if kitchen is None:
        from pantry.kitchen import load_kitchen
        kitchen = load_kitchen()

    unknown: set[str] = set()
    resolved: dict[str, str | None] = {}
    canon: dict[str, str] = {}

    def resolve(name: str) -> str | None:
        key = name.strip().lower()
        if key not in resolved:
            ing = kitchen.lookup(key)
            resolved[key] = ing.name if ing is not None else None
            if ing is None:
                unknown.add(key)
        return resolved[key]

    def expand(names: Iterable[str]) -> tuple[str, ...]:
        """Display names (as written, lowercased), '@group' expanded, unknown ones dropped."""
        out: list[str] = []
        for n in names:
            for m in (book.groups[n[1:]] if n.startswith("@") else (n,)):
                m = m.strip().lower()
                c = resolve(m)
                if c is not None and m not in out:
                    canon[m] = c
                    out.append(m)
        return tuple(out)

    families = tuple(
        fam.model_copy(update={"slots": tuple(s.model_copy(update={"options": expand(s.options)}) for s in fam.slots)})
        for fam in book.families)

    # Knowledge-base facts for every ingredient we may use.
    flags: dict[str, dict[str, bool]] = {}
    categories: dict[str, str] = {}
    staples: set[str] = set()
    for n in set(canon.values()):
        ing = kitchen.lookup(n)
        flags[n] = {d: bool(getattr(ing, attr)) for d, attr in DIETS.items()}
        categories[n] = ing.category
        if ing.staple:
            staples.add(n)
    return DishBook(
        families=families,
        measures={name.strip().lower(): m for name, m in book.measures.items()},
        adjectives={name.strip().lower(): words for name, words in book.adjectives.items()},
        spicy=frozenset(n.lower() for n in book.spicy),
        cuisine_groups={k.lower(): tuple(c.lower() for c in v) for k, v in book.cuisine_groups.items()},
        flags=flags, staples=frozenset(staples), categories=categories, canon=canon,
        unknown_ingredients=tuple(sorted(unknown)), path=ps)


@lru_cache(maxsize=1)
def default_book() -> DishBook:
    """The shipped dish book with the default kitchen, loaded once per process."""
    return load_dish_book(None, None)
