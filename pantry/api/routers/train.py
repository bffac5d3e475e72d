"""POST /train (a background training job through `Lab.train`; 409 while one runs for the
profile) and GET /train/{job} (its state, progress, result or error)."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder

from pantry.api.body import JsonRoute
from pantry.api import schemas as s
from pantry.api.deps import Forbidden, NotFound, allow, app_state, get_lab, known_profile, request_access
from pantry.errors import InvalidInput, NotEnoughVotes
from pantry.domain.votes import VoteCounts
from pantry.model.training import TrainConfig, config_from, train_options

router = APIRouter(tags=["models"], route_class=JsonRoute)


def _job_out(job) -> s.JobOut:
    return s.JobOut(id=job.id, profile=job.profile, state=job.state,
                    progress=s.JobProgress(done=job.done, total=job.total, message=job.message),
                    result=job.result, error=job.error, created_at=job.created_at, started_at=job.started_at,
                    finished_at=job.finished_at)


@router.post("/train", response_model=s.JobOut, status_code=202)
def train(body: s.TrainRequest, request: Request) -> s.JobOut:
    """Start training the profile's model in the background; poll GET /train/{job}."""
    lab_ = get_lab(request)
    known = {o.name for o in train_options()}
    unknown = sorted(set(body.options) - known)
    if unknown:
        raise InvalidInput(f"field 'options': unknown training option(s) {', '.join(unknown)}; "
                           f"use {', '.join(sorted(known))}")
    try:
        cfg = config_from(body.options, TrainConfig())
    except ValueError as e:
        raise InvalidInput(f"field 'options': {e}") from None
    allow(request, body.profile)
    if body.train_population and not request_access(request).admin:
        raise Forbidden("field 'train_population': a profile token trains only its own model; "
                        "send train_population false")
    profile = known_profile(lab_, body.profile)
    decisive = VoteCounts.of(lab_.store.vote_counts(profile)).decisive
    if decisive < cfg.min_decisive:
        raise NotEnoughVotes(f"{profile} has {decisive} decisive votes; training needs at least "
                             f"{cfg.min_decisive}: vote on {cfg.min_decisive - decisive} more pairs")

    def work(on_progress) -> dict[str, Any]:
        out = lab_.train(profile, cfg, activate=body.activate, train_population=body.train_population,
                         on_progress=on_progress, cv_folds=body.cv_folds)
        return jsonable_encoder({"population_version": out.population_version,
                                 "personal_version": out.personal_version, "activated": out.activated,
                                 "seconds": out.seconds, "metrics": out.metrics},
                                custom_encoder={np.generic: lambda x: x.item()})

    return _job_out(app_state(request).jobs.submit(profile, work))


@router.get("/train/{job_id}", response_model=s.JobOut)
def train_status(job_id: str, request: Request) -> s.JobOut:
    """A training job: state, progress (done, total, message), result or error."""
    job = app_state(request).jobs.get(job_id)
    if job is None or not request_access(request).may(job.profile):
        raise NotFound(f"there is no training job {job_id!r} on this server")
    return _job_out(job)
