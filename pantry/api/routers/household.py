"""The household endpoints: POST /household (rank recipes for 2-6 profiles sharing a pantry)
and POST /household/votes (one choice stored for every member present, as one group).

A router over `pantry.household`, registered by `create_app` with the same bearer-token
dependency as every other endpoint; it reads the Lab and the generator choice from the app's
state, and stores through the Lab (`Lab.store_recipes`, `Lab.cast_household_vote`). Errors are
the app's: a bad member list or an unknown limit is a 400 naming the problem, a bad field a
422, a request the offline composer cannot meet a 400 naming the field.
"""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from pantry.api.body import JsonRoute
from pantry.api import schemas as s
from pantry.domain.fields import one_of, whole_number
from pantry.domain.votes import DECISIVE, OUTCOMES, SIDES, STRENGTHS, RecipeRef, UserName, strength_of, user_key
from pantry.errors import GeneratorError, InvalidInput
from pantry.api.deps import Conflict, Forbidden, idempotency_key, request_access, request_digest, unknown_recipes
from pantry.household import LIKINGS, MAX_MEMBERS, MIN_MEMBERS, check_members
from pantry.storage.store import RecipeConflict, RepeatedRequest, UnknownRecipe

router = APIRouter(tags=["household"], route_class=JsonRoute)


class HouseholdRequest(s.PantryInput):
    members: list[UserName] = Field(min_length=MIN_MEMBERS, max_length=MAX_MEMBERS,
                                    description=f"{MIN_MEMBERS} to {MAX_MEMBERS} existing profiles")
    n: whole_number(2, s.MAX_CANDIDATES) = Field(8, description=f"candidates to generate (2..{s.MAX_CANDIDATES})")
    seed: whole_number(0, 2**31 - 1) | None = Field(None, description="null: a new random seed")


class MemberOut(BaseModel):
    member: str
    score: float  # the member's own model's score
    z: float  # standardised over the candidates left after every member's limits
    liking: one_of(LIKINGS)
    own_rank: int  # the recipe's rank by this member alone


class HouseholdPickOut(BaseModel):
    rank: int
    min_z: float
    sum_z: float
    recipe: s.RecipeOut
    members: list[MemberOut]


class RemovedOut(BaseModel):
    id: str
    title: str
    reasons: list[str]  # "ben: bacon is not vegetarian"


class MemberModelOut(BaseModel):
    kind: str  # personal | population | heuristic
    label: str


class HouseholdResponse(BaseModel):
    members: list[str]
    limits: dict[str, list[str]]
    models: dict[str, MemberModelOut]
    ranked: list[HouseholdPickOut]  # best for the household first
    removed: list[RemovedOut]


class HouseholdVoteRequest(s.Body):
    members: list[UserName] = Field(min_length=MIN_MEMBERS, max_length=MAX_MEMBERS)
    a: RecipeRef
    b: RecipeRef
    outcome: one_of(OUTCOMES)
    strength: one_of(STRENGTHS) | None = None
    left: one_of(SIDES) | None = None


class HouseholdVoteStored(BaseModel):
    group_id: str
    ids: list[int]  # one vote per member, in the order given


def _members(request: Request, members: list[str]) -> tuple[str, ...]:
    """The members as stored (400 for a bad list), each one the token may act for (403: a
    profile token reaches its own profile only, so a household needs the admin token)."""
    lab = request.app.state.lab
    access = request_access(request)  # first: a profile token learns nothing of other profiles
    others = [name for name in members if not access.may(name)]
    if others:
        raise Forbidden(f"field 'members': this token is for profile {access.profile!r} only, not "
                        + ", ".join(repr(n) for n in others) + " (a household needs the admin token)")
    try:
        return check_members(lab.store, members)
    except InvalidInput as e:
        raise InvalidInput(f"field 'members': {e}") from None


def _recipe_out(r) -> s.RecipeOut:
    return s.RecipeOut(id=r.id, title=r.title, ingredients=list(r.ingredients), steps=list(r.steps),
                       minutes=r.minutes, servings=r.servings, cuisine=r.cuisine, tags=list(r.tags), source=r.source)


