"""`create_app`: the FastAPI application over one `Lab` (one Store, one embedder) per instance.

Endpoints (JSON; the OpenAPI schema is at /openapi.json, the interactive docs at /docs):
GET /health, POST /recipes, POST /rank, POST /pairs, POST /votes, GET /votes,
DELETE /votes/{id}, GET /models, POST /models/{id}/activate, POST /train, GET /train/{job}.

- Auth: with `PANTRY_API_TOKEN` set, every endpoint but /health needs
  `Authorization: Bearer <token>` (compared with `hmac.compare_digest`), else 401.
- Errors: a library `PantryError` (bad pantry, unknown recipe, too few votes...) is a 400
  `{"detail": message}`; a bad body field is FastAPI's 422 naming the field; unknown ids
  are 404; a generator, encoder or database that cannot work is 503 (a raw SQLite error
  too, in one line), an Ollama failure 502, a request the offline composer cannot meet
  (cuisine, time, diets) a 400 naming the field; a second training job for a profile is 409.
- No stale state between servers: the active model is read from the store on every call
  (`Lab.model_for`), pair tokens are signed with a key every server sharing the database
  folder (or the API token) has, and nothing about votes or models is cached here.
"""

from __future__ import annotations

import hmac
import secrets
import sqlite3
import threading
import time
from dataclasses import replace
from typing import Any

import numpy as np
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import HTTPException
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

import pantry
from pantry.api import schemas as s
from pantry.api.jobs import JobConflict, JobRegistry
from pantry.api.tokens import TOKEN_TTL_S, signing_key, sign, verify
from pantry.compare import prepare_round
from pantry.domain.recipes import Recipe
from pantry.domain.votes import Vote, validate_user_name, vote_from_dict
from pantry.errors import (EmbedderError, GeneratorError, GeneratorUnavailable, InvalidInput, NotEnoughVotes,
                           PantryError)
from pantry.generators import GenerationRequest, generate_with_fallback, select_generator
from pantry.kitchen import read_pantry
from pantry.lab import Lab, ModelChoice
from pantry.model.training import TrainConfig, config_from, train_options
from pantry.settings import Settings
from pantry.storage.store import StoreError

MAX_BODY_BYTES = 8 * 1024 * 1024  # a request body larger than this is refused (413) before parsing
GENERATOR_CHECK_S = 30.0  # how long a generator choice (an Ollama probe in auto mode) is reused

_bearer = HTTPBearer(auto_error=False, description="PANTRY_API_TOKEN, when the server sets one")


class NotFound(PantryError):
    """An id (vote, model version, job, profile) that does not exist: 404."""


class Conflict(PantryError):
    """The request clashes with what is already there (a pair already voted on): 409."""


# ---------------------------------------------------------------------------- state helpers

