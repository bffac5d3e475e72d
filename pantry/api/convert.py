"""Conversions between the library's objects and the API's bodies (`pantry.api.schemas`), the
pantry and generation request read from a body, and error texts that JSON can carry."""

from __future__ import annotations

import secrets
from typing import Any

import numpy as np
from fastapi.encoders import jsonable_encoder

from pantry.api import schemas as s
from pantry.base import redact
from pantry.domain.fields import has_lone_surrogate
from pantry.domain.recipes import Recipe
from pantry.domain.votes import Vote
from pantry.errors import GeneratorError, GeneratorUnavailable, InvalidInput, PantryError
from pantry.generators import GenerationRequest
from pantry.kitchen import read_pantry
from pantry.model.kinds import ModelKind, version_label
from pantry.lab import Lab, ModelChoice
from pantry.settings import Settings


def safe_text(value: Any, limit: int = 500) -> str:
    """Text that JSON can carry: lone surrogates escaped, clipped."""
    text = value if isinstance(value, str) else str(value)
    if has_lone_surrogate(text):
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[:limit] + "..."


def _safe_loc(part: Any) -> Any:
    if isinstance(part, int) and not isinstance(part, bool) and abs(part) < 2**53:
        return part
    return safe_text(part, 100)


def validation_detail(errors) -> list[dict[str, Any]]:
    """FastAPI's validation errors without the input (NaN, 1e400, a lone surrogate or a huge
    value cannot be sent back, and need not be): loc, msg (in the project's words, as the CLI
    and the importers word them: "must be a non-empty string", not "Value should have at
    least 1 item after validation"), type."""
    from pantry.domain.fields import error_message

    return [{"loc": [_safe_loc(p) for p in e.get("loc", ())], "msg": safe_text(error_message(e)),
             "type": safe_text(e.get("type", ""), 100)} for e in errors][:50]


def recipe_out(r: Recipe) -> s.RecipeOut:
    return s.RecipeOut(**r.to_dict())


def model_info(choice: ModelChoice) -> s.ModelInfo:
    return s.ModelInfo(label=choice.label, kind=choice.kind, version_id=choice.version_id, reason=choice.reason)


def generator_info(choice, settings: Settings | None = None) -> s.GeneratorInfo:
    """`fell_back`: auto mode wanted Ollama and got the composer (at discovery or during
    generation). Name and reason redacted (an OLLAMA_HOST with user:password@ is quoted there)."""
    clean = settings.redact if settings is not None else redact
    return s.GeneratorInfo(name=clean(choice.name), backend=choice.backend, mode=choice.mode,
                           reason=clean(choice.reason), fell_back=choice.mode == "auto" and choice.backend != "ollama")


def vote_out(v: Vote) -> s.VoteOut:
    return s.VoteOut(id=v.id, profile=v.user, a=v.a, b=v.b, outcome=v.outcome, strength=v.strength, left=v.left,
                     reasons=list(v.reasons), pantry=list(v.pantry), created_at=v.created_at,
                     model_version=v.model_version, generator=v.generator, deleted=v.deleted)


def model_out(version) -> s.ModelOut:
    kind = ModelKind.POPULATION if version.user is None else ModelKind.PERSONAL
    return s.ModelOut(id=version.id, label=version_label(kind, version.id), profile=version.user, kind=kind.value,
                      created_at=version.created_at, embedder=version.embedder, active=version.active,
                      metrics=jsonable_encoder(version.metrics, custom_encoder={np.generic: lambda x: x.item()}))


def read_body_pantry(lab: Lab, body: s.PantryInput):
    try:
        return read_pantry(body.pantry or "", body.items, kitchen=lab.kitchen,
                           max_chars=lab.settings.max_pantry_chars)
    except InvalidInput as e:
        raise InvalidInput(f"field 'pantry': {e}") from None


def pantry_info(reading) -> s.PantryInfo:
    return s.PantryInfo(items=list(reading.pantry), unknown=list(reading.unknown), note=reading.note)


def generation(lab: Lab, body: s.CookingInput, n: int):
    reading = read_body_pantry(lab, body)
    seed = body.seed if body.seed is not None else secrets.randbelow(2**31)
    request = GenerationRequest(pantry=reading.pantry, amounts=reading.amounts, cooked=reading.cooked, n=n,
                                diets=tuple(body.diets), cuisine=body.cuisine, max_minutes=body.max_minutes or None,
                                seed=seed)
    return reading, request


def composer_refusal(error: GeneratorError, choice) -> PantryError:
    """A generator error to answer with. The offline composer refusing a request (no dish of
    that cuisine, within that time, for those diets) is the request's fault: a 400 naming the
    field. Anything else (Ollama failing with the generator set to ollama) stays a 502."""
    if isinstance(error, GeneratorUnavailable) or (choice.backend == "ollama" and choice.mode != "auto"):
        return error
    msg = str(error)
    field = ("cuisine" if "cuisine" in msg else "max_minutes" if "minutes" in msg
             else "diets" if "diet" in msg else "pantry")
    return InvalidInput(f"field {field!r}: {msg}")


def scored_out(scored) -> list[s.ScoredOut]:
    """`Lab.score`'s ranked recipes as the API lists them, each with its explanation
    (`Lab.score(explain=True)`; None when it was not asked for)."""
    return [s.ScoredOut(rank=x.rank, score=x.score, uncertainty=x.uncertainty, recipe=recipe_out(x.recipe),
                        explanation=None if x.explanation is None else s.ExplanationOut(**x.explanation.to_dict()))
            for x in scored]
