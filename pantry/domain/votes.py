"""The `Vote` type: one pairwise judgement of two recipes by one user, and its validation.

A vote is one JSON object (DESIGN.md, Formats):
`{"user", "a", "b", "outcome"}` plus optional `strength`, `left`, `reasons`, `pantry`,
`created_at`, `model_version`, `generator`. `a` and `b` are recipe ids or inline recipe
objects. Validation messages name the bad field so a person can fix the file.

Also reads the TRL pair format `{"prompt", "chosen", "rejected"}` (optional `user`,
`margin`) into a vote (see `pair_from_trl`), and validates user names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

from pantry.errors import InvalidInput, InvalidRecipe
from pantry.domain.recipes import Recipe, recipe_from_dict, recipe_from_text, str_list_field

OUTCOMES = ("a", "b", "tie", "both_bad")
DECISIVE = ("a", "b")
STRENGTHS = ("slightly", "much")
SIDES = ("a", "b")

MAX_USER_CHARS = 40
MAX_REASONS = 20
MAX_PANTRY_ITEMS = 200
MAX_ITEM_CHARS = 500
MAX_META_CHARS = 300

# Prompt used for TRL exports, and recognised on TRL imports to recover the pantry.
TRL_PROMPT_PREFIX = "Suggest a recipe using: "
TRL_PROMPT_NO_PANTRY = "Suggest a recipe."

_USER_CHARS = re.compile(r"^[\w .\-]+$")


class InvalidVote(InvalidInput):
    """A vote object is missing a field or has a field with a wrong type or value."""


def now_iso() -> str:
    """The current time in UTC as ISO 8601 (the store's default `created_at`)."""
    return datetime.now(timezone.utc).isoformat()


def normalize_timestamp(value: Any, field_name: str = "created_at") -> str:
    """Validate an ISO 8601 timestamp and return it in UTC ISO form (naive times are UTC).

    Normalising makes timestamps from different files compare correctly as strings.
    """
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str) and value.strip():
        try:
            dt = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidVote(f"field '{field_name}' must be an ISO 8601 date-time, got {value!r}") from None
    else:
        raise InvalidVote(f"field '{field_name}' must be an ISO 8601 date-time string")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).isoformat()


def validate_user_name(name: Any) -> str:
    """Return the stripped user name, or raise InvalidInput saying what is wrong.

    A user name is 1-40 characters: letters, digits, spaces, '-', '_' and '.'.
    """
    if not isinstance(name, str):
        raise InvalidInput(f"user name must be text, got {type(name).__name__}")
    name = name.strip()
    if not name:
        raise InvalidInput("user name is empty")
    if len(name) > MAX_USER_CHARS:
        raise InvalidInput(f"user name is {len(name)} characters (limit {MAX_USER_CHARS})")
    if not _USER_CHARS.match(name):
        raise InvalidInput(f"user name {name!r} may only contain letters, digits, spaces, '-', '_' and '.'")
    return name


