"""`create_app`: the FastAPI application over one `Lab` (one Store, one embedder) per instance.

Endpoints (JSON; the OpenAPI schema is at /openapi.json, the interactive docs at /docs):
GET /health, POST /recipes, POST /rank, POST /pairs, POST /votes, GET /votes,
DELETE /votes/{id}, GET /models, POST /models/{id}/activate, POST /train, GET /train/{job}.

- Auth: with `PANTRY_API_TOKEN` set, every endpoint but /health needs
  `Authorization: Bearer <token>`, else 401, checked by `_Guard` (an ASGI middleware) BEFORE
  any byte of the body is read. The token is the admin token (PANTRY_API_TOKEN, compared with
  `hmac.compare_digest`: everything) or a profile token (`pantry.api.tokens.profile_token`):
  only that profile's pairs, votes, models and jobs; another profile's vote, model or job is
  a 404 for it, naming another profile in a request a 403, the population model admin-only.
- Body cap: `_Guard` counts the body's bytes as they arrive (chunked bodies too) and answers
  413 once they pass MAX_BODY_BYTES; the rest is never read.
- Once-only votes: a pair token is spent by storing the vote under its digest (a UNIQUE column,
  `Store.add_vote(request_key=...)`), and a direct vote may carry an `Idempotency-Key` header:
  the same key with the same body answers what the first request stored, another body is 409.
- Errors: a library `PantryError` (bad pantry, unknown recipe, too few votes...) is a 400
  `{"detail": message}`; a bad body field is a 422 naming the field (`loc`, `msg`, `type`; the
  input is never echoed: NaN, 1e400 or a lone surrogate could not be sent back); unknown ids
  are 404; a generator, encoder or database that cannot work is 503 (a raw SQLite error
  too, in one line), an Ollama failure 502, a request the offline composer cannot meet
  (cuisine, time, diets) a 400 naming the field; a second training job for a profile, a stored
  recipe sent with other content, a spent pair token are 409. Every message is redacted
  (`Settings.redact`: no password of PANTRY_DATABASE_URL or OLLAMA_HOST, no token).
- /health never waits for Ollama: it answers from the generator status a background thread
  refreshes (`_Generators.status`).
- No stale state between servers: the active model is read from the store on every call
  (`Lab.model_for`), pair tokens are signed with a key every server sharing the database
  folder (or the API token) has, and nothing about votes or models is cached here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer

import pantry
from pantry.api import schemas as s
from pantry.api.household import router as household_router
from pantry.api.jobs import JobConflict, JobRegistry
from pantry.api.tokens import TOKEN_TTL_S, profile_of_token, signing_key, sign, spend_key, verify
from pantry.base import redact
from pantry.compare import prepare_round
from pantry.domain.fields import has_lone_surrogate
from pantry.domain.recipes import Recipe
from pantry.domain.votes import Vote, user_key, validate_new_user_name, vote_from_dict
from pantry.errors import (EmbedderError, GeneratorError, GeneratorUnavailable, InvalidInput, NotEnoughVotes,
                           PantryError)
from pantry.generators import GenerationRequest, generate_with_fallback, select_generator
from pantry.kitchen import read_pantry
from pantry.lab import Lab, ModelChoice
from pantry.model.training import TrainConfig, config_from, train_options
from pantry.settings import Settings
from pantry.storage.store import RecipeConflict, RepeatedRequest, StoreError

MAX_BODY_BYTES = 8 * 1024 * 1024  # a request body larger than this is refused (413) before parsing
GENERATOR_CHECK_S = 30.0  # how long a generator choice (an Ollama probe in auto mode) is reused
HEALTH_FIRST_CHECK_WAIT_S = 0.05  # /health waits at most this for a server's very first generator check
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


# ---------------------------------------------------------------------------- state helpers

class _Generators:
    """The generator choice, re-made at most every GENERATOR_CHECK_S (auto mode probes Ollama).

    `get()` (generation requests) uses the cached choice while fresh, else checks in the
    calling thread, never under a lock another request waits on. `status()` (/health) never
    checks: it answers the last result and, when stale, starts one background check, so a
    hung Ollama cannot make /health slow (a load balancer's 2 s check stays well under)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._lock = threading.Lock()  # guards the fields below; never held while checking
        self._choice = None
        self._error: PantryError | None = None
        self._at = 0.0
        self._checking = False
        self._first = threading.Event()

    def _check(self):
        try:
            choice, error = select_generator(self.settings), None
        except PantryError as e:
            choice, error = None, e
        with self._lock:
            self._choice, self._error, self._at = choice, error, time.monotonic()
        self._first.set()
        return choice, error

    def _background(self) -> None:
        try:
            self._check()
        finally:
            with self._lock:
                self._checking = False

    def refresh_in_background(self) -> None:
        with self._lock:
            if self._checking:
                return
            self._checking = True
        threading.Thread(target=self._background, name="pantry-generator-check", daemon=True).start()

    def _fresh(self) -> bool:
        return self._at > 0 and time.monotonic() - self._at <= GENERATOR_CHECK_S

    def get(self):
        with self._lock:
            fresh, choice, error = self._fresh(), self._choice, self._error
        if not fresh:
            choice, error = self._check()
        if error is not None:
            raise error
        return choice

    def status(self):
        """(choice, error message) from the last check, without waiting for a new one
        (except up to HEALTH_FIRST_CHECK_WAIT_S for a new server's very first check)."""
        with self._lock:
            stale = not self._fresh()
        if stale:
            self.refresh_in_background()
            self._first.wait(HEALTH_FIRST_CHECK_WAIT_S)
        with self._lock:
            if self._at == 0:
                return None, "the generator is being checked (first check since the server started)"
            return self._choice, None if self._error is None else str(self._error)


def _state(request: Request):
    return request.app.state


def _lab(request: Request) -> Lab:
    return request.app.state.lab


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


def _access(request: Request) -> Access:
    return request.scope.get("state", {}).get("access") or Access(admin=not request.app.state.settings.api_token)


def require_token(request: Request, _credentials=Depends(_bearer)) -> None:
    """Declares the bearer scheme in the schema; the check itself is `_Guard`'s (before the body)."""


def _allow(request: Request, profile: str | None) -> None:
    """403 unless the request's token may act for `profile`."""
    access = _access(request)
    if not access.may(profile):
        raise Forbidden(f"field 'profile': this token is for profile {access.profile!r} only"
                        if profile is not None else
                        f"field 'profile': this token is for profile {access.profile!r}: name it")


class _BodyTooLarge(Exception):
    pass


class _Guard:
    """ASGI middleware in front of every route: the bearer token is checked from the headers
    before any of the body is read (401), and the body's bytes are counted as they arrive
    (Content-Length or chunked) and refused with 413 once past `cap`; the rest is never read.
    The request's `Access` goes into `scope["state"]["access"]`."""

    def __init__(self, app, settings: Settings, cap: int):
        self.app, self.settings, self.cap = app, settings, cap

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if scope.get("path") != "/health":
            access = access_for(self.settings, headers.get("authorization"))
            if access is None:
                return await _send_json(send, 401, {"detail": "missing or wrong bearer token (Authorization: "
                                                              "Bearer <PANTRY_API_TOKEN or a profile token>)"},
                                        {"www-authenticate": "Bearer"})
            scope.setdefault("state", {})["access"] = access
        length = headers.get("content-length", "")
        if length.strip().isdigit() and int(length) > self.cap:
            return await _send_json(send, 413, {"detail": f"request body is {int(length)} bytes (limit {self.cap})"})
        received, too_large, started = 0, False, False

        async def counted():
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.cap:
                    too_large = True
                    raise _BodyTooLarge()
            return message

        async def guarded_send(message):
            nonlocal started
            if too_large:  # the app's answer to a body it could not read: replaced by the 413
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, guarded_send)
        except Exception:
            if not too_large:
                raise
        if too_large and not started:
            await _send_json(send, 413, {"detail": f"request body passed {self.cap} bytes (limit {self.cap}); "
                                                   "the rest was not read"})


