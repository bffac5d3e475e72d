"""Request and response bodies of the HTTP API (pydantic), on the domain's field rules.

Profile names, recipes, pantry items, outcomes, strengths, sides and reasons use the same
types as the vote and recipe formats (`pantry.domain`), so the API accepts exactly what an
import file would, and a bad field gets the same message, with FastAPI's 422 naming it.
The pantry text's length limit is the setting `PANTRY_MAX_PANTRY_CHARS` (checked by
`pantry.kitchen.read_pantry`, answered with 400 naming the field).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import (AfterValidator, AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, Strict,
                      model_validator)

from pantry.domain.fields import Flag, has_lone_surrogate, loc_text, one_of, plain_text, text, text_list, whole_number
from pantry.domain.recipes import MAX_COUNT, RecipeRecord
from pantry.domain.votes import (MAX_ITEM_CHARS, MAX_PANTRY_ITEMS, MAX_REASONS, OUTCOMES, SIDES, STRENGTHS,
                                 RecipeRef, UserName)
from pantry.kitchen import DIETS

MAX_CANDIDATES = 20  # POST /recipes and POST /pairs: candidates per request
MAX_RANK_RECIPES = 200  # POST /rank: recipes per request
MAX_VOTES_PAGE = 500  # GET /votes: the largest `limit`
VOTE_OUTCOMES = (*OUTCOMES, "skip")  # "skip" is answered but saves nothing (as on the Compare page)

Items = text_list(MAX_PANTRY_ITEMS, MAX_ITEM_CHARS)
Minutes = whole_number(0, MAX_COUNT)


MAX_ID = 2**63 - 1  # ids are 64-bit in both databases: a larger path id is a 422, never an OverflowError


def _digits_only(value: Any) -> Any:
    """A path id as the API writes them: digits only ("1.0", "+1", " 1", "01" are other spellings a
    lax integer parse would read as vote 1, and a DELETE must not guess)."""
    if isinstance(value, str) and not (value.isascii() and value.isdigit() and (value == "0" or value[0] != "0")):
        raise ValueError(f"must be an id written in digits (as the API gives it, e.g. 42), got {value[:40]!r}")
    return value


PathId = Annotated[int, BeforeValidator(_digits_only), Path(ge=0, le=MAX_ID)]


def _lone_surrogate_at(value: Any, path: tuple) -> tuple | None:
    """The path of the first string (or key) in a JSON value holding a lone surrogate."""
    if isinstance(value, str):
        return path if has_lone_surrogate(value) else None
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(k, str) and has_lone_surrogate(k):
                return (*path, "(a key)")
            found = _lone_surrogate_at(v, (*path, k))
            if found is not None:
                return found
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            found = _lone_surrogate_at(v, (*path, i))
            if found is not None:
                return found
    return None


class Body(BaseModel):
    """A request body: unknown fields refused, and no lone surrogate ("\\ud800") anywhere in it
    (it is not text: it could be neither stored nor sent back), named by its field."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_lone_surrogates(cls, data: Any) -> Any:
        where = _lone_surrogate_at(data, ())
        if where is not None:
            field = loc_text(where) if where else "body"
            raise ValueError(f"field {field!r} contains a lone surrogate (an unpaired \\ud800-\\udfff escape), "
                             "which is not text")
        return data


# --- shared pieces -------------------------------------------------------------------------

# the pantry's free text: any length here (read_pantry applies PANTRY_MAX_PANTRY_CHARS, naming
# the field), but text: a control character would be dropped by the reading and merge two words
PantryText = Annotated[str, Strict(), AfterValidator(plain_text)]


class PantryInput(Body):
    """A pantry as free text (`pantry`) and/or a list of item names (`items`)."""

    pantry: PantryText | None = Field(None, description="free text, e.g. '2 eggs, half an onion, spinach' "
                                                 "(limit: PANTRY_MAX_PANTRY_CHARS, default 5000 characters)")
    items: Items = Field((), description=f"ingredient names (at most {MAX_PANTRY_ITEMS})")


class CookingInput(PantryInput):
    profile: UserName
    diets: tuple[one_of(DIETS), ...] = Field((), validation_alias=AliasChoices("diets", "diet"),
                                             description="diet names; every recipe respects all of them")
    cuisine: text(100) | None = None
    max_minutes: Minutes | None = Field(None, description="0 or null: any")
    seed: whole_number(0, 2**31 - 1) | None = Field(None, description="null: a new random seed")


class ModelInfo(BaseModel):
    label: str  # "personal v3", "population v2" or "heuristic"
    kind: str  # personal | population | heuristic
    version_id: int | None
    reason: str


class GeneratorInfo(BaseModel):
    name: str
    backend: str
    mode: str
    reason: str
    fell_back: bool = False  # Ollama failed during this request and the composer stepped in


class PantryInfo(BaseModel):
    items: list[str]  # what was passed to the generator
    unknown: list[str]
    note: str


class RecipeOut(BaseModel):
    id: str
    title: str
    ingredients: list[str]
    steps: list[str]
    minutes: int | None
    servings: int | None
    cuisine: str | None
    tags: list[str]
    source: str | None


class ContributionOut(BaseModel):
    name: str  # the model's feature name (features.FEATURE_NAMES)
    label: str  # its plain name
    value: float  # the recipe's value of the feature
    contribution: float  # weight x (value - the typical recipe's value): its part of the score


