"""The fits of one evaluation run: the app's trainer on the evaluation's recipes
(`_Trainer`: population and personal models by `train_reward_model`), the cache of fits
shared across seeds (`EvalCache`) and one test user's scores and counts (`_evaluate_user`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from pantry.errors import NotEnoughVotes
from pantry.evaluation.baselines import item_bradley_terry
from pantry.evaluation.splits import VoteArrays, _population_rows
from pantry.model.features import FEATURE_NAMES, FEATURE_SPEC
from pantry.model.like_you import Crowd, Neighbours
from pantry.model.reward import RewardModel, heuristic_model
from pantry.model.selection import choose_from_pairs
from pantry.model.training import TrainConfig, make_pairs, strict_counts, train_reward_model

if TYPE_CHECKING:  # annotations only: protocols imports this module
    from pantry.evaluation.protocols import ModelSettings


def _strict(s: np.ndarray, ia: np.ndarray, ib: np.ndarray, y: np.ndarray) -> tuple[int, int]:
    """(correct, ties) on decisive pairs of recipe scores s (`training.strict_counts`)."""
    _, correct, ties = strict_counts(s[ia] - s[ib], y)
    return correct, ties


class EvalCache:
    """What does not depend on the seed, computed once and reused by later runs.

    Keys name the data (features, votes, settings), the left-out user and the exact set of
    training votes, so a hit is the very fit a run would compute; share one cache across
    seeds, K values and protocols on the same data.
    """

    def __init__(self) -> None:
        self.population: dict[tuple, tuple[RewardModel, np.ndarray]] = {}
        self.popularity: dict[tuple, np.ndarray] = {}
        self.fits = 0  # population models fitted
        self.reused = 0  # population models served from the cache

    def stats(self) -> dict:
        return {"population_fits": self.fits, "population_reused": self.reused}


def _digest(*arrays: Any) -> str:
    h = hashlib.sha1()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes() if isinstance(a, np.ndarray) else repr(a).encode())
        h.update(b"|")
    return h.hexdigest()


@dataclass
class _Run:
    """What one `evaluate` call's workers need (pickled once into each worker process)."""

    X: np.ndarray
    va: VoteArrays
    seed: int
    settings: ModelSettings
    embedder_name: str
    protocol: str
    labels: int
    selection: str
    held: np.ndarray | None
    s_heuristic: np.ndarray | None
    fold_of: np.ndarray | None = None  # each user's fold (their population never holds them)

    def trainer(self, cache: EvalCache | None = None) -> "_Trainer":
        return _Trainer(self.X, self.va, self.seed, self.settings, self.embedder_name,
                        cache if cache is not None else EvalCache(), self.held, self.fold_of)


def _evaluate_user(run: _Run, trainer: "_Trainer", u: int, split: tuple, population: RewardModel,
                   s_population: np.ndarray, s_popularity: np.ndarray | None) -> tuple[dict, dict, int]:
    """(per-user row, correct counts per model, ties of the project's model) for one test user;
    split: (train, test, pool, the user's generator after the split, for active selection)."""
    va, settings = run.va, run.settings
    train, test, pool, urng = split
    te_ia, te_ib, te_y = va.ia[test], va.ib[test], va.y[test]
    need = np.unique(np.concatenate([te_ia, te_ib]))  # only the test recipes are scored
    scores_of = {"population": s_population}
    if run.s_heuristic is not None:
        scores_of["heuristic"] = run.s_heuristic
    if run.protocol != "cold":
        scores_of["popularity"] = s_popularity
        scores_of["user_item_bt"] = item_bradley_terry(len(run.X), va.ia[train], va.ib[train], va.y[train],
                                                       settings.baseline_l2)
    if run.selection == "active":
        chosen = trainer.simulate_active(population, pool, run.labels, urng)
        scores, fell_back = trainer.scores(population, chosen, need)
        scores_of["random_same_split"], _ = trainer.scores(population, train, need)
        n_train = len(chosen)
    else:
        scores, fell_back = trainer.scores(population, train, need)
        n_train = len(train)
    correct, ties = _strict(scores, te_ia, te_ib, te_y)
    counts = {"pantry": correct, **{k: _strict(s, te_ia, te_ib, te_y)[0] for k, s in scores_of.items()}}
    n = len(test)
    row = {"user": va.users[u], "train_pairs": int(n_train), "test_pairs": int(n),
           "accuracy": correct / n, "tie_rate": ties / n,
           **{k: c / n for k, c in counts.items() if k != "pantry" and k != "random_same_split"},
           "scored_by": "population" if fell_back else "personal"}
    if "random_same_split" in counts:
        row["accuracy_random_same_split"] = counts["random_same_split"] / n
    return row, counts, ties


