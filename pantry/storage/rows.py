"""Helpers every storage module shares: chunked `IN (...)` queries, JSON written strictly and
read tolerantly (a damaged stored row reads as empty instead of failing the page)."""

from __future__ import annotations

import json
from typing import Any, Iterator, Sequence

from pantry.domain.votes import validate_user_name
from pantry.errors import InvalidInput

CHUNK = 500  # ids per IN (...) query, below SQLite's variable limit


def tolerant_strings(text: Any) -> tuple[str, ...]:
    """A stored JSON list of strings (vote reasons/pantry, batch users); () when damaged."""
    try:
        value = json.loads(text or "[]")
    except (ValueError, TypeError):
        return ()
    if not isinstance(value, list):
        return ()
    return tuple(str(x) for x in value if isinstance(x, (str, int, float)))


def tolerant_dict(text: Any, what: str, problems: list[str]) -> dict[str, Any]:
    """A stored JSON object, or {} (with a problem noted) when it is damaged."""
    try:
        value = json.loads(text or "{}")
    except (ValueError, TypeError) as e:
        problems.append(f"stored {what} are not valid JSON ({e})")
        return {}
    if not isinstance(value, dict):
        problems.append(f"stored {what} are not a JSON object")
        return {}
    return value


def json_dump(value: Any, what: str) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError) as e:
        raise InvalidInput(f"{what} must be JSON-serialisable: {e}") from None


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def opt_user(user: str | None) -> str | None:
    return None if user is None else validate_user_name(user)
