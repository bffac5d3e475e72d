"""The `Recipe` type, its file format (one pydantic model), a stable id, and the text used for embedding.

A recipe is one JSON object (docs/ARCHITECTURE.md, Formats):
`{"id", "title", "ingredients", "steps", "minutes", "servings", "cuisine", "tags", "source"}`.

- `RecipeRecord` is that format: the one place where each field's rules are written
  (types, length limits, blank items dropped). `recipe_from_dict` validates with it and
  raises InvalidRecipe naming the bad field; a recipe without an id gets a content hash,
  so the same recipe imported twice is one recipe.
- `RecipeAnswer` is what a generator (Ollama) must write: the same fields without id and
  source, at least one ingredient and one step. `recipe_json_schema()` is its JSON Schema,
  sent to Ollama as `format`; `recipe_from_answer` reads an answer back.
- `Recipe` (a frozen dataclass) is the in-memory type the rest of the library passes around.
- The plain-text form (TRL chosen/rejected columns): `recipe_to_text` / `recipe_from_text`.

Imports: pydantic, `pantry.errors` and `pantry.domain.fields` only.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from pantry.domain.fields import describe, loads_json, text, text_list, whole_number
from pantry.errors import InvalidRecipe

# Limits that keep a single bad record from eating memory or the UI.
MAX_TITLE_CHARS = 300
MAX_ID_CHARS = 200  # a recipe id (content hashes are 18, real data sets' ids under 40)
MAX_LIST_ITEMS = 200
MAX_LINE_CHARS = 10_000  # real recipes have single steps of 3,700+ characters
MAX_COUNT = 100_000  # minutes and servings


@dataclass(frozen=True)
class Recipe:
    id: str
    title: str
    ingredients: tuple[str, ...]
    steps: tuple[str, ...] = ()
    minutes: int | None = None
    servings: int | None = None
    cuisine: str | None = None
    tags: tuple[str, ...] = ()
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("ingredients", "steps", "tags"):
            d[key] = list(d[key])
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @property
    def text(self) -> str:
        return embedding_text(self)


FIELDS = tuple(f.name for f in fields(Recipe))


def content_id(title: str, ingredients: list[str] | tuple[str, ...], steps: list[str] | tuple[str, ...]) -> str:
    """A stable id from what the recipe *is* (title, ingredients, steps), not where it came from."""
    payload = json.dumps([title.strip().lower(), [i.strip().lower() for i in ingredients],
                          [s.strip().lower() for s in steps]], ensure_ascii=False)
    return "r-" + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


# --- the format: one definition of every field's rules ------------------------------------

Title = text(MAX_TITLE_CHARS, required=True, collapse=True)  # inner white space collapsed
Lines = text_list(MAX_LIST_ITEMS, MAX_LINE_CHARS)  # ingredients, steps, tags
Count = whole_number(0, MAX_COUNT)  # minutes, servings
Label = text()  # cuisine, source: stripped; blank reads as null


class _RecipeContent(BaseModel):
    """What a recipe says. Unknown keys are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    title: Title
    ingredients: Lines
    steps: Lines = ()
    minutes: Count | None = None
    servings: Count | None = None
    cuisine: Label | None = None
    tags: Lines = ()


class RecipeRecord(_RecipeContent):
    """One recipe in a recipes file, a vote's inline recipe, an import line (docs/ARCHITECTURE.md, Formats)."""

    id: text(MAX_ID_CHARS, required=True) | None = None
    source: Label | None = None

    def to_recipe(self) -> Recipe:
        """The in-memory Recipe; without an id, the content hash is the id."""
        return Recipe(id=self.id or content_id(self.title, self.ingredients, self.steps), title=self.title,
                      ingredients=self.ingredients, steps=self.steps, minutes=self.minutes,
                      servings=self.servings, cuisine=self.cuisine, tags=self.tags, source=self.source)


