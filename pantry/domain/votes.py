"""The `Vote` type: one pairwise judgement of two recipes by one user, and its file formats.

A vote is one JSON object (docs/ARCHITECTURE.md, Formats):
`{"user", "a", "b", "outcome"}` plus optional `strength`, `left`, `reasons`, `pantry`,
`created_at`, `model_version`, `generator`, `generator_reason`, `group_id` (a household vote).
`a` and `b` are recipe ids or
inline recipe objects (`RecipeRecord`).

- `VoteRecord` is that format, the one place where each field's rules are written (user
  names, choices, list limits, timestamps, "a and b differ"); `vote_from_dict` and
  `check_vote` (a Vote built in code) both validate with it, raising InvalidVote naming
  the bad field.
- `TrlPair` is the TRL pair format `{"prompt", "chosen", "rejected"}` (optional `user`,
  `margin`), read into a vote by `pair_from_trl`.
- `line_kind` says which of the formats (recipe, vote, pair) an import line is.
- `Vote` (a frozen dataclass) is the in-memory type the rest of the library passes around.

Imports: pydantic, `pantry.errors`, `pantry.domain.fields` and `pantry.domain.recipes` only.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Annotated, Any, Literal, Mapping

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, WrapValidator, model_validator
from pydantic_core import PydanticCustomError

from pantry.domain.fields import (Checked, describe, field_error, finite_number, has_lone_surrogate, kind,
                                  nested_error, one_of, plain_text, rule_error, show, text, text_list)
from pantry.domain.recipes import FIELDS as RECIPE_FIELDS
from pantry.domain.recipes import MAX_ID_CHARS, Recipe, RecipeRecord, recipe_from_text
from pantry.errors import InvalidInput, InvalidRecipe

OUTCOMES = ("a", "b", "tie", "both_bad")
DECISIVE = ("a", "b")
STRENGTHS = ("slightly", "much")
DEFAULT_STRENGTH = "slightly"  # a decisive vote cast without a strength (`pantry.lab.Lab.cast_vote` fills it)


def strength_of(outcome: str, strength: str | None = None) -> str | None:
    """The strength a vote with `outcome` is stored with: the one given, else DEFAULT_STRENGTH
    for a decisive vote (a or b), else none."""
    return strength or (DEFAULT_STRENGTH if outcome in DECISIVE else None)
SIDES = ("a", "b")
Side = Literal["a", "b"]  # a vote's left side: which recipe was shown on the left (`SIDES`)

MAX_USER_CHARS = 40
MAX_REASONS = 20
MAX_PANTRY_ITEMS = 200
MAX_ITEM_CHARS = 500
MAX_META_CHARS = 300
MAX_GROUP_ID_CHARS = 64

# Prompt used for TRL exports, and recognised on TRL imports to recover the pantry.
TRL_PROMPT_PREFIX = "Suggest a recipe using: "
TRL_PROMPT_NO_PANTRY = "Suggest a recipe."

USER_PATTERN = r"^[\w .\-]+$"
_USER_CHARS = re.compile(USER_PATTERN)


class InvalidVote(InvalidInput):
    """A vote object is missing a field or has a field with a wrong type or value."""


def now_iso() -> str:
    """The current time in UTC as ISO 8601 (the store's default `created_at`)."""
    return datetime.now(timezone.utc).isoformat()


# --- field rules -------------------------------------------------------------------------

def _user_name(value: Any) -> str:
    if not isinstance(value, str):
        raise field_error(f"must be text, got {kind(value)}")
    name = plain_text(value).strip()  # checked before strip(), which takes \x1c-\x1f off the ends
    if len(name) > MAX_USER_CHARS:  # before "empty": a long name of odd spaces is too long, not empty
        raise field_error(f"is {len(name)} characters (limit {MAX_USER_CHARS})")
    if not name:
        raise field_error("is empty" if len(value) <= MAX_USER_CHARS
                          else f"is {len(value)} characters of white space (limit {MAX_USER_CHARS})")
    if not _USER_CHARS.match(name):
        raise field_error(f"may only contain letters, digits, spaces, '-', '_' and '.', got {show(name)}")
    return name


TIMESTAMP_EXAMPLE = "2026-12-07T10:30:00Z"
MAX_TIMESTAMP_CHARS = 40  # "2026-12-07T10:30:00.123456789+01:00" is 35
_TIMESTAMP_START = re.compile(r"\d{4}-\d{2}-\d{2}(?:$|[T ]\d)|\d{8}(?:$|T\d)")  # extended or basic form


def _timestamp(value: Any) -> str:
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str) and not plain_text(value).strip():
        raise field_error(f"is empty: give an ISO 8601 date-time such as {TIMESTAMP_EXAMPLE}")
    elif isinstance(value, str):
        # a date (2026-12-07 or 20261207) then a time after a T: Python also reads any run of
        # digits as a "basic" date-time, so 1,000 ones would be 1111-11-11T11:11:11.111111
        t = value.strip()
        try:
            if len(t) > MAX_TIMESTAMP_CHARS or not _TIMESTAMP_START.match(t):
                raise ValueError
            dt = datetime.fromisoformat(t)
        except ValueError:
            raise field_error(f"must be an ISO 8601 date-time such as {TIMESTAMP_EXAMPLE}, got {show(value)}") from None
    else:
        raise field_error(f"must be an ISO 8601 date-time string, got {kind(value)}")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    try:
        return dt.astimezone(timezone.utc).isoformat()
    except OverflowError:  # year 1 with a + offset, or year 9999 with a - offset: before 0001 / after 9999 UTC
        shown = show(value if isinstance(value, str) else str(value))
        raise field_error(f"is out of range once read as UTC, got {shown}") from None


