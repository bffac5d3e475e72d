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

Layering: evaluation/ may import model, domain, kitchen, generators and storage.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from pantry.base import ProgressFn
from pantry.errors import InvalidInput, NotEnoughVotes
from pantry.model.features import FEATURE_NAMES, FEATURE_SPEC
from pantry.model.reward import RewardModel, heuristic_model
from pantry.model.selection import choose_from_pairs
from pantry.model.training import (POPULATION_CONFIG, TrainConfig, fit_bradley_terry, make_pairs, strict_counts,
                                   train_reward_model, wilson_interval)

PROTOCOLS = ("seen", "unseen", "cold")
SELECTIONS = ("random", "active")
MIN_TEST = 20  # seen: a user needs K + MIN_TEST decisive votes
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


def item_bradley_terry(n_recipes: int, ia: np.ndarray, ib: np.ndarray, y: np.ndarray, l2: float) -> np.ndarray:
    """Scores of a Bradley-Terry model over recipe ids (a baseline): one score per recipe.

    The MAP fit of `sum_k bt_loss(s[ia_k] - s[ib_k], y_k) + l2 * |s|^2` (the objective of
    `training.fit_bradley_terry` over one-hot recipe rows) over the recipes the votes use;
    a recipe without a vote scores exactly 0, its prior mean. Newton's method with
    fit_bradley_terry's step halving and stopping rule; each step's system (the pairs'
    graph Laplacian weighted by p(1-p), plus 2*l2) is solved densely for a user's few
    recipes and by conjugate gradients for many (popularity). Over thousands of recipes a
    dense identity made every step a 3,000^3 product and the sparse direct solve fills in
    (19 s a fold at 1,000 raters); scipy.sparse's set-up per step cost a user's few
    recipes 10 ms a fit.
    """
    ia, ib = np.asarray(ia, np.int64), np.asarray(ib, np.int64)
    out = np.zeros(n_recipes)
    if not len(ia):
        return out
    used, inverse = np.unique(np.concatenate([ia, ib]), return_inverse=True)
    inverse = inverse.reshape(-1)
    out[used] = _item_bt_newton(len(used), inverse[:len(ia)], inverse[len(ia):], np.asarray(y, np.float64), l2)
    return out


ITEM_BT_DENSE = 300  # recipes up to which a Newton step is a dense solve (above: conjugate gradients)


def _item_bt_newton(k: int, ia: np.ndarray, ib: np.ndarray, y: np.ndarray, l2: float,
                    tol: float = 1e-10, max_iter: int = 100) -> np.ndarray:
    """`item_bradley_terry`'s objective over k recipes (see there); the Hessian is positive
    definite with l2 > 0, so both solves are well defined."""
    from scipy.special import expit

    if l2 <= 0:
        raise ValueError("the item model needs a positive l2 (a proper prior)")
    c = np.zeros(k)
    dense = k <= ITEM_BT_DENSE

    def objective(v: np.ndarray) -> float:
        d = v[ia] - v[ib]
        return float(np.sum(y * np.logaddexp(0.0, -d) + (1 - y) * np.logaddexp(0.0, d)) + l2 * v @ v)

    obj = objective(c)
    for _ in range(max_iter):
        p = expit(c[ia] - c[ib])
        r = p - y  # d loss / d d
        h = p * (1 - p)
        grad = np.bincount(ia, r, k) - np.bincount(ib, r, k) + 2 * l2 * c
        if dense:
            hess = np.zeros((k, k))
            np.add.at(hess, (ia, ib), -h)
            hess += hess.T
            hess[np.diag_indices(k)] += np.bincount(ia, h, k) + np.bincount(ib, h, k) + 2 * l2
            step = np.linalg.solve(hess, grad)
        else:
            from scipy.sparse import coo_matrix, diags
            from scipy.sparse.linalg import cg
            lap = coo_matrix((np.concatenate([h, h, -h, -h]), (np.concatenate([ia, ib, ia, ib]),
                              np.concatenate([ia, ib, ib, ia]))), shape=(k, k)).tocsr()
            step, _ = cg(lap + diags(np.full(k, 2 * l2)), grad, rtol=1e-12, atol=0.0, maxiter=10 * k)
        t = 1.0
        while True:
            cand = c - t * step
            obj_cand = objective(cand)
            if obj_cand <= obj + 1e-12 * max(1.0, abs(obj)) or t < 1e-6:
                break
            t *= 0.5
        c = cand
        done = obj - obj_cand <= tol * max(1.0, abs(obj)) or float(np.max(np.abs(t * step))) < 1e-12
        obj = obj_cand
        if done:
            break
    return c