class _Generators:
    """The generator choice, re-made at most every GENERATOR_CHECK_S (auto mode probes Ollama)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._lock = threading.Lock()
        self._choice = None
        self._at = 0.0

    def get(self):
        with self._lock:
            if self._choice is None or time.monotonic() - self._at > GENERATOR_CHECK_S:
                self._choice = select_generator(self.settings)
                self._at = time.monotonic()
            return self._choice


def _state(request: Request):
    return request.app.state


def _lab(request: Request) -> Lab:
    return request.app.state.lab


def require_token(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> None:
    expected = request.app.state.settings.api_token
    if not expected:
        return
    given = credentials.credentials if credentials is not None and credentials.scheme.lower() == "bearer" else ""
    if not given or not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        raise HTTPException(401, "missing or wrong bearer token (Authorization: Bearer <PANTRY_API_TOKEN>)",
                            headers={"WWW-Authenticate": "Bearer"})


# ---------------------------------------------------------------------------- conversions

def _recipe_out(r: Recipe) -> s.RecipeOut:
    return s.RecipeOut(**r.to_dict())


def _scored_out(x) -> s.ScoredOut:
    """A ranked recipe with its score, uncertainty and explanation (`Lab.score(explain=True)`)."""
    why = x.explanation
    return s.ScoredOut(rank=x.rank, score=x.score, uncertainty=x.uncertainty, recipe=_recipe_out(x.recipe),
                       explanation=None if why is None else s.ExplanationOut(**why.to_dict()))


def _model_info(choice: ModelChoice) -> s.ModelInfo:
    return s.ModelInfo(label=choice.label, kind=choice.kind, version_id=choice.version_id, reason=choice.reason)


def _generator_info(choice) -> s.GeneratorInfo:
    """`fell_back`: auto mode wanted Ollama and got the composer (at discovery or during generation)."""
    return s.GeneratorInfo(name=choice.name, backend=choice.backend, mode=choice.mode, reason=choice.reason,
                           fell_back=choice.mode == "auto" and choice.backend != "ollama")


def _vote_out(v: Vote) -> s.VoteOut:
    return s.VoteOut(id=v.id, profile=v.user, a=v.a, b=v.b, outcome=v.outcome, strength=v.strength, left=v.left,
                     reasons=list(v.reasons), pantry=list(v.pantry), created_at=v.created_at,
                     model_version=v.model_version, generator=v.generator, deleted=v.deleted)


def _model_out(version) -> s.ModelOut:
    kind = "population" if version.user is None else "personal"
    return s.ModelOut(id=version.id, label=f"{kind} v{version.id}", profile=version.user, kind=kind,
                      created_at=version.created_at, embedder=version.embedder, active=version.active,
                      metrics=jsonable_encoder(version.metrics, custom_encoder={np.generic: lambda x: x.item()}))


def _reading(lab: Lab, body: s.PantryInput):
    try:
        return read_pantry(body.pantry or "", body.items, kitchen=lab.kitchen,
                           max_chars=lab.settings.max_pantry_chars)
    except InvalidInput as e:
        raise InvalidInput(f"field 'pantry': {e}") from None


def _pantry_info(reading) -> s.PantryInfo:
    return s.PantryInfo(items=list(reading.pantry), unknown=list(reading.unknown), note=reading.note)


def _generation(lab: Lab, body: s.CookingInput, n: int):
    reading = _reading(lab, body)
    seed = body.seed if body.seed is not None else secrets.randbelow(2**31)
    request = GenerationRequest(pantry=reading.pantry, amounts=reading.amounts, cooked=reading.cooked, n=n,
                                diets=tuple(body.diets), cuisine=body.cuisine, max_minutes=body.max_minutes or None,
                                seed=seed)
    return reading, request


def _composer_refusal(error: GeneratorError, choice) -> PantryError:
    """A generator error to answer with. The offline composer refusing a request (no dish of
    that cuisine, within that time, for those diets) is the request's fault: a 400 naming the
    field. Anything else (Ollama failing with the generator set to ollama) stays a 502."""
    if isinstance(error, GeneratorUnavailable) or (choice.backend == "ollama" and choice.mode != "auto"):
        return error
    msg = str(error)
    field = ("cuisine" if "cuisine" in msg else "max_minutes" if "minutes" in msg
             else "diets" if "diet" in msg else "pantry")
    return InvalidInput(f"field {field!r}: {msg}")


def _known_profile(lab: Lab, profile: str | None) -> str | None:
    """The validated name of an existing profile (None stays None); 400 for a bad name, 404 for none."""
    if profile is None:
        return None
    try:
        profile = validate_user_name(profile)
    except InvalidInput as e:
        raise InvalidInput(f"field 'profile': {e}") from None
    if profile not in lab.store.list_users():
        raise NotFound(f"there is no profile named {profile!r}")
    return profile


# ---------------------------------------------------------------------------- the app

def create_app(settings: Settings | None = None, lab: Lab | None = None) -> FastAPI:
    """The API over `lab` (default: a new Lab on `settings`, default: the environment's).

    One Lab, and so one Store and at most one loaded encoder, per app instance; the encoder
    loads on the first request that scores (never on /health).
    """
    settings = settings or (lab.settings if lab is not None else Settings.from_env())
    lab = lab if lab is not None else Lab(settings)
    app = FastAPI(title="PantryPilot preference lab", version=pantry.__version__,
                  description="Generate and rank recipes for a profile, collect pairwise votes, train its "
                              "reward model. See the README section 'HTTP API'.",
                  openapi_url=None, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.lab = lab
    app.state.jobs = JobRegistry()
    app.state.generators = _Generators(settings)
    app.state.token_key = signing_key(settings.home, settings.api_token)

    @app.middleware("http")
    async def limit_body(request: Request, call_next):
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
            return JSONResponse({"detail": f"request body is {int(length)} bytes (limit {MAX_BODY_BYTES})"}, 413)
        return await call_next(request)

    @app.exception_handler(PantryError)
    async def pantry_error(request: Request, exc: PantryError):
        status = (404 if isinstance(exc, NotFound) else 409 if isinstance(exc, (JobConflict, Conflict))
                  else 503 if isinstance(exc, (GeneratorUnavailable, EmbedderError, StoreError))
                  else 502 if isinstance(exc, GeneratorError) else 400)
        return JSONResponse({"detail": str(exc)}, status)

    @app.exception_handler(sqlite3.Error)
    async def database_error(request: Request, exc: sqlite3.Error):
        """A database failure the store did not word (a file damaged while serving): 503, one line."""
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return JSONResponse({"detail": f"database error: {first}; nothing was changed by this request"}, 503)

    @app.get("/health", response_model=s.Health, tags=["service"])
    def health(request: Request) -> s.Health:
        """Store, embedder (never loaded here), generator and the active population model. No auth."""
        lab_ = _lab(request)
        store = lab_.store
        try:
            counts = store.vote_counts()
            st = s.StoreHealth(ok=True, schema_version=store.schema_version(), journal_mode=store.journal_mode(),
                               users=len(store.list_users()), recipes=store.count_recipes(),
                               votes=sum(counts.values()))
            population = store.active_model(None)
        except PantryError as e:
            st, population = s.StoreHealth(ok=False, schema_version=None, error=str(e)), None
        gen, gen_error = None, None
        try:
            gen = _generator_info(_state(request).generators.get())
        except PantryError as e:
            gen_error = str(e)
        return s.Health(ok=st.ok and gen is not None, version=pantry.__version__, store=st,
                        embedder=s.EmbedderHealth(name=lab_.embedder_name, loaded=lab_.embedder_loaded),
                        generator=gen, generator_error=gen_error,
                        population_model=_model_out(population) if population else None,
                        auth=bool(_state(request).settings.api_token))

    api = APIRouter(dependencies=[Depends(require_token)])

    @api.get("/openapi.json", include_in_schema=False)
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @api.get("/docs", include_in_schema=False)
    def docs():
        return get_swagger_ui_html(openapi_url="/openapi.json", title=app.title + " - docs")

    @api.post("/recipes", response_model=s.RecipesResponse, tags=["recipes"])
    def recipes(body: s.RecipesRequest, request: Request) -> s.RecipesResponse:
        """Generate `n` candidates for the pantry and rank them with the profile's model."""
        lab_ = _lab(request)
        reading, gen_request = _generation(lab_, body, body.n)
        choice = _state(request).generators.get()
        try:
            made, used = generate_with_fallback(choice, gen_request)
        except GeneratorError as e:
            raise _composer_refusal(e, choice) from None
        if not made:
            raise GeneratorError(f"{used.name} returned no recipes; try again or change the pantry")
        lab_.store.log_generated(body.profile, made)  # stored, so a vote can name them by id
        model = lab_.model_for(body.profile)
        scored = lab_.score(made, body.profile, reading.pantry, choice=model, explain=True)
        return s.RecipesResponse(
            profile=body.profile, model=_model_info(model), generator=_generator_info(used),
            pantry=_pantry_info(reading),
            candidates=[_scored_out(x) for x in scored])

    @api.post("/rank", response_model=s.RankResponse, tags=["recipes"])
    def rank(body: s.RankRequest, request: Request) -> s.RankResponse:
        """Rank the given recipes (Recipe format) for the profile, best first."""
        lab_ = _lab(request)
        reading = _reading(lab_, body)
        given = [r.to_recipe() for r in body.recipes]
        model = lab_.model_for(body.profile)
        scored = lab_.score(given, body.profile, reading.pantry, choice=model, explain=True)
        return s.RankResponse(profile=body.profile, model=_model_info(model),
                              ranked=[_scored_out(x) for x in scored])

    @api.post("/pairs", response_model=s.PairResponse, tags=["votes"])
    def pairs(body: s.PairsRequest, request: Request) -> s.PairResponse:
        """The next pair to show, chosen as the Compare page does (`pantry.compare.prepare_round`)."""
        lab_ = _lab(request)
        reading, gen_request = _generation(lab_, body, body.n)
        choice = _state(request).generators.get()
        profile = lab_.store.ensure_user(body.profile)
        shown = {frozenset((v.a, v.b)) for v in lab_.store.votes(profile)}  # pairs this profile already judged
        rng = np.random.default_rng(gen_request.seed)
        try:
            rnd = prepare_round(lab_, choice, gen_request, profile, rng, avoid=shown)  # stores + logs the recipes
        except GeneratorError as e:
            raise _composer_refusal(e, choice) from None
        m = rnd.matchup
        issued = int(time.time())
        token = sign(_state(request).token_key, {
            "p": profile, "a": m.a.recipe.id, "b": m.b.recipe.id, "l": m.left, "pantry": list(m.pantry),
            "m": m.model_label, "g": m.generator, "gr": m.generator_reason, "iat": issued})
        now = lab_.model_for(profile)  # what prepare_round used, unless a version was activated meanwhile
        model = (_model_info(now) if now.label == m.model_label else
                 s.ModelInfo(label=m.model_label, kind=m.model_kind, version_id=None, reason=m.model_label))
        used_name = rnd.generator_name  # prepare_round may have fallen back to the composer
        return s.PairResponse(
            pair_token=token, profile=profile,
            a=s.PairItem(recipe=_recipe_out(m.a.recipe), score=m.a.score, uncertainty=m.a.uncertainty),
            b=s.PairItem(recipe=_recipe_out(m.b.recipe), score=m.b.score, uncertainty=m.b.uncertainty),
            left=m.left, why=m.why, model=model,
            generator=_generator_info(choice if used_name == choice.name else replace(
                choice, name=used_name, backend="offline", reason=rnd.generator_reason)),
            pantry=_pantry_info(reading), candidates=rnd.candidates, dropped_duplicates=rnd.dropped_duplicates,
            expires_at=issued + TOKEN_TTL_S)

    @api.post("/votes", response_model=s.VoteStored, status_code=201, tags=["votes"])
    def add_vote(body: s.VoteRequest, request: Request) -> s.VoteStored | JSONResponse:
        """Store a vote for a pair from POST /pairs (`pair_token`) or for two given recipes."""
        lab_ = _lab(request)
        record: dict[str, Any] = {"outcome": body.outcome, "reasons": list(body.reasons)}
        if body.pair_token is not None:
            payload = verify(_state(request).token_key, body.pair_token)
            record.update(user=payload["p"], a=payload["a"], b=payload["b"], left=body.left or payload.get("l"),
                          pantry=payload.get("pantry") or [], model_version=payload.get("m"),
                          generator=payload.get("g"), generator_reason=payload.get("gr"))
            since = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(int(payload["iat"]) - 1))
            pair = {payload["a"], payload["b"]}
            if any({v.a, v.b} == pair for v in lab_.store.votes(payload["p"], include_deleted=True, since=since)):
                raise Conflict("field 'pair_token': this pair was already voted on; ask POST /pairs for a new pair")
        else:
            a = body.a.model_dump() if hasattr(body.a, "model_dump") else body.a
            b = body.b.model_dump() if hasattr(body.b, "model_dump") else body.b
            record.update(user=body.profile, a=a, b=b, left=body.left, pantry=list(body.pantry))
        if body.outcome == "skip":
            return JSONResponse(s.VoteStored(id=None, stored=False).model_dump(), 200)
        if body.outcome in ("a", "b"):
            record["strength"] = body.strength or "slightly"
        elif body.strength is not None:
            raise InvalidInput(f"field 'strength' is for decisive votes (a or b), not {body.outcome!r}")
        vote, inline = vote_from_dict({k: v for k, v in record.items() if v is not None})
        lab_.store.ensure_user(vote.user)
        if inline:
            lab_.store.add_recipes(inline)
        vote_id = lab_.store.add_vote(vote)
        return s.VoteStored(id=vote_id, stored=True, vote=_vote_out(lab_.store.get_vote(vote_id)))

    @api.get("/votes", response_model=s.VotesPage, tags=["votes"])
    def list_votes(request: Request, profile: str | None = None,
                   since: str | None = Query(None, description="ISO 8601: only votes cast at or after it"),
                   limit: int = Query(50, ge=1, le=s.MAX_VOTES_PAGE), offset: int = Query(0, ge=0),
                   include_deleted: bool = False) -> s.VotesPage:
        """Votes oldest first, one page at a time (`limit` at most MAX_VOTES_PAGE)."""
        lab_ = _lab(request)
        profile = _known_profile(lab_, profile)
        found = lab_.store.votes(profile, include_deleted=include_deleted, since=since)
        return s.VotesPage(profile=profile, total=len(found), offset=offset, limit=limit,
                           votes=[_vote_out(v) for v in found[offset:offset + limit]])

    @api.delete("/votes/{vote_id}", response_model=s.VoteDeleted, tags=["votes"])
    def delete_vote(vote_id: int, request: Request) -> s.VoteDeleted:
        """Soft-delete a vote (kept, marked deleted, as Undo does); 404 when unknown."""
        store = _lab(request).store
        if store.get_vote(vote_id) is None:
            raise NotFound(f"there is no vote with id {vote_id}")
        return s.VoteDeleted(id=vote_id, deleted=True, changed=store.delete_vote(vote_id))

    @api.get("/models", response_model=s.ModelsResponse, tags=["models"])
    def models(request: Request, profile: str | None = None) -> s.ModelsResponse:
        """Model versions, newest first (with `profile`: its own and the population's)."""
        lab_ = _lab(request)
        profile = _known_profile(lab_, profile)
        versions = lab_.store.model_versions(profile)
        in_use = None
        if profile is not None:  # the heuristic needs the encoder's size: say it without loading it
            in_use = (_model_info(lab_.model_for(profile)) if any(v.active for v in versions) else
                      s.ModelInfo(label="heuristic", kind="heuristic", version_id=None,
                                  reason="no trained model yet: ranking by pantry coverage and time"))
        return s.ModelsResponse(profile=profile, in_use=in_use, models=[_model_out(v) for v in versions])

    @api.post("/models/{version_id}/activate", response_model=s.ModelOut, tags=["models"])
    def activate(version_id: int, request: Request) -> s.ModelOut:
        """Make this version the active one of its scope (its profile, or the population)."""
        lab_ = _lab(request)
        if lab_.store.get_model_version(version_id) is None:
            raise NotFound(f"there is no model version with id {version_id}")
        lab_.activate([version_id])
        return _model_out(lab_.store.get_model_version(version_id))

    @api.post("/train", response_model=s.JobOut, status_code=202, tags=["models"])
    def train(body: s.TrainRequest, request: Request) -> s.JobOut:
        """Start training the profile's model in the background; poll GET /train/{job}."""
        lab_ = _lab(request)
        known = {o.name for o in train_options()}
        unknown = sorted(set(body.options) - known)
        if unknown:
            raise InvalidInput(f"field 'options': unknown training option(s) {', '.join(unknown)}; "
                               f"use {', '.join(sorted(known))}")
        try:
            cfg = config_from(body.options, TrainConfig())
        except ValueError as e:
            raise InvalidInput(f"field 'options': {e}") from None
        profile = _known_profile(lab_, body.profile)
        counts = lab_.store.vote_counts(profile)
        decisive = counts["a"] + counts["b"]
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

        return _job_out(_state(request).jobs.submit(profile, work))

    @api.get("/train/{job_id}", response_model=s.JobOut, tags=["models"])
    def train_status(job_id: str, request: Request) -> s.JobOut:
        """A training job: state, progress (done, total, message), result or error."""
        job = _state(request).jobs.get(job_id)
        if job is None:
            raise NotFound(f"there is no training job {job_id!r} on this server")
        return _job_out(job)

    app.include_router(api)
    return app


def _job_out(job) -> s.JobOut:
    return s.JobOut(id=job.id, profile=job.profile, state=job.state,
                    progress=s.JobProgress(done=job.done, total=job.total, message=job.message),
                    result=job.result, error=job.error, created_at=job.created_at, started_at=job.started_at,
                    finished_at=job.finished_at)


__all__ = ["create_app", "MAX_BODY_BYTES"]
