"""The votes of an evaluation as arrays, and how they are split: per-user train/test splits
for each protocol (`split_user_votes`), the recipes held out in `cold`, seeded user folds
of the population models and a seeded sample of test users.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from pantry.errors import InvalidInput

MIN_TEST = 20  # seen: a user needs K + MIN_TEST decisive votes


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


def _population_rows(va: VoteArrays, fold_of: np.ndarray, fold: int, held: np.ndarray | None) -> np.ndarray:
    """The votes a fold's population is fitted on: every user outside the fold (and, in
    `cold`, none touching a held-out recipe)."""
    rows = np.flatnonzero(fold_of[va.user] != fold)
    return untouched(va, rows, held) if held is not None else rows