async def _send_json(send, status: int, content: Any, headers: dict[str, str] | None = None) -> None:
    body = json.dumps(content).encode("utf-8")
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
           *((k.encode(), v.encode()) for k, v in (headers or {}).items())]
    if status in (401, 413):
        raw.append((b"connection", b"close"))  # the unread rest of the body is not drained
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _safe_text(value: Any, limit: int = 500) -> str:
    """Text that JSON can carry: lone surrogates escaped, clipped."""
    text = value if isinstance(value, str) else str(value)
    if has_lone_surrogate(text):
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[:limit] + "..."


def _safe_loc(part: Any) -> Any:
    if isinstance(part, int) and not isinstance(part, bool) and abs(part) < 2**53:
        return part
    return _safe_text(part, 100)


def _validation_detail(errors) -> list[dict[str, Any]]:
    """FastAPI's validation errors without the input (NaN, 1e400, a lone surrogate or a huge
    value cannot be sent back, and need not be): loc, msg, type."""
    return [{"loc": [_safe_loc(p) for p in e.get("loc", ())], "msg": _safe_text(e.get("msg", "")),
             "type": _safe_text(e.get("type", ""), 100)} for e in errors][:50]


# ---------------------------------------------------------------------------- conversions

def _recipe_out(r: Recipe) -> s.RecipeOut:
    return s.RecipeOut(**r.to_dict())