@dataclass(frozen=True)
class Vote:
    """One pairwise judgement: `user` compared recipes `a` and `b` (recipe ids).

    outcome: "a" or "b" (decisive: that recipe is better), "tie", or "both_bad".
    strength: "slightly" / "much" for decisive votes, else None.
    left: which recipe was shown on the left ("a"/"b"), for position-bias diagnostics.
    created_at: ISO 8601 UTC; None until the store fills it with the current time.
    id: the store's row id (None before saving); deleted: soft-deleted (undone) in the store.
    """

    user: str
    a: str
    b: str
    outcome: str
    strength: str | None = None
    left: str | None = None
    reasons: tuple[str, ...] = ()
    pantry: tuple[str, ...] = ()
    created_at: str | None = None
    model_version: str | None = None
    generator: str | None = None
    generator_reason: str | None = None  # why that generator was used (e.g. "Ollama is not reachable")
    id: int | None = None
    deleted: bool = False

    @property
    def decisive(self) -> bool:
        return self.outcome in DECISIVE

    @property
    def winner(self) -> str | None:
        """The preferred recipe id for a decisive vote, else None."""
        return self.a if self.outcome == "a" else self.b if self.outcome == "b" else None

    @property
    def loser(self) -> str | None:
        return self.b if self.outcome == "a" else self.a if self.outcome == "b" else None

    def to_dict(self) -> dict[str, Any]:
        """The vote JSON object (DESIGN.md format) with `a`/`b` as recipe ids.

        Optional fields that are empty are left out; `id` and `deleted` (store bookkeeping)
        are not part of the format and are not included.
        """
        d: dict[str, Any] = {"user": self.user, "a": self.a, "b": self.b, "outcome": self.outcome}
        if self.strength is not None:
            d["strength"] = self.strength
        if self.left is not None:
            d["left"] = self.left
        if self.reasons:
            d["reasons"] = list(self.reasons)
        if self.pantry:
            d["pantry"] = list(self.pantry)
        if self.created_at is not None:
            d["created_at"] = self.created_at
        if self.model_version is not None:
            d["model_version"] = self.model_version
        if self.generator is not None:
            d["generator"] = self.generator
        if self.generator_reason is not None:
            d["generator_reason"] = self.generator_reason
        return d


def describe_vote(vote: Vote, titles: "dict[str, str] | None" = None) -> str:
    """What a person chose, in words: "left: Smoky Shakshuka beat Zesty Grain Bowl".

    `titles` maps recipe ids to titles (ids are shown when a title is unknown). The side
    prefix ("left: " / "right: ") is given when the vote records which recipe was on the
    left; "much better" votes say so. Never shows the stored codes ("a", "b").
    """
    titles = titles or {}
    name = lambda rid: titles.get(rid) or rid  # noqa: E731
    if vote.decisive:
        side = ""
        if vote.left in SIDES:
            side = "left: " if vote.left == vote.outcome else "right: "
        verb = "clearly beat" if vote.strength == "much" else "beat"
        return f"{side}{name(vote.winner)} {verb} {name(vote.loser)}"
    first, second = (vote.b, vote.a) if vote.left == "b" else (vote.a, vote.b)
    if vote.outcome == "tie":
        return f"tie: {name(first)} and {name(second)} about equal"
    return f"both bad: {name(first)} and {name(second)}"


def _opt_choice(obj: dict, name: str, choices: tuple[str, ...]) -> str | None:
    value = obj.get(name)
    if value is None:
        return None
    if value not in choices:
        raise InvalidVote(f"field '{name}' must be one of {', '.join(choices)} or null, got {value!r}")
    return value


def _str_tuple(obj: dict, name: str, limit: int) -> tuple[str, ...]:
    return str_list_field(obj, name, max_items=limit, max_chars=MAX_ITEM_CHARS, error=InvalidVote)


def _opt_meta(obj: dict, name: str) -> str | None:
    value = obj.get(name)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # a model version may be written as a number
    if not isinstance(value, str):
        raise InvalidVote(f"field '{name}' must be a string or null, got {type(value).__name__}")
    value = value.strip()
    if len(value) > MAX_META_CHARS:
        raise InvalidVote(f"field '{name}' is {len(value)} characters (limit {MAX_META_CHARS})")
    return value or None


def _recipe_ref(obj: dict, name: str) -> tuple[str, Recipe | None]:
    value = obj.get(name)
    if value is None:
        raise InvalidVote(f"field '{name}' is missing")
    if isinstance(value, str):
        if not value.strip():
            raise InvalidVote(f"field '{name}' must be a recipe id or a recipe object, got an empty string")
        return value.strip(), None
    if isinstance(value, dict):
        try:
            recipe = recipe_from_dict(value)
        except InvalidRecipe as e:
            raise InvalidVote(f"field '{name}': {e}") from None
        return recipe.id, recipe
    raise InvalidVote(f"field '{name}' must be a recipe id or a recipe object, got {type(value).__name__}")