class RecipeAnswer(_RecipeContent):
    """One recipe with every field present (null where unknown), at least one ingredient and one step."""

    # What a generator must write; its JSON Schema (docstring included) is Ollama's `format`.

    model_config = ConfigDict(title="Recipe", json_schema_serialization_defaults_required=True)

    ingredients: text_list(MAX_LIST_ITEMS, MAX_LINE_CHARS, min_items=1)
    steps: text_list(MAX_LIST_ITEMS, MAX_LINE_CHARS, min_items=1)


def recipe_from_dict(obj: Any) -> Recipe:
    """Validate a decoded JSON object into a Recipe; raise InvalidRecipe naming the bad field."""
    try:
        return RecipeRecord.model_validate(obj).to_recipe()
    except ValidationError as e:
        raise InvalidRecipe(describe(e, "a recipe")) from None


def recipe_from_answer(obj: Any, source: str | None = None) -> Recipe:
    """A generator's answer (`RecipeAnswer`) as a Recipe with a content-hash id and `source`.

    An `id` or `source` in the answer is ignored. Raises InvalidRecipe naming the bad field.
    """
    try:
        answer = RecipeAnswer.model_validate(obj)
    except ValidationError as e:
        raise InvalidRecipe(describe(e, "a recipe")) from None
    return Recipe(id=content_id(answer.title, answer.ingredients, answer.steps), title=answer.title,
                  ingredients=answer.ingredients, steps=answer.steps, minutes=answer.minutes,
                  servings=answer.servings, cuisine=answer.cuisine, tags=answer.tags, source=source)


def parse_recipe_json(text: str) -> Recipe:
    try:
        obj = loads_json(text)
    except json.JSONDecodeError as e:
        raise InvalidRecipe(f"not valid JSON ({e.msg} at column {e.colno})") from None
    except RecursionError:
        raise InvalidRecipe("not valid JSON (nested too deeply)") from None
    return recipe_from_dict(obj)


def embedding_text(recipe: Recipe) -> str:
    """The text the sentence encoder sees: title, then ingredients, then numbered steps.

    all-MiniLM-L6-v2 reads at most 256 word pieces and silently drops the rest. The order
    here is deliberate: title and ingredient list (what the dish *is*) come first, so what
    truncation drops is the tail of the method (late steps), which says least about taste.
    Minutes, servings, cuisine, tags and source are not in the text: minutes and step count
    reach the reward model as explicit features instead.
    """
    parts = [recipe.title + "."]
    if recipe.ingredients:
        parts.append("Ingredients: " + "; ".join(recipe.ingredients) + ".")
    if recipe.steps:
        parts.append("Steps: " + " ".join(f"{i}. {s}" for i, s in enumerate(recipe.steps, 1)))
    return " ".join(parts)


# Bounds that a grammar would have to unroll (Ollama turns `format` into a llama.cpp grammar,
# where `maxLength: 10000` becomes up to 10,000 nested rules per string): left out of the
# format, still checked when the answer is read back with RecipeAnswer.
GRAMMAR_UNFRIENDLY = frozenset({"maxLength", "maxItems", "minimum", "maximum"})


def _without(schema: Any, keys: frozenset[str]) -> Any:
    if isinstance(schema, dict):
        return {k: _without(v, keys) for k, v in schema.items() if k not in keys}
    if isinstance(schema, list):
        return [_without(v, keys) for v in schema]
    return schema


@lru_cache(maxsize=1)
def _answer_schema() -> dict[str, Any]:
    return _without(RecipeAnswer.model_json_schema(mode="serialization"), GRAMMAR_UNFRIENDLY)


def recipe_json_schema() -> dict[str, Any]:
    """JSON Schema of one recipe as a generator writes it (`RecipeAnswer`): Ollama's `format=`.

    Every field is required (null where unknown), ingredients and steps have at least one
    item; size bounds (GRAMMAR_UNFRIENDLY) are left to validation of the answer.
    """
    return copy.deepcopy(_answer_schema())


# --- Plain-text form (TRL prompt/chosen/rejected pairs) -------------------------------

