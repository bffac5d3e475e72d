"""POST /votes (a vote on a pair token or on two given recipes, once-only), GET /votes (one page,
oldest first) and DELETE /votes/{id} (soft delete, as Undo does). Every write is one `Lab` call."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from pantry.api.body import JsonRoute
from pantry.api import schemas as s
from pantry.api.convert import vote_out
from pantry.api.deps import Conflict, NotFound, allow, app_state, get_lab, idempotency_key, known_profile, \
    own_profile, profile_for_write, request_access, request_digest, unknown_recipes
from pantry.api.tokens import spend_key, verify
from pantry.domain.votes import DECISIVE, strength_of, user_key, vote_from_dict
from pantry.errors import InvalidInput
from pantry.storage.store import RecipeConflict, RepeatedRequest, UnknownRecipe

router = APIRouter(tags=["votes"], route_class=JsonRoute)


@router.post("/votes", response_model=s.VoteStored, status_code=201)
def add_vote(body: s.VoteRequest, request: Request) -> s.VoteStored | JSONResponse:
    """Store a vote for a pair from POST /pairs (`pair_token`) or for two given recipes.

    Each pair token stores at most one vote; an `Idempotency-Key` header makes a direct
    vote safe to retry (the same key and body answer the first answer, stored once)."""
    lab_ = get_lab(request)
    idem = idempotency_key(request)
    record: dict[str, Any] = {"outcome": body.outcome, "reasons": list(body.reasons), "strength": body.strength}
    if body.pair_token is not None:
        payload = verify(app_state(request).token_key, body.pair_token)
        allow(request, payload["p"])
        record.update(user=payload["p"], a=payload["a"], b=payload["b"], left=body.left or payload.get("l"),
                      pantry=payload.get("pantry") or [], model_version=payload.get("m"),
                      generator=payload.get("g"), generator_reason=payload.get("gr"))
        request_key = spend_key(payload)
    else:
        allow(request, body.profile)
        profile_for_write(lab_, body.profile)  # a new name must pass the rules (400 naming the field)
        a = body.a.model_dump() if hasattr(body.a, "model_dump") else body.a
        b = body.b.model_dump() if hasattr(body.b, "model_dump") else body.b
        record.update(user=body.profile, a=a, b=b, left=body.left, pantry=list(body.pantry))
        request_key = None if idem is None else f"idem:{user_key(body.profile)}:{idem}"
    if body.outcome == "skip":
        return JSONResponse(s.VoteStored(id=None, stored=False).model_dump(), 200)
    if body.strength is not None and body.outcome not in DECISIVE:
        raise InvalidInput(f"field 'strength' is for decisive votes (a or b), not {body.outcome!r}")
    vote, inline = vote_from_dict({k: v for k, v in record.items() if v is not None})
    try:  # one transaction: the recipes, the profile (when new), the vote and its request key
        digest = request_digest(body, profile=None if body.profile is None else user_key(body.profile),
                                strength=strength_of(body.outcome, vote.strength))
        vote_id = lab_.cast_vote(vote, request_key=request_key, request_digest=digest, recipes=inline)
    except RepeatedRequest as e:
        if not e.same:
            raise Conflict("field 'pair_token': this pair was already voted on; ask POST /pairs for a new pair"
                           if body.pair_token is not None else
                           f"header 'Idempotency-Key' was already used for another vote (id {e.vote_id}); "
                           "use a new key for a new vote") from None
        if e.undone:  # a retry, but that vote was undone since: say so, never "stored"
            raise Conflict(f"field 'pair_token': the vote on this pair (id {e.vote_id}) was undone; ask POST "
                           "/pairs for a new pair" if body.pair_token is not None else
                           f"header 'Idempotency-Key': the vote stored under this key (id {e.vote_id}) was undone; "
                           "use a new key for a new vote") from None
        vote_id = e.vote_id  # a retry of a request that was stored: the same answer
    except RecipeConflict as e:
        raise Conflict(f"field 'a' or 'b': {e}") from None
    except UnknownRecipe as e:
        if body.pair_token is not None:  # its recipes were stored by POST /pairs
            raise InvalidInput(f"field 'pair_token': {e}") from None
        raise unknown_recipes(e, vote.a, vote.b) from None
    return s.VoteStored(id=vote_id, stored=True, vote=vote_out(lab_.store.get_vote(vote_id)))


@router.get("/votes", response_model=s.VotesPage)
def list_votes(request: Request, profile: str | None = None,
               since: str | None = Query(None, description="ISO 8601: only votes cast at or after it"),
               limit: int = Query(50, ge=1, le=s.MAX_VOTES_PAGE), offset: int = Query(0, ge=0, le=s.MAX_ID),
               include_deleted: bool = False) -> s.VotesPage:
    """Votes oldest first, one page at a time (`limit` at most MAX_VOTES_PAGE)."""
    lab_ = get_lab(request)
    profile = own_profile(request, profile)  # a profile token lists its own profile's votes
    allow(request, profile)
    profile = known_profile(lab_, profile)
    total, page = lab_.store.votes_page(profile, include_deleted=include_deleted, since=since, limit=limit,
                                        offset=offset)  # counted and paged by the database
    return s.VotesPage(profile=profile, total=total, offset=offset, limit=limit, votes=[vote_out(v) for v in page])


@router.delete("/votes/{vote_id}", response_model=s.VoteDeleted)
def delete_vote(request: Request, vote_id: s.PathId) -> s.VoteDeleted:
    """Soft-delete a vote (kept, marked deleted, as Undo does); 404 when unknown (or another
    profile's, for a profile token)."""
    lab_ = get_lab(request)
    vote = lab_.store.get_vote(vote_id)
    if vote is None or not request_access(request).may(vote.user):
        raise NotFound(f"there is no vote with id {vote_id}")
    return s.VoteDeleted(id=vote_id, deleted=True, changed=lab_.set_votes_deleted([vote_id], True) == 1)
