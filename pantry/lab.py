"""The whole loop behind one object: generate, vote, train, score, diagnose.

`Lab` ties the store, the embedder, the feature builder and the reward models together
so that the CLI and the Streamlit pages make one call per user action and get plain
Python objects back. It holds no global state: the app keeps one Lab per process (the
embedder is heavy) and passes the user explicitly on every call.

Models come in two levels (DESIGN.md, issue "population prior"):
- the population model, trained on everyone's votes (content-based, so it generalises to
  recipes nobody rated); stored as a model version with no user;
- a personal model per profile, trained on that profile's votes with an L2 pull toward
  a population model trained on everyone else's votes (or toward the pantry heuristic
  when other profiles have too few votes).
Scoring uses the best available: personal, else population, else the heuristic, and says
which (`ModelChoice.kind`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .errors import ModelFileError, NotEnoughVotes, PantryError
from .features import FEATURE_NAMES, FEATURE_SPEC, feature_matrix
from .recipes import Recipe
from .reward import RewardMember, RewardModel, load_model
from .settings import Settings
from .training import EpochStats, Pairs, TrainConfig, make_pairs, train_reward_model
from .votes import Vote

ProgressFn = Callable[[int, int, str], None]
POPULATION = None  # the store's user value for population model versions
# Pantry heuristic used before any vote: prefer recipes you can cook now, quickly.
HEURISTIC_WEIGHTS = {"pantry_coverage": 1.0, "log_missing": -0.3, "log_minutes": -0.2, "log_steps": -0.05}
POPULATION_CONFIG = TrainConfig(batch_size=256, members=3, l2=1.0, patience=8)


def heuristic_model(embedder: str, dim: int) -> RewardModel:
    """The pantry-coverage heuristic as a linear RewardModel (zero weight on the embedding)."""
    member = RewardMember(dim + len(FEATURE_NAMES))
    import torch
    with torch.no_grad():
        for name, w in HEURISTIC_WEIGHTS.items():
            member.linear.weight[0, dim + FEATURE_NAMES.index(name)] = w
    return RewardModel([member], embedder, FEATURE_SPEC, dim + len(FEATURE_NAMES),
                       meta={"version_name": "heuristic"})


@dataclass
class ModelChoice:
    model: RewardModel
    kind: str  # "personal" | "population" | "heuristic"
    version_id: int | None
    reason: str
    problems: tuple[str, ...] = ()  # weights files that could not be used on the way here

    @property
    def label(self) -> str:
        return f"{self.kind} v{self.version_id}" if self.version_id else self.kind


@dataclass
class ScoredRecipe:
    recipe: Recipe
    score: float
    uncertainty: float
    rank: int = 0


@dataclass
class TrainOutcome:
    population_version: int | None
    personal_version: int | None
    metrics: dict
    population_metrics: dict | None
    history: list[EpochStats] = field(default_factory=list)
    seconds: float = 0.0


class Lab:
    def __init__(self, settings: Settings | None = None, store=None, embedder=None):
        from .store import Store
        self.settings = settings or Settings.from_env()
        self.store = store if store is not None else Store.open(self.settings)
        self._embedder = embedder
        self._models: dict[str, RewardModel] = {}

    # ---- embeddings and features ------------------------------------------------------
    @property
    def embedder(self):
        if self._embedder is None:
            from .embedding import Embedder
            self._embedder = Embedder(self.settings.embedder, self.settings.device, cache=self.store)
        return self._embedder

    @property
    def embedder_name(self) -> str:
        return self._embedder.name if self._embedder is not None else self.settings.embedder

    def features(self, recipes: Sequence[Recipe], pantries: Sequence[Sequence[str]] | Sequence[str] = (),
                 on_progress: ProgressFn | None = None) -> np.ndarray:
        emb = self.embedder.encode([r.text for r in recipes], on_progress=on_progress)
        return feature_matrix(emb, recipes, pantries)

    def vote_pairs(self, votes: Sequence[Vote], on_progress: ProgressFn | None = None,
                   with_ids: bool = True) -> Pairs:
        """Training pairs for `votes`; `with_ids` lets a personal model learn per-recipe offsets."""
        recipes = self.store.get_recipes(sorted({v.a for v in votes} | {v.b for v in votes}))
        missing = [rid for v in votes for rid in (v.a, v.b) if rid not in recipes]
        if missing:
            raise PantryError(f"votes refer to recipes not in the store: {', '.join(sorted(set(missing))[:5])}")
        ra = [recipes[v.a] for v in votes]
        rb = [recipes[v.b] for v in votes]
        # embed each distinct recipe once, then add per-vote pantry features
        xa = self.features(ra, [v.pantry for v in votes], on_progress)
        xb = self.features(rb, [v.pantry for v in votes])
        return make_pairs(xa, xb, [v.outcome for v in votes], [v.strength for v in votes],
                          [v.a for v in votes] if with_ids else None, [v.b for v in votes] if with_ids else None)

    # ---- models -------------------------------------------------------------------------
    def load_version(self, version) -> RewardModel:
        key = f"{version.id}:{version.path}"
        if key not in self._models:
            self._models[key] = load_model(version.path, self.embedder_name, FEATURE_SPEC)
            self._models[key].meta["version_name"] = f"v{version.id}"
        return self._models[key]

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
                reason = (f"personal model v{version.id} for {user}" if kind == "personal"
                          else f"population model v{version.id} (trained on everyone's votes)")
                if problems:
                    reason += " (" + "; ".join(problems) + ")"
                return ModelChoice(model, kind, version.id, reason, tuple(problems))
            except ModelFileError as e:
                problems.append(str(e))
        dim = self.embedder.dim
        reason = "no trained model yet: ranking by pantry coverage and time"
        if problems:
            reason += " (" + "; ".join(problems) + ")"
        return ModelChoice(heuristic_model(self.embedder_name, dim), "heuristic", None, reason, tuple(problems))

    def score(self, recipes: Sequence[Recipe], user: str | None = None, pantry: Sequence[str] = (),
              choice: ModelChoice | None = None, on_progress: ProgressFn | None = None) -> list[ScoredRecipe]:
        """Score recipes for a user; returns them best first with ensemble uncertainty."""
        if not recipes:
            return []
        choice = choice or self.model_for(user)
        x = self.features(recipes, tuple(pantry), on_progress)
        mean, std = choice.model.score(x, [r.id for r in recipes])
        order = np.argsort(-mean, kind="stable")
        return [ScoredRecipe(recipes[i], float(mean[i]), float(std[i]), rank)
                for rank, i in enumerate(order, 1)]

    def _save_version(self, user: str | None, result, activate: bool, prior_id: int | None) -> int:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        scope = "population" if user is None else "user-" + "".join(c if c.isalnum() else "_" for c in user)
        path = self.settings.weights_dir / f"{scope}-{stamp}.pt"
        result.model.meta.update({"user": user, "prior_version": prior_id, "embedder": self.embedder_name})
        result.model.save(path)
        return self.store.add_model_version(user, str(path), self.embedder_name, result.metrics,
                                            {"prior_version": prior_id, "feature_spec": FEATURE_SPEC,
                                             "history": [e.__dict__ for e in result.history]},
                                            activate=activate)

    def _fit_population(self, votes: Sequence[Vote], cfg: TrainConfig, on_progress: ProgressFn | None):
        """A population model on `votes` (pulled toward the pantry heuristic), or None if too few."""
        pairs = self.vote_pairs(votes, on_progress, with_ids=False)  # population: content only
        if pairs.n_decisive < cfg.min_decisive:
            return None
        pop_cfg = TrainConfig(**{**POPULATION_CONFIG.to_dict(), "seed": cfg.seed})
        return train_reward_model(pairs, self.embedder_name, FEATURE_SPEC, pop_cfg,
                                  prior=heuristic_model(self.embedder_name, self.embedder.dim),
                                  on_progress=on_progress)

    def train(self, user: str | None, cfg: TrainConfig | None = None, activate: bool = True,
              train_population: bool = True, on_progress: ProgressFn | None = None,
              on_epoch: Callable[[EpochStats], None] | None = None) -> TrainOutcome:
        """Retrain the population model (everyone's votes), then `user`'s personal model.

        The population version (saved and activated) is what a profile without a personal
        model is scored with. The personal model's prior is a population model trained on
        everyone *else's* votes, so the user's own votes are not counted twice and its
        validation votes stay unseen; with too few such votes (a single-person install)
        the prior is the pantry heuristic.
        """
        start = time.perf_counter()
        cfg = cfg or TrainConfig()
        all_votes = self.store.votes()
        user_votes = [v for v in all_votes if v.user == user] if user is not None else []
        if user is not None:
            n_dec = sum(1 for v in user_votes if v.decisive)
            if n_dec < cfg.min_decisive:
                raise NotEnoughVotes(f"{user} has {n_dec} decisive votes; training needs at least "
                                     f"{cfg.min_decisive}: vote on {cfg.min_decisive - n_dec} more pairs")
        pop_version, pop_metrics = None, None
        if train_population:
            res = self._fit_population(all_votes, cfg, on_progress)
            if res is not None:
                pop_version = self._save_version(POPULATION, res, activate=True, prior_id=None)
                pop_metrics = res.metrics
        if user is None:
            if pop_metrics is None:
                raise NotEnoughVotes(f"need at least {cfg.min_decisive} decisive votes to train")
            return TrainOutcome(pop_version, None, pop_metrics, pop_metrics, [], time.perf_counter() - start)
        others = [v for v in all_votes if v.user != user]
        prior_res = self._fit_population(others, cfg, on_progress) if others else None
        if prior_res is not None:
            prior = prior_res.model
            prior_desc = f"population model without {user} ({prior_res.metrics['n_pairs']} votes)"
        else:
            prior = heuristic_model(self.embedder_name, self.embedder.dim)
            prior_desc = "pantry heuristic (too few votes from other profiles for a population prior)"
        pairs = self.vote_pairs(user_votes)
        res = train_reward_model(pairs, self.embedder_name, FEATURE_SPEC, cfg, prior=prior,
                                 on_progress=on_progress, on_epoch=on_epoch)
        res.metrics["prior"] = prior_desc
        version = self._save_version(user, res, activate=activate, prior_id=pop_version)
        return TrainOutcome(pop_version, version, res.metrics, pop_metrics, res.history,
                            time.perf_counter() - start)
