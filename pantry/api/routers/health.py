"""GET /health: store, embedder (never loaded here), generator and the active population model.
No auth (the guard lets it through); it never waits for Ollama (`GeneratorStatus.status`)."""

from __future__ import annotations

from fastapi import APIRouter, Request

import pantry
from pantry.api import schemas as s
from pantry.api.convert import generator_info, model_out
from pantry.api.deps import app_state, get_lab
from pantry.errors import PantryError
from pantry.domain.votes import VoteCounts

router = APIRouter(tags=["service"])


@router.get("/health", response_model=s.Health)
def health(request: Request) -> s.Health:
    """Store, embedder (never loaded here), generator and the active population model. No auth."""
    lab_ = get_lab(request)
    settings = app_state(request).settings
    store = lab_.store
    try:
        counts = VoteCounts.of(store.vote_counts())
        st = s.StoreHealth(ok=True, schema_version=store.schema_version(), journal_mode=store.journal_mode(),
                           users=len(store.list_users()), recipes=store.count_recipes(),
                           votes=counts.total)
        population = store.active_model(None)
    except PantryError as e:
        st, population = s.StoreHealth(ok=False, schema_version=None, error=settings.redact(str(e))), None
    choice, gen_error = app_state(request).generators.status()  # never waits for Ollama
    gen = generator_info(choice, settings) if choice is not None else None
    gen_error = settings.redact(gen_error) if gen_error else None
    return s.Health(ok=st.ok and gen is not None, version=pantry.__version__, store=st,
                    embedder=s.EmbedderHealth(name=lab_.embedder_name, loaded=lab_.embedder_loaded),
                    generator=gen, generator_error=gen_error,
                    population_model=model_out(population) if population else None,
                    auth=bool(settings.api_token))