def _number_as_text(value: Any) -> Any:
    """A model version may be written as a number: 3 -> "3"."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**18:
        return str(value)
    return value


def _recipe_ref(value: Any, handler: Any) -> str | RecipeRecord:
    if isinstance(value, str):
        if not value.strip():
            raise field_error("must be a recipe id or a recipe object, got an empty string")
        ref = plain_text(value).strip()
        if len(ref) > MAX_ID_CHARS:
            raise field_error(f"is a recipe id of {len(ref)} characters (limit {MAX_ID_CHARS})")
        return ref
    if isinstance(value, dict):
        try:
            return RecipeRecord.model_validate(value)
        except ValidationError as e:
            raise nested_error(describe(e, "a recipe")) from None
    raise field_error(f"must be a recipe id or a recipe object, got {kind(value)}")


def _ref_id(ref: str | RecipeRecord) -> str:
    return ref if isinstance(ref, str) else ref.to_recipe().id


UserName = Annotated[str, Checked(_user_name, {"type": "string", "minLength": 1, "maxLength": MAX_USER_CHARS,
                                               "pattern": USER_PATTERN})]
Timestamp = Annotated[str, Checked(_timestamp, {"type": "string", "format": "date-time"})]
MetaText = Annotated[text(MAX_META_CHARS), BeforeValidator(_number_as_text)]  # stripped; blank reads as null
RecipeRef = Annotated[str | RecipeRecord, WrapValidator(_recipe_ref)]  # a recipe id or an inline recipe
Items = text_list(MAX_PANTRY_ITEMS, MAX_ITEM_CHARS)
GroupId = text(MAX_GROUP_ID_CHARS)


# --- the formats ---------------------------------------------------------------------------

class VoteRecord(BaseModel):
    """One vote line (docs/ARCHITECTURE.md, Formats). Unknown keys are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    user: UserName
    a: RecipeRef
    b: RecipeRef
    outcome: one_of(OUTCOMES)
    strength: one_of(STRENGTHS) | None = None  # decisive votes only
    left: one_of(SIDES) | None = None  # which recipe was shown on the left
    reasons: text_list(MAX_REASONS, MAX_ITEM_CHARS) = ()
    pantry: Items = ()
    created_at: Timestamp | None = None  # ISO 8601, normalised to UTC
    model_version: MetaText | None = None
    generator: MetaText | None = None
    generator_reason: MetaText | None = None
    group_id: GroupId | None = None  # a household vote: the same id on each member's copy

    @model_validator(mode="after")
    def _two_recipes(self) -> "VoteRecord":
        a, b = _ref_id(self.a), _ref_id(self.b)
        if a == b:
            raise rule_error(f"fields 'a' and 'b' are the same recipe ({show(a)}); a vote compares two recipes")
        if self.strength is not None and self.outcome not in DECISIVE:
            raise rule_error(f"field 'strength' only applies to outcome a or b, not {self.outcome!r}")
        return self

    def to_vote(self) -> tuple["Vote", list[Recipe]]:
        """The Vote (`a`/`b` as recipe ids) and the recipes given inline."""
        inline = [ref.to_recipe() for ref in (self.a, self.b) if isinstance(ref, RecipeRecord)]
        values = {name: getattr(self, name) for name in VoteRecord.model_fields}
        values["a"], values["b"] = _ref_id(self.a), _ref_id(self.b)
        return Vote(**values), inline