# ----------------------------------------------------------------------------- data


@dataclass
class VoteArrays:
    users: list[str]
    user: np.ndarray  # (n,) user index
    ia: np.ndarray  # recipe index of a (after orientation shuffle)
    ib: np.ndarray
    y: np.ndarray  # 1 a won, 0 b won, 0.5 tie
    decisive: np.ndarray
    much: np.ndarray | None = None  # strength "much" (the score margin)
    flip: np.ndarray | None = None  # True where a and b were swapped from the file's order

    def file_order(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ia, ib, y) of `rows` in the votes' own orientation (the same for every seed)."""
        ia, ib, y = self.ia[rows], self.ib[rows], self.y[rows]
        if self.flip is None:
            return ia, ib, y
        f = self.flip[rows]
        return np.where(f, ib, ia), np.where(f, ia, ib), np.where(f, 1.0 - y, y)


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
    return VoteArrays(list(users), user, ia, ib, y, y != 0.5, np.array(much, dtype=bool), flip)


def cold_held_out(va: VoteArrays, n_recipes: int, seed: int) -> np.ndarray:
    """`cold`: a boolean mask over recipes, a seeded third of every recipe any vote uses."""
    voted = np.unique(np.concatenate([va.ia, va.ib])) if len(va.ia) else np.zeros(0, np.int64)
    held = np.random.default_rng([seed, 12]).permutation(voted)[: int(round(len(voted) / 3))]
    mask = np.zeros(n_recipes, dtype=bool)
    mask[held] = True
    return mask


def untouched(va: VoteArrays, rows: np.ndarray, held: np.ndarray) -> np.ndarray:
    """The votes among `rows` with neither recipe in the `held` mask."""
    return rows[~held[va.ia[rows]] & ~held[va.ib[rows]]]