class ExplanationOut(BaseModel):
    """Why this score: named taste-feature contributions (largest first), measured against a
    typical recipe, plus one remainder, summing to the score (`pantry.model.explain`). The
    remainder is the typical recipe's score (`baseline`) plus "this dish overall" (`relative`
    false: a model saved without a typical recipe, baseline 0, contributions against zero)."""

    score: float
    contributions: list[ContributionOut]
    remainder: float
    remainder_label: str
    baseline: float = 0.0
    baseline_label: str = "a typical recipe"
    relative: bool = False


class ScoredOut(BaseModel):
    rank: int
    score: float
    uncertainty: float
    recipe: RecipeOut
    explanation: ExplanationOut | None = None


# --- endpoints -------------------------------------------------------------------------------

class RecipesRequest(CookingInput):
    n: whole_number(1, MAX_CANDIDATES) = Field(6, description=f"candidates to generate (1..{MAX_CANDIDATES})")


class RecipesResponse(BaseModel):
    profile: str
    model: ModelInfo
    generator: GeneratorInfo
    pantry: PantryInfo
    candidates: list[ScoredOut]


class RankRequest(PantryInput):
    profile: UserName | None = None
    recipes: list[RecipeRecord] = Field(..., min_length=1, max_length=MAX_RANK_RECIPES)


class RankResponse(BaseModel):
    profile: str | None
    model: ModelInfo
    ranked: list[ScoredOut]


class PairsRequest(CookingInput):
    n: whole_number(2, MAX_CANDIDATES) = Field(6, description=f"candidates to choose the pair from "
                                                             f"(2..{MAX_CANDIDATES})")


class PairItem(BaseModel):
    recipe: RecipeOut
    score: float
    uncertainty: float


class PairResponse(BaseModel):
    pair_token: str  # pass it to POST /votes
    profile: str
    a: PairItem
    b: PairItem
    left: str  # which of a/b to show on the left
    why: str  # informative | random
    model: ModelInfo
    generator: GeneratorInfo
    pantry: PantryInfo
    candidates: int
    dropped_duplicates: int
    expires_at: int  # unix time after which the token is refused


class VoteRequest(Body):
    """Either `pair_token` (from POST /pairs) or `profile` with recipes `a` and `b`."""

    pair_token: str | None = Field(None, max_length=200_000)
    profile: UserName | None = None
    a: RecipeRef | None = Field(None, description="a recipe id in the store or a recipe object")
    b: RecipeRef | None = None
    outcome: one_of(VOTE_OUTCOMES)
    strength: one_of(STRENGTHS) | None = Field(None, description="decisive votes only; default slightly")
    left: one_of(SIDES) | None = Field(None, description="which recipe was shown on the left")
    reasons: text_list(MAX_REASONS, MAX_ITEM_CHARS) = ()
    pantry: Items = Field((), description="without a pair token: the pantry the pair was made for")

    @model_validator(mode="after")
    def _one_way(self) -> "VoteRequest":
        direct = [k for k in ("profile", "a", "b") if getattr(self, k) is not None]
        if self.pair_token is not None and direct:
            raise ValueError(f"give either 'pair_token' or 'profile', 'a' and 'b', not both ({', '.join(direct)})")
        if self.pair_token is None and len(direct) < 3:
            missing = [k for k in ("profile", "a", "b") if getattr(self, k) is None]
            raise ValueError(f"give 'pair_token' (from POST /pairs), or 'profile', 'a' and 'b'; missing "
                             f"{', '.join(missing)}")
        return self


class VoteOut(BaseModel):
    id: int
    profile: str
    a: str
    b: str
    outcome: str
    strength: str | None
    left: str | None
    reasons: list[str]
    pantry: list[str]
    created_at: str | None
    model_version: str | None
    generator: str | None
    deleted: bool


class VoteStored(BaseModel):
    id: int | None  # null for "skip"
    stored: bool
    vote: VoteOut | None = None


class VotesPage(BaseModel):
    profile: str | None
    total: int
    offset: int
    limit: int
    votes: list[VoteOut]


class VoteDeleted(BaseModel):
    id: int
    deleted: bool
    changed: bool  # false when it was already deleted


class ModelOut(BaseModel):
    id: int
    label: str
    profile: str | None  # null: the population model
    kind: str  # personal | population
    created_at: str
    embedder: str | None
    active: bool
    metrics: dict[str, Any]


class ModelsResponse(BaseModel):
    profile: str | None
    in_use: ModelInfo | None  # what scores for the profile now (with a profile)
    models: list[ModelOut]


class TrainRequest(Body):
    profile: UserName
    options: dict[str, Any] = Field(default_factory=dict, description="TrainConfig fields (python -m pantry "
                                                                       "train --help lists them and their limits)")
    cv_folds: whole_number(0, 20) = Field(5, description="cross-validation folds for the held-out figure (0: skip)")
    activate: Flag = Field(True, description="make the new versions active (false: save them inactive)")
    train_population: Flag = True  # true or false only: "no" or 0 is refused, never read as false


class JobProgress(BaseModel):
    done: int
    total: int
    message: str


class JobOut(BaseModel):
    id: str
    profile: str
    state: Literal["queued", "running", "done", "failed"]
    progress: JobProgress
    result: dict[str, Any] | None
    error: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None


class StoreHealth(BaseModel):
    ok: bool
    schema_version: int | None
    journal_mode: str | None = None
    users: int = 0
    recipes: int = 0
    votes: int = 0
    error: str | None = None


class EmbedderHealth(BaseModel):
    name: str
    loaded: bool


class Health(BaseModel):
    ok: bool
    version: str
    store: StoreHealth
    embedder: EmbedderHealth
    generator: GeneratorInfo | None
    generator_error: str | None = None
    population_model: ModelOut | None
    auth: bool  # whether a bearer token is required (PANTRY_API_TOKEN)
