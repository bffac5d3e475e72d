"""The `Recipe` type: parsing, validation, a stable id, and the text used for embedding.

A recipe is one JSON object (DESIGN.md, Formats):
`{"id", "title", "ingredients", "steps", "minutes", "servings", "cuisine", "tags", "source"}`.
Validation names the bad field so a person can fix the file; a recipe without an id
gets a content hash, so the same recipe imported twice is one recipe.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from pantry.errors import InvalidRecipe

# Limits that keep a single bad record from eating memory or the UI.
MAX_TITLE_CHARS = 300
MAX_LIST_ITEMS = 200
MAX_LINE_CHARS = 10_000  # real recipes have single steps of 3,700+ characters

FIELDS = ("id", "title", "ingredients", "steps", "minutes", "servings", "cuisine", "tags", "source")


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


def content_id(title: str, ingredients: list[str] | tuple[str, ...], steps: list[str] | tuple[str, ...]) -> str:
    """A stable id from what the recipe *is* (title, ingredients, steps), not where it came from."""
    payload = json.dumps([title.strip().lower(), [i.strip().lower() for i in ingredients],
                          [s.strip().lower() for s in steps]], ensure_ascii=False)
    return "r-" + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def str_list_field(obj: dict, name: str, *, required: bool = False, max_items: int = MAX_LIST_ITEMS,
                   max_chars: int = MAX_LINE_CHARS, error: type[Exception] = InvalidRecipe) -> tuple[str, ...]:
    """Validate `obj[name]` as a list of strings (stripped, blanks dropped), naming the bad item.

    Shared by recipes and votes; `error` is the exception class to raise.
    """
    value = obj.get(name)
    if value is None:
        if required:
            raise error(f"field '{name}' is missing")
        return ()
    if not isinstance(value, list):
        raise error(f"field '{name}' must be a list of strings, got {type(value).__name__}")
    if len(value) > max_items:
        raise error(f"field '{name}' has {len(value)} items (limit {max_items})")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise error(f"field '{name}[{i}]' must be a string, got {type(item).__name__}")
        item = item.strip()
        if len(item) > max_chars:
            raise error(f"field '{name}[{i}]' is {len(item)} characters (limit {max_chars})")
        if item:
            out.append(item)
    return tuple(out)


def _opt_int(obj: dict, name: str) -> int | None:
    value = obj.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise InvalidRecipe(f"field '{name}' must be a whole number or null, got {value!r}")
    if not 0 <= value <= 100_000:
        raise InvalidRecipe(f"field '{name}' is out of range: {value}")
    return int(value)


def _opt_str(obj: dict, name: str) -> str | None:
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRecipe(f"field '{name}' must be a string or null, got {type(value).__name__}")
    return value.strip() or None


def recipe_from_dict(obj: Any) -> Recipe:
    """Validate a decoded JSON object into a Recipe; raise InvalidRecipe naming the bad field."""
    if not isinstance(obj, dict):
        raise InvalidRecipe(f"a recipe must be a JSON object, got {type(obj).__name__}")
    title = obj.get("title")
    if title is None:
        raise InvalidRecipe("field 'title' is missing")
    if not isinstance(title, str) or not title.strip():
        raise InvalidRecipe("field 'title' must be a non-empty string")
    title = " ".join(title.split())
    if len(title) > MAX_TITLE_CHARS:
        raise InvalidRecipe(f"field 'title' is {len(title)} characters (limit {MAX_TITLE_CHARS})")
    ingredients = str_list_field(obj, "ingredients", required=True)
    steps = str_list_field(obj, "steps")
    rid = obj.get("id")
    if rid is not None and (not isinstance(rid, str) or not rid.strip()):
        raise InvalidRecipe("field 'id' must be a non-empty string when given")
    return Recipe(
        id=rid.strip() if rid else content_id(title, ingredients, steps),
        title=title,
        ingredients=ingredients,
        steps=steps,
        minutes=_opt_int(obj, "minutes"),
        servings=_opt_int(obj, "servings"),
        cuisine=(_opt_str(obj, "cuisine") or None),
        tags=str_list_field(obj, "tags"),
        source=_opt_str(obj, "source"),
    )


def parse_recipe_json(text: str) -> Recipe:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidRecipe(f"not valid JSON ({e.msg} at column {e.colno})") from None
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


def recipe_json_schema() -> dict[str, Any]:
    """JSON Schema of one recipe, used as Ollama's structured-output `format=`."""
    return {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "ingredients": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "steps": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "minutes": {"type": ["integer", "null"]},
            "servings": {"type": ["integer", "null"]},
            "cuisine": {"type": ["string", "null"]},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["title", "ingredients", "steps", "minutes", "servings", "cuisine", "tags"],
    }


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