def split_user_votes(va: VoteArrays, u: int, protocol: str, labels: int, selection: str,
                     rng: np.random.Generator, n_recipes: int, ties: bool = True,
                     held: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
    """(train, test, pool) vote indices of user `u` under the protocol, or None to skip the user.

    seen/random: the user's decisive votes shuffled; train = first K, test = the rest.
    seen/active: shuffled decisive votes split once: test = the last half (at least
        MIN_TEST), pool = the rest (the selection rule picks K from it); train = the first
        K of the pool (the random reference on the same split).
    unseen: a third of the user's recipes held out; train = votes (ties included when
        `ties`) with neither recipe held out; test = decisive votes between two held-out
        recipes; pool is None.
    cold: as unseen, but the held-out recipes are `held` (`cold_held_out`, one mask for
        every user) instead of a third of this user's recipes.
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
    if protocol == "cold":
        if held is None:
            raise ValueError("the cold protocol needs the held-out recipe mask (cold_held_out)")
        held_mask = held
    else:
        voted = np.unique(np.concatenate([va.ia[mine], va.ib[mine]]))
        held_ids = rng.permutation(voted)[: int(round(len(voted) / 3))]
        held_mask = np.zeros(n_recipes, dtype=bool)
        held_mask[held_ids] = True
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


def user_folds(n_users: int, folds: int, seed: int) -> np.ndarray:
    """Fold index per user: `folds` seeded, balanced folds of users, or one user per fold
    (leave-one-user-out) when `folds` is 0 or at least the number of users."""
    if folds <= 0 or folds >= n_users:
        return np.arange(n_users, dtype=np.int64)
    perm = np.random.default_rng([seed, 41]).permutation(n_users)
    out = np.empty(n_users, np.int64)
    out[perm] = np.arange(n_users) % folds
    return out


def sample_users(n_users: int, users: int | None, seed: int) -> np.ndarray:
    """The test users' indices: all of them, or a seeded sample of `users` (sorted)."""
    if users is None or users >= n_users:
        return np.arange(n_users, dtype=np.int64)
    if users < 1:
        raise InvalidInput(f"users must be at least 1, got {users}")
    return np.sort(np.random.default_rng([seed, 43]).choice(n_users, size=users, replace=False))


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

    def trainer(self, cache: EvalCache | None = None) -> "_Trainer":
        return _Trainer(self.X, self.va, self.seed, self.settings, self.embedder_name,
                        cache if cache is not None else EvalCache())


def _population_rows(va: VoteArrays, fold_of: np.ndarray, fold: int, held: np.ndarray | None) -> np.ndarray:
    """The votes a fold's population is fitted on: every user outside the fold (and, in
    `cold`, none touching a held-out recipe)."""
    rows = np.flatnonzero(fold_of[va.user] != fold)
    return untouched(va, rows, held) if held is not None else rows


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


# One evaluation's context inside a worker process (set by `_worker_init`, read by the job
# functions). A process-pool worker serves one `evaluate` call and is then shut down, so
# nothing here outlives it or is shared between callers.
_WORKER: dict[str, Any] = {}


def _worker_init(run: _Run) -> None:
    try:  # one BLAS thread per worker process: the workers already fill the cores
        from threadpoolctl import threadpool_limits
        _WORKER["limits"] = threadpool_limits(1)
    except ImportError:  # pragma: no cover - scikit-learn brings threadpoolctl
        pass
    _WORKER["run"] = run
    _WORKER["trainer"] = run.trainer()


def _fold_job(fold: int, rows: np.ndarray, want_popularity: bool) -> tuple[int, tuple, np.ndarray | None]:
    trainer = _WORKER["trainer"]
    return fold, trainer.population(rows), trainer.popularity(rows) if want_popularity else None


def _users_job(items: list[tuple[int, tuple]], population: RewardModel, s_population: np.ndarray,
               s_popularity: np.ndarray | None) -> list[tuple[int, dict, dict, int]]:
    run, trainer = _WORKER["run"], _WORKER["trainer"]
    return [(u, *_evaluate_user(run, trainer, u, split, population, s_population, s_popularity))
            for u, split in items]


def _pool(workers: int, run: _Run):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn: a fresh interpreter per worker (no inherited threads of an encoder or a server)
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_worker_init, initargs=(run,))


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
    trainer = _Trainer(X, va, seed, settings, embedder_name, cache if cache is not None else EvalCache())
    cache_before = trainer.cache.stats()
    held = cold_held_out(va, R, seed) if protocol == "cold" else None
    s_heuristic = trainer.heuristic_scores()
    run = _Run(trainer.X, va, seed, settings, embedder_name, protocol, labels, selection, held, s_heuristic)

    names = ["pantry", "population"] + (["heuristic"] if s_heuristic is not None else [])
    if protocol != "cold":
        names += ["popularity", "user_item_bt"]
    if selection == "active":
        names.append("random_same_split")

    n_all = len(va.users)
    fold_of = user_folds(n_all, folds, seed)
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


def unavailable_baselines(protocol: str, heuristic: bool = True) -> dict[str, str]:
    """Baselines a protocol cannot have, with the reason (reported instead of a number)."""
    out = {}
    if protocol == "cold":
        out["popularity"] = ("not available by construction: nobody's training data has a vote on a "
                             "held-out recipe, so every test pair would tie")
        out["user_item_bt"] = "not available by construction: the user has no training vote on a test recipe"
    if not heuristic:
        out["heuristic"] = "needs [embedding | explicit features] rows (features.FEATURE_NAMES last)"
    return out


