"""What every route depends on: who is asking (`Access`, from the bearer token), the app's `Lab`
and state, and the profile rules a route applies before it writes.

The token itself is checked by `pantry.api.guard.Guard` before the body is read; `require_token`
only declares the bearer scheme in the schema. The errors raised here (`NotFound`, `Forbidden`,
`Conflict`) are mapped to 404, 403 and 409 by `create_app`'s handler.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from pantry.domain.votes import user_key, validate_new_user_name
from pantry.errors import InvalidInput, PantryError
from pantry.lab import Lab
from pantry.api.tokens import profile_of_token
from pantry.settings import Settings

if TYPE_CHECKING:  # pragma: no cover
    from pantry.storage.errors import UnknownRecipe
    from pantry.generators import GenerationRequest, GeneratorChoice
    from pantry.kitchen.pantry_text import PantryReading

MAX_IDEMPOTENCY_KEY = 200

_bearer = HTTPBearer(auto_error=False, description="PANTRY_API_TOKEN, when the server sets one")


class NotFound(PantryError):
    """An id (vote, model version, job, profile) that does not exist: 404."""


class Conflict(PantryError):
    """The request clashes with what is already there (a pair already voted on): 409."""


class Forbidden(PantryError):
    """A profile token asking for another profile's data (or the population model's): 403."""


@dataclass(frozen=True)
class Access:
    """Who the request's bearer token is: the admin (PANTRY_API_TOKEN, or no auth configured)
    or one profile (a profile token)."""

    admin: bool
    profile: str | None = None

    def may(self, profile: str | None) -> bool:
        """Whether this token reaches `profile`'s data (None: data of no profile)."""
        return self.admin or (profile is not None and user_key(profile) == user_key(self.profile or ""))


def access_for(settings: Settings, authorization: str | None) -> Access | None:
    """Who an `Authorization` header is (None: no valid token). Without PANTRY_API_TOKEN the
    API is open and everyone is the admin."""
    expected = settings.api_token
    if not expected:
        return Access(admin=True)
    scheme, _, given = (authorization or "").partition(" ")
    given = given.strip()
    if scheme.lower() != "bearer" or not given:
        return None
    if hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8")):
        return Access(admin=True)
    profile = profile_of_token(expected, given)
    return None if profile is None else Access(admin=False, profile=profile)


def app_state(request: Request):
    """The app's state: settings, lab, jobs, generators, token_key (set by `create_app`)."""
    return request.app.state


def get_lab(request: Request) -> Lab:
    """The app's one Lab (one store, one encoder)."""
    return request.app.state.lab


def request_access(request: Request) -> Access:
    """The request's `Access`, put in the scope by the guard."""
    return request.scope.get("state", {}).get("access") or Access(admin=not request.app.state.settings.api_token)


def require_token(request: Request, _credentials=Depends(_bearer)) -> None:
    """Declares the bearer scheme in the schema; the check itself is the guard's (before the body)."""


def allow(request: Request, profile: str | None) -> None:
    """403 unless the request's token may act for `profile`."""
    access = request_access(request)
    if not access.may(profile):
        raise Forbidden(f"field 'profile': this token is for profile {access.profile!r} only"
                        if profile is not None else
                        f"field 'profile': this token is for profile {access.profile!r}: name it")


def own_profile(request: Request, profile: str | None) -> str | None:
    """`profile`, or the token's own profile when none is named and the token is a profile's."""
    access = request_access(request)
    return access.profile if profile is None and not access.admin else profile


def known_profile(lab: Lab, profile: str | None) -> str | None:
    """The stored name of an existing profile ("Maria" finds "maria"; None stays None); 400 for a
    bad name, 404 for none."""
    if profile is None:
        return None
    try:
        found = lab.store.find_user(profile)
    except InvalidInput as e:
        raise InvalidInput(f"field 'profile': {e}") from None
    if found is None:
        raise NotFound(f"there is no profile named {profile!r}")
    return found


def profile_for_write(lab: Lab, profile: str) -> str:
    """The name a write for `profile` is stored under: the existing profile (case-insensitively),
    else the new name if it passes the rules for new names (400 naming the field). Creates
    nothing: the profile is created by the write that stores something for it."""
    try:
        return lab.store.find_user(profile) or validate_new_user_name(profile)
    except InvalidInput as e:
        raise InvalidInput(f"field 'profile': {e}") from None


@dataclass(frozen=True)
class CookingRound:
    """What POST /recipes and POST /pairs both start from: the caller checked, the profile
    (created when the round's recipes are logged), the pantry read and the generation asked."""

    lab: Lab
    settings: Settings
    profile: str
    reading: "PantryReading"
    request: "GenerationRequest"
    choice: "GeneratorChoice"  # the app's generator now


def cooking_round(body, request: Request) -> CookingRound:
    """The shared start of a cooking request (`body`: a `schemas.CookingInput` with `n`)."""
    from pantry.api.convert import generation

    lab = get_lab(request)
    allow(request, body.profile)
    profile = profile_for_write(lab, body.profile)
    reading, gen_request = generation(lab, body, body.n)
    state = app_state(request)
    return CookingRound(lab, state.settings, profile, reading, gen_request, state.generators.get())


def idempotency_key(request: Request) -> str | None:
    """The request's `Idempotency-Key` header (None without one); 400 for a bad one."""
    raw = request.headers.get("idempotency-key")
    if raw is None:
        return None
    key = raw.strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY or not all(" " <= ch <= "~" for ch in key):
        raise InvalidInput(f"header 'Idempotency-Key' must be 1-{MAX_IDEMPOTENCY_KEY} printable ASCII characters")
    return key


def request_digest(body, **meaning) -> str:
    """What identifies a request body's content (a retry with the same key and body is the same
    request). `meaning`: fields as the request means them, replacing the body's (the profile as
    its key, so "BOB" retries "bob"; a default spelled out; members in any order)."""
    data = {**body.model_dump(mode="json"), **meaning}
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=True).encode("ascii")).hexdigest()


def unknown_recipes(e: UnknownRecipe, a: str, b: str) -> InvalidInput:
    """The store's "not in the database" as the request's fields: which of `a` and `b` (the
    vote's recipe ids) names no stored recipe, and what to send instead."""
    sides = [side for side, rid in (("a", a), ("b", b)) if rid in e.missing] or ["a", "b"]
    named = " and ".join(f"field '{side}'" for side in sides)
    ids = ", ".join(repr(rid) for side, rid in (("a", a), ("b", b)) if side in sides)
    return InvalidInput(f"{named}: no stored recipe with id {ids}; send the recipe itself, or an id from "
                        "POST /recipes or POST /pairs")

