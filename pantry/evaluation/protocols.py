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

The project's model is the app's reward model: a linear Bradley-Terry head over
`[embedding | explicit features]`, an ensemble of bootstrap members, fitted with an L2 pull
toward the population model (here refitted without the test user, leave-one-user-out).
Optionally (`ModelSettings.user_item_var > 0`) each user also gets per-recipe offsets for
recipes they rated, L2-pulled toward 0; the population model may likewise have
per-recipe popularity offsets (`population_item_var`). See `ModelSettings` for values.

How it is fitted fast. The loss is the summed BT negative log-likelihood plus
`l2 * ||theta - theta_prior||^2`: a Gaussian prior of fixed precision, so the votes
outweigh it more as they accumulate (TrainConfig.l2 multiplies the *mean* loss instead). With an isotropic penalty the
optimum is `theta = theta_prior + X^T gamma` (representer theorem), so the whole fit runs
in recipe space: scores `s = s_prior + G gamma` with the kernel
`G = X X^T + item_var * I` over the evaluation's recipes, by Newton's method on
`gamma` (R x R solves, R = number of recipes). That is exactly the optimum of the same
linear model; the weights are recoverable as `w = w_prior + X^T gamma` (`linear_weights`).

Shared taste basis (optional, `taste_rank`): with a Gaussian prior of covariance
`Z diag(var) Z^T + G / (2 l2)` the same recipe-space fit applies with the kernel
`G + 2 l2 Z diag(var) Z^T`, so the low-rank part costs nothing in the fit itself; `Z`
and `var` come from the other users only (`taste_basis`).

Trainer (`trainer`). "exact" (default) is the recipe-space solver above. "app" measures
the trainer the app actually runs (`Lab.train`): for each test user the prior is a
population model trained like `Lab._fit_population` (`training.train_reward_model` with
`lab.POPULATION_CONFIG`, pulled toward `lab.heuristic_model`) on other users' votes, and the
personal model is `train_reward_model(<the user's training votes>, TrainConfig(seed=seed),
prior=population)`; test pairs are scored with `RewardModel.score` (member 0). To keep the
runtime sane the population model is trained once per *fold* of users (`APP_FOLDS`, users
assigned to folds by the seed), on the votes of every user outside the test user's fold:
still only other users' votes, just fewer of them than leave-one-user-out. Differences
from the app that remain: votes are featurised without their pantry (the pantry columns
are 0, as for the exact trainer), and a user whose training votes have fewer than
`TrainConfig.min_decisive` decisive ones is scored with the population model (the app
would refuse to train them and score with the population model too). Features must be
laid out as `[embedding | explicit features]` for the heuristic prior; with fewer columns
than `features.FEATURE_NAMES` the population model is pulled toward zero instead. Active
selection is simulated for the exact trainer only (one torch fit per label per user is
too slow).

Baselines from the same run: `popularity` (Bradley-Terry over recipe ids from the other
users' votes) and `user_item_bt` (Bradley-Terry over recipe ids from the user's training
votes; recipes without a training vote score 0, so pairs of them tie and count wrong).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from pantry.evaluation.diagnostics import wilson_interval
from pantry.errors import InvalidInput
from pantry.model.selection import choose_from_pairs, integrated_variance_reduction

