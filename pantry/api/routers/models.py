"""GET /models (versions newest first, and what scores for the profile now) and
POST /models/{id}/activate (through `Lab.activate`, which checks the version loads first)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from pantry.api.body import JsonRoute
from pantry.api import schemas as s
from pantry.api.convert import model_info, model_out
from pantry.api.deps import Forbidden, NotFound, allow, get_lab, known_profile, own_profile, request_access

router = APIRouter(tags=["models"], route_class=JsonRoute)


@router.get("/models", response_model=s.ModelsResponse)
def models(request: Request, profile: str | None = None) -> s.ModelsResponse:
    """Model versions, newest first (with `profile`: its own and the population's)."""
    lab_ = get_lab(request)
    profile = own_profile(request, profile)  # a profile token sees its own and the population's versions
    allow(request, profile)
    profile = known_profile(lab_, profile)
    versions = lab_.store.model_versions(profile)
    in_use = None
    if profile is not None:  # the heuristic needs the encoder's size: say it without loading it
        in_use = (model_info(lab_.model_for(profile)) if any(v.active for v in versions) else
                  s.ModelInfo(label="heuristic", kind="heuristic", version_id=None,
                              reason="no trained model yet: ranking by pantry coverage and time"))
    return s.ModelsResponse(profile=profile, in_use=in_use, models=[model_out(v) for v in versions])


@router.post("/models/{version_id}/activate", response_model=s.ModelOut)
def activate(request: Request, version_id: s.PathId) -> s.ModelOut:
    """Make this version the active one of its scope (its profile, or the population; the
    population's only with the admin token)."""
    lab_ = get_lab(request)
    version = lab_.store.get_model_version(version_id)
    access = request_access(request)
    if version is None or (version.user is not None and not access.may(version.user)):
        raise NotFound(f"there is no model version with id {version_id}")
    if version.user is None and not access.admin:
        raise Forbidden("only the admin token may activate a population model")
    lab_.activate([version_id])
    return model_out(lab_.store.get_model_version(version_id))
