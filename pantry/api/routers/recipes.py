"""POST /recipes (generate candidates for a pantry and rank them) and POST /rank (rank given
recipes), both with the profile's model."""

from __future__ import annotations

from fastapi import APIRouter, Request

from pantry.api.body import JsonRoute
from pantry.api import schemas as s
from pantry.api.convert import (composer_refusal, generator_info, model_info, pantry_info, read_body_pantry,
                                scored_out)
from pantry.api.deps import allow, cooking_round, get_lab, profile_for_write
from pantry.errors import GeneratorError
from pantry.generators import generate_with_fallback

router = APIRouter(tags=["recipes"], route_class=JsonRoute)


@router.post("/recipes", response_model=s.RecipesResponse)
def recipes(body: s.RecipesRequest, request: Request) -> s.RecipesResponse:
    """Generate `n` candidates for the pantry and rank them with the profile's model."""
    r = cooking_round(body, request)
    try:
        made, used = generate_with_fallback(r.choice, r.request)
    except GeneratorError as e:
        raise composer_refusal(e, r.choice) from None
    if not made:
        raise GeneratorError(f"{used.name} returned no recipes; try again or change the pantry")
    profile = r.lab.keep_recipes(r.profile, made) or r.profile  # stored, so a vote can name them by id
    model = r.lab.model_for(profile)
    scored = r.lab.score(made, profile, r.reading.pantry, choice=model, explain=True)
    return s.RecipesResponse(profile=profile, model=model_info(model), generator=generator_info(used, r.settings),
                             pantry=pantry_info(r.reading), candidates=scored_out(scored))


@router.post("/rank", response_model=s.RankResponse)
def rank(body: s.RankRequest, request: Request) -> s.RankResponse:
    """Rank the given recipes (Recipe format) for the profile, best first."""
    lab_ = get_lab(request)
    profile = body.profile
    if profile is not None:
        allow(request, profile)
        # the profile as stored ("MARIA" is maria and ranks with her model); a name not stored yet
        # must pass the rules for new names and ranks as that profile would: without a model of its own
        profile = profile_for_write(lab_, profile)
    reading = read_body_pantry(lab_, body)
    given = [r.to_recipe() for r in body.recipes]
    model = lab_.model_for(profile)
    scored = lab_.score(given, profile, reading.pantry, choice=model, explain=True)
    return s.RankResponse(profile=profile, model=model_info(model), ranked=scored_out(scored))
