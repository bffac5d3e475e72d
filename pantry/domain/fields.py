"""The field types every file format is built from, and one way to report what is wrong.

The formats themselves are pydantic models next to the types they describe (`RecipeRecord`
in `recipes`, `VoteRecord` and `TrlPair` in `votes`, the dish book in
`pantry.generators.dishbook`). Each rule a field follows (a length limit, "a whole number",
"one of a, b, tie") is written once, here or in its model, and serves both validation and
the JSON Schema (the one sent to Ollama as `format` comes from `RecipeAnswer`).

- Field types: `whole_number(lo, hi)`, `finite_number(...)`, `one_of(choices)`,
  `text(max_chars)`, `text_list(max_items, max_chars)`, `Flag` (true/false only). They are
  stricter than pydantic's defaults where a file would otherwise be misread: no "10" or
  `true` for a number, no 2.5 for a whole number, no NaN, Infinity or 5000-digit integers.
- `problems(error)` / `describe(error, subject)`: a pydantic `ValidationError` as one line
  that names each bad field ("field 'minutes' must be a whole number, got 'ten'"), never a
  traceback and never the whole (possibly huge) bad value.
- `loads_json(text)`: `json.loads` that does not crash on integers too long to convert
  (Python refuses more than 4300 digits): such a number becomes `OutOfRange` and is then
  reported by the field that holds it.

This module imports only the standard library and pydantic (no other part of pantry).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Annotated, Any, Callable, Iterable

from pydantic import AfterValidator, BeforeValidator, Field, Strict, ValidationError
from pydantic_core import PydanticCustomError, core_schema

__all__ = [
    "OutOfRange", "Flag", "FieldProblem", "whole_number", "finite_number", "one_of", "text", "text_list",
    "loads_json", "problems", "describe", "field_error", "rule_error", "nested_error", "Checked", "kind", "show",
    "loc_text", "has_lone_surrogate", "plain_text",
]

# Digits beyond which a JSON integer is not converted (Python's own limit is 4300).
MAX_NUMBER_DIGITS = 300
SHOW_CHARS = 60  # how much of a bad value a message quotes


# --- values in messages --------------------------------------------------------------------

@dataclass(frozen=True)
class OutOfRange:
    """A JSON number too large to hold: an integer of hundreds of digits, or 1e400."""

    text: str

    def __str__(self) -> str:
        digits = sum(ch.isdigit() for ch in self.text)
        if len(self.text) > 24:
            return f"{self.text[:12]}... (a number of {digits} digits)"
        return self.text


def kind(value: Any) -> str:
    """What a JSON value is, in words: 'text', 'a number', 'a list', 'an object', 'null', 'true'."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, OutOfRange)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def show(value: Any) -> str:
    """A short, safe rendering of a bad value for a message (JSON spellings, clipped)."""
    if value is None or isinstance(value, bool):
        return kind(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    if isinstance(value, int):
        if abs(value) < 10**24:
            return str(value)
        digits = int(value.bit_length() * math.log10(2)) + 1  # str() refuses >4300 digits
        return f"{'a negative' if value < 0 else 'a'} number of about {digits} digits"
    if isinstance(value, OutOfRange):
        return str(value)
    if isinstance(value, str):
        shown = repr(value[:SHOW_CHARS])
        return shown if len(value) <= SHOW_CHARS else shown[:-1] + "..." + shown[-1]
    return kind(value)


def _too_large(value: Any, limit: float) -> bool:
    return isinstance(value, OutOfRange) or abs(value) > limit


# --- errors ----------------------------------------------------------------------------------

RULE = "rule"  # a rule about several fields; the message names them itself
NESTED = "nested"  # a problem inside a nested object; the message is "field ...: <inner problem>"


def rule_error(message: str) -> PydanticCustomError:
    """Raise from a model validator: a problem whose message says everything itself."""
    return PydanticCustomError(RULE, "{message}", {"message": message})


def nested_error(message: str) -> PydanticCustomError:
    """Raise from a field validator: the field holds an object with this problem."""
    return PydanticCustomError(NESTED, "{message}", {"message": message})


def field_error(message: str, kind_: str = "pantry_field") -> PydanticCustomError:
    """Raise from a field validator: `message` is a predicate ("must be ...", "is empty")."""
    return PydanticCustomError(kind_, "{message}", {"message": message})


@dataclass(frozen=True)
class FieldProblem:
    """One bad field: where (`loc` as pydantic gives it) and what, as a predicate
    ("is missing", "must be a whole number, got 'ten'"), or a whole sentence for rules."""

    loc: tuple[str | int, ...]
    message: str
    kind: str  # "field": "field '<loc>' <message>"; RULE: the message alone; NESTED: "field '<loc>': <message>"

    def render(self, subject: str = "the value", where: str | None = None) -> str:
        where = where if where is not None else loc_text(self.loc)
        if self.kind == RULE:
            return f"{where}: {self.message}" if where else self.message
        if not where:
            return f"{subject} {self.message}"
        if self.kind == NESTED:
            return f"field '{where}': {self.message}"
        return f"field '{where}' {self.message}"


def loc_text(loc: Iterable[str | int]) -> str:
    """('ingredients', 1) -> 'ingredients[1]'; ('families', 0, 'slots') -> 'families[0].slots'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _predicate(error: dict) -> tuple[str, str]:
    """(message, kind) for one pydantic error dict, in the project's words."""
    etype = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    if etype in (RULE, NESTED):
        return str(ctx.get("message", error["msg"])), etype
    if etype == "missing":
        return "is missing", "field"
    if etype in ("string_type", "string_sub_type"):
        return f"must be a string, got {kind(value)}", "field"
    if etype in ("list_type", "tuple_type", "iterable_type"):
        return f"must be a list, got {kind(value)}", "field"
    if etype in ("model_type", "model_attributes_type", "dict_type", "dataclass_type"):
        return f"must be a JSON object, got {kind(value)}", "field"
    if etype == "bool_type":
        return f"must be true or false, got {show(value)}", "field"
    if etype == "too_long":
        limit, actual = ctx.get("max_length"), ctx.get("actual_length")
        if isinstance(value, str):
            return f"is {actual if actual is not None else len(value)} characters (limit {limit})", "field"
        if actual is None:
            return f"has more than {limit} items", "field"
        return f"has {actual} items (limit {limit})", "field"
    if etype == "too_short":
        least = ctx.get("min_length", 1)
        if isinstance(value, str):
            return ("must be a non-empty string" if least == 1
                    else f"must be at least {least} characters"), "field"
        return ("must not be empty" if least == 1 else f"must have at least {least} items"), "field"
    if etype in ("value_error", "assertion_error"):
        return str(ctx.get("error", error["msg"])), "field"
    if etype == "literal_error":
        expected = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        return f"must be one of {expected}, got {show(value)}", "field"
    if etype.startswith("pantry_"):
        return error["msg"], "field"
    if etype == "json_invalid":  # FastAPI: a body that is not JSON (loc: "body", character offset)
        return f"is not valid JSON: {ctx.get('error') or 'it cannot be decoded'}", "field"
    msg = error["msg"]
    return msg[:1].lower() + msg[1:], "field"


def error_message(error: dict) -> str:
    """One pydantic (or FastAPI request) error dict in the project's words: a predicate such
    as "must be a non-empty string" or a rule's sentence; pydantic's own text if it cannot be read."""
    try:
        return _predicate(error)[0]
    except Exception:  # an error shape this wording does not know: say what pydantic says
        return str(error.get("msg", "is not valid"))


def problems(error: ValidationError) -> list[FieldProblem]:
    """Every problem in a pydantic ValidationError, in field order."""
    out = []
    for e in error.errors(include_url=False):
        message, k = _predicate(e)
        out.append(FieldProblem(tuple(e["loc"]), message, k))
    return out


def describe(error: ValidationError, subject: str = "the value", limit: int = 3) -> str:
    """One line naming each bad field (at most `limit`, then "(+N more)")."""
    found = problems(error)
    text = "; ".join(p.render(subject) for p in found[:limit])
    return text + (f" (+{len(found) - limit} more)" if len(found) > limit else "")


# --- field types -----------------------------------------------------------------------------

class Checked:
    """An `Annotated` marker: validate with `check` (raises `field_error(...)`), describe with `schema`."""

    def __init__(self, check: Callable[[Any], Any], schema: dict[str, Any]):
        self.check = check
        self.schema = schema

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(self.check)

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> dict[str, Any]:
        return dict(self.schema)


def _number(value: Any, what: str) -> None:
    """Reject what is not a finite JSON number (bools, text, NaN, Infinity) with `what` in the message."""
    if isinstance(value, OutOfRange):
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise field_error(f"must be {what}, got {show(value) if isinstance(value, str) else kind(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise field_error(f"must be {what}, got {show(value)}")


def whole_number(lo: int = 0, hi: int = 100_000) -> Any:
    """A whole number from `lo` to `hi` (30 and 30.0 are accepted; 2.5, "30", true are not)."""

    def check(value: Any) -> int:
        _number(value, "a whole number")
        if _too_large(value, 2**62) or not lo <= value <= hi:
            raise field_error(f"is out of range: {show(value)} (allowed {lo} to {hi})")
        if value != int(value):
            raise field_error(f"must be a whole number, got {show(value)}")
        return int(value)

    return Annotated[int, Checked(check, {"type": "integer", "minimum": lo, "maximum": hi})]


def finite_number(*, gt: float | None = None, ge: float | None = None, le: float | None = None) -> Any:
    """A finite number (int or float, never NaN, Infinity or a bool) within the given bounds."""
    parts = ([f"> {gt:g}"] if gt is not None else []) + ([f">= {ge:g}"] if ge is not None else []) \
        + ([f"<= {le:g}"] if le is not None else [])
    what = "a number" + (" " + " and ".join(parts) if parts else "")

    def check(value: Any) -> float:
        _number(value, what)
        if (_too_large(value, 1e300) or (gt is not None and not value > gt) or (ge is not None and not value >= ge)
                or (le is not None and not value <= le)):
            raise field_error(f"must be {what}, got {show(value)}")
        return float(value)

    schema: dict[str, Any] = {"type": "number"}
    if gt is not None:
        schema["exclusiveMinimum"] = gt
    if ge is not None:
        schema["minimum"] = ge
    if le is not None:
        schema["maximum"] = le
    return Annotated[float, Checked(check, schema)]


def one_of(choices: Iterable[str]) -> Any:
    """One of the given strings, exactly."""
    choices = tuple(choices)

    def check(value: Any) -> str:
        if not isinstance(value, str) or value not in choices:
            raise field_error(f"must be one of {', '.join(choices)}, got {show(value)}")
        return value

    return Annotated[str, Checked(check, {"type": "string", "enum": list(choices)})]


def has_lone_surrogate(value: str) -> bool:
    """Whether `value` holds a lone UTF-16 surrogate (JSON's "\\ud800"): not text, cannot be
    stored or encoded as UTF-8, so every text field refuses it."""
    return any("\ud800" <= ch <= "\udfff" for ch in value)


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # C0 controls and DEL; tab and line breaks are text


def plain_text(value: str) -> str:
    """`value` unchanged, or a field error when it holds what is not text: a lone surrogate
    (cannot be encoded as UTF-8) or a control character other than tab and line breaks (NUL
    cannot be stored in PostgreSQL, and none of them is part of a recipe or a name)."""
    if has_lone_surrogate(value):
        raise field_error("contains a lone surrogate (an unpaired \\ud800-\\udfff escape), which is not text")
    bad = _CONTROL.search(value)
    if bad:
        raise field_error(f"contains a control character (U+{ord(bad.group()):04X}), which is not text")
    return value


def _stripped(value: str) -> str:
    return plain_text(value).strip()


def _collapsed(value: str) -> str:
    return " ".join(plain_text(value).split())


def text(max_chars: int | None = None, *, required: bool = False, collapse: bool = False) -> Any:
    """A string, stripped (`collapse`: inner runs of white space become one space).

    `required`: it must not be blank. Otherwise a blank string reads as None, so use it as
    `text(...) | None`. The limit counts characters after stripping.
    """
    clean = AfterValidator(_collapsed if collapse else _stripped)
    limits = Field(min_length=1 if required else None, max_length=max_chars)
    if required:
        return Annotated[str, Strict(), clean, limits]
    return Annotated[str, Strict(), clean, limits, AfterValidator(_blank_is_none)]


def _blank_is_none(value: str) -> str | None:
    return value or None


def _list_of_strings(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return value
    raise field_error(f"must be a list of strings, got {kind(value)}")


def _no_blanks(items: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(item for item in items if item)


def text_list(max_items: int, max_chars: int, *, min_items: int = 0) -> Any:
    """A list of strings: each stripped and at most `max_chars` long, blank ones dropped;
    at most `max_items` (and at least `min_items`) items as written."""
    item = Annotated[str, Strict(), AfterValidator(_stripped), Field(max_length=max_chars)]
    size: dict[str, int] = {"max_length": max_items}
    if min_items:
        size["min_length"] = min_items
    # The size limit comes first so that it is part of the list's schema (maxItems).
    return Annotated[tuple[item, ...], Field(**size), BeforeValidator(_list_of_strings), AfterValidator(_no_blanks)]


Flag = Annotated[bool, Strict()]  # true or false, not 1 or "yes"


# --- JSON --------------------------------------------------------------------------------

def _parse_int(digits: str) -> int | OutOfRange:
    return int(digits) if len(digits) <= MAX_NUMBER_DIGITS else OutOfRange(digits)


def _parse_float(number: str) -> float | OutOfRange:
    value = float(number)
    return OutOfRange(number) if math.isinf(value) else value


def loads_json(text: str | bytes) -> Any:
    """`json.loads`, except that numbers too large to hold (1e400, a 5000-digit integer)
    become `OutOfRange` instead of Infinity or a crash. NaN and Infinity stay floats; the
    field types reject them by name. Raises json.JSONDecodeError and RecursionError as usual.
    """
    return json.loads(text, parse_int=_parse_int, parse_float=_parse_float)
