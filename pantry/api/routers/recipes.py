"""POST /recipes (generate candidates for a pantry and rank them) and POST /rank (rank given
recipes), both with the profile's model."""

from __future__ import annotations

from fastapi import APIRouter, Request

from pantry.api import schemas as s
from pantry.api.convert import (composer_refusal, generation, generator_info, model_info, pantry_info,
                                read_body_pantry, scored_out)
from pantry.api.deps import allow, app_state, get_lab, profile_for_write
from pantry.errors import GeneratorError
from pantry.generators import generate_with_fallback

router = APIRouter(tags=["recipes"])


@router.post("/recipes", response_model=s.RecipesResponse)
def recipes(body: s.RecipesRequest, request: Request) -> s.RecipesResponse:
    """Generate `n` candidates for the pantry and rank them with the profile's model."""
    lab_ = get_lab(request)
    settings = app_state(request).settings
    allow(request, body.profile)
    profile = profile_for_write(lab_, body.profile)
    reading, gen_request = generation(lab_, body, body.n)
    choice = app_state(request).generators.get()
    try:
        made, used = generate_with_fallback(choice, gen_request)
    except GeneratorError as e:
        raise composer_refusal(e, choice) from None
    if not made:
        raise GeneratorError(f"{used.name} returned no recipes; try again or change the pantry")
    profile = lab_.keep_recipes(profile, made) or profile  # stored, so a vote can name them by id
    model = lab_.model_for(profile)
    scored = lab_.score(made, profile, reading.pantry, choice=model, explain=True)
    return s.RecipesResponse(profile=profile, model=model_info(model), generator=generator_info(used, settings),
                             pantry=pantry_info(reading), candidates=scored_out(scored))


@router.post("/rank", response_model=s.RankResponse)
def rank(body: s.RankRequest, request: Request) -> s.RankResponse:
    """Rank the given recipes (Recipe format) for the profile, best first."""
    lab_ = get_lab(request)
    if body.profile is not None:
        allow(request, body.profile)
    reading = read_body_pantry(lab_, body)
    given = [r.to_recipe() for r in body.recipes]
    model = lab_.model_for(body.profile)
    scored = lab_.score(given, body.profile, reading.pantry, choice=model, explain=True)
    return s.RankResponse(profile=body.profile, model=model_info(model), ranked=scored_out(scored))
