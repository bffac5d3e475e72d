"""Offline evaluation protocols on vote files (DESIGN.md, "Evaluation protocols").

Strict pairwise accuracy on decisive held-out votes (a tied score counts as wrong); the
orientation of every pair (which recipe is `a`) is randomised by the seed. Other users'
votes may always be used (the population prior); the test user's held-out votes never.

- `seen`, K labels: per user with at least K+20 decisive votes, shuffle them (seed), train
  on the first K, test on the rest.
- `unseen`: per user, hold out a third of the recipes the user voted on (seed); train on the
  user's votes among the other recipes (ties as y = 0.5); test on the decisive votes between
  two held-out recipes.
- `selection="active"` (seen only) simulates the app's pair chooser (`selection.py`): each
  user's shuffled decisive votes are split once into a candidate pool and a test half; the
  next pair is picked from the unlabelled pool by the current model, its label revealed and
  the model refit, until K labels. The same split with the first K pool votes (random
  order) is reported alongside as `accuracy_random_same_split`, the fair comparison.

The project's model is the app's reward model, trained exactly as the app trains it
(`training.train_reward_model`, the one trainer): for each test user a population model
like `Lab._fit_population` (`POPULATION_CONFIG`, pulled toward the pantry heuristic) on
every *other* user's votes (leave-one-user-out, as `Lab.train` does), then the personal
model on the user's training votes (`ModelSettings.personal`, per-recipe offsets
included) pulled toward it; test pairs are scored with `RewardModel.score` (member 0). A
user whose training votes have fewer than `min_decisive` decisive ones is scored with the
population model, as the app would. Votes are featurised without their pantry (the
pantry columns are 0). Features laid out as `[embedding | explicit features]` get the
heuristic prior; with fewer columns than `features.FEATURE_NAMES` the population model is
pulled toward zero. Active selection uses the app's rule (`selection.choose_from_pairs`,
ensemble spread of the trained model), refitting after every `refit_every` labels.

Baselines from the same run, fitted with the same solver (`training.fit_bradley_terry`
over one-hot recipe ids): `popularity` (the other users' votes) and `user_item_bt` (the
user's training votes; recipes without a training vote score 0, so pairs of them tie and
count wrong).

Layering: evaluation/ may import model, domain, kitchen, generators and storage.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from pantry.errors import InvalidInput, NotEnoughVotes
from pantry.model.features import FEATURE_NAMES, FEATURE_SPEC
from pantry.model.reward import RewardModel, heuristic_model
from pantry.model.selection import choose_from_pairs
from pantry.model.training import (POPULATION_CONFIG, TrainConfig, fit_bradley_terry, make_pairs, strict_counts,
                                   train_reward_model, wilson_interval)

PROTOCOLS = ("seen", "unseen")
SELECTIONS = ("random", "active")
MIN_TEST = 20  # seen: a user needs K + MIN_TEST decisive votes

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class ModelSettings:
    """How the project's model is trained in evaluation: the app's own settings by default.

    personal / population: the TrainConfig of the personal and the population model (only
        member 0 scores, so the population model is fitted with one member).
    baseline_l2: precision of the baselines' pull toward 0 (item Bradley-Terry).
    method, random_share, refit_every: active selection (see selection.py).
    """

    personal: TrainConfig = field(default_factory=TrainConfig)
    population: TrainConfig = field(default_factory=lambda: POPULATION_CONFIG)
    baseline_l2: float = 0.1
    method: str = "information"
    random_share: float = 0.2
    refit_every: int = 1

    def to_dict(self) -> dict:
        return asdict(self)


DEFAULT_SETTINGS = ModelSettings()


def item_bradley_terry(n_recipes: int, ia: np.ndarray, ib: np.ndarray, y: np.ndarray, l2: float) -> np.ndarray:
    """Scores of a Bradley-Terry model over recipe ids (a baseline): one score per recipe."""
    return fit_bradley_terry(np.eye(n_recipes), ia, ib, y, l2).coef


# ----------------------------------------------------------------------------- data


@dataclass
class VoteArrays:
    users: list[str]
    user: np.ndarray  # (n,) user index
    ia: np.ndarray  # recipe index of a (after orientation shuffle)
    ib: np.ndarray
    y: np.ndarray  # 1 a won, 0 b won, 0.5 tie
    decisive: np.ndarray
    much: np.ndarray | None = None  # strength "much" (trainer "app": the score margin)


def _as_vote(v: Any):
    if isinstance(v, Mapping):
        from pantry.domain.votes import vote_from_dict

        return vote_from_dict(dict(v))[0]
    return v


def vote_arrays(votes: Sequence[Any], index: Mapping[str, int], rng: np.random.Generator) -> VoteArrays:
    users: dict[str, int] = {}
    rows = []
    much: list[bool] = []
    missing: set[str] = set()
    for v in votes:
        v = _as_vote(v)
        if v.outcome not in ("a", "b", "tie"):
            continue  # "both_bad" says nothing about the order
        if v.a not in index or v.b not in index:
            missing.update(r for r in (v.a, v.b) if r not in index)
            continue
        u = users.setdefault(v.user, len(users))
        rows.append((u, index[v.a], index[v.b], {"a": 1.0, "b": 0.0, "tie": 0.5}[v.outcome]))
        much.append(getattr(v, "strength", None) == "much" and v.outcome != "tie")
    if missing:
        shown = ", ".join(sorted(missing)[:5])
        raise InvalidInput(f"{len(missing)} recipe id(s) used by votes have no features "
                           f"(not in the recipes file?): {shown}")
    arr = np.array(rows, dtype=np.float64).reshape(-1, 4)
    user, ia, ib, y = arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64), arr[:, 2].astype(np.int64), arr[:, 3]
    flip = rng.random(len(y)) < 0.5  # randomise which recipe is "a"
    ia, ib = np.where(flip, ib, ia), np.where(flip, ia, ib)
    y = np.where(flip, 1.0 - y, y)
    return VoteArrays(list(users), user, ia, ib, y, y != 0.5, np.array(much, dtype=bool))


def split_user_votes(va: VoteArrays, u: int, protocol: str, labels: int, selection: str,
                     rng: np.random.Generator, n_recipes: int, ties: bool = True
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
    """(train, test, pool) vote indices of user `u` under the protocol, or None to skip the user.

    seen/random: the user's decisive votes shuffled; train = first K, test = the rest.
    seen/active: shuffled decisive votes split once: test = the last half (at least
        MIN_TEST), pool = the rest (the selection rule picks K from it); train = the first
        K of the pool (the random reference on the same split).
    unseen: a third of the user's recipes held out; train = votes (ties included when
        `ties`) with neither recipe held out; test = decisive votes between two held-out
        recipes; pool is None.
    """
    mine = np.flatnonzero(va.user == u)
    if protocol == "seen":
        dec = mine[va.decisive[mine]]
        if len(dec) < labels + MIN_TEST:
            return None
        perm = rng.permutation(dec)
        if selection == "active":
            n_test = max(MIN_TEST, len(perm) // 2)
            pool, test = perm[:len(perm) - n_test], perm[len(perm) - n_test:]
            if len(pool) < labels:
                return None
            return pool[:labels], test, pool
        return perm[:labels], perm[labels:], None
    voted = np.unique(np.concatenate([va.ia[mine], va.ib[mine]]))
    held = rng.permutation(voted)[: int(round(len(voted) / 3))]
    held_mask = np.zeros(n_recipes, dtype=bool)
    held_mask[held] = True
    a_in, b_in = held_mask[va.ia[mine]], held_mask[va.ib[mine]]
    train = mine[~a_in & ~b_in]
    if not ties:
        train = train[va.decisive[train]]
    test = mine[a_in & b_in & va.decisive[mine]]
    if len(test) == 0:
        return None
    return train, test, None


def _strict(s: np.ndarray, ia: np.ndarray, ib: np.ndarray, y: np.ndarray) -> tuple[int, int]:
    """(correct, ties) on decisive pairs of recipe scores s (`training.strict_counts`)."""
    _, correct, ties = strict_counts(s[ia] - s[ib], y)
    return correct, ties


# ----------------------------------------------------------------------------- protocols


def evaluate(recipes: Sequence[Any], votes: Sequence[Any], features_by_recipe_id: Mapping[str, np.ndarray],
             protocol: str = "seen", labels: int = 25, selection: str = "random", seed: int = 0,
             on_progress: Progress | None = None, settings: ModelSettings | None = None,
             embedder_name: str = "evaluation") -> dict:
    """Run one protocol on in-memory data; see the module docstring. Returns a JSON-able dict.

    recipes: Recipe objects or ids (the recipe universe; votes may only use these);
    votes: Vote objects or vote dicts; features_by_recipe_id: id -> feature row;
    embedder_name: recorded in the trained models (metadata only).
    """
    t0 = time.perf_counter()
    settings = settings or DEFAULT_SETTINGS
    if protocol not in PROTOCOLS:
        raise InvalidInput(f"unknown protocol {protocol!r}; use one of {', '.join(PROTOCOLS)}")
    if selection not in SELECTIONS:
        raise InvalidInput(f"unknown selection {selection!r}; use one of {', '.join(SELECTIONS)}")
    if selection == "active" and protocol != "seen":
        raise InvalidInput("active selection is defined for the seen protocol only")
    if protocol == "seen" and labels < 1:
        raise InvalidInput(f"labels must be at least 1, got {labels}")
    ids = [r if isinstance(r, str) else r.id for r in recipes]
    ids = [i for i in dict.fromkeys(ids) if i in features_by_recipe_id]
    index = {rid: k for k, rid in enumerate(ids)}
    X = np.stack([np.asarray(features_by_recipe_id[i], np.float64) for i in ids]) if ids else np.zeros((0, 0))
    rng = np.random.default_rng(seed)
    va = vote_arrays(votes, index, rng)
    R = len(ids)
    trainer = _Trainer(X, va, seed, settings, embedder_name)

    per_user: list[dict] = []
    totals = {"n": 0, "correct": 0, "ties": 0, "pop": 0, "uib": 0, "rand_same": 0}
    skipped: list[str] = []
    n_users = len(va.users)
    for u, name in enumerate(va.users):
        urng = np.random.default_rng([seed, u])
        split = split_user_votes(va, u, protocol, labels, selection, urng, R)
        if split is None:
            skipped.append(name)
            continue
        train, test, pool = split
        te_ia, te_ib, te_y = va.ia[test], va.ib[test], va.y[test]
        others = np.flatnonzero(va.user != u)
        s_popularity = item_bradley_terry(R, va.ia[others], va.ib[others], va.y[others], settings.baseline_l2)
        s_uib = item_bradley_terry(R, va.ia[train], va.ib[train], va.y[train], settings.baseline_l2)
        population = trainer.population(u)
        rand_correct = None
        if selection == "active":
            chosen = trainer.simulate_active(population, pool, labels, urng)
            scores, fell_back = trainer.scores(population, chosen)
            s_rand, _ = trainer.scores(population, train)
            rand_correct, _ = _strict(s_rand, te_ia, te_ib, te_y)
            n_train = len(chosen)
        else:
            scores, fell_back = trainer.scores(population, train)
            n_train = len(train)
        correct, ties = _strict(scores, te_ia, te_ib, te_y)
        pop_correct, _ = _strict(s_popularity, te_ia, te_ib, te_y)
        uib_correct, _ = _strict(s_uib, te_ia, te_ib, te_y)
        n = len(test)
        row = {"user": name, "train_pairs": int(n_train), "test_pairs": int(n),
               "accuracy": correct / n, "tie_rate": ties / n,
               "popularity": pop_correct / n, "user_item_bt": uib_correct / n,
               "scored_by": "population" if fell_back else "personal"}
        if rand_correct is not None:
            row["accuracy_random_same_split"] = rand_correct / n
            totals["rand_same"] += rand_correct
        per_user.append(row)
        for key, val in (("n", n), ("correct", correct), ("ties", ties), ("pop", pop_correct),
                         ("uib", uib_correct)):
            totals[key] += val
        if on_progress:
            on_progress(u + 1, n_users, f"evaluated user {name}")

    n = totals["n"]
    low, high = wilson_interval(totals["correct"], n)
    acc = (lambda c: c / n if n else float("nan"))
    result = {
        "protocol": protocol,
        "labels": labels if protocol == "seen" else None,
        "selection": selection,
        "seed": seed,
        "users": len(per_user),
        "skipped_users": skipped,
        "recipes": R,
        "test_pairs": n,
        "accuracy": acc(totals["correct"]),
        "accuracy_low": low,
        "accuracy_high": high,
        "tie_rate": acc(totals["ties"]),
        "accuracy_user_mean": float(np.mean([r["accuracy"] for r in per_user])) if per_user else float("nan"),
        "baselines": {"popularity": acc(totals["pop"]), "user_item_bt": acc(totals["uib"])},
        "settings": {**settings.to_dict(), "population_prior": trainer.prior_kind},
        "per_user": per_user,
    }
    if selection == "active":
        result["accuracy_random_same_split"] = acc(totals["rand_same"])
    result["seconds"] = time.perf_counter() - t0
    return result


class _Trainer:
    """The app's trainer on the evaluation's recipes: population models (leave one user out)
    and personal models, both by `train_reward_model`."""

    def __init__(self, X: np.ndarray, va: VoteArrays, seed: int, settings: ModelSettings, embedder_name: str):
        self.X = np.asarray(X, np.float32)
        self.va, self.seed, self.settings, self.embedder_name = va, seed, settings, embedder_name
        self.emb_dim = self.X.shape[1] - len(FEATURE_NAMES) if self.X.ndim == 2 else -1
        self.prior_kind = "heuristic" if self.emb_dim >= 0 else "zero"
        self.pop_cfg = TrainConfig(**{**settings.population.to_dict(), "seed": seed, "members": 1, "val_split": 0.0})
        self.user_cfg = TrainConfig(**{**settings.personal.to_dict(), "seed": seed})
        self.recipe_ids = [str(i) for i in range(len(self.X))]

    def _pairs(self, rows: np.ndarray, with_ids: bool = False):
        va = self.va
        rows = np.asarray(rows, np.int64)
        outcomes = ["a" if v == 1.0 else "b" if v == 0.0 else "tie" for v in va.y[rows]]
        much = va.much[rows] if va.much is not None else np.zeros(len(rows), dtype=bool)
        return make_pairs(self.X[va.ia[rows]], self.X[va.ib[rows]], outcomes,
                          ["much" if m else None for m in much],
                          [str(i) for i in va.ia[rows]] if with_ids else None,
                          [str(i) for i in va.ib[rows]] if with_ids else None)

    def _heuristic(self) -> RewardModel:
        if self.emb_dim >= 0:
            return heuristic_model(self.embedder_name, self.emb_dim)
        return RewardModel.new(self.X.shape[1], 1, self.embedder_name, FEATURE_SPEC)

    def population(self, u: int) -> RewardModel:
        """`Lab._fit_population` on every other user's votes (the heuristic when too few)."""
        pairs = self._pairs(np.flatnonzero(self.va.user != u))
        prior = self._heuristic()
        if pairs.n_decisive < self.pop_cfg.min_decisive:
            return prior
        return train_reward_model(pairs, self.embedder_name, FEATURE_SPEC, self.pop_cfg, prior=prior).model

    def model(self, population: RewardModel, train: np.ndarray, members: int | None = None
              ) -> tuple[RewardModel, bool]:
        """The personal model on these training votes, or (population, True) when too few."""
        cfg = self.user_cfg if members is None else TrainConfig(**{**self.user_cfg.to_dict(), "members": members})
        try:
            return train_reward_model(self._pairs(train, with_ids=True), self.embedder_name, FEATURE_SPEC, cfg,
                                      prior=population).model, False
        except NotEnoughVotes:
            return population, True

    def scores(self, population: RewardModel, train: np.ndarray) -> tuple[np.ndarray, bool]:
        model, fell_back = self.model(population, train, members=1)  # member 0 alone gives the score
        return model.score(self.X, self.recipe_ids)[0], fell_back

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