def _model_info(choice: ModelChoice) -> s.ModelInfo:
    return s.ModelInfo(label=choice.label, kind=choice.kind, version_id=choice.version_id, reason=choice.reason)


def _generator_info(choice, settings: Settings | None = None) -> s.GeneratorInfo:
    """`fell_back`: auto mode wanted Ollama and got the composer (at discovery or during
    generation). Name and reason redacted (an OLLAMA_HOST with user:password@ is quoted there)."""
    clean = settings.redact if settings is not None else redact
    return s.GeneratorInfo(name=clean(choice.name), backend=choice.backend, mode=choice.mode,
                           reason=clean(choice.reason), fell_back=choice.mode == "auto" and choice.backend != "ollama")


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


def _profile_for_write(lab: Lab, profile: str) -> str:
    """The name a write for `profile` is stored under: the existing profile (case-insensitively),
    else the new name if it passes the rules for new names (400 naming the field). Creates
    nothing: the profile is created by the write that stores something for it."""
    try:
        return lab.store.find_user(profile) or validate_new_user_name(profile)
    except InvalidInput as e:
        raise InvalidInput(f"field 'profile': {e}") from None


def _request_digest(body: s.VoteRequest) -> str:
    """What identifies a vote request's content (for idempotent retries)."""
    data = body.model_dump(mode="json")
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=True).encode("ascii")).hexdigest()