_TEXT_SECTION_HEADINGS = {
    "ingredients": "ingredients",
    "ingredient list": "ingredients",
    "you will need": "ingredients",
    "steps": "steps",
    "method": "steps",
    "instructions": "steps",
    "directions": "steps",
    "preparation": "steps",
}


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def recipe_to_text(recipe: Recipe) -> str:
    """A readable plain-text recipe: title, "Ingredients:" bullets, "Steps:" numbered, details.

    Used for the TRL `chosen`/`rejected` columns. `recipe_from_text` reads it back to the
    same title, ingredients, steps, minutes, servings and cuisine (tags, source and a
    non-content id are not part of the text).
    """
    lines = [_one_line(recipe.title), "", "Ingredients:"]
    lines += [f"- {_one_line(item)}" for item in recipe.ingredients]
    if recipe.steps:
        lines += ["", "Steps:"]
        lines += [f"{i}. {_one_line(step)}" for i, step in enumerate(recipe.steps, 1)]
    details = []
    if recipe.minutes is not None:
        details.append(f"Minutes: {recipe.minutes}")
    if recipe.servings is not None:
        details.append(f"Servings: {recipe.servings}")
    if recipe.cuisine:
        details.append(f"Cuisine: {_one_line(recipe.cuisine)}")
    if details:
        lines += ["", " | ".join(details)]
    return "\n".join(lines)


def _strip_marker(line: str) -> str:
    """Drop a leading bullet ("-", "*", "•") or number ("1.", "2)") from a list line."""
    import re

    return re.sub(r"^\s*(?:[-*•·]|\d+[.)])(?:\s+|$)", "", line).strip()


def _parse_details(line: str, out: dict) -> bool:
    """Read a "Minutes: 20 | Servings: 2 | Cuisine: Thai" line into `out`; False if it is not one."""
    import re

    if not re.match(r"^(?:minutes|time|total time|servings|serves|cuisine)\s*:", line, flags=re.IGNORECASE):
        return False
    for key, pattern in (("minutes", r"\b(?:minutes|time|total time)\s*:\s*(\d+)"),
                         ("servings", r"\b(?:servings|serves)\s*:\s*(\d+)")):
        m = re.search(pattern, line, flags=re.IGNORECASE)
        if m:
            out[key] = int(m.group(1))
    m = re.search(r"\bcuisine\s*:\s*(.+)$", line, flags=re.IGNORECASE)
    if m:
        out["cuisine"] = m.group(1).split(" | ")[0].strip() or None
    return True


def recipe_from_text(text: str) -> Recipe:
    """Parse plain recipe text (best effort) into a Recipe whose id is its content hash.

    The first non-empty line is the title (a leading "#" or "Title:" is dropped); lines
    after an "Ingredients" heading are ingredients, after a "Steps"/"Method"/"Instructions"/
    "Directions" heading are steps; bullets and step numbers are stripped; a
    "Minutes: N | Servings: N | Cuisine: X" line fills those fields. Text with no headings
    becomes a recipe with only a title and no ingredients. Raises InvalidRecipe when there
    is no title at all. Inverse of `recipe_to_text` for the fields that text carries.
    """
    if not isinstance(text, str):
        raise InvalidRecipe(f"recipe text must be a string, got {type(text).__name__}")
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        raise InvalidRecipe("recipe text is empty")
    title = lines[0].lstrip("#").strip()
    if title.lower().startswith("title:"):
        title = title[len("title:"):].strip()
    title = title.strip("*").strip()
    fields: dict[str, Any] = {"title": title, "ingredients": [], "steps": []}
    section: str | None = None
    for line in lines[1:]:
        heading = line.lstrip("#").strip().strip("*").strip().rstrip(":").strip().lower()
        if heading in _TEXT_SECTION_HEADINGS:
            section = _TEXT_SECTION_HEADINGS[heading]
            continue
        if _parse_details(line, fields):
            continue
        item = _strip_marker(line)
        if not item:
            continue
        if section is None:
            # Text before any heading (a description): not part of the structured recipe.
            continue
        fields[section].append(item)
    return recipe_from_dict(fields)