PROTOCOLS = ("seen", "unseen")
SELECTIONS = ("random", "active")
TRAINERS = ("exact", "app")
APP_FOLDS = 3  # trainer "app": population models per run (one per fold of users)
MIN_TEST = 20  # seen: a user needs K + MIN_TEST decisive votes

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class ModelSettings:
    """How the project's model is fitted in evaluation.

    Losses are *summed* over pairs, so an l2 here is the precision of a Gaussian prior
    (TrainConfig.l2, applied to the mean loss, corresponds to `l2 / n_pairs`).
    population_l2: pull of the population head toward 0 (fitted on other users' votes).
    user_l2: pull of a user's head toward the population head.
    population_item_var / user_item_var: prior variance of per-recipe offsets (0 = none),
        relative to the head's (an offset costs `l2 / item_var * offset^2`).
    members: ensemble size (bootstrap resamples of the user's pairs).
    ties: train on tie votes as y = 0.5 (never tested: ties are not decisive).
    method, random_share, refit_every: active selection (see selection.py); method may also
        be "integrated" (V-optimal: expected drop of the summed variance of all pair
        differences among the user's candidate recipes, `integrated_variance_reduction`).
    taste_rank: > 0 adds a low-rank "shared taste basis" to the user's prior (`taste_basis`):
        the top principal directions of the other users' deviations from the population,
        each with the other users' variance along it (empirical Bayes), on top of the
        full-rank prior. 0 (default) = off: on giallozafferano-dev it changed accuracy by
        at most +0.01 (see bench/learning_curves.py and the report of the task).
    taste_space: "features" (weight vectors, other users fitted content-only) or "items"
        (pairwise-complete covariance of their score deviations: collaborative; worse).
    taste_scale: multiplies the estimated variances (1 = the empirical-Bayes estimate).
    """

    population_l2: float = 1.0
    user_l2: float = 1.0
    population_item_var: float = 0.0
    user_item_var: float = 10.0
    members: int = 5
    ties: bool = True
    baseline_l2: float = 0.1
    method: str = "information"
    random_share: float = 0.2
    refit_every: int = 1
    taste_rank: int = 0
    taste_space: str = "features"
    taste_scale: float = 1.0

    def to_dict(self) -> dict:
        return asdict(self)


DEFAULT_SETTINGS = ModelSettings()


# ----------------------------------------------------------------------------- fitting


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _bt_objective(s: np.ndarray, gamma: np.ndarray, G: np.ndarray, ia, ib, y, w, l2: float) -> float:
    d = s[ia] - s[ib]
    nll = np.sum(w * (y * np.logaddexp(0.0, -d) + (1 - y) * np.logaddexp(0.0, d)))
    return float(nll + l2 * gamma @ (G @ gamma))


def fit_scores(G: np.ndarray, s0: np.ndarray, ia: np.ndarray, ib: np.ndarray, y: np.ndarray,
               l2: float, weight: np.ndarray | None = None, iters: int = 50,
               tol: float = 1e-9) -> tuple[np.ndarray, np.ndarray]:
    """Fit a Bradley-Terry model in recipe space; return (scores, gamma).

    Minimises `sum_k weight_k * bt_loss(s[ia_k] - s[ib_k], y_k) + l2 * gamma^T G gamma`
    with `s = s0 + G gamma`: a linear head over features X (G = X X^T + item_var I)
    pulled toward the prior whose scores are s0. Newton's method with step halving.
    """
    R = len(s0)
    ia = np.asarray(ia, np.int64)
    ib = np.asarray(ib, np.int64)
    y = np.asarray(y, np.float64)
    w = np.ones(len(y)) if weight is None else np.asarray(weight, np.float64)
    gamma = np.zeros(R)
    s = np.asarray(s0, np.float64).copy()
    if len(y) == 0:
        return s, gamma
    eye = np.eye(R)
    obj = _bt_objective(s, gamma, G, ia, ib, y, w, l2)
    for _ in range(iters):
        d = s[ia] - s[ib]
        p = _sigmoid(d)
        r = w * (p - y)
        h = w * p * (1 - p)
        g = np.bincount(ia, r, R) - np.bincount(ib, r, R) + 2 * l2 * gamma
        lap = (np.bincount(ia * R + ia, h, R * R) + np.bincount(ib * R + ib, h, R * R)
               - np.bincount(ia * R + ib, h, R * R) - np.bincount(ib * R + ia, h, R * R)).reshape(R, R)
        step = np.linalg.solve(lap @ G + 2 * l2 * eye, g)
        t = 1.0
        while True:
            cand = gamma - t * step
            s_cand = s0 + G @ cand
            obj_cand = _bt_objective(s_cand, cand, G, ia, ib, y, w, l2)
            if obj_cand <= obj + 1e-12 or t < 1e-4:
                break
            t *= 0.5
        gamma, s = cand, s_cand
        done = obj - obj_cand < tol * max(1.0, abs(obj))
        obj = obj_cand
        if done or np.max(np.abs(t * step)) < tol:
            break
    return s, gamma