# ----------------------------------------------------------------------------- files


def recipe_features(recipes: Sequence[Any], embedder: Any,
                    on_progress: Progress | None = None) -> dict[str, np.ndarray]:
    """id -> [embedding | explicit features] (no pantry) for each recipe."""
    from pantry.model.features import feature_matrix

    if not recipes:
        return {}
    emb = embedder.encode([r.text for r in recipes], on_progress=on_progress)
    feats = feature_matrix(emb, recipes)
    return {r.id: feats[k] for k, r in enumerate(recipes)}


def evaluate_files(recipes_path: str | os.PathLike, votes_path: str | os.PathLike, protocol: str = "seen",
                   labels: int = 25, selection: str = "random", seed: int = 0,
                   on_progress: Progress | None = None, embedder: Any = None,
                   settings: ModelSettings | None = None) -> dict:
    """Read a recipes file and a votes file, embed the voted recipes, run `evaluate`."""
    from pantry.storage.jsonl import read_recipes_file

    t0 = time.perf_counter()
    recipes = {r.id: r for r in read_recipes_file(recipes_path)}
    from pantry.storage.jsonl import read_votes_file

    votes, inline = read_votes_file(votes_path)
    for r in inline:
        recipes.setdefault(r.id, r)
    used = {x for v in votes for x in (v.a, v.b)}
    missing = sorted(used - set(recipes))
    if missing:
        raise InvalidInput(f"{len(missing)} recipe id(s) in {Path(votes_path).name} are not in "
                           f"{Path(recipes_path).name}: {', '.join(missing[:5])}")
    voted = [r for rid, r in recipes.items() if rid in used]
    if embedder is None:
        from pantry.model.embedding import Embedder
        from pantry.settings import DEFAULT_EMBEDDER

        embedder = Embedder(os.environ.get("PANTRY_EMBEDDER") or DEFAULT_EMBEDDER)
    t_embed = time.perf_counter()
    features = recipe_features(voted, embedder, on_progress)
    embed_seconds = time.perf_counter() - t_embed
    name = getattr(embedder, "name", type(embedder).__name__)
    result = evaluate(voted, votes, features, protocol, labels, selection, seed, on_progress, settings,
                      embedder_name=name)
    result["embedding"] = name
    result["embed_seconds"] = embed_seconds
    result["seconds"] = time.perf_counter() - t0
    return result