class _Trainer:
    """The app's trainer on the evaluation's recipes: population models (on every user
    outside the test user's fold) and personal models, both by `train_reward_model`."""

    def __init__(self, X: np.ndarray, va: VoteArrays, seed: int, settings: ModelSettings, embedder_name: str,
                 cache: EvalCache, held: np.ndarray | None = None, fold_of: np.ndarray | None = None):
        self.X = np.asarray(X, np.float32)
        self.held = held  # `cold`'s held-out recipes: nobody's votes on them are learned from
        self.fold_of = fold_of  # each user's fold: the neighbours are the population's own voters
        self._crowds: dict[int, tuple[Crowd, np.ndarray]] = {}
        self._pop_scores: tuple[RewardModel, np.ndarray] | None = None
        self.va, self.seed, self.settings, self.embedder_name = va, seed, settings, embedder_name
        self.emb_dim = self.X.shape[1] - len(FEATURE_NAMES) if self.X.ndim == 2 else -1
        self.prior_kind = "heuristic" if self.emb_dim >= 0 else "zero"
        # one member on every vote: no validation split and no bootstrap, so the seed plays no
        # part; without a validation split the first fit is already on every vote (no refit)
        self.pop_cfg = TrainConfig(**{**settings.population.to_dict(), "seed": 0, "members": 1, "val_split": 0.0,
                                      "refit": False})
        self.user_cfg = TrainConfig(**{**settings.personal.to_dict(), "seed": seed})
        self.recipe_ids = [str(i) for i in range(len(self.X))]
        self.cache = cache
        ia, ib, y = va.file_order(np.arange(len(va.y)))
        much = va.much if va.much is not None else np.zeros(len(va.y), bool)
        self.data_key = _digest(self.X, va.user, ia, ib, y, much, self.pop_cfg.to_dict(), settings.baseline_l2,
                                embedder_name, self.prior_kind)

    def _pairs(self, rows: np.ndarray, with_ids: bool = False, file_order: bool = False):
        va = self.va
        rows = np.asarray(rows, np.int64)
        ia, ib, y = va.file_order(rows) if file_order else (va.ia[rows], va.ib[rows], va.y[rows])
        outcomes = np.where(y == 1.0, "a", np.where(y == 0.0, "b", "tie")).tolist()
        much = va.much[rows] if va.much is not None else np.zeros(len(rows), dtype=bool)
        # recipe indices as row labels: the trainer finds the distinct rows without hashing them
        pairs = make_pairs(self.X[ia], self.X[ib], outcomes, np.where(much, "much", None).tolist(),
                           [self.recipe_ids[i] for i in ia] if with_ids else None,
                           [self.recipe_ids[i] for i in ib] if with_ids else None, row_a=ia, row_b=ib)
        if len(pairs) == len(rows):  # who cast each vote: a population fit reads the crowd's spread of tastes
            pairs.rater = np.asarray(va.user)[rows]
        return pairs

    def _heuristic(self) -> RewardModel:
        if self.emb_dim >= 0:
            return heuristic_model(self.embedder_name, self.emb_dim)
        return RewardModel.new(self.X.shape[1], 1, self.embedder_name, FEATURE_SPEC)

    def heuristic_scores(self) -> np.ndarray | None:
        """The pantry heuristic's recipe scores (None without the [embedding | features] layout)."""
        return self._heuristic().score(self.X, self.recipe_ids)[0] if self.emb_dim >= 0 else None

    def _key(self, rows: np.ndarray) -> tuple:
        return (self.data_key, _digest(np.sort(np.asarray(rows, np.int64))))

    def cached_population(self, rows: np.ndarray) -> tuple[RewardModel, np.ndarray] | None:
        hit = self.cache.population.get(self._key(rows))
        if hit is not None:
            self.cache.reused += 1
        return hit

    def cached_popularity(self, rows: np.ndarray) -> np.ndarray | None:
        return self.cache.popularity.get(self._key(rows))

    def store_population(self, rows: np.ndarray, fitted: tuple[RewardModel, np.ndarray],
                         popularity: np.ndarray | None) -> None:
        """Keep a population (and popularity) fitted elsewhere (a worker process) in the cache."""
        key = self._key(rows)
        self.cache.population[key] = fitted
        self.cache.fits += int(fitted[0].meta.get("version_name") != "heuristic")
        if popularity is not None:
            self.cache.popularity[key] = popularity

    def population(self, rows: np.ndarray) -> tuple[RewardModel, np.ndarray]:
        """`Lab._fit_population` on the votes `rows` (never a test user's; the heuristic when
        too few) and its recipe scores; fitted once per set of rows, in the file's orientation."""
        hit = self.cached_population(rows)
        if hit is not None:
            return hit
        rows = np.sort(np.asarray(rows, np.int64))
        # with recipe ids: the population's offsets are what its voters say about each recipe
        pairs = self._pairs(rows, with_ids=self.pop_cfg.item_var > 0, file_order=True)
        prior = self._heuristic()
        if pairs.n_decisive < self.pop_cfg.min_decisive:
            model = prior
        else:
            model = train_reward_model(pairs, self.embedder_name, FEATURE_SPEC, self.pop_cfg, prior=prior).model
            self.cache.fits += 1
        out = (model, model.score(self.X, self.recipe_ids)[0])
        self.cache.population[self._key(rows)] = out
        return out

    def popularity(self, rows: np.ndarray) -> np.ndarray:
        """The popularity baseline's recipe scores from the votes `rows` (cached like `population`)."""
        key = self._key(rows)
        if key not in self.cache.popularity:
            ia, ib, y = self.va.file_order(np.sort(np.asarray(rows, np.int64)))
            self.cache.popularity[key] = item_bradley_terry(len(self.X), ia, ib, y, self.settings.baseline_l2)
        return self.cache.popularity[key]

    def crowd(self, user: int) -> tuple[Crowd, np.ndarray]:
        """(the votes `user`'s personal model may learn who votes like them from, their rows): those
        its fold's population model is fitted on (every user outside the fold; in `cold`, none
        touching a held-out recipe), so the personal model and the baselines learn from one crowd."""
        va, ids = self.va, self.recipe_ids
        fold_of = self.fold_of if self.fold_of is not None else np.arange(len(va.users))  # else: one per user
        fold = int(fold_of[user])
        if fold not in self._crowds:
            rows = _population_rows(va, fold_of, fold, self.held)
            self._crowds[fold] = (Crowd([ids[i] for i in va.ia[rows]], [ids[i] for i in va.ib[rows]], va.y[rows],
                                        va.user[rows]), rows)
        return self._crowds[fold]

    def neighbours(self, population: RewardModel, train: np.ndarray) -> Neighbours | None:
        """The other users' votes for the user who cast `train` (`crowd`), with the population
        model's score difference on each: who votes like them is chosen from these."""
        if self.user_cfg.item_var <= 0 or not len(train):
            return None
        if self._pop_scores is None or self._pop_scores[0] is not population:
            self._pop_scores = (population, population.score(self.X, self.recipe_ids)[0])
        s = self._pop_scores[1]
        user = int(self.va.user[train[0]])
        crowd, rows = self.crowd(user)
        va = self.va
        return Neighbours(crowd, s[va.ia[rows]] - s[va.ib[rows]], exclude=str(user),
                          votes=lambda ix: self._pairs(rows[ix], with_ids=True))

    def model(self, population: RewardModel, train: np.ndarray, members: int | None = None
              ) -> tuple[RewardModel, bool]:
        """The personal model on these training votes, or (population, True) when too few."""
        cfg = self.user_cfg if members is None else TrainConfig(**{**self.user_cfg.to_dict(), "members": members})
        pairs = self._pairs(train, with_ids=True)
        if pairs.n_decisive < cfg.min_decisive:
            return population, True
        try:
            return train_reward_model(pairs, self.embedder_name, FEATURE_SPEC, cfg, prior=population,
                                      neighbours=self.neighbours(population, train)).model, False
        except NotEnoughVotes:
            return population, True

    def scores(self, population: RewardModel, train: np.ndarray, need: np.ndarray | None = None
               ) -> tuple[np.ndarray, bool]:
        """Recipe scores of the personal model (member 0 alone gives the score), only at the
        recipe indices `need` when given (the rest 0: only test pairs are scored)."""
        model, fell_back = self.model(population, train, members=1)
        if need is None:
            return model.score(self.X, self.recipe_ids)[0], fell_back
        s = np.zeros(len(self.X))
        s[need] = model.score(self.X[need], [self.recipe_ids[i] for i in need])[0]
        return s, fell_back

    def simulate_active(self, population: RewardModel, pool: np.ndarray, labels: int,
                        rng: np.random.Generator) -> np.ndarray:
        """Pick `labels` votes from `pool` one at a time with the app's selection rule."""
        va, st = self.va, self.settings
        pairs = np.stack([va.ia[pool], va.ib[pool]], axis=1)
        available = np.ones(len(pool), dtype=bool)
        chosen: list[int] = []
        member_scores = population.member_scores(self.X, self.recipe_ids)
        for step in range(labels):
            k = choose_from_pairs(member_scores, pairs, rng, st.random_share, st.method, available)
            available[k] = False
            chosen.append(int(pool[k]))
            if (step + 1) % max(1, st.refit_every) == 0 and step + 1 < labels:
                model, _ = self.model(population, np.array(chosen))
                member_scores = model.member_scores(self.X, self.recipe_ids)
        return np.array(chosen, dtype=np.int64)
