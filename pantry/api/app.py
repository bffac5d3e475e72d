"""`create_app`: the FastAPI application over one `Lab` (one Store, one embedder) per instance. It
only assembles: the guard middleware, the error handlers and the routers (`pantry.api.routers`).

Endpoints (JSON; the OpenAPI schema is at /openapi.json, the interactive docs at /docs):
GET /health, POST /recipes, POST /rank, POST /pairs, POST /votes, GET /votes,
DELETE /votes/{id}, GET /models, POST /models/{id}/activate, POST /train, GET /train/{job}.

- Auth: with `PANTRY_API_TOKEN` set, every endpoint but /health needs
  `Authorization: Bearer <token>`, else 401, checked by `Guard` (`pantry.api.guard`, an ASGI middleware) BEFORE
  any byte of the body is read. The token is the admin token (PANTRY_API_TOKEN, compared with
  `hmac.compare_digest`: everything) or a profile token (`pantry.api.tokens.profile_token`):
  only that profile's pairs, votes, models and jobs; another profile's vote, model or job is
  a 404 for it, naming another profile in a request a 403, the population model admin-only.
- Body cap: `Guard` counts the body's bytes as they arrive (chunked bodies too) and answers
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
  refreshes (`GeneratorStatus.status`).
- No stale state between servers: the active model is read from the store on every call
  (`Lab.model_for`), pair tokens are signed with a key every server sharing the database
  folder (or the API token) has, and nothing about votes or models is cached here.
"""

from __future__ import annotations

import sqlite3

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

import pantry
from pantry.api.convert import safe_text, validation_detail
from pantry.api.deps import Conflict, Forbidden, NotFound, require_token
from pantry.api.generator_status import GeneratorStatus
from pantry.api.guard import MAX_BODY_BYTES, Guard
from pantry.api.jobs import JobConflict, JobRegistry
from pantry.api.routers import docs, health, household, models, pairs, recipes, train, votes
from pantry.api.tokens import signing_key
from pantry.errors import EmbedderError, GeneratorError, GeneratorUnavailable, PantryError
from pantry.lab import Lab
from pantry.settings import Settings
from pantry.storage.store import RecipeConflict, StoreError


def status_for(exc: PantryError) -> int:
    """The HTTP status a library or API error is answered with."""
    return (404 if isinstance(exc, NotFound) else 403 if isinstance(exc, Forbidden)
            else 409 if isinstance(exc, (JobConflict, Conflict, RecipeConflict))
            else 503 if isinstance(exc, (GeneratorUnavailable, EmbedderError, StoreError))
            else 502 if isinstance(exc, GeneratorError) else 400)


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
    app.state.generators = GeneratorStatus(settings)
    app.state.generators.refresh_in_background()  # /health has a status from the start
    app.state.token_key = signing_key(settings.home, settings.api_token)
    app.add_middleware(Guard, settings=settings, cap=MAX_BODY_BYTES)

    @app.exception_handler(PantryError)
    async def pantry_error(request: Request, exc: PantryError):
        return JSONResponse({"detail": safe_text(settings.redact(str(exc)), 2000)}, status_for(exc))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        """422 naming each bad field, never echoing the input (FastAPI's default handler echoes it,
        and NaN, 1e400 or "\\ud800" there made the answer itself fail: a 500)."""
        errors = exc.errors()
        if any(tuple(e.get("loc", ())) == ("body",) and isinstance(e.get("input"), bytes) for e in errors):
            # FastAPI reads a body as JSON only when it says so; any other body reaches the model as bytes
            sent = safe_text(request.headers.get("content-type", "").split(";")[0].strip()[:80]) or "none"
            return JSONResponse({"detail": "the body must be JSON sent with the header 'Content-Type: "
                                           f"application/json' (this request's Content-Type: {sent})"}, 422)
        return JSONResponse({"detail": validation_detail(errors)}, 422)

    @app.exception_handler(sqlite3.Error)
    async def database_error(request: Request, exc: sqlite3.Error):
        """A database failure the store did not word (a file damaged while serving): 503, one line."""
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return JSONResponse({"detail": f"database error: {safe_text(first)}; nothing was changed by this request"},
                            503)

    app.include_router(health.router)  # no auth
    for module in (docs, recipes, pairs, votes, models, train, household):
        app.include_router(module.router, dependencies=[Depends(require_token)])
    return app


__all__ = ["create_app", "MAX_BODY_BYTES"]