def check_vote(vote: Vote) -> Vote:
    """Validate a Vote built in code (same rules as the JSON format); return it normalised."""
    try:
        user = validate_user_name(vote.user)
    except InvalidInput as e:
        raise InvalidVote(f"field 'user': {e}") from None
    for name in ("a", "b"):
        value = getattr(vote, name)
        if not isinstance(value, str) or not value.strip():
            raise InvalidVote(f"field '{name}' must be a non-empty recipe id")
    if vote.a.strip() == vote.b.strip():
        raise InvalidVote(f"fields 'a' and 'b' are the same recipe ({vote.a.strip()!r}); a vote compares two recipes")
    if vote.outcome not in OUTCOMES:
        raise InvalidVote(f"field 'outcome' must be one of {', '.join(OUTCOMES)}, got {vote.outcome!r}")
    if vote.strength is not None:
        if vote.strength not in STRENGTHS:
            raise InvalidVote(f"field 'strength' must be one of {', '.join(STRENGTHS)} or null, got {vote.strength!r}")
        if vote.outcome not in DECISIVE:
            raise InvalidVote(f"field 'strength' only applies to outcome a or b, not {vote.outcome!r}")
    if vote.left is not None and vote.left not in SIDES:
        raise InvalidVote(f"field 'left' must be one of a, b or null, got {vote.left!r}")
    created = normalize_timestamp(vote.created_at) if vote.created_at is not None else None
    lists = {}
    for name, limit in (("reasons", MAX_REASONS), ("pantry", MAX_PANTRY_ITEMS)):
        value = getattr(vote, name)
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise InvalidVote(f"field '{name}' must be a list of strings, got {type(value).__name__}")
        lists[name] = _str_tuple({name: list(value)}, name, limit)
    return replace(vote, user=user, a=vote.a.strip(), b=vote.b.strip(), created_at=created, **lists)