def _prompt_text(value: Any) -> Any:
    """Conversational prompts (lists of messages) read as their contents joined."""
    if isinstance(value, list):
        return " ".join(m["content"] for m in value if isinstance(m, dict) and isinstance(m.get("content"), str))
    return value


def _pair_text(value: Any) -> str:
    """A chosen/rejected column as text; conversational rows use the last message."""
    if isinstance(value, list) and value and all(isinstance(m, dict) for m in value):
        value = value[-1].get("content")
    if not isinstance(value, str) or not value.strip():
        raise field_error("must be non-empty recipe text")
    return value


RecipeText = Annotated[str, Checked(_pair_text, {"type": "string", "minLength": 1})]


class TrlPair(BaseModel):
    """One TRL preference row `{"prompt", "chosen", "rejected"}` (+ optional `user`, `margin`)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    prompt: Annotated[str, BeforeValidator(_prompt_text)] = ""
    chosen: RecipeText
    rejected: RecipeText
    user: UserName | None = None
    margin: finite_number() | None = None  # >= 1: strength "much"; below: "slightly"


def line_kind(obj: Any) -> str | None:
    """Which format an import line is: "pair" (has chosen/rejected), "vote" (has outcome,
    or a and b), "recipe" (has a recipe field other than id), or None."""
    if not isinstance(obj, dict):
        return None
    if "chosen" in obj or "rejected" in obj:
        return "pair"
    if "outcome" in obj or ("a" in obj and "b" in obj):
        return "vote"
    if any(k in obj for k in RECIPE_FIELDS if k != "id"):
        return "recipe"
    return None


def _message(error: PydanticCustomError) -> str:
    return error.message()


def normalize_timestamp(value: Any, field_name: str = "created_at") -> str:
    """Validate an ISO 8601 timestamp and return it in UTC ISO form (naive times are UTC).

    Normalising makes timestamps from different files compare correctly as strings.
    """
    try:
        return _timestamp(value)
    except PydanticCustomError as e:
        raise InvalidVote(f"field '{field_name}' {_message(e)}") from None


def validate_user_name(name: Any) -> str:
    """Return the stripped user name, or raise InvalidInput saying what is wrong.

    A user name is 1-40 characters: letters, digits, spaces, '-', '_' and '.'. This is the
    rule for naming a profile that may already exist (reads, votes for it): names stored by
    older versions stay usable. A profile being created must also pass `validate_new_user_name`.
    """
    try:
        return _user_name(name)
    except PydanticCustomError as e:
        raise InvalidInput(f"user name {_message(e)}") from None


# Scripts whose letters look alike: one name mixing two of them ("m\u0430ria", a Cyrillic
# "a" in a Latin name) is a look-alike of another profile, not a name.
_CONFUSABLE_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE")


def _scripts(name: str) -> set[str]:
    found = set()
    for ch in name:
        if ch.isalpha():
            word = unicodedata.name(ch, "").split(" ", 1)[0]
            found.add(word if word in _CONFUSABLE_SCRIPTS else "OTHER")
    return found


def user_key(name: str) -> str:
    """The key two profile names are "the same" under: NFKC, case-folded, white space collapsed
    ("Maria", "maria", "MARIA" and the full-width "\uff2daria" are one profile)."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def validate_new_user_name(name: Any) -> str:
    """The name a NEW profile is stored under (NFKC-normalised, stripped), or InvalidInput.

    On top of `validate_user_name`: the name is NFKC-normalised (full-width and compatibility
    letters become plain ones), may not be only dots ("." and ".." are path-like), and may not
    mix look-alike scripts (Latin with Cyrillic, Greek, ...). Case-insensitive uniqueness is
    the store's job (`Store.find_user`): it needs the names already stored.
    """
    if isinstance(name, str) and not has_lone_surrogate(name):
        name = unicodedata.normalize("NFKC", name)
    name = validate_user_name(name)
    if set(name) <= {".", " "}:
        raise InvalidInput(f"user name may not be only dots, got {name!r}")
    scripts = _scripts(name) & set(_CONFUSABLE_SCRIPTS)
    if len(scripts) > 1:
        raise InvalidInput(f"user name mixes look-alike alphabets ({' and '.join(sorted(s.title() for s in scripts))}) "
                           f"in {name!r}: write it in one alphabet")
    return name