@router.post("/household", response_model=HouseholdResponse)
def household(body: HouseholdRequest, request: Request) -> HouseholdResponse:
    """Generate `n` candidates for the shared pantry and rank them for the members: recipes
    breaking any member's diet limit removed first, then the highest minimum of the members'
    standardised scores (their sum breaks ties); each member's score and liking listed."""
    import secrets

    from pantry.api.convert import composer_refusal
    from pantry.generators import GenerationRequest
    from pantry.household import plan_household
    from pantry.kitchen import read_pantry

    lab = request.app.state.lab
    members = _members(request, body.members)
    try:
        reading = read_pantry(body.pantry or "", body.items, kitchen=lab.kitchen,
                              max_chars=lab.settings.max_pantry_chars)
    except InvalidInput as e:
        raise InvalidInput(f"field 'pantry': {e}") from None
    seed = body.seed if body.seed is not None else secrets.randbelow(2**31)
    gen = GenerationRequest(pantry=reading.pantry, amounts=reading.amounts, cooked=reading.cooked, n=body.n, seed=seed)
    choice = request.app.state.generators.get()
    try:
        ranking = plan_household(lab, choice, gen, members)
    except GeneratorError as e:
        raise composer_refusal(e, choice) from None
    return HouseholdResponse(
        members=list(ranking.members), limits={m: list(v) for m, v in ranking.limits.items()},
        models={m: MemberModelOut(kind=k, label=label) for m, (k, label) in ranking.models.items()},
        ranked=[HouseholdPickOut(rank=p.rank, min_z=p.min_z, sum_z=p.sum_z, recipe=_recipe_out(p.recipe),
                                 members=[MemberOut(**asdict(ms)) for ms in p.members]) for p in ranking.ranked],
        removed=[RemovedOut(id=r.id, title=r.title, reasons=list(why)) for r, why in ranking.removed])


@router.post("/household/votes", response_model=HouseholdVoteStored, status_code=201)
def household_vote(body: HouseholdVoteRequest, request: Request) -> HouseholdVoteStored:
    """Store one household choice between recipes `a` and `b` (ids, or recipe objects) for
    every member present, marked as one group vote (`group_id`)."""
    from pantry.domain.votes import vote_from_dict

    lab = request.app.state.lab
    members = _members(request, body.members)  # checked before anything is stored
    if body.strength is not None and body.outcome not in DECISIVE:
        raise InvalidInput(f"field 'strength' is for decisive votes (a or b), not {body.outcome!r}")
    refs = {side: (ref.model_dump() if hasattr(ref, "model_dump") else ref)
            for side, ref in (("a", body.a), ("b", body.b))}
    vote, inline = vote_from_dict({"user": members[0], "a": refs["a"], "b": refs["b"],
                                   "outcome": body.outcome})  # the pair's rules, written once
    idem = idempotency_key(request)
    who = sorted(user_key(m) for m in members)
    key = None if idem is None else "household:" + ",".join(who) + ":" + idem
    # a retry is the same request in any order of members, with the default strength spelled out or not
    digest = request_digest(body, members=who, strength=strength_of(body.outcome, body.strength))
    try:  # one transaction: the inline recipes, the members' votes and the request key
        ids = lab.cast_household_vote(members, vote.a, vote.b, body.outcome, body.strength, body.left,
                                      request_key=key, request_digest=digest, recipes=inline)
    except RecipeConflict as e:
        raise Conflict(f"field 'a' or 'b': {e}") from None
    except UnknownRecipe as e:
        raise unknown_recipes(e, vote.a, vote.b) from None
    except RepeatedRequest as e:  # a retry answers the first answer; another body, or an undone one: 409
        if not e.same:
            raise Conflict(f"header 'Idempotency-Key' was already used for another household vote (id {e.vote_id}); "
                           "use a new key for a new vote") from None
        if e.undone:
            raise Conflict(f"header 'Idempotency-Key': the household vote stored under this key (id {e.vote_id}) "
                           "was undone; use a new key for a new vote") from None
        ids = list(e.ids)
    return HouseholdVoteStored(group_id=lab.store.get_vote(ids[0]).group_id, ids=ids)


__all__ = ["router"]