def vote_from_dict(obj: Any) -> tuple[Vote, list[Recipe]]:
    """Validate a decoded vote JSON object.

    Returns the Vote (with `a`/`b` as recipe ids) and the recipes that were given inline
    (so the caller can store them). Raises InvalidVote (an InvalidInput) naming the field.
    Unknown keys are ignored.
    """
    if not isinstance(obj, dict):
        raise InvalidVote(f"a vote must be a JSON object, got {type(obj).__name__}")
    if "user" not in obj:
        raise InvalidVote("field 'user' is missing")
    if "outcome" not in obj:
        raise InvalidVote("field 'outcome' is missing")
    a_id, a_recipe = _recipe_ref(obj, "a")
    b_id, b_recipe = _recipe_ref(obj, "b")
    outcome = obj["outcome"]
    if not isinstance(outcome, str) or outcome not in OUTCOMES:
        raise InvalidVote(f"field 'outcome' must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
    created = obj.get("created_at")
    vote = Vote(
        user=obj["user"],
        a=a_id,
        b=b_id,
        outcome=outcome,
        strength=_opt_choice(obj, "strength", STRENGTHS),
        left=_opt_choice(obj, "left", SIDES),
        reasons=_str_tuple(obj, "reasons", MAX_REASONS),
        pantry=_str_tuple(obj, "pantry", MAX_PANTRY_ITEMS),
        created_at=normalize_timestamp(created) if created is not None else None,
        model_version=_opt_meta(obj, "model_version"),
        generator=_opt_meta(obj, "generator"),
        generator_reason=_opt_meta(obj, "generator_reason"),
    )
    vote = check_vote(vote)
    return vote, [r for r in (a_recipe, b_recipe) if r is not None]


def is_trl_pair(obj: Any) -> bool:
    return isinstance(obj, dict) and ("chosen" in obj or "rejected" in obj)


def _trl_text(obj: dict, name: str) -> str:
    """A TRL column as text; conversational rows (lists of messages) use the last message."""
    value = obj.get(name)
    if value is None:
        raise InvalidVote(f"field '{name}' is missing")
    if isinstance(value, list) and value and all(isinstance(m, dict) for m in value):
        value = value[-1].get("content")
    if not isinstance(value, str) or not value.strip():
        raise InvalidVote(f"field '{name}' must be non-empty recipe text")
    return value


def pantry_from_prompt(prompt: str) -> tuple[str, ...]:
    """Recover pantry items from a prompt made by `trl_prompt` ("Suggest a recipe using: a, b")."""
    if prompt.lower().startswith(TRL_PROMPT_PREFIX.lower()):
        rest = prompt[len(TRL_PROMPT_PREFIX):].strip().rstrip(".")
        return tuple(item.strip() for item in rest.split(",") if item.strip())
    return ()


def trl_prompt(pantry: tuple[str, ...] | list[str]) -> str:
    """The TRL prompt for a vote: "Suggest a recipe using: eggs, rice" (or "Suggest a recipe.")."""
    items = [" ".join(p.replace(",", " ").split()) for p in pantry]
    items = [p for p in items if p]
    return TRL_PROMPT_PREFIX + ", ".join(items) if items else TRL_PROMPT_NO_PANTRY


def pair_from_trl(obj: Any, default_user: str = "me") -> tuple[Vote, list[Recipe]]:
    """Read a TRL pair `{"prompt", "chosen", "rejected"}` (+ optional `user`, `margin`).

    chosen/rejected are recipe texts parsed by `recipe_from_text` (ids are content
    hashes). The vote is outcome "a" with a=chosen, b=rejected (no randomisation: the
    orientation is stored as given and randomised, where needed, at training time).
    `margin` >= 1 gives strength "much", a smaller margin "slightly", no margin None.
    The pantry is recovered from prompts of the form "Suggest a recipe using: x, y"
    (what `export_trl` writes); other prompts are accepted but not kept.
    Returns the vote and the two recipes.
    """
    if not isinstance(obj, dict):
        raise InvalidVote(f"a prompt/chosen/rejected pair must be a JSON object, got {type(obj).__name__}")
    prompt = obj.get("prompt", "")
    if isinstance(prompt, list):  # conversational: the user turn(s)
        prompt = " ".join(str(m.get("content", "")) for m in prompt if isinstance(m, dict))
    if not isinstance(prompt, str):
        raise InvalidVote(f"field 'prompt' must be a string, got {type(prompt).__name__}")
    recipes = []
    for name in ("chosen", "rejected"):
        text = _trl_text(obj, name)
        try:
            recipes.append(recipe_from_text(text))
        except InvalidRecipe as e:
            raise InvalidVote(f"field '{name}': {e}") from None
    chosen, rejected = recipes
    if chosen.id == rejected.id:
        raise InvalidVote("fields 'chosen' and 'rejected' are the same recipe")
    margin = obj.get("margin")
    if margin is None:
        strength = None
    elif isinstance(margin, bool) or not isinstance(margin, (int, float)):
        raise InvalidVote(f"field 'margin' must be a number, got {margin!r}")
    else:
        strength = "much" if margin >= 1 else "slightly"
    user = obj.get("user")
    if user is None:
        user = default_user
    vote = check_vote(Vote(user=user, a=chosen.id, b=rejected.id, outcome="a", strength=strength,
                           pantry=pantry_from_prompt(prompt.strip())))
    return vote, [chosen, rejected]


def vote_content_key(vote: Vote, with_time: bool = True) -> str:
    """A stable hash of what a vote says, used to recognise the same vote line imported again.

    The vote is normalised first (`check_vote`: trimmed names, UTC timestamps, lists as
    tuples) and hashed as its JSON object (`to_dict`, keys sorted), so two lines that say
    the same thing get the same key however they were spaced or ordered. The store's row
    id and deleted flag are not part of it. `with_time=False` leaves `created_at` out.
    """
    import hashlib
    import json

    d = check_vote(vote).to_dict()
    if not with_time:
        d.pop("created_at", None)
    text = json.dumps(d, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