# ----------------------------------------------------------------------------- seeds


def seed_interval(values: Sequence[float], confidence: float = 0.95) -> dict:
    """Mean of per-seed accuracies with a t interval from their spread (N-1 degrees of freedom).

    One seed has no spread: low/high are None. Returns mean, low, high, sd, n, per_seed.
    """
    from scipy.stats import t as student_t

    v = np.asarray(list(values), np.float64)
    out = {"mean": float(v.mean()) if len(v) else float("nan"), "low": None, "high": None, "sd": None,
           "n": int(len(v)), "per_seed": [float(x) for x in v]}
    if len(v) >= 2:
        sd = float(v.std(ddof=1))
        half = float(student_t.ppf(0.5 + confidence / 2, len(v) - 1)) * sd / np.sqrt(len(v))
        out.update(sd=sd, low=out["mean"] - half, high=out["mean"] + half)
    return out


def summarise_seeds(runs: Sequence[dict], confidence: float = 0.95) -> dict:
    """One result over several seeds' `evaluate` results (the same protocol, K and selection)."""
    if not runs:
        raise InvalidInput("no runs to summarise")
    first = runs[0]
    project = seed_interval([r["accuracy"] for r in runs], confidence)
    baselines = {k: seed_interval([r["baselines"][k] for r in runs], confidence) for k in first["baselines"]}
    if "accuracy_random_same_split" in first:
        baselines["random_same_split"] = seed_interval([r["accuracy_random_same_split"] for r in runs], confidence)
    return {
        "protocol": first["protocol"], "labels": first["labels"], "selection": first["selection"],
        "seeds": [r["seed"] for r in runs],
        "interval": f"{confidence:.0%} t interval over the per-seed accuracies (N-1 degrees of freedom)",
        "users": first["users"], "users_per_seed": [r["users"] for r in runs], "recipes": first["recipes"],
        "test_pairs": int(sum(r["test_pairs"] for r in runs)),  # pooled over seeds
        "test_pairs_per_seed": [r["test_pairs"] for r in runs],
        "accuracy": project["mean"], "accuracy_low": project["low"], "accuracy_high": project["high"],
        "accuracy_per_seed": project["per_seed"],
        "project": project,
        "baselines": baselines,
        "unavailable": first["unavailable"],
        "tie_rate": float(np.mean([r["tie_rate"] for r in runs])),
        "settings": first["settings"],
        "runs": list(runs),
    }


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


class _Trainer:
    """The app's trainer on the evaluation's recipes: population models (on every user
    outside the test user's fold) and personal models, both by `train_reward_model`."""

    def __init__(self, X: np.ndarray, va: VoteArrays, seed: int, settings: ModelSettings, embedder_name: str,
                 cache: EvalCache):
        self.X = np.asarray(X, np.float32)
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
        return make_pairs(self.X[ia], self.X[ib], outcomes, np.where(much, "much", None).tolist(),
                          [self.recipe_ids[i] for i in ia] if with_ids else None,
                          [self.recipe_ids[i] for i in ib] if with_ids else None, row_a=ia, row_b=ib)

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
        pairs = self._pairs(rows, file_order=True)
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

    def model(self, population: RewardModel, train: np.ndarray, members: int | None = None
              ) -> tuple[RewardModel, bool]:
        """The personal model on these training votes, or (population, True) when too few."""
        cfg = self.user_cfg if members is None else TrainConfig(**{**self.user_cfg.to_dict(), "members": members})
        try:
            return train_reward_model(self._pairs(train, with_ids=True), self.embedder_name, FEATURE_SPEC, cfg,
                                      prior=population).model, False
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
