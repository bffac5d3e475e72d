"""POST /pairs: the next pair to show, chosen as the Compare page does (`pantry.compare.next_pair`),
with a signed pair token that POST /votes spends once."""

from __future__ import annotations

import time
from dataclasses import replace

from fastapi import APIRouter, Request

from pantry.api.body import JsonRoute
from pantry.api import schemas as s
from pantry.api.convert import composer_refusal, generator_info, model_info, pantry_info, recipe_out
from pantry.api.deps import app_state, cooking_round
from pantry.api.tokens import TOKEN_TTL_S, sign
from pantry.compare import next_pair
from pantry.errors import GeneratorError

router = APIRouter(tags=["votes"], route_class=JsonRoute)


@router.post("/pairs", response_model=s.PairResponse)
def pairs(body: s.PairsRequest, request: Request) -> s.PairResponse:
    """The next pair to show, chosen as the Compare page does (`pantry.compare.prepare_round`)."""
    r = cooking_round(body, request)
    try:
        rnd = next_pair(r.lab, r.choice, r.request, r.profile)  # stores + logs the recipes
    except GeneratorError as e:
        raise composer_refusal(e, r.choice) from None
    m = rnd.matchup
    # the name as stored: a request racing this one may have created the profile in another case
    profile = r.lab.store.find_user(r.profile) or r.profile
    issued = int(time.time())
    token = sign(app_state(request).token_key, {  # the payload is readable by the client: redacted
        "p": profile, "a": m.a.recipe.id, "b": m.b.recipe.id, "l": m.left, "pantry": list(m.pantry),
        "m": m.model_label, "g": r.settings.redact(m.generator) if m.generator else m.generator,
        "gr": r.settings.redact(m.generator_reason) if m.generator_reason else m.generator_reason, "iat": issued})
    now = r.lab.model_for(profile)  # what prepare_round used, unless a version was activated meanwhile
    model = (model_info(now) if now.label == m.model_label else
             s.ModelInfo(label=m.model_label, kind=m.model_kind, version_id=None, reason=m.model_label))
    used_name = rnd.generator_name  # prepare_round may have fallen back to the composer
    return s.PairResponse(
        pair_token=token, profile=profile,
        a=s.PairItem(recipe=recipe_out(m.a.recipe), score=m.a.score, uncertainty=m.a.uncertainty),
        b=s.PairItem(recipe=recipe_out(m.b.recipe), score=m.b.score, uncertainty=m.b.uncertainty),
        left=m.left, why=m.why, model=model,
        generator=generator_info(r.choice if used_name == r.choice.name else replace(
            r.choice, name=used_name, backend="offline", reason=rnd.generator_reason), r.settings),
        pantry=pantry_info(r.reading), candidates=rnd.candidates, dropped_duplicates=rnd.dropped_duplicates,
        expires_at=issued + TOKEN_TTL_S)
