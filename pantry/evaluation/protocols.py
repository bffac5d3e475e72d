"""Offline evaluation protocols on vote files (docs/ARCHITECTURE.md, "Evaluation protocols").

Strict pairwise accuracy on decisive held-out votes (a tied score counts as wrong); the
orientation of every pair (which recipe is `a`) is randomised by the seed. Other users'
votes may always be used (the population prior); the test user's held-out votes never.

- `seen`, K labels: per user with at least K+20 decisive votes, shuffle them (seed), train
  on the first K, test on the rest.
- `unseen`: per user, hold out a third of the recipes the user voted on (seed); train on the
  user's votes among the other recipes (ties as y = 0.5); test on the decisive votes between
  two held-out recipes.
- `cold`: a third of ALL the recipes in the votes held out (seed), the same for every user:
  no training data (neither the test user's nor the population's) has a vote touching a
  held-out recipe, as a newly generated recipe in the app; train on each user's votes
  among the other recipes (ties as y = 0.5); test on the user's decisive votes between two
  held-out recipes.
- `selection="active"` (seen only) simulates the app's pair chooser (`selection.py`): each
  user's shuffled decisive votes are split once into a candidate pool and a test half; the
  next pair is picked from the unlabelled pool by the current model, its label revealed and
  the model refit, until K labels. The same split with the first K pool votes (random
  order) is reported alongside as `accuracy_random_same_split`, the fair comparison.

The project's model is the app's reward model, trained exactly as the app trains it
(`training.train_reward_model`, the one trainer): the users are split into `folds` seeded
folds (`user_folds`; 0 = one user per fold, leave-one-user-out as `Lab.train` does) and
for each fold a population model like `Lab._fit_population` (`POPULATION_CONFIG`, pulled
toward the pantry heuristic) on the votes of every user *outside* the fold, so a test
user's votes never reach their population, at one fit per fold instead of one per user;
then for each test user (all, or a seeded sample: `users`) the personal model on the
user's training votes (`ModelSettings.personal`, per-recipe offsets
included) pulled toward it; test pairs are scored with `RewardModel.score` (member 0). A
user whose training votes have fewer than `min_decisive` decisive ones is scored with the
population model, as the app would. Votes are featurised without their pantry (the
pantry columns are 0). Features laid out as `[embedding | explicit features]` get the
heuristic prior; with fewer columns than `features.FEATURE_NAMES` the population model is
pulled toward zero. Active selection uses the app's rule (`selection.choose_from_pairs`,
ensemble spread of the trained model), refitting after every `refit_every` labels.

Baselines from the same run: `population` (the test user's population model alone, no
personalisation), `heuristic` (`reward.heuristic_model`, the pantry heuristic the
population is pulled toward; only with the `[embedding | explicit features]` layout) and,
fitted on the objective of `training.fit_bradley_terry` over one-hot recipe ids
(`item_bradley_terry`), `popularity` (the other users' votes) and `user_item_bt` (the user's training votes;
recipes without a training vote score 0, so pairs of them tie and count wrong). In `cold`
nobody's training data has a vote on a test recipe, so popularity and user_item_bt are
unavailable by construction (listed with the reason under `unavailable`, not as numbers).

Seeds (`evaluate_seeds`): the protocol for each seed, then per model the mean of the
per-seed strict accuracies with a 95% t interval from their seed-to-seed spread (N-1
degrees of freedom), the per-seed values and the test pairs pooled over seeds. Fits are
cached by their exact set of training votes (`EvalCache`): the population model and the
popularity scores, fitted on the votes in their file orientation (the seed's orientation
flip leaves the Bradley-Terry objective unchanged). The folds are drawn per seed, so a
cache hit comes from another K or protocol of the same seed, or, with leave-one-user-out,
from any seed (in `seen` and `unseen`; `cold` changes the set with the held-out recipes).

Workers (`workers` > 1, from `PARALLEL_MIN_USERS` test users on): the fold fits, then
batches of test users, run in spawned processes that each receive the data once; the
result is the same as in one process (the per-user splits and generators are drawn in
the parent).

Modules: this one runs the protocols (`evaluate`, `evaluate_seeds`, `evaluate_files`);
`splits` holds the vote arrays and the splits, `fitting` the trainer, the cache and one
user's scoring, `baselines` the item Bradley-Terry baselines, `workers` the process pool,
`seeds` the summary over seeds. Their public names are importable from here too.

Layering: evaluation/ may import model, domain, kitchen, generators and storage.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from pantry.base import ProgressFn
from pantry.errors import InvalidInput
from pantry.evaluation.baselines import ITEM_BT_DENSE, item_bradley_terry, unavailable_baselines
from pantry.evaluation.fitting import EvalCache, _evaluate_user, _Run, _Trainer
from pantry.evaluation.seeds import seed_interval, summarise_seeds
from pantry.evaluation.splits import (MIN_TEST, VoteArrays, _population_rows, cold_held_out, sample_users,
                                      split_user_votes, untouched, user_folds, vote_arrays)
from pantry.evaluation.workers import _fold_job, _pool, _users_job
from pantry.model.training import POPULATION_CONFIG, TrainConfig, wilson_interval

__all__ = ["PROTOCOLS", "SELECTIONS", "MIN_TEST", "DEFAULT_FOLDS", "PARALLEL_MIN_USERS", "ITEM_BT_DENSE",
           "ModelSettings", "DEFAULT_SETTINGS", "EvalCache", "VoteArrays", "evaluate", "evaluate_seeds",
           "evaluate_files", "item_bradley_terry", "unavailable_baselines", "vote_arrays", "split_user_votes",
           "cold_held_out", "untouched", "user_folds", "sample_users", "seed_interval", "summarise_seeds",
           "recipe_features", "read_evaluation_data", "default_embedder"]

PROTOCOLS = ("seen", "unseen", "cold")
SELECTIONS = ("random", "active")
DEFAULT_FOLDS = 5  # user folds of the population models (0: leave one user out)


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


PARALLEL_MIN_USERS = 200  # below this, starting worker processes costs more than it saves


def evaluate(recipes: Sequence[Any], votes: Sequence[Any], features_by_recipe_id: Mapping[str, np.ndarray],
             protocol: str = "seen", labels: int = 25, selection: str = "random", seed: int = 0,
             on_progress: ProgressFn | None = None, settings: ModelSettings | None = None,
             embedder_name: str = "evaluation", cache: EvalCache | None = None, folds: int = DEFAULT_FOLDS,
             users: int | None = None, workers: int = 1) -> dict:
    """Run one protocol on in-memory data; see the module docstring. Returns a JSON-able dict.

    recipes: Recipe objects or ids (the recipe universe; votes may only use these);
    votes: Vote objects or vote dicts; features_by_recipe_id: id -> feature row;
    embedder_name: recorded in the trained models (metadata only); cache: reuse
    seed-independent fits from earlier runs (`evaluate_seeds` passes one);
    folds: user folds for the population models (0: leave one user out);
    users: test a seeded sample of this many users (None: all; the population still
    learns from every user outside the test user's fold); workers: processes for the
    population fits and the per-user fits (used from `PARALLEL_MIN_USERS` test users on).
    on_progress(done, total, message) is called per test user (per batch with workers).
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
    if folds < 0 or folds == 1:
        raise InvalidInput(f"folds must be 0 (leave one user out) or at least 2, got {folds}")
    if workers < 1:
        raise InvalidInput(f"workers must be at least 1, got {workers}")
    ids = [r if isinstance(r, str) else r.id for r in recipes]
    ids = [i for i in dict.fromkeys(ids) if i in features_by_recipe_id]
    index = {rid: k for k, rid in enumerate(ids)}
    X = np.stack([np.asarray(features_by_recipe_id[i], np.float64) for i in ids]) if ids else np.zeros((0, 0))
    rng = np.random.default_rng(seed)
    va = vote_arrays(votes, index, rng)
    R = len(ids)
    held = cold_held_out(va, R, seed) if protocol == "cold" else None
    n_all = len(va.users)
    fold_of = user_folds(n_all, folds, seed)
    trainer = _Trainer(X, va, seed, settings, embedder_name, cache if cache is not None else EvalCache(), held,
                       fold_of)
    cache_before = trainer.cache.stats()
    s_heuristic = trainer.heuristic_scores()
    run = _Run(trainer.X, va, seed, settings, embedder_name, protocol, labels, selection, held, s_heuristic,
               fold_of)

    names = ["pantry", "population"] + (["heuristic"] if s_heuristic is not None else [])
    if protocol != "cold":
        names += ["popularity", "user_item_bt"]
    if selection == "active":
        names.append("random_same_split")

    tested = sample_users(n_all, users, seed)
    skipped: list[str] = []
    by_fold: dict[int, list[tuple[int, tuple]]] = {}
    for u in tested:  # the same per-user split as leave-one-user-out: only the population differs
        urng = np.random.default_rng([seed, int(u)])
        split = split_user_votes(va, int(u), protocol, labels, selection, urng, R, held=held)
        if split is None:
            skipped.append(va.users[u])
        else:
            by_fold.setdefault(int(fold_of[u]), []).append((int(u), (*split, urng)))
    n_test = sum(len(v) for v in by_fold.values())
    done = 0
    results: dict[int, tuple[dict, dict, int]] = {}
    want_pop = protocol != "cold"

    def report(k: int, message: str) -> None:
        nonlocal done
        done += k
        if on_progress:
            on_progress(done, n_test, message)

    use_pool = workers > 1 and n_test >= PARALLEL_MIN_USERS
    if not use_pool:
        for f, items in sorted(by_fold.items()):
            rows = _population_rows(va, fold_of, f, held)
            population, s_population = trainer.population(rows)
            s_popularity = trainer.popularity(rows) if want_pop else None
            for u, split in items:
                results[u] = _evaluate_user(run, trainer, u, split, population, s_population, s_popularity)
                report(1, f"evaluated user {va.users[u]}")
    else:
        from concurrent.futures import as_completed

        fits: dict[int, tuple] = {}
        with _pool(workers, run) as pool:
            jobs = []
            for f in sorted(by_fold):  # population fits: from the cache, else one job per fold
                rows = _population_rows(va, fold_of, f, held)
                hit = trainer.cached_population(rows)
                if hit is not None and (not want_pop or trainer.cached_popularity(rows) is not None):
                    fits[f] = (hit, trainer.popularity(rows) if want_pop else None)
                else:
                    jobs.append((f, rows))
            futures = [pool.submit(_fold_job, f, rows, want_pop) for f, rows in jobs]
            for fut in as_completed(futures):
                f, pop, s_pop = fut.result()
                rows = dict(jobs)[f]
                trainer.store_population(rows, pop, s_pop)
                fits[f] = (pop, s_pop)
                if on_progress:
                    on_progress(done, n_test, f"population model of user fold {f + 1} fitted")
            batch = max(8, n_test // (workers * 20))  # ~20 batches per worker: even load, steady progress
            futures = []
            for f, items in sorted(by_fold.items()):
                (population, s_population), s_popularity = fits[f]
                for k in range(0, len(items), batch):
                    futures.append(pool.submit(_users_job, items[k:k + batch], population, s_population,
                                               s_popularity))
            for fut in as_completed(futures):
                out = fut.result()
                for u, row, counts, ties in out:
                    results[u] = (row, counts, ties)
                report(len(out), f"evaluated users up to {va.users[out[-1][0]]}")

    per_user: list[dict] = []
    totals = dict.fromkeys(["n", "ties", *names], 0)
    for u in sorted(results):  # user order, whatever order the workers finished in
        row, counts, ties = results[u]
        per_user.append(row)
        totals["n"] += row["test_pairs"]
        totals["ties"] += ties
        for k, c in counts.items():
            totals[k] += c

    n = totals["n"]
    low, high = wilson_interval(totals["pantry"], n)
    acc = (lambda c: c / n if n else float("nan"))
    result = {
        "protocol": protocol,
        "labels": labels if protocol == "seen" else None,
        "selection": selection,
        "seed": seed,
        "users": len(per_user),
        "skipped_users": skipped,
        "users_in_data": n_all,
        "folds": int(fold_of.max()) + 1 if n_all else 0,
        "recipes": R,
        "test_pairs": n,
        "accuracy": acc(totals["pantry"]),
        "accuracy_low": low,
        "accuracy_high": high,
        "tie_rate": acc(totals["ties"]),
        "accuracy_user_mean": float(np.mean([r["accuracy"] for r in per_user])) if per_user else float("nan"),
        "baselines": {k: acc(totals[k]) for k in names if k not in ("pantry", "random_same_split")},
        "unavailable": unavailable_baselines(protocol, s_heuristic is not None),
        "settings": {**settings.to_dict(), "population_prior": trainer.prior_kind},
        "workers": workers if use_pool else 1,
        "per_user": per_user,
    }
    if protocol == "cold":
        result["held_out_recipes"] = int(held.sum())
    if selection == "active":
        result["accuracy_random_same_split"] = acc(totals["random_same_split"])
    result["cache"] = {k: v - cache_before[k] for k, v in trainer.cache.stats().items()}  # this run's
    result["seconds"] = time.perf_counter() - t0
    return result


# ----------------------------------------------------------------------------- seeds


def evaluate_seeds(recipes: Sequence[Any], votes: Sequence[Any], features_by_recipe_id: Mapping[str, np.ndarray],
                   protocol: str = "seen", labels: int = 25, selection: str = "random",
                   seeds: Sequence[int] = range(5), on_progress: ProgressFn | None = None,
                   settings: ModelSettings | None = None, embedder_name: str = "evaluation",
                   cache: EvalCache | None = None, folds: int = DEFAULT_FOLDS, users: int | None = None,
                   workers: int = 1) -> dict:
    """`evaluate` for each seed (sharing one `EvalCache`), summarised by `summarise_seeds`."""
    t0 = time.perf_counter()
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise InvalidInput("give at least one seed")
    cache = cache if cache is not None else EvalCache()
    before = cache.stats()
    runs = []
    for k, s in enumerate(seeds):
        step = None
        if on_progress:
            def step(done: int, total: int, message: str, k: int = k, s: int = s) -> None:
                on_progress(k * total + done, len(seeds) * total, f"seed {s}: {message}")
        runs.append(evaluate(recipes, votes, features_by_recipe_id, protocol, labels, selection, s, step,
                             settings, embedder_name, cache, folds=folds, users=users, workers=workers))
    result = summarise_seeds(runs)
    after = cache.stats()
    result["cache"] = {k: after[k] - before[k] for k in after}
    result["seconds"] = time.perf_counter() - t0
    return result


# ----------------------------------------------------------------------------- files


def recipe_features(recipes: Sequence[Any], embedder: Any,
                    on_progress: ProgressFn | None = None) -> dict[str, np.ndarray]:
    """id -> [embedding | explicit features] (no pantry) for each recipe."""
    from pantry.model.features import feature_matrix

    if not recipes:
        return {}
    emb = embedder.encode([r.text for r in recipes], on_progress=on_progress)
    feats = feature_matrix(emb, recipes)
    return {r.id: feats[k] for k, r in enumerate(recipes)}


def read_evaluation_data(recipes_path: str | os.PathLike, votes_path: str | os.PathLike
                         ) -> tuple[list[Any], list[Any]]:
    """(the recipes the votes use, the votes) from a recipes file and a votes file."""
    from pantry.storage.jsonl import read_recipes_file, read_votes_file

    recipes = {r.id: r for r in read_recipes_file(recipes_path)}
    votes, inline = read_votes_file(votes_path)
    for r in inline:
        recipes.setdefault(r.id, r)
    used = {x for v in votes for x in (v.a, v.b)}
    missing = sorted(used - set(recipes))
    if missing:
        raise InvalidInput(f"{len(missing)} recipe id(s) in {Path(votes_path).name} are not in "
                           f"{Path(recipes_path).name}: {', '.join(missing[:5])}")
    return [r for rid, r in recipes.items() if rid in used], list(votes)


def default_embedder() -> Any:
    """The app's encoder (PANTRY_EMBEDDER) with the app's embedding cache (the store of
    PANTRY_HOME or PANTRY_DATABASE_URL), so a recipe embedded once, by the app or by an
    earlier evaluation, is never embedded again (3,000 recipes: 25 s on 2 cores, then none)."""
    from pantry.model.embedding import Embedder
    from pantry.settings import DEFAULT_EMBEDDER
    from pantry.storage.store import Store

    return Embedder(os.environ.get("PANTRY_EMBEDDER") or DEFAULT_EMBEDDER, cache=Store.open())


def evaluate_files(recipes_path: str | os.PathLike, votes_path: str | os.PathLike, protocol: str = "seen",
                   labels: int = 25, selection: str = "random", seed: int = 0,
                   on_progress: ProgressFn | None = None, embedder: Any = None,
                   settings: ModelSettings | None = None, seeds: int | None = None,
                   folds: int = DEFAULT_FOLDS, users: int | None = None, workers: int = 1) -> dict:
    """Read a recipes file and a votes file, embed the voted recipes (once), run `evaluate`.

    seeds=None: one run with `seed`; seeds=N: `evaluate_seeds` over seed .. seed+N-1 (the
    summary, with every run under "runs"); folds, users, workers: as `evaluate`.
    """
    t0 = time.perf_counter()
    voted, votes = read_evaluation_data(recipes_path, votes_path)
    embedder = embedder if embedder is not None else default_embedder()
    t_embed = time.perf_counter()
    features = recipe_features(voted, embedder, on_progress)
    embed_seconds = time.perf_counter() - t_embed
    name = getattr(embedder, "name", type(embedder).__name__)
    if seeds is None:
        result = evaluate(voted, votes, features, protocol, labels, selection, seed, on_progress, settings,
                          embedder_name=name, folds=folds, users=users, workers=workers)
    else:
        if seeds < 1:
            raise InvalidInput(f"seeds must be at least 1, got {seeds}")
        result = evaluate_seeds(voted, votes, features, protocol, labels, selection, range(seed, seed + seeds),
                                on_progress, settings, embedder_name=name, folds=folds, users=users,
                                workers=workers)
    result["embedding"] = name
    result["embed_seconds"] = embed_seconds
    result["seconds"] = time.perf_counter() - t0
    return result