def _idempotency_key(request: Request) -> str | None:
    raw = request.headers.get("idempotency-key")
    if raw is None:
        return None
    key = raw.strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY or not all(" " <= ch <= "~" for ch in key):
        raise InvalidInput(f"header 'Idempotency-Key' must be 1-{MAX_IDEMPOTENCY_KEY} printable ASCII characters")
    return key


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
    app.state.generators.refresh_in_background()  # /health has a status from the start
    app.state.token_key = signing_key(settings.home, settings.api_token)
    app.add_middleware(_Guard, settings=settings, cap=MAX_BODY_BYTES)

    @app.exception_handler(PantryError)
    async def pantry_error(request: Request, exc: PantryError):
        status = (404 if isinstance(exc, NotFound) else 403 if isinstance(exc, Forbidden)
                  else 409 if isinstance(exc, (JobConflict, Conflict, RecipeConflict))
                  else 503 if isinstance(exc, (GeneratorUnavailable, EmbedderError, StoreError))
                  else 502 if isinstance(exc, GeneratorError) else 400)
        return JSONResponse({"detail": _safe_text(settings.redact(str(exc)), 2000)}, status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        """422 naming each bad field, never echoing the input (FastAPI's default handler echoes it,
        and NaN, 1e400 or "\\ud800" there made the answer itself fail: a 500)."""
        return JSONResponse({"detail": _validation_detail(exc.errors())}, 422)

    @app.exception_handler(sqlite3.Error)
    async def database_error(request: Request, exc: sqlite3.Error):
        """A database failure the store did not word (a file damaged while serving): 503, one line."""
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return JSONResponse({"detail": f"database error: {_safe_text(first)}; nothing was changed by this request"},
                            503)

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
            st, population = s.StoreHealth(ok=False, schema_version=None, error=settings.redact(str(e))), None
        choice, gen_error = _state(request).generators.status()  # never waits for Ollama
        gen = _generator_info(choice, settings) if choice is not None else None
        gen_error = settings.redact(gen_error) if gen_error else None
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
        _allow(request, body.profile)
        profile = _profile_for_write(lab_, body.profile)
        reading, gen_request = _generation(lab_, body, body.n)
        choice = _state(request).generators.get()
        try:
            made, used = generate_with_fallback(choice, gen_request)
        except GeneratorError as e:
            raise _composer_refusal(e, choice) from None
        if not made:
            raise GeneratorError(f"{used.name} returned no recipes; try again or change the pantry")
        profile = lab_.store.log_generated(profile, made) or profile  # stored, so a vote can name them by id
        model = lab_.model_for(profile)
        scored = lab_.score(made, profile, reading.pantry, choice=model)
        return s.RecipesResponse(
            profile=profile, model=_model_info(model), generator=_generator_info(used, settings),
            pantry=_pantry_info(reading),
            candidates=[s.ScoredOut(rank=x.rank, score=x.score, uncertainty=x.uncertainty,
                                    recipe=_recipe_out(x.recipe)) for x in scored])

    @api.post("/rank", response_model=s.RankResponse, tags=["recipes"])
    def rank(body: s.RankRequest, request: Request) -> s.RankResponse:
        """Rank the given recipes (Recipe format) for the profile, best first."""
        lab_ = _lab(request)
        if body.profile is not None:
            _allow(request, body.profile)
        reading = _reading(lab_, body)
        given = [r.to_recipe() for r in body.recipes]
        model = lab_.model_for(body.profile)
        scored = lab_.score(given, body.profile, reading.pantry, choice=model)
        return s.RankResponse(profile=body.profile, model=_model_info(model),
                              ranked=[s.ScoredOut(rank=x.rank, score=x.score, uncertainty=x.uncertainty,
                                                  recipe=_recipe_out(x.recipe)) for x in scored])

    @api.post("/pairs", response_model=s.PairResponse, tags=["votes"])
    def pairs(body: s.PairsRequest, request: Request) -> s.PairResponse:
        """The next pair to show, chosen as the Compare page does (`pantry.compare.prepare_round`)."""
        lab_ = _lab(request)
        _allow(request, body.profile)
        profile = _profile_for_write(lab_, body.profile)  # created when the round's recipes are logged
        reading, gen_request = _generation(lab_, body, body.n)
        choice = _state(request).generators.get()
        try:
            made, used = generate_with_fallback(choice, gen_request)
        except GeneratorError as e:
            raise _composer_refusal(e, choice) from None
        # only the judged pairs among these candidates: one indexed query, flat in the number of votes
        shown = lab_.store.judged_pairs(profile, [r.id for r in made])
        rng = np.random.default_rng(gen_request.seed)
        try:
            rnd = prepare_round(lab_, choice, gen_request, profile, rng, avoid=shown,
                                prefetch=_Made(made, used, choice))  # stores + logs the recipes
        except GeneratorError as e:
            raise _composer_refusal(e, choice) from None
        m = rnd.matchup
        issued = int(time.time())
        token = sign(_state(request).token_key, {  # the payload is readable by the client: redacted
            "p": profile, "a": m.a.recipe.id, "b": m.b.recipe.id, "l": m.left, "pantry": list(m.pantry),
            "m": m.model_label, "g": settings.redact(m.generator) if m.generator else m.generator,
            "gr": settings.redact(m.generator_reason) if m.generator_reason else m.generator_reason, "iat": issued})
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
                choice, name=used_name, backend="offline", reason=rnd.generator_reason), settings),
            pantry=_pantry_info(reading), candidates=rnd.candidates, dropped_duplicates=rnd.dropped_duplicates,
            expires_at=issued + TOKEN_TTL_S)

    @api.post("/votes", response_model=s.VoteStored, status_code=201, tags=["votes"])
    def add_vote(body: s.VoteRequest, request: Request) -> s.VoteStored | JSONResponse:
        """Store a vote for a pair from POST /pairs (`pair_token`) or for two given recipes.

        Each pair token stores at most one vote; an `Idempotency-Key` header makes a direct
        vote safe to retry (the same key and body answer the first answer, stored once)."""
        lab_ = _lab(request)
        idem = _idempotency_key(request)
        record: dict[str, Any] = {"outcome": body.outcome, "reasons": list(body.reasons)}
        if body.pair_token is not None:
            payload = verify(_state(request).token_key, body.pair_token)
            _allow(request, payload["p"])
            record.update(user=payload["p"], a=payload["a"], b=payload["b"], left=body.left or payload.get("l"),
                          pantry=payload.get("pantry") or [], model_version=payload.get("m"),
                          generator=payload.get("g"), generator_reason=payload.get("gr"))
            request_key = spend_key(payload)
        else:
            _allow(request, body.profile)
            _profile_for_write(lab_, body.profile)  # a new name must pass the rules (400 naming the field)
            a = body.a.model_dump() if hasattr(body.a, "model_dump") else body.a
            b = body.b.model_dump() if hasattr(body.b, "model_dump") else body.b
            record.update(user=body.profile, a=a, b=b, left=body.left, pantry=list(body.pantry))
            request_key = None if idem is None else f"idem:{user_key(body.profile)}:{idem}"
        if body.outcome == "skip":
            return JSONResponse(s.VoteStored(id=None, stored=False).model_dump(), 200)
        if body.outcome in ("a", "b"):
            record["strength"] = body.strength or "slightly"
        elif body.strength is not None:
            raise InvalidInput(f"field 'strength' is for decisive votes (a or b), not {body.outcome!r}")
        vote, inline = vote_from_dict({k: v for k, v in record.items() if v is not None})
        try:  # one transaction: the recipes, the profile (when new), the vote and its request key
            vote_id = lab_.store.add_vote(vote, request_key=request_key, request_digest=_request_digest(body),
                                          recipes=inline)
        except RepeatedRequest as e:
            if not e.same:
                raise Conflict("field 'pair_token': this pair was already voted on; ask POST /pairs for a new pair"
                               if body.pair_token is not None else
                               f"header 'Idempotency-Key' was already used for another vote (id {e.vote_id}); "
                               "use a new key for a new vote") from None
            vote_id = e.vote_id  # a retry of a request that was stored: the same answer
        except RecipeConflict as e:
            raise Conflict(f"field 'a' or 'b': {e}") from None
        return s.VoteStored(id=vote_id, stored=True, vote=_vote_out(lab_.store.get_vote(vote_id)))

    @api.get("/votes", response_model=s.VotesPage, tags=["votes"])
    def list_votes(request: Request, profile: str | None = None,
                   since: str | None = Query(None, description="ISO 8601: only votes cast at or after it"),
                   limit: int = Query(50, ge=1, le=s.MAX_VOTES_PAGE), offset: int = Query(0, ge=0, le=s.MAX_ID),
                   include_deleted: bool = False) -> s.VotesPage:
        """Votes oldest first, one page at a time (`limit` at most MAX_VOTES_PAGE)."""
        lab_ = _lab(request)
        access = _access(request)
        if profile is None and not access.admin:
            profile = access.profile  # a profile token lists its own profile's votes
        _allow(request, profile)
        profile = _known_profile(lab_, profile)
        total, page = lab_.store.votes_page(profile, include_deleted=include_deleted, since=since, limit=limit,
                                            offset=offset)  # counted and paged by the database
        return s.VotesPage(profile=profile, total=total, offset=offset, limit=limit, votes=[_vote_out(v) for v in page])

    @api.delete("/votes/{vote_id}", response_model=s.VoteDeleted, tags=["votes"])
    def delete_vote(request: Request, vote_id: int = Path(..., ge=0, le=s.MAX_ID)) -> s.VoteDeleted:
        """Soft-delete a vote (kept, marked deleted, as Undo does); 404 when unknown (or another
        profile's, for a profile token)."""
        store = _lab(request).store
        vote = store.get_vote(vote_id)
        if vote is None or not _access(request).may(vote.user):
            raise NotFound(f"there is no vote with id {vote_id}")
        return s.VoteDeleted(id=vote_id, deleted=True, changed=store.delete_vote(vote_id))

    @api.get("/models", response_model=s.ModelsResponse, tags=["models"])
    def models(request: Request, profile: str | None = None) -> s.ModelsResponse:
        """Model versions, newest first (with `profile`: its own and the population's)."""
        lab_ = _lab(request)
        access = _access(request)
        if profile is None and not access.admin:
            profile = access.profile  # a profile token sees its own and the population's versions
        _allow(request, profile)
        profile = _known_profile(lab_, profile)
        versions = lab_.store.model_versions(profile)
        in_use = None
        if profile is not None:  # the heuristic needs the encoder's size: say it without loading it
            in_use = (_model_info(lab_.model_for(profile)) if any(v.active for v in versions) else
                      s.ModelInfo(label="heuristic", kind="heuristic", version_id=None,
                                  reason="no trained model yet: ranking by pantry coverage and time"))
        return s.ModelsResponse(profile=profile, in_use=in_use, models=[_model_out(v) for v in versions])

    @api.post("/models/{version_id}/activate", response_model=s.ModelOut, tags=["models"])
    def activate(request: Request, version_id: int = Path(..., ge=0, le=s.MAX_ID)) -> s.ModelOut:
        """Make this version the active one of its scope (its profile, or the population; the
        population's only with the admin token)."""
        lab_ = _lab(request)
        version = lab_.store.get_model_version(version_id)
        access = _access(request)
        if version is None or (version.user is not None and not access.may(version.user)):
            raise NotFound(f"there is no model version with id {version_id}")
        if version.user is None and not access.admin:
            raise Forbidden("only the admin token may activate a population model")
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
        _allow(request, body.profile)
        if body.train_population and not _access(request).admin:
            raise Forbidden("field 'train_population': a profile token trains only its own model; "
                            "send train_population false")
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
        if job is None or not _access(request).may(job.profile):
            raise NotFound(f"there is no training job {job_id!r} on this server")
        return _job_out(job)

    app.include_router(api)
    app.include_router(household_router, dependencies=[Depends(require_token)])  # POST /household, /household/votes
    return app


class _Made:
    """Candidates generated by POST /pairs before the round (so the judged pairs among them are
    known), handed to `prepare_round` the way a prefetch hands its recipes."""

    def __init__(self, recipes, used, choice):
        self._made, self.choice = (list(recipes), used), choice

    def matches(self, choice, request) -> bool:
        return True

    def take(self):
        return self._made


def _job_out(job) -> s.JobOut:
    return s.JobOut(id=job.id, profile=job.profile, state=job.state,
                    progress=s.JobProgress(done=job.done, total=job.total, message=job.message),
                    result=job.result, error=job.error, created_at=job.created_at, started_at=job.started_at,
                    finished_at=job.finished_at)


__all__ = ["create_app", "MAX_BODY_BYTES"]
