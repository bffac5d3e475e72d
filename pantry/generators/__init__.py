"""Recipe generators and the choice between them.

Two generators follow the `Generator` protocol: the embedded offline composer (the
default, no network) and `OllamaGenerator` (a real LLM through a local Ollama server).
`select_generator(settings)` picks one and says why in one line (`GeneratorChoice.reason`):

- "offline": always the composer;
- "ollama": Ollama, or `GeneratorUnavailable` saying what to do (start it, pull the model);
- "auto" (the default): Ollama when it is up and has the model, else the composer.

`generate_with_fallback` runs a choice; in auto mode a failure of Ollama during generation
falls back to the composer and returns an updated choice whose reason says what happened.
The app records the choice's `name` and `reason` with each vote, so a reason is kept within
the vote format's limit (`MAX_META_CHARS`). No heavy imports here (no torch): the composer
and the ollama client are both light.

What the package is for, one module per job: `base` (the protocol and the request),
`dishbook` (the dish book's format, as pydantic models, and loading it), `composer` (the
offline composer's draft and selection loop) with `pantry_plan` (what the pantry has, which
families it makes), `recipe_render` (a draft as a `Recipe`: lines fitted to the pantry,
title, steps) and `recipe_text` (ingredient lines and step wording), `realism` (would a person cook it: checks of a recipe against its pantry
and of its method), `ollama_gen` (Ollama), and this module (the choice between them).

What it may import: `pantry.domain`, `pantry.kitchen`, `pantry.settings`, `pantry.base`,
`pantry.paths` and `pantry.errors`; never the storage, the model or the UI.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pantry.errors import GeneratorError, GeneratorUnavailable, InvalidInput
from pantry.domain.recipes import Recipe
from pantry.domain.votes import MAX_META_CHARS
from pantry.settings import GENERATOR_MODES, Settings
from pantry.generators.base import DIETS, MAX_RECIPES_PER_REQUEST, GenerationRequest, Generator, ProgressFn
from pantry.generators.composer import OfflineComposer
from pantry.generators.dishbook import DishBook, DishBookError, load_dish_book
from pantry.generators.ollama_gen import OllamaGenerator, OllamaStatus, check_ollama

__all__ = [
    "MAX_BULK_RECIPES", "generate_bulk",
    "DIETS", "GenerationRequest", "Generator", "ProgressFn", "OfflineComposer", "OllamaGenerator",
    "OllamaStatus", "check_ollama", "GeneratorChoice", "BACKENDS", "select_generator",
    "generate_with_fallback", "DishBook", "DishBookError", "load_dish_book",
]

BACKENDS = GENERATOR_MODES  # one list, defined with the setting that chooses among them
CHECK_TIMEOUT_S = 2.0  # discovery must be quick: the app calls it on page load


@dataclass(frozen=True)
class GeneratorChoice:
    generator: Generator
    name: str  # "offline-composer" or "ollama:<model>"
    backend: str  # what runs: "ollama" | "offline"
    reason: str  # one line saying why this generator runs
    ollama: OllamaStatus | None = None  # what discovery found, when it was asked
    mode: str = "auto"  # what was asked for: "auto" | "ollama" | "offline"


def _reason(text: str) -> str:
    """One line that fits a vote's `generator_reason` (MAX_META_CHARS)."""
    text = " ".join(text.split())
    return text if len(text) <= MAX_META_CHARS else text[: MAX_META_CHARS - 3] + "..."


def _composer_choice(reason: str, status: OllamaStatus | None, mode: str) -> GeneratorChoice:
    composer = OfflineComposer()
    return GeneratorChoice(composer, composer.name, "offline", _reason(reason), status, mode)


def select_generator(settings: Settings, backend: str | None = None) -> GeneratorChoice:
    """Pick the generator for `backend` (default: `settings.generator`) and say why."""
    mode = (backend or settings.generator or "auto").strip().lower()
    if mode not in BACKENDS:
        raise InvalidInput(f"unknown generator {mode!r}: use one of {', '.join(BACKENDS)}")
    if mode == "offline":
        return _composer_choice("offline composer selected", None, mode)

    status = check_ollama(settings.ollama_host, settings.ollama_model,
                          timeout=min(CHECK_TIMEOUT_S, settings.ollama_timeout))
    if status.usable:
        generator = OllamaGenerator(settings.ollama_host, settings.ollama_model, settings.ollama_timeout)
        return GeneratorChoice(generator, generator.name, "ollama", _reason(status.reason), status, mode)
    if mode == "ollama":
        raise GeneratorUnavailable(status.reason)
    return _composer_choice(f"offline composer: {status.reason}", status, mode)


def generate_with_fallback(choice: GeneratorChoice, request: GenerationRequest,
                           on_progress: ProgressFn | None = None) -> tuple[list[Recipe], GeneratorChoice]:
    """Generate with `choice`; in auto mode fall back to the composer when Ollama fails.

    Returns the recipes and the choice that actually made them (the same object when
    nothing failed). Outside auto mode a failure is raised as is (`GeneratorError`).
    """
    try:
        return choice.generator.generate(request, on_progress), choice
    except GeneratorError as error:
        if choice.mode != "auto" or choice.backend != "ollama":
            raise
        fallback = _composer_choice(f"offline composer: Ollama failed during generation: {error}",
                                    choice.ollama, "auto")
        return fallback.generator.generate(request, on_progress), fallback


MAX_BULK_RECIPES = 10_000  # `generate_bulk`: at most this many recipes per call (200 requests of 50)


def generate_bulk(choice: GeneratorChoice, request: GenerationRequest, n: int,
                  on_progress: ProgressFn | None = None) -> tuple[list[Recipe], GeneratorChoice]:
    """`n` distinct recipes (by id) for bulk work, in requests of at most MAX_RECIPES_PER_REQUEST
    (seeds `request.seed`, +1, +2, ...; each through `generate_with_fallback`).

    Parameters: `n` from 1 to MAX_BULK_RECIPES (InvalidInput naming the limit otherwise).
    Returns the recipes (fewer than `n` only when three times the needed requests found no
    more distinct ones: a narrow pantry or diet) and the choice that made the last of them.
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_BULK_RECIPES:
        raise InvalidInput(f"--n must be a whole number from 1 to {MAX_BULK_RECIPES} (made in requests of at most "
                           f"{MAX_RECIPES_PER_REQUEST}), got {n!r}")
    made: dict[str, Recipe] = {}
    used = choice
    seed = request.seed if request.seed is not None else 0
    budget = 3 * -(-n // MAX_RECIPES_PER_REQUEST)
    for k in range(budget):
        if len(made) >= n:
            break
        ask = replace(request, n=min(MAX_RECIPES_PER_REQUEST, n - len(made)), seed=seed + k)
        recipes, used = generate_with_fallback(used, ask)  # after a fallback: the composer
        for r in recipes:
            made.setdefault(r.id, r)
        if on_progress is not None:
            on_progress(min(len(made), n), n, "generating recipes")
    return list(made.values())[:n], used