def linear_weights(features: np.ndarray, gamma: np.ndarray, prior_weights: np.ndarray | None = None) -> np.ndarray:
    """The head's weight vector `w_prior + X^T gamma` for a recipe-space fit (no item offsets)."""
    w = np.asarray(features, np.float64).T @ gamma
    return w if prior_weights is None else prior_weights + w


def posterior_score_cov(G: np.ndarray, l2: float, ia, ib, scores: np.ndarray) -> np.ndarray:
    """Laplace approximation of the (R, R) posterior covariance of the scores.

    The L2 penalty is a Gaussian prior with covariance `G / (2 l2)` on the scores (around
    the prior's); each vote adds Fisher information p(1-p) along its pair difference.
    """
    R = len(scores)
    k0 = G / (2 * l2)
    ia, ib = np.asarray(ia, np.int64), np.asarray(ib, np.int64)
    if len(ia) == 0:
        return k0
    p = _sigmoid(scores[ia] - scores[ib])
    h = p * (1 - p)
    lap = (np.bincount(ia * R + ia, h, R * R) + np.bincount(ib * R + ib, h, R * R)
           - np.bincount(ia * R + ib, h, R * R) - np.bincount(ib * R + ia, h, R * R)).reshape(R, R)
    return k0 - k0 @ np.linalg.solve(np.eye(R) + lap @ k0, lap @ k0)


