"""The whole loop behind one object: generate, vote, train, score, diagnose.

`Lab` ties the store, the embedder, the feature builder and the reward models together
so that the CLI and the Streamlit pages make one call per user action and get plain
Python objects back. It holds no global state: the app keeps one Lab per process (the
embedder is heavy) and passes the user explicitly on every call.

Models come in two levels (docs/ARCHITECTURE.md, "population prior"):
- the population model, trained on everyone's votes (content-based, so it generalises to
  recipes nobody rated, plus an offset per rated recipe as far as its voters' verdicts on a
  dish carry from some of them to others: `pantry.model.crowd_items`); stored as a model
  version with no user;
- a personal model per profile, trained on that profile's votes with an L2 pull toward
  a population model trained on everyone else's votes (or toward the pantry heuristic
  when other profiles have too few votes).
Scoring uses the best available: personal, else population, else the heuristic, and says
which (`ModelChoice.kind`).

Retraining from the app (`retrain_preview`) saves candidate versions that stay inactive
until `activate`, and compares the new settings with the current model on the same
held-out votes (k-fold cross-validation); that figure is stored in the version's metrics
(`cv_accuracy`, `cv_low`, `cv_high`, `cv_pairs`, `cv_folds`). The CLI's `train` activates.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from pantry.base import ProgressFn
from pantry.errors import ModelFileError, NotEnoughVotes, PantryError
from pantry.model.features import FEATURE_NAMES, FEATURE_SPEC, RecipeFactsCache, feature_matrix
from pantry.domain.recipes import Recipe
from pantry.model.kinds import version_label
from pantry.model.reward import RewardModel, heuristic_model, load_model
from pantry.settings import Settings
from pantry.domain.votes import Vote, strength_of

from pantry.model.training import CV_FOLDS
from pantry.model.like_you import neighbours_of

if TYPE_CHECKING:
    from pantry.model.training import CrossValidation, EpochStats, Pairs, TrainConfig


def _training():
    import pantry.model.training as training
    return training

FoldFn = Callable[[str, int, int, "CrossValidation"], None]  # ("new"|"current", done, folds, pooled so far)
POPULATION = None  # the store's user value for population model versions
@dataclass(frozen=True)
class ModelProblem:
    """A stored version that cannot score here (bad or missing file, NaN/inf weights, another
    embedder, feature spec or width): which one, and the loader's own message, unchanged.
    Pages and the CLI word it; `str()` is the plain one-line form "personal v2: <message>"."""

    kind: str  # "personal" | "population"
    version_id: int
    file: str  # the weights file's name
    message: str  # the loader's message (`ModelFileError`/`ValueError`), first line

    def __str__(self) -> str:
        return f"{version_label(self.kind, self.version_id)}: {self.message}"


@dataclass
class ModelChoice:
    model: RewardModel
    kind: str  # "personal" | "population" | "heuristic"
    version_id: int | None
    reason: str
    problems: tuple[ModelProblem, ...] = ()  # versions skipped on the way here (str(): one line each)
    version: object | None = None  # the store's ModelVersion that really scores (None: heuristic or a file)

    @property
    def label(self) -> str:
        return version_label(self.kind, self.version_id)

    @property
    def metrics(self) -> dict:
        """The recorded metrics of the version that really scores ({} for the heuristic): what a
        page may show next to it, never those of a version that was skipped."""
        return dict(getattr(self.version, "metrics", None) or {})


@dataclass
class ScoredRecipe:
    recipe: Recipe
    score: float
    uncertainty: float
    rank: int = 0
    explanation: object | None = None  # a `pantry.model.explain.Explanation` when asked for (`Lab.score(explain=True)`)


@dataclass
class TrainOutcome:
    population_version: int | None
    personal_version: int | None
    metrics: dict
    population_metrics: dict | None
    history: list[EpochStats] = field(default_factory=list)
    seconds: float = 0.0
    cv: CrossValidation | None = None  # the personal settings cross-validated on the user's votes
    activated: bool = False


@dataclass
class RetrainPreview:
    """One Retrain: inactive candidate versions and one held-out comparison (numbers only).

    `new` and `current` are scored on the same held-out votes (k-fold cross-validation on
    the user's votes, same folds); `current` is None when there is no honest figure for the
    current model (`current_basis` "unknown"). See `Lab.retrain_preview`.
    """

    user: str
    personal_version: int
    population_version: int | None  # a population candidate (inactive), or None
    new: CrossValidation
    current: CrossValidation | None
    current_kind: str  # "personal" | "population" | "heuristic": what scored for the user before
    current_version: int | None
    current_basis: str  # "settings" | "fixed" | "unknown" (see Lab.retrain_preview)
    metrics: dict
    population_metrics: dict | None
    history: list[EpochStats] = field(default_factory=list)
    history_unit: str = "iteration"  # Newton iterations (older versions: "epoch")
    seconds: float = 0.0

    @property
    def candidates(self) -> list[int]:
        """Version ids that "Activate" makes active (personal, and population if retrained)."""
        return [v for v in (self.personal_version, self.population_version) if v is not None]

    @property
    def new_at_least_as_good(self) -> bool | None:
        """Whether the new settings get at least as many held-out votes right (None: unknown)."""
        return None if self.current is None else self.new.at_least_as_good_as(self.current)


@dataclass
class _Setup:
    everyone: Pairs | None  # every profile's votes (population model)
    others: Pairs | None  # every other profile's votes (the personal prior)
    personal: Pairs | None  # the user's votes, with recipe ids (per-recipe offsets)


@dataclass
class _Fitted:
    """New versions fitted by `Lab._fit`, not saved yet."""

    setup: _Setup
    prior: RewardModel | None  # the personal model's prior (None for a population-only run)
    population: object | None  # the population model's TrainResult, or None (not asked, too few votes)
    personal: object | None  # the personal model's TrainResult (None for a population-only run)
    cv: CrossValidation | None  # the personal settings cross-validated
    start: float  # perf_counter at the start, for the outcome's seconds
    neighbours: object | None = None  # the other profiles' votes (`like_you.Neighbours`), or None


class _PriorMemo:
    """The last few personal priors (a population model fitted on everyone else's votes) with
    the crowd built from those votes (`like_you.Crowd`: it carries the crowd players' measure and
    the crowd's axes), keyed by everything they depend on (`Lab._prior_and_crowd`: the votes'
    content, the seed, the minimum of decisive votes that decides between a population prior and
    the heuristic): a profile retrained after only its own votes changed reuses all of it. Bounded; one per Lab, so shared by a process's
    sessions, which is safe because each value is a pure function of its key."""

    SIZE = 2  # two profiles retraining in turn; a prior with offsets for every rated recipe each

    def __init__(self) -> None:
        from collections import OrderedDict

        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> tuple | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def put(self, key: tuple, value: tuple) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.SIZE:
                self._items.popitem(last=False)


class Lab:
    def __init__(self, settings: Settings | None = None, store=None, embedder=None, kitchen=None):
        """`store`, `embedder` and `kitchen` (the ingredient knowledge base the features read)
        are injected for tests and other front ends; None builds the defaults."""
        from pantry.storage.store import Store
        self.settings = settings or Settings.from_env()
        self.store = store if store is not None else Store.open(self.settings)
        self._embedder = embedder
        self._embedder_lock = threading.Lock()  # a page and the background prefetch may ask at once
        self.kitchen = kitchen
        # the pantry-independent explicit features of recipes seen before (bounded; per Lab)
        self.recipe_facts = RecipeFactsCache()
        self._models: dict[str, RewardModel] = {}
        self._priors = _PriorMemo()

    # ---- embeddings and features ------------------------------------------------------
    @property
    def embedder(self):
        embedder = self._embedder
        if embedder is None:
            with self._embedder_lock:  # one Embedder per Lab, however many threads ask first
                if self._embedder is None:
                    from pantry.model.embedding import Embedder
                    # the ONNX export (PANTRY_ENCODER) is cached per machine, not per home: it is keyed by
                    # the weights' sha256 and the export recipe (pantry.model.onnx_encoder.default_cache_dir)
                    self._embedder = Embedder(self.settings.embedder, self.settings.device, cache=self.store)
                embedder = self._embedder
        return embedder

    @property
    def embedder_loaded(self) -> bool:
        """Whether the encoder model itself is in memory (False before the first encode that missed
        the cache, and while every text came from the cache). Never loads it. An injected
        embedder without a `loaded` attribute counts as loaded once it is there."""
        embedder = self._embedder
        return embedder is not None and bool(getattr(embedder, "loaded", True))

    @property
    def embedder_created(self) -> bool:
        """Whether this Lab has its embedder object (injected, or made by a first `embedder`
        call); never creates one. A background job embeds only then, so it cannot race the
        page's own first load or outlive the Lab it was made for."""
        return self._embedder is not None

    @property
    def embedder_name(self) -> str:
        return self._embedder.name if self._embedder is not None else self.settings.embedder

    def features(self, recipes: Sequence[Recipe], pantries: Sequence[Sequence[str]] | Sequence[str] = (),
                 on_progress: ProgressFn | None = None) -> np.ndarray:
        emb = self.embedder.encode([r.text for r in recipes], on_progress=on_progress)
        x = feature_matrix(emb, recipes, pantries, kitchen=self.kitchen, cache=self.recipe_facts)
        bad = ~np.isfinite(x).all(axis=1) if x.ndim == 2 and len(x) else np.zeros(0, dtype=bool)
        if bad.any():  # never score or train on NaN/inf: every score would be NaN
            first = [recipes[i].title or recipes[i].id for i in np.flatnonzero(bad)[:3]]
            raise PantryError(f"{int(bad.sum())} of {len(recipes)} recipes have non-finite features "
                              f"(NaN/inf; e.g. {', '.join(map(repr, first))}): the embedding cache may be damaged")
        return x

    def embedding_part(self, x: np.ndarray) -> np.ndarray:
        """The sentence-embedding columns of a feature matrix from `features` (the first `dim`;
        the rest are pantry and recipe features). Collapse diagnostics look at these."""
        return x[:, : self.embedder.dim]

    def vote_pairs(self, votes: Sequence[Vote], on_progress: ProgressFn | None = None,
                   with_ids: bool = True) -> Pairs:
        """Training pairs for `votes`; `with_ids` lets a personal model learn per-recipe offsets."""
        recipes = self.store.get_recipes(sorted({v.a for v in votes} | {v.b for v in votes}))
        missing = [rid for v in votes for rid in (v.a, v.b) if rid not in recipes]
        if missing:
            raise PantryError(f"votes refer to recipes not in the store: {', '.join(sorted(set(missing))[:5])}")
        # one feature row per distinct (recipe, pantry): each recipe is embedded once and its
        # explicit features computed once per pantry it was voted with, however many votes
        keys: dict[tuple[str, tuple[str, ...]], int] = {}
        ka = np.fromiter((keys.setdefault((v.a, tuple(v.pantry)), len(keys)) for v in votes), np.int64, len(votes))
        kb = np.fromiter((keys.setdefault((v.b, tuple(v.pantry)), len(keys)) for v in votes), np.int64, len(votes))
        key_list = list(keys)
        table = self.features([recipes[rid] for rid, _ in key_list], [p for _, p in key_list], on_progress)
        return _training().make_pairs(table[ka], table[kb], [v.outcome for v in votes], [v.strength for v in votes],
                                      [v.a for v in votes] if with_ids else None,
                                      [v.b for v in votes] if with_ids else None, row_a=ka, row_b=kb)

    # ---- models -------------------------------------------------------------------------
    @property
    def feature_dim(self) -> int:
        """Width of the feature rows `features` builds (embedding + explicit features)."""
        return self.embedder.dim + len(FEATURE_NAMES)

    def load_version(self, version) -> RewardModel:
        """The model of a stored version, checked against this Lab's embedder, feature spec and
        feature width (`ModelFileError` when it cannot score here: bad file, NaN/inf weights,
        another embedder, spec or dimension)."""
        key = f"{version.id}:{version.path}"
        if key not in self._models:
            model = load_model(version.path, self.embedder_name, FEATURE_SPEC)
            model.check_compatible(self.embedder_name, FEATURE_SPEC, self.feature_dim)
            model.meta["version_name"] = f"v{version.id}"
            self._models[key] = model
        return self._models[key]

    @staticmethod
    def _problem(kind: str, version, err: Exception) -> ModelProblem:
        """The structured problem of a version that cannot score (the error's text kept as is)."""
        message = (str(err).splitlines() or [type(err).__name__])[0]
        return ModelProblem(kind, version.id, Path(version.path).name, message)

    def model_for(self, user: str | None) -> ModelChoice:
        """Personal model if the profile has one, else the population model, else the heuristic."""
        problems = []
        for scope, kind in ((user, "personal"), (POPULATION, "population")):
            if kind == "personal" and user is None:
                continue
            version = self.store.active_model(scope)
            if version is None:
                continue
            try:
                model = self.load_version(version)
            except (ModelFileError, ValueError) as e:  # said in `problems`, never hidden
                problems.append(self._problem(kind, version, e))
                continue
            reason = (f"personal model v{version.id} for {user}" if kind == "personal"
                      else f"population model v{version.id} (trained on everyone's votes)")
            if problems:
                reason += " (" + "; ".join(map(str, problems)) + ")"
            return ModelChoice(model, kind, version.id, reason, tuple(problems), version)
        dim = self.embedder.dim
        if problems:
            reason = ("no usable trained model: ranking by pantry coverage and time ("
                      + "; ".join(map(str, problems)) + ")")
        else:
            reason = "no trained model yet: ranking by pantry coverage and time"
        return ModelChoice(heuristic_model(self.embedder_name, dim), "heuristic", None, reason, tuple(problems))

    def score(self, recipes: Sequence[Recipe], user: str | None = None, pantry: Sequence[str] = (),
              choice: ModelChoice | None = None, on_progress: ProgressFn | None = None,
              explain: bool = False) -> list[ScoredRecipe]:
        """Score recipes for a user; returns them best first with ensemble uncertainty (and,
        with `explain`, each score's named taste-feature contributions: `pantry.model.explain`)."""
        if not recipes:
            return []
        choice = choice or self.model_for(user)
        x = self.features(recipes, tuple(pantry), on_progress)
        if choice.model.dim != x.shape[1]:
            raise ModelFileError(f"{choice.label} expects {choice.model.dim} features, this app builds "
                                 f"{x.shape[1]}: retrain or choose another model")
        mean, std = choice.model.score(x, [r.id for r in recipes])
        if not (np.isfinite(mean).all() and np.isfinite(std).all()):
            raise PantryError(f"{choice.label} gave non-finite scores (NaN/inf): retrain the model")
        order = np.argsort(-mean, kind="stable")
        why = None
        if explain:
            from pantry.model.explain import explain as explain_scores
            why = explain_scores(choice.model, x, [r.id for r in recipes])
        return [ScoredRecipe(recipes[i], float(mean[i]), float(std[i]), rank, why[i] if why else None)
                for rank, i in enumerate(order, 1)]

    def _save_version(self, user: str | None, result, activate: bool, prior_id: int | None) -> int:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        scope = "population" if user is None else "user-" + "".join(c if c.isalnum() else "_" for c in user)
        path = self.settings.weights_dir / f"{scope}-{stamp}.npz"  # older versions: .pt, same format
        result.model.meta.update({"user": user, "prior_version": prior_id, "embedder": self.embedder_name,
                                  "metrics": result.metrics})
        try:
            result.model.save(path)
        except OSError as e:
            what = "population" if user is None else "personal"
            raise PantryError(f"could not save the {what} model: {e.strerror or e} ({path}); "
                              f"nothing was activated") from None
        return self.store.add_model_version(user, str(path), self.embedder_name, result.metrics,
                                            {"prior_version": prior_id, "feature_spec": FEATURE_SPEC,
                                             "history_unit": result.metrics.get("history_unit", "epoch"),
                                             "history": [e.__dict__ for e in result.history]},
                                            activate=activate)

    def _fit_population(self, pairs: Pairs | None, cfg: TrainConfig, on_progress: ProgressFn | None = None,
                        members: int | None = None):
        """A population model on `pairs` (pulled toward the pantry heuristic; with recipe ids, an offset
        per recipe as far as its voters' verdicts carry to others), or None if too few."""
        if pairs is None or pairs.n_decisive < max(1, cfg.min_decisive):
            return None
        # the caller's minimum decided above, not POPULATION_CONFIG's own (a lower one asked for a
        # population from fewer votes, and the fit must not refuse it)
        pop_cfg = _training().TrainConfig(**{**_training().POPULATION_CONFIG.to_dict(), "seed": cfg.seed,
                                             "min_decisive": 0,
                                             **({"members": members, "val_split": 0.0} if members else {})})
        return _training().train_reward_model(pairs, self.embedder_name, FEATURE_SPEC, pop_cfg,
                                  prior=heuristic_model(self.embedder_name, self.embedder.dim),
                                  on_progress=on_progress)

    def _setup(self, user: str | None, cfg: TrainConfig, on_progress: ProgressFn | None) -> _Setup:
        """Everyone's votes as pairs (embedded once), split into the user's and everyone else's."""
        all_votes = self.store.votes()
        if user is not None:
            n_dec = sum(1 for v in all_votes if v.user == user and v.decisive)
            if n_dec < cfg.min_decisive:
                raise NotEnoughVotes(f"{user} has {n_dec} decisive votes; training needs at least "
                                     f"{cfg.min_decisive}: vote on {cfg.min_decisive - n_dec} more pairs")
        kept = [v for v in all_votes if v.outcome in ("a", "b", "tie")]  # the votes make_pairs keeps, in order
        pairs = self.vote_pairs(all_votes, on_progress) if kept else None
        if pairs is not None and len(pairs) == len(kept):  # who cast each: the crowd's spread of tastes
            pairs.rater = np.array([v.user for v in kept])
        mine = np.array([v.user == user for v in kept], dtype=bool)
        return _Setup(
            everyone=pairs,
            others=None if pairs is None or not (~mine).any() else pairs.subset(np.flatnonzero(~mine)),
            personal=None if pairs is None or not mine.any() else pairs.subset(np.flatnonzero(mine)))

    def _prior(self, user: str, setup: _Setup, cfg: TrainConfig, on_progress: ProgressFn | None
               ) -> tuple[RewardModel, str]:
        prior_res = self._fit_population(setup.others, cfg, on_progress)
        if prior_res is not None:
            return prior_res.model, f"population model without {user} ({prior_res.metrics['n_pairs']} votes)"
        return (heuristic_model(self.embedder_name, self.embedder.dim),
                "pantry heuristic (too few votes from other profiles for a population prior)")

    def _prior_and_crowd(self, user: str, setup: _Setup, cfg: TrainConfig, on_progress: ProgressFn
                         ) -> tuple[RewardModel, str, object | None]:
        """`_prior`, and what the profiles who vote like this one say (`like_you.Neighbours`, None
        without other profiles' votes); both reused while everyone else's votes, the seed and the
        minimum of decisive votes for a population prior are unchanged."""
        key = None if setup.others is None else (setup.others.content_key(), cfg.seed, cfg.min_decisive)
        hit = self._priors.get(key) if key is not None else None
        if hit is not None:
            prior, prior_desc, crowd = hit
            on_progress(1, 1, "everyone else's votes unchanged since the last retrain")
        else:
            prior, prior_desc = self._prior(user, setup, cfg, on_progress)
            crowd = None
        neighbours = neighbours_of(setup.others, prior, crowd)
        if key is not None and hit is None:
            self._priors.put(key, (prior, prior_desc, None if neighbours is None else neighbours.crowd))
        return prior, prior_desc, neighbours

    def _fit(self, user: str | None, cfg: TrainConfig, train_population: bool, progress: "_Phases",
             on_epoch: Callable[[EpochStats], None] | None, cv_folds: int, on_fold: FoldFn | None) -> _Fitted:
        """The new versions fitted, nothing saved (`_save_fitted` saves them): a caller with
        more to do first (`retrain_preview`) saves nothing when that fails."""
        start = time.perf_counter()
        setup = self._setup(user, cfg, progress.phase("embedding recipes"))
        pop_res = (self._fit_population(setup.everyone, cfg, progress.phase("population model"))
                   if train_population else None)
        if user is None:
            if pop_res is None:
                raise NotEnoughVotes(f"need at least {cfg.min_decisive} decisive votes to train")
            return _Fitted(setup, None, pop_res, None, None, start)
        prior, prior_desc, neighbours = self._prior_and_crowd(user, setup, cfg, progress.phase("population prior"))
        from pantry.evaluation.consistency import profile_consistency
        rater = profile_consistency(self.store, user)
        if rater.weight < 1:  # a noisy rater moves the model less per vote: each counts `weight`
            setup.personal = replace(setup.personal, weight=np.full(len(setup.personal), float(rater.weight)))
        pairs = setup.personal
        cv = None
        if cv_folds and _training().usable_folds(pairs, cv_folds):
            fold_cb = progress.phase("cross-validation, new settings")
            fit = _training().settings_fit(self.embedder_name, FEATURE_SPEC, cfg, prior, neighbours)
            cv = _training().cross_validate(pairs, fit, cv_folds,
                                cfg.seed, lambda d, t, so_far: (fold_cb(d, t, f"fold {d} of {t}"),
                                                                 on_fold and on_fold("new", d, t, so_far)))
        res = _training().train_reward_model(pairs, self.embedder_name, FEATURE_SPEC, cfg, prior=prior,
                                 on_progress=progress.phase("personal model"), on_epoch=on_epoch,
                                 neighbours=neighbours)
        res.metrics["prior"] = prior_desc
        res.metrics.update(_rater_metrics(rater, cfg))
        if cv is not None:
            res.metrics.update(cv.metrics())
        return _Fitted(setup, prior, pop_res, res, cv, start, neighbours)

    def _save_fitted(self, user: str | None, fitted: _Fitted, activate: bool) -> TrainOutcome:
        """Save the fitted versions (inactive), then activate both together when asked (a failed
        save leaves the previous models active)."""
        pop_version = (self._save_version(POPULATION, fitted.population, activate=False, prior_id=None)
                       if fitted.population is not None else None)
        pop_metrics = fitted.population.metrics if fitted.population is not None else None
        res = fitted.personal
        version = self._save_version(user, res, activate=False, prior_id=pop_version) if res is not None else None
        if activate:
            self.activate([pop_version, version])
        return TrainOutcome(pop_version, version, res.metrics if res is not None else pop_metrics, pop_metrics,
                            res.history if res is not None else [], time.perf_counter() - fitted.start,
                            cv=fitted.cv, activated=activate)

    def train(self, user: str | None, cfg: TrainConfig | None = None, activate: bool = True,
              train_population: bool = True, on_progress: ProgressFn | None = None,
              on_epoch: Callable[[EpochStats], None] | None = None, cv_folds: int = CV_FOLDS,
              on_fold: FoldFn | None = None) -> TrainOutcome:
        """Retrain the population model (everyone's votes), then `user`'s personal model.

        The personal model's prior is a population model trained on everyone *else's*
        votes, so the user's own votes are not counted twice; with too few such votes (a
        single-person install) the prior is the pantry heuristic. With `cv_folds`, the
        personal settings are first cross-validated on the user's votes (`CrossValidation`,
        stored in the version's metrics as cv_accuracy, cv_low, cv_high, cv_pairs,
        cv_correct, cv_folds, cv_loss). With `activate` (the CLI's default) both new
        versions become active; without it they are saved as inactive candidates.
        """
        cfg = cfg or _training().TrainConfig()
        stages = ["embedding recipes"] + (["population model"] if train_population else [])
        if user is not None:
            stages += ["population prior", "cross-validation, new settings", "personal model"]
        fitted = self._fit(user, cfg, train_population, _Phases(on_progress, stages), on_epoch, cv_folds, on_fold)
        return self._save_fitted(user, fitted, activate)

    def retrain_preview(self, user: str, cfg: TrainConfig | None = None, folds: int = CV_FOLDS,
                        train_population: bool = True, on_progress: ProgressFn | None = None,
                        on_epoch: Callable[[EpochStats], None] | None = None,
                        on_fold: FoldFn | None = None) -> RetrainPreview:
        """Train candidate versions (inactive) and compare them with the current model, honestly.

        Both sides are measured on the same held-out votes, by k-fold cross-validation on
        `user`'s votes (same folds, same population prior): each vote is scored by a model
        that was not fitted on it. The new side is `cfg`; the current side depends on what
        scores for `user` now (`RetrainPreview.current_basis`):
        - a personal version: its recorded training settings, cross-validated ("settings");
        - the population version: the population procedure cross-validated, i.e. fitted on
          everyone else's votes plus the user's training folds ("settings");
        - the pantry heuristic: scored as is, since it was fitted on no votes ("fixed");
        - a version without recorded settings: no held-out figure ("unknown").
        The final fits learn from every vote (refit), so their own accuracy on these votes
        would be inflated; none is reported here. Nothing is activated: see `activate`.
        """
        start = time.perf_counter()
        cfg = cfg or _training().TrainConfig()
        before = self.model_for(user)
        version = self.store.get_model_version(before.version_id) if before.version_id else None
        stages = ["embedding recipes"] + (["population model"] if train_population else []) + [
            "population prior", "cross-validation, new settings", "personal model", "cross-validation, current model"]
        progress = _Phases(on_progress, stages)
        fitted = self._fit(user, cfg, train_population, progress, on_epoch, folds, on_fold)
        setup, prior, new = fitted.setup, fitted.prior, fitted.cv
        if new is None:
            raise NotEnoughVotes(f"{user} has too few votes to hold any out for a comparison")
        current, basis = None, "unknown"
        fold_cb = progress.phase("cross-validation, current model")
        cb = lambda d, t, so_far: (fold_cb(d, t, f"fold {d} of {t}"),  # noqa: E731
                                   on_fold and on_fold("current", d, t, so_far))
        t0 = time.perf_counter()
        if before.kind == "heuristic":
            current, basis = _training().cross_validate(setup.personal, _training().fixed_model(before.model), folds, cfg.seed, cb), "fixed"
        elif before.kind == "personal":
            old = _config_from(version.metrics if version else {}, None)
            if old is not None and old.to_dict() == cfg.to_dict():
                current, basis = new, "settings"  # same procedure, same folds: same figure
                cb(new.folds, new.folds, new)
            elif old is not None:  # on the same (rater-weighted) votes as the new side
                fit = _training().settings_fit(self.embedder_name, FEATURE_SPEC, old, prior, fitted.neighbours)
                current = _training().cross_validate(setup.personal, fit, folds, cfg.seed, cb)
                basis = "settings"
        else:  # population
            old = _config_from(version.metrics if version else {}, _training().POPULATION_CONFIG)
            pop_cfg = _training().TrainConfig(**{**old.to_dict(), "members": 1, "min_decisive": 0, "val_split": 0.0})
            heuristic = heuristic_model(self.embedder_name, self.embedder.dim)
            others = setup.others

            def fit(train: Pairs) -> RewardModel:
                both = train if others is None else _training().concat_pairs(others, train)
                return _training().train_reward_model(both, self.embedder_name, FEATURE_SPEC, pop_cfg, prior=heuristic).model

            current, basis = _training().cross_validate(setup.personal, fit, folds, cfg.seed, cb), "settings"
        if current is not None:
            current.seconds = time.perf_counter() - t0
        outcome = self._save_fitted(user, fitted, activate=False)  # only now: a failure above saves nothing
        return RetrainPreview(
            user=user, personal_version=outcome.personal_version, population_version=outcome.population_version,
            new=new, current=current, current_kind=before.kind, current_version=before.version_id,
            current_basis=basis, metrics=outcome.metrics, population_metrics=outcome.population_metrics,
            history=outcome.history, history_unit=outcome.metrics.get("history_unit", "epoch"),
            seconds=time.perf_counter() - start)

    def saved_pantry(self, user: str | None) -> tuple[str, ...]:
        """The profile's saved pantry (its text and picked items, as Compare reads them) as
        canonical items: what Compare and Just cook score with, so other pages can score the
        same way. () for no profile; the picked items alone when the saved text is refused."""
        from pantry.kitchen import read_pantry

        if not user:
            return ()
        text = self.store.get_user_pantry(user)
        items = [i for i in self.store.get_user_prefs(user).get("items", []) if isinstance(i, str)]
        for t, picked in ((text, items), ("", items)):  # the picked items alone if the text is refused
            try:
                return tuple(read_pantry(t, picked, self.kitchen, self.settings.max_pantry_chars).pantry)
            except PantryError:
                continue
        return ()

    # ---- writes: the one library call per user action (pages, CLI and API alike) -------
    def create_profile(self, name: str) -> str:
        """Create the profile `name` if needed; returns the name it is stored under (an existing
        profile in another case, "Maria" for "maria", is that profile)."""
        return self.store.ensure_user(name)

    def save_profile(self, user: str, pantry_text: str | None = None, prefs: dict | None = None) -> None:
        """Remember a profile's pantry text and/or preferences (None: leave as is)."""
        if pantry_text is not None:
            self.store.set_user_pantry(user, pantry_text)
        if prefs is not None:
            self.store.set_user_prefs(user, prefs)

    def keep_recipes(self, user: str | None, recipes: Sequence[Recipe]) -> str | None:
        """Store generated recipes (one already stored under an id is kept) and log them as
        shown to `user`, so that a vote can name them by id; returns the profile's stored name."""
        return self.store.log_generated(user, recipes)

    def store_recipes(self, recipes: Sequence[Recipe]) -> int:
        """Store given recipes (RecipeConflict for an id stored with other content: stored
        recipes never change); returns how many were given."""
        return self.store.add_recipes(recipes)

    def cast_vote(self, vote: Vote, *, request_key: str | None = None, request_digest: str | None = None,
                  recipes: Sequence[Recipe] = ()) -> int:
        """Store one vote; returns its id. A decisive vote without a strength gets the default
        (`pantry.domain.votes.DEFAULT_STRENGTH`). `request_key`/`request_digest` make it
        once-only (`Store.add_vote`: RepeatedRequest for a repeat), `recipes` are its inline
        recipes, stored in the same transaction."""
        vote = replace(vote, strength=strength_of(vote.outcome, vote.strength))
        return self.store.add_vote(vote, request_key=request_key, request_digest=request_digest, recipes=recipes)

    def cast_household_vote(self, members: Sequence[str], a: str, b: str, outcome: str,
                            strength: str | None = None, left: str | None = None,
                            pantry: Sequence[str] = (), request_key: str | None = None,
                            request_digest: str | None = None, recipes: Sequence[Recipe] = ()) -> list[int]:
        """One household choice stored for every member present, as one group, in one
        transaction with the inline `recipes` it names; their vote ids (`request_key`:
        once-only, RepeatedRequest when it stored a group already, and then nothing is stored)."""
        from pantry.household import cast_household_vote
        return cast_household_vote(self.store, members, a, b, outcome, strength_of(outcome, strength), left, pantry,
                                   request_key, request_digest, recipes)

    def undo(self, user: str, vote_ids: Sequence[int] | None = None) -> Vote | None:
        """Take back `user`'s newest vote (soft delete: kept, marked deleted) and return it
        (deleted=True), or None when there is nothing to undo.

        With `vote_ids` (oldest first: the votes one session cast), only the newest of them that
        is not deleted yet is taken back, so another tab's or person's vote is never undone."""
        if vote_ids is None:
            return self.store.undo_last_vote(user)
        for vid in reversed(list(vote_ids)):
            vote = self.store.get_vote(vid)
            if vote is None or vote.user != user or vote.deleted:
                continue
            if self.store.delete_vote(vid):
                return replace(vote, deleted=True)
        return None

    def set_votes_deleted(self, vote_ids: Sequence[int], deleted: bool) -> int:
        """Soft-delete (or restore) these votes; returns how many changed (the rest already were)."""
        write = self.store.delete_vote if deleted else self.store.restore_vote
        return sum(bool(write(int(vid))) for vid in vote_ids)

    def set_batch_deleted(self, batch_id: int, deleted: bool) -> int:
        """Undo (or restore) a whole import batch; returns how many votes changed."""
        return self.store.delete_batch(batch_id) if deleted else self.store.restore_batch(batch_id)

    def import_file(self, source, default_user: str = "me", name: str | None = None):
        """Import a JSONL file (path, bytes, text or lines) of recipes, votes and prompt/chosen/
        rejected pairs as one batch, all or nothing (`pantry.storage.jsonl.import_jsonl`);
        returns its `ImportReport`. ImportFailed lists every bad line and stores nothing."""
        from pantry.storage.jsonl import import_jsonl
        return import_jsonl(self.store, source, default_user=default_user, name=name)

    def deactivate(self, user: str | None) -> None:
        """Roll a scope back to no active model of its own (a profile then scores with the
        population model or the heuristic; None: the population scope)."""
        self.store.deactivate_models(user)

    def activate(self, version_ids: Sequence[int | None]) -> list[int]:
        """Make these versions (a preview's candidates) active, each in its own scope: all or
        none. Each is checked to load first (a bad file is refused before anything changes),
        then all are switched in one store transaction (`Store.activate_models`), so a crash or
        a kill can never leave a new population model beside the old personal one."""
        ids = [int(v) for v in version_ids if v is not None]
        for vid in ids:
            version = self.store.get_model_version(vid)
            if version is None:
                raise PantryError(f"there is no model version {vid}")
            try:
                self.load_version(version)
            except (ModelFileError, ValueError) as e:
                kind = "population" if version.user is None else "personal"
                raise PantryError(f"not activated: {self._problem(kind, version, e)}") from None
        try:
            self.store.activate_models(ids)
        except Exception as e:
            raise PantryError(f"could not activate {', '.join(f'v{i}' for i in ids)}: "
                              f"{str(e).splitlines()[0] if str(e) else type(e).__name__}; "
                              f"the previous models stay active") from e
        return ids


def _rater_metrics(rater, cfg: TrainConfig) -> dict:
    """What a personal version records about its rater: the user's own settings as `config`
    (the tempering is re-derived from the votes on every fit, never stored twice), the weight
    each vote had (`rater_weight`, 1.0: fully), and the self-consistency figures the pages show
    next to the model's accuracy (`rater_ceiling`: 1 - flip, NaN stored as None)."""
    def num(x: float) -> float | None:
        return None if x != x else float(x)

    return {"config": cfg.to_dict(), "rater_weight": float(rater.weight), "rater_flip": num(rater.flip),
            "rater_ceiling": num(rater.ceiling), "rater_agreement": num(rater.agreement),
            "rater_repeats": int(rater.repeats), "rater_triads": int(rater.triads)}


def _config_from(metrics: dict, default: TrainConfig | None) -> TrainConfig | None:
    """The TrainConfig a version recorded in its metrics (unknown keys ignored), else `default`."""
    recorded = metrics.get("config") if isinstance(metrics, dict) else None
    if not isinstance(recorded, dict):
        return default
    try:
        return _training().config_from(recorded)
    except ValueError:
        return default


class _Phases:
    """One progress bar over several stages: each stage's (done, total) fills its share."""

    STEPS = 1000

    def __init__(self, on_progress: ProgressFn | None, stages: Sequence[str]):
        self.on_progress = on_progress
        self.stages = list(stages)

    def phase(self, name: str) -> ProgressFn:
        k = self.stages.index(name) if name in self.stages else len(self.stages) - 1
        share = 1.0 / max(1, len(self.stages))

        def report(done: int, total: int, message: str) -> None:
            if self.on_progress is None:
                return
            frac = min(1.0, done / total) if total else 1.0
            self.on_progress(int(self.STEPS * share * (k + frac)), self.STEPS, f"{name}: {message}")

        return report