@dataclass(frozen=True)
class Vote:
    """One pairwise judgement: `user` compared recipes `a` and `b` (recipe ids).

    outcome: "a" or "b" (decisive: that recipe is better), "tie", or "both_bad".
    strength: "slightly" / "much" for decisive votes, else None.
    left: which recipe was shown on the left ("a"/"b"), for position-bias diagnostics.
    created_at: ISO 8601 UTC; None until the store fills it with the current time.
    id: the store's row id (None before saving); deleted: soft-deleted (undone) in the store.
    repeat_of: the store id of the earlier vote this one judges again (a repeat round shown
        for rater self-consistency, `pantry.evaluation.consistency`); store bookkeeping like `id`,
        so it is not part of the file format.
    group_id: set on a household vote, the same on each present member's copy (in the format).
    """

    user: str
    a: str
    b: str
    outcome: str
    strength: str | None = None
    left: Side | None = None
    reasons: tuple[str, ...] = ()
    pantry: tuple[str, ...] = ()
    created_at: str | None = None
    model_version: str | None = None
    generator: str | None = None
    generator_reason: str | None = None  # why that generator was used (e.g. "Ollama is not reachable")
    id: int | None = None
    deleted: bool = False
    repeat_of: int | None = None
    group_id: str | None = None

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
        """The vote JSON object (docs/ARCHITECTURE.md format) with `a`/`b` as recipe ids.

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
        if self.group_id is not None:
            d["group_id"] = self.group_id
        return d


@dataclass(frozen=True)
class VoteCounts:
    """A profile's (or everyone's) non-deleted votes per outcome: the one counts type of the
    pages, the CLI and the API (`VoteCounts.of(store.vote_counts(user))`)."""

    a: int = 0
    b: int = 0
    tie: int = 0
    both_bad: int = 0

    @classmethod
    def of(cls, counts: Mapping[str, int]) -> "VoteCounts":
        """From a mapping outcome -> count (`Store.vote_counts`); missing outcomes count 0."""
        return cls(**{o: int(counts.get(o, 0) or 0) for o in OUTCOMES})

    @property
    def decisive(self) -> int:
        """Votes where one recipe won (what training learns from)."""
        return self.a + self.b

    @property
    def total(self) -> int:
        return self.a + self.b + self.tie + self.both_bad


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


def check_vote(vote: Vote) -> Vote:
    """Validate a Vote built in code (the same rules as the JSON format); return it normalised."""
    try:
        record = VoteRecord.model_validate({name: getattr(vote, name) for name in VoteRecord.model_fields})
    except ValidationError as e:
        raise InvalidVote(describe(e, "a vote")) from None
    checked_vote, _ = record.to_vote()
    return replace(vote, **{name: getattr(checked_vote, name) for name in VoteRecord.model_fields})


def vote_from_dict(obj: Any) -> tuple[Vote, list[Recipe]]:
    """Validate a decoded vote JSON object (`VoteRecord`).

    Returns the Vote (with `a`/`b` as recipe ids) and the recipes that were given inline
    (so the caller can store them). Raises InvalidVote (an InvalidInput) naming the field.
    Unknown keys are ignored.
    """
    try:
        return VoteRecord.model_validate(obj).to_vote()
    except ValidationError as e:
        raise InvalidVote(describe(e, "a vote")) from None


def is_trl_pair(obj: Any) -> bool:
    return line_kind(obj) == "pair"


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
    try:
        pair = TrlPair.model_validate(obj)
    except ValidationError as e:
        raise InvalidVote(describe(e, "a prompt/chosen/rejected pair")) from None
    recipes = []
    for name in ("chosen", "rejected"):
        try:
            recipes.append(recipe_from_text(getattr(pair, name)))
        except InvalidRecipe as e:
            raise InvalidVote(f"field '{name}': {e}") from None
    chosen, rejected = recipes
    if chosen.id == rejected.id:
        raise InvalidVote("fields 'chosen' and 'rejected' are the same recipe")
    strength = None if pair.margin is None else "much" if pair.margin >= 1 else "slightly"
    user = pair.user if pair.user is not None else default_user
    vote = check_vote(Vote(user=user, a=chosen.id, b=rejected.id, outcome="a", strength=strength,
                           pantry=pantry_from_prompt(pair.prompt.strip())))
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