def fit_ensemble(G: np.ndarray, s0: np.ndarray, ia, ib, y, l2: float, members: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(scores, member_scores): the fit on all pairs (R,), and (members, R) bootstrap fits.

    The score used for ranking is the fit on all pairs: with few votes a bootstrap
    resample leaves out about a third of them (and with them what was learnt about those
    recipes), so the mean of bootstrap members is measurably worse (see the module
    docstring). The members measure uncertainty (selection, "how sure").
    """
    ia, ib, y = np.asarray(ia), np.asarray(ib), np.asarray(y)
    n = len(y)
    full, _ = fit_scores(G, s0, ia, ib, y, l2)
    if members <= 1 or n == 0:
        return full, full[None, :]
    out = []
    for _ in range(members):
        counts = np.bincount(rng.integers(0, n, n), minlength=n).astype(np.float64)
        s, _ = fit_scores(G, s0, ia, ib, y, l2, weight=counts)
        out.append(s)
    return full, np.stack(out)


def taste_basis(G: np.ndarray, s0: np.ndarray, ia, ib, y, user, l2: float, rank: int,
                features: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A low-rank basis of taste variation learnt from other users' votes.

    Each user in `user` is fitted on all their votes like a test user would be (kernel G,
    prior scores s0, pull l2); their deviations from the prior -- weight vectors
    `X^T gamma` when `features` is given, else score vectors over the recipes -- are
    centred and stacked, and their top `rank` principal directions kept. Returns
    (Z, var, basis): Z (R, k) the directions as score vectors over the recipes, var (k,)
    the users' variance along each (the empirical-Bayes prior variance of a user's
    coefficient), basis (F, k) or (R, k) the unit directions themselves.
    """
    ia, ib, y, user = (np.asarray(a) for a in (ia, ib, y, user))
    devs = []
    R = len(s0)
    masks = []
    for v in np.unique(user):
        m = user == v
        s, gamma = fit_scores(G, s0, ia[m], ib[m], y[m], l2)
        if features is not None:
            devs.append(np.asarray(features, np.float64).T @ gamma)
        else:  # only the recipes the user voted on, centred (BT scores have no origin)
            seen = np.zeros(R, dtype=bool)
            seen[ia[m]] = seen[ib[m]] = True
            d = np.where(seen, s - s0, 0.0)
            d[seen] -= d[seen].mean()
            devs.append(d)
            masks.append(seen)
    if features is None and len(devs) >= 2 and rank > 0:
        # pairwise-complete covariance of the users' score deviations, its top eigenpairs
        D, M = np.stack(devs), np.stack(masks).astype(np.float64)
        cov = (D.T @ D) / np.maximum(M.T @ M, 1.0)
        cov[(M.T @ M) < 2] = 0.0
        val, vec = np.linalg.eigh(cov)
        order = np.argsort(val)[::-1][:rank]
        val, vec = val[order], vec[:, order]
        keep = val > 0
        return vec[:, keep], val[keep], vec[:, keep]
    if len(devs) < 2 or rank <= 0:
        dim = R if features is None else np.asarray(features).shape[1]
        return np.zeros((R, 0)), np.zeros(0), np.zeros((dim, 0))
    D = np.stack(devs)
    D = D - D.mean(axis=0)
    _, S, Vt = np.linalg.svd(D, full_matrices=False)
    k = min(rank, len(S))
    var = S[:k] ** 2 / (len(D) - 1)
    basis = Vt[:k].T
    Z = np.asarray(features, np.float64) @ basis if features is not None else basis
    return Z, var, basis


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
    """(correct, ties) on decisive pairs: the winner must score strictly higher."""
    margin = np.where(y == 1.0, s[ia] - s[ib], s[ib] - s[ia])
    return int(np.sum(margin > 0)), int(np.sum(margin == 0))


# ----------------------------------------------------------------------------- protocols


def evaluate(recipes: Sequence[Any], votes: Sequence[Any], features_by_recipe_id: Mapping[str, np.ndarray],
             protocol: str = "seen", labels: int = 25, selection: str = "random", seed: int = 0,
             on_progress: Progress | None = None, settings: ModelSettings | None = None,
             trainer: str = "exact", embedder_name: str = "evaluation") -> dict:
    """Run one protocol on in-memory data; see the module docstring. Returns a JSON-able dict.

    recipes: Recipe objects or ids (the recipe universe; votes may only use these);
    votes: Vote objects or vote dicts; features_by_recipe_id: id -> feature row.
    trainer: "exact" (recipe-space solver) or "app" (the app's torch trainer);
    embedder_name: recorded in the app trainer's models (metadata only).
    """
    t0 = time.perf_counter()
    settings = settings or DEFAULT_SETTINGS
    if protocol not in PROTOCOLS:
        raise InvalidInput(f"unknown protocol {protocol!r}; use one of {', '.join(PROTOCOLS)}")
    if selection not in SELECTIONS:
        raise InvalidInput(f"unknown selection {selection!r}; use one of {', '.join(SELECTIONS)}")
    if selection == "active" and protocol != "seen":
        raise InvalidInput("active selection is defined for the seen protocol only")
    if trainer not in TRAINERS:
        raise InvalidInput(f"unknown trainer {trainer!r}; use one of {', '.join(TRAINERS)}")
    if trainer == "app" and selection == "active":
        raise InvalidInput("active selection simulation supports --trainer exact only")
    if protocol == "seen" and labels < 1:
        raise InvalidInput(f"labels must be at least 1, got {labels}")
    ids = [r if isinstance(r, str) else r.id for r in recipes]
    ids = [i for i in dict.fromkeys(ids) if i in features_by_recipe_id]
    index = {rid: k for k, rid in enumerate(ids)}
    X = np.stack([np.asarray(features_by_recipe_id[i], np.float64) for i in ids]) if ids else np.zeros((0, 0))
    rng = np.random.default_rng(seed)
    va = vote_arrays(votes, index, rng)
    R = len(ids)
    gram = X @ X.T
    g_pop = gram + settings.population_item_var * np.eye(R)
    g_user = gram + settings.user_item_var * np.eye(R)
    g_item = np.eye(R)
    zeros = np.zeros(R)
    app = _AppTrainer(X, va, seed, settings.ties, embedder_name) if trainer == "app" else None

    per_user: list[dict] = []
    totals = {"n": 0, "correct": 0, "ties": 0, "pop": 0, "uib": 0, "rand_same": 0}
    skipped: list[str] = []
    n_users = len(va.users)
    for u, name in enumerate(va.users):
        urng = np.random.default_rng([seed, u])
        others = np.flatnonzero(va.user != u)
        o_ia, o_ib, o_y = va.ia[others], va.ib[others], va.y[others]
        if not settings.ties:
            keep = va.decisive[others]
            o_ia, o_ib, o_y = o_ia[keep], o_ib[keep], o_y[keep]
        split = split_user_votes(va, u, protocol, labels, selection, urng, R, settings.ties)
        if split is None:
            skipped.append(name)
            continue
        train, test, pool = split
        te_ia, te_ib, te_y = va.ia[test], va.ib[test], va.y[test]

        # baselines from the other users only (and the user's training votes)
        s_popularity, _ = fit_scores(g_item, zeros, o_ia, o_ib, o_y, settings.baseline_l2)
        s_uib, _ = fit_scores(g_item, zeros, va.ia[train], va.ib[train], va.y[train], settings.baseline_l2)
        if app is not None:
            scores, fell_back = app.fit_user(u, train)
            correct, ties = _strict(scores, te_ia, te_ib, te_y)
            pop_correct, _ = _strict(s_popularity, te_ia, te_ib, te_y)
            uib_correct, _ = _strict(s_uib, te_ia, te_ib, te_y)
            n = len(test)
            per_user.append({"user": name, "train_pairs": int(len(train)), "test_pairs": int(n),
                             "accuracy": correct / n, "tie_rate": ties / n,
                             "popularity": pop_correct / n, "user_item_bt": uib_correct / n,
                             "scored_by": "population" if fell_back else "personal"})
            for key, val in (("n", n), ("correct", correct), ("ties", ties), ("pop", pop_correct),
                             ("uib", uib_correct)):
                totals[key] += val
            if on_progress:
                on_progress(u + 1, n_users, f"evaluated user {name}")
            continue

        # population prior from the other users only
        s_pop, _ = fit_scores(g_pop, zeros, o_ia, o_ib, o_y, settings.population_l2)
        g_u = g_user
        if settings.taste_rank > 0:
            g_basis = gram if settings.taste_space == "features" else g_user
            Z, var, _ = taste_basis(g_basis, s_pop, o_ia, o_ib, o_y, va.user[others] if settings.ties else
                                    va.user[others][va.decisive[others]], settings.user_l2, settings.taste_rank,
                                    X if settings.taste_space == "features" else None)
            # prior covariance of the scores: (Z diag(var) Z^T) + g_user / (2 l2); fit_scores's
            # kernel is that covariance times 2 l2
            g_u = g_user + 2 * settings.user_l2 * settings.taste_scale * (Z * var) @ Z.T

        if selection == "active":
            chosen = _simulate_active(g_u, s_pop, va, pool, labels, settings, urng)
            scores, _ = fit_ensemble(g_u, s_pop, va.ia[chosen], va.ib[chosen], va.y[chosen],
                                     settings.user_l2, 1, urng)
            s_rand, _ = fit_ensemble(g_u, s_pop, va.ia[train], va.ib[train], va.y[train],
                                     settings.user_l2, 1, urng)
            rand_correct, _ = _strict(s_rand, te_ia, te_ib, te_y)
            n_train = len(chosen)
        else:
            scores, _ = fit_ensemble(g_u, s_pop, va.ia[train], va.ib[train], va.y[train],
                                     settings.user_l2, 1, urng)
            rand_correct = None
            n_train = len(train)
        correct, ties = _strict(scores, te_ia, te_ib, te_y)
        pop_correct, _ = _strict(s_popularity, te_ia, te_ib, te_y)
        uib_correct, _ = _strict(s_uib, te_ia, te_ib, te_y)
        n = len(test)
        row = {"user": name, "train_pairs": int(n_train), "test_pairs": int(n),
               "accuracy": correct / n, "tie_rate": ties / n,
               "popularity": pop_correct / n, "user_item_bt": uib_correct / n}
        if rand_correct is not None:
            row["accuracy_random_same_split"] = rand_correct / n
            totals["rand_same"] += rand_correct
        per_user.append(row)
        totals["n"] += n
        totals["correct"] += correct
        totals["ties"] += ties
        totals["pop"] += pop_correct
        totals["uib"] += uib_correct
        if on_progress:
            on_progress(u + 1, n_users, f"evaluated user {name}")

    n = totals["n"]
    low, high = wilson_interval(totals["correct"], n)
    acc = (lambda c: c / n if n else float("nan"))
    result = {
        "protocol": protocol,
        "labels": labels if protocol == "seen" else None,
        "selection": selection,
        "trainer": trainer,
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
        "settings": settings.to_dict() if app is None else app.describe(),
        "per_user": per_user,
    }
    if selection == "active":
        result["accuracy_random_same_split"] = acc(totals["rand_same"])
    result["seconds"] = time.perf_counter() - t0
    return result


class _AppTrainer:
    """Trainer "app": the app's torch trainer (`Lab.train`), population models per fold of users."""

    def __init__(self, X: np.ndarray, va: VoteArrays, seed: int, ties: bool, embedder_name: str):
        from pantry.model.features import FEATURE_NAMES
        from pantry.lab import POPULATION_CONFIG
        from pantry.model.training import TrainConfig

        self.X = np.asarray(X, np.float32)
        self.va, self.seed, self.ties, self.embedder_name = va, seed, ties, embedder_name
        self.emb_dim = self.X.shape[1] - len(FEATURE_NAMES)  # [embedding | explicit features]
        self.pop_cfg = TrainConfig(**{**POPULATION_CONFIG.to_dict(), "seed": seed})
        self.user_cfg = TrainConfig(seed=seed)
        n_users = len(va.users)
        order = np.random.default_rng([seed, 7919]).permutation(n_users)
        self.fold = np.empty(n_users, dtype=np.int64)
        self.fold[order] = np.arange(n_users) % APP_FOLDS
        self._population: dict[int, Any] = {}
        self.population_pairs: dict[int, int] = {}

    def _pairs(self, rows: np.ndarray, with_ids: bool = False):
        """Training pairs; `with_ids` (personal models, as in Lab) enables per-recipe offsets."""
        from pantry.model.training import make_pairs

        va = self.va
        if not self.ties:
            rows = rows[va.decisive[rows]]
        y = va.y[rows]
        outcomes = ["a" if v == 1.0 else "b" if v == 0.0 else "tie" for v in y]
        much = va.much[rows] if va.much is not None else np.zeros(len(rows), dtype=bool)
        ids_a = [str(i) for i in va.ia[rows]] if with_ids else None
        ids_b = [str(i) for i in va.ib[rows]] if with_ids else None
        return make_pairs(self.X[va.ia[rows]], self.X[va.ib[rows]], outcomes,
                          ["much" if m else None for m in much], ids_a, ids_b)

    def _prior_of_population(self):
        from pantry.model.features import FEATURE_SPEC
        from pantry.lab import heuristic_model
        from pantry.model.reward import RewardModel

        if self.emb_dim >= 0:
            return heuristic_model(self.embedder_name, self.emb_dim)
        # features not laid out as [embedding | explicit]: pull toward zero
        return RewardModel.new(self.X.shape[1], 1, self.embedder_name, FEATURE_SPEC)

    def population(self, u: int):
        """The population model for user u's fold: `Lab._fit_population` on the other folds' votes."""
        from pantry.model import training
        from pantry.model.features import FEATURE_SPEC

        f = int(self.fold[u])
        if f not in self._population:
            rows = np.flatnonzero(self.fold[self.va.user] != f)
            pairs = self._pairs(rows)
            prior = self._prior_of_population()
            if pairs.n_decisive < self.pop_cfg.min_decisive:  # as Lab: too few -> the heuristic
                self._population[f] = prior
            else:
                self._population[f] = training.train_reward_model(pairs, self.embedder_name, FEATURE_SPEC,
                                                                  self.pop_cfg, prior=prior).model
            self.population_pairs[f] = len(pairs)
        return self._population[f]

    def fit_user(self, u: int, train: np.ndarray) -> tuple[np.ndarray, bool]:
        """(scores of every recipe, fell_back): the personal model's member-0 scores, or the
        population model's when the user has too few decisive training votes."""
        from pantry.model import training
        from pantry.errors import NotEnoughVotes
        from pantry.model.features import FEATURE_SPEC

        prior = self.population(u)
        try:
            model = training.train_reward_model(self._pairs(np.asarray(train, np.int64), with_ids=True),
                                                self.embedder_name, FEATURE_SPEC, self.user_cfg, prior=prior).model
            fell_back = False
        except NotEnoughVotes:
            model, fell_back = prior, True
        return model.score(self.X, [str(i) for i in range(len(self.X))])[0], fell_back

    def describe(self) -> dict:
        return {"population": self.pop_cfg.to_dict(), "personal": self.user_cfg.to_dict(),
                "folds": APP_FOLDS, "ties": self.ties,
                "population_prior": "heuristic" if self.emb_dim >= 0 else "zero",
                "population_pairs": {str(k): v for k, v in sorted(self.population_pairs.items())}}


def _simulate_active(g_user: np.ndarray, s_pop: np.ndarray, va: VoteArrays, pool: np.ndarray,
                     labels: int, settings: ModelSettings, rng: np.random.Generator) -> np.ndarray:
    """Pick `labels` votes from `pool` one at a time with the selection rule; return them."""
    pairs = np.stack([va.ia[pool], va.ib[pool]], axis=1)
    available = np.ones(len(pool), dtype=bool)
    chosen: list[int] = []
    member_scores = s_pop[None, :]
    cov = posterior_score_cov(g_user, settings.user_l2, [], [], s_pop)
    targets = np.unique(pairs)  # the recipes the user is asked about (and scored on)
    for step in range(labels):
        var = utility = None
        if settings.method == "information":
            var = cov[pairs[:, 0], pairs[:, 0]] + cov[pairs[:, 1], pairs[:, 1]] - 2 * cov[pairs[:, 0], pairs[:, 1]]
        elif settings.method == "integrated":
            utility = integrated_variance_reduction(cov, member_scores[0], pairs, targets)
        k = choose_from_pairs(member_scores, pairs, rng, settings.random_share,
                              "information" if utility is not None else settings.method, available, var, utility)
        available[k] = False
        chosen.append(int(pool[k]))
        if (step + 1) % max(1, settings.refit_every) == 0 and step + 1 < labels:
            c = np.array(chosen)
            if settings.method in ("information", "integrated"):  # the MAP fit and its Laplace covariance
                full, _ = fit_ensemble(g_user, s_pop, va.ia[c], va.ib[c], va.y[c], settings.user_l2, 1, rng)
                member_scores = full[None, :]
                cov = posterior_score_cov(g_user, settings.user_l2, va.ia[c], va.ib[c], full)
            else:
                _, member_scores = fit_ensemble(g_user, s_pop, va.ia[c], va.ib[c], va.y[c],
                                                settings.user_l2, settings.members, rng)
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
                   settings: ModelSettings | None = None, trainer: str = "exact") -> dict:
    """Read a recipes file and a votes file, embed the voted recipes, run `evaluate`."""
    from pantry.storage.jsonl import read_recipes_file

    if trainer not in TRAINERS:  # before the (slow) embedding
        raise InvalidInput(f"unknown trainer {trainer!r}; use one of {', '.join(TRAINERS)}")
    if trainer == "app" and selection == "active":
        raise InvalidInput("active selection simulation supports --trainer exact only")
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
                      trainer=trainer, embedder_name=name)
    result["embedding"] = name
    result["embed_seconds"] = embed_seconds
    result["seconds"] = time.perf_counter() - t0
    return result
