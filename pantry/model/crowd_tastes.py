"""Tastes a crowd shares: a few axes over recipes, learnt from many raters' votes.

Where people's tastes differ along a few shared axes (rich or lean, sweet or savoury, ...),
a low-rank Bradley-Terry model of the crowd's votes places every recipe the crowd rated on
those axes: each rater a taste vector u, each recipe a position v on the same axes,
P(a beats b) = sigmoid(d0 + u . (v_a - v_b)) on top of the prior's score difference d0.
A person's taste on the axes is then learnt from a handful of their votes, under a Gaussian
prior that is the crowd's own spread of tastes (empirical Bayes), and v . u is what their
taste says of every recipe the crowd rated, those they never saw included (the low-rank
personal reward models of LoRe and PReF). The number of axes is chosen on raters held out
of the fit, and is 0 where the crowd shares none beyond what the prior says.

Fitted by alternating Newton steps (every rater's u at once, then every recipe's v: small
independent r x r systems), in numpy; `Crowd` indexes the votes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

RANKS = (1, 2, 4)  # candidate numbers of axes; 0 (none) where no candidate beats the prior
L2 = 1.0  # precision of the pull of every rater's taste and recipe's position towards 0
ITERS = 25  # alternations of the raters' and the recipes' Newton steps
MIN_RATERS = 20  # fewer raters than this: no axis can be told from one rater's whims


@dataclass(frozen=True)
class CrowdTastes:
    """`positions[j]` of recipe `ids[j]` on the crowd's axes, and the crowd's tastes on them:
    their `mean` and the `precision` of their spread (a person's prior); `raters`: how many
    raters they were learnt from."""

    ids: tuple[str, ...]
    positions: np.ndarray
    mean: np.ndarray
    precision: np.ndarray
    raters: int

    @property
    def rank(self) -> int:
        return int(self.positions.shape[1])


def _sum_by(index: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Rows of `values` summed per `index` (n groups), any trailing shape."""
    flat = values.reshape(len(values), -1)
    out = np.stack([np.bincount(index, weights=flat[:, c], minlength=n) for c in range(flat.shape[1])], axis=1)
    return out.reshape((n,) + values.shape[1:])


def _objective(x: np.ndarray, who: np.ndarray, n: int, d: np.ndarray, y: np.ndarray, theta: np.ndarray,
               mean: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """Per group, the negative log posterior of `_newton`'s problem."""
    z = d + np.einsum("ij,ij->i", x, theta[who])
    gap = theta - mean
    return np.bincount(who, weights=_bt_nll(z, y), minlength=n) + 0.5 * np.einsum("ij,jk,ik->i", gap, precision, gap)


def _newton(x: np.ndarray, who: np.ndarray, n: int, d: np.ndarray, y: np.ndarray, theta: np.ndarray,
            mean: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """One damped Newton step of every group's vector at once: votes with design rows `x`,
    groups `who`, score difference d + x . theta[who], prior N(mean, precision^-1) per group.
    A group whose step would raise its negative log posterior takes half of it, and so on (a
    full step can overshoot and cycle once its votes are all but certain)."""
    p = _sigmoid(d + np.einsum("ij,ij->i", x, theta[who]))
    g = _sum_by(who, (y - p)[:, None] * x, n) - (theta - mean) @ precision
    h = _sum_by(who, (p * (1 - p))[:, None, None] * x[:, :, None] * x[:, None, :], n) + precision
    step = np.linalg.solve(h, g[..., None])[..., 0]
    before = _objective(x, who, n, d, y, theta, mean, precision)
    out = theta + step
    for _ in range(20):
        worse = _objective(x, who, n, d, y, out, mean, precision) > before + 1e-12
        if not worse.any():
            break
        step[worse] *= 0.5
        out = theta + step
    return out


def _fit(oa: np.ndarray, ob: np.ndarray, rater: np.ndarray, y: np.ndarray, d0: np.ndarray, n_raters: int,
         k: int, rank: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(tastes (n_raters, rank), positions (k, rank)) by alternating Newton steps."""
    eye = L2 * np.eye(rank)
    u, v = np.zeros((n_raters, rank)), rng.normal(0.0, 0.1, (k, rank))
    zero_u, zero_v = np.zeros(rank), np.zeros(rank)
    both = np.concatenate([oa, ob])
    for _ in range(ITERS):
        u = _newton(v[oa] - v[ob], rater, n_raters, d0, y, u, zero_u, eye)
        # a recipe's position: its votes as a (+u) and as b (-u), the other side's fixed
        x = np.concatenate([u[rater], -u[rater]])
        rest = np.concatenate([d0 - np.einsum("ij,ij->i", u[rater], v[ob]),
                               d0 + np.einsum("ij,ij->i", u[rater], v[oa])])
        v = _newton(x, both, k, rest, np.concatenate([y, y]), v, zero_v, eye)
    return u, v


def person_tastes(tastes: CrowdTastes, own_a: np.ndarray, own_b: np.ndarray, own_y: np.ndarray,
                  d_own: np.ndarray, who: np.ndarray | None = None, n: int = 1) -> np.ndarray:
    """MAP tastes on the crowd's axes, under the crowd's spread of tastes as the prior.

    Parameters
    ----------
    tastes : the crowd's axes (`fit_crowd_tastes`).
    own_a, own_b : each vote's recipe indices into `tastes.ids` (-1: not a crowd recipe, skipped).
    own_y : outcomes (1 a won, 0 b won, 0.5 a tie); d_own : the prior's score differences.
    who, n : many people's votes at once: each vote's person index, and how many people.

    Returns
    -------
    (n, rank) tastes (the crowd's mean taste for a person without a vote on two crowd recipes).
    """
    keep = (own_a >= 0) & (own_b >= 0)
    who = np.zeros(len(own_a), np.int64) if who is None else np.asarray(who, np.int64)
    pos = tastes.positions
    x = pos[own_a[keep]] - pos[own_b[keep]]
    theta = np.tile(tastes.mean, (n, 1))
    d, y = np.asarray(d_own, np.float64)[keep], np.asarray(own_y, np.float64)[keep]
    for _ in range(50):  # to convergence (a strictly concave problem: the prior's precision)
        step = _newton(x, who[keep], n, d, y, theta, tastes.mean, tastes.precision)
        done = np.max(np.abs(step - theta), initial=0.0) < 1e-8
        theta = step
        if done:
            break
    return theta


def _tastes_of(ids: Sequence[str], u: np.ndarray, v: np.ndarray) -> CrowdTastes:
    spread = np.cov(u.T).reshape(u.shape[1], u.shape[1]) + 1e-3 * np.eye(u.shape[1])
    return CrowdTastes(tuple(ids), v, u.mean(axis=0), np.linalg.inv(spread), len(u))


def fit_crowd_tastes(crowd, d0: np.ndarray | None, seed: int = 0, exclude: Sequence[str] = (),
                     rank: int | None = None) -> CrowdTastes | None:
    """The axes of taste a crowd shares, their number chosen on raters held out of the fit.

    Half the raters fit the axes at each rank in `RANKS`; each other rater's taste, learnt from
    about half their votes (a coin per vote), predicts the rest; the rank with the highest
    likelihood of those is refitted on every rater.

    Parameters
    ----------
    crowd : the raters' votes (`like_you.Crowd`).
    d0 : the prior's score difference on each vote (None: 0).
    seed : the draws (halves, coins, starting positions).
    exclude : rater labels left out (raters who will play a person, `training._crowd_gains`).
    rank : that many axes, not chosen.

    Returns
    -------
    `CrowdTastes`, or None when no rank beats the prior alone or with fewer than `MIN_RATERS`.
    """
    keep = ~np.isin(crowd.labels[crowd.rater], np.asarray(list(exclude), object))
    if len(crowd) == 0 or not keep.any():
        return None
    oa, ob, y = crowd.oa[keep], crowd.ob[keep], crowd.y[keep]
    labels, rater = np.unique(crowd.rater[keep], return_inverse=True)
    n_raters, k = len(labels), len(crowd.where)
    if n_raters < MIN_RATERS:
        return None
    d = np.zeros(len(y)) if d0 is None else np.asarray(d0, np.float64)[keep]
    ids = crowd.ids()
    if rank is not None:
        u, v = _fit(oa, ob, rater, y, d, n_raters, k, rank, np.random.default_rng(seed))
        return _tastes_of(ids, u, v)
    rng = np.random.default_rng(seed)
    fit_half = rng.permutation(n_raters) < n_raters // 2
    on = fit_half[rater]
    held_raters = np.flatnonzero(~fit_half)
    slot = np.full(n_raters, -1)
    slot[held_raters] = np.arange(len(held_raters))
    learn = on.copy()
    learn[~on] = rng.random(int((~on).sum())) < 0.5  # half of each held-out rater's votes to learn from
    learn_held, test = ~on & learn, ~on & ~learn
    base = float(-np.sum(_bt_nll(d[test], y[test])))
    best, best_ll = 0, base
    for rank in RANKS:
        u, v = _fit(oa[on], ob[on], rater[on], y[on], d[on], n_raters, k, rank, np.random.default_rng(seed))
        half = _tastes_of(ids, u[fit_half], v)
        theta = person_tastes(half, oa[learn_held], ob[learn_held], y[learn_held], d[learn_held],
                              slot[rater[learn_held]], len(held_raters))
        pred = d[test] + np.einsum("ij,ij->i", theta[slot[rater[test]]], v[oa[test]] - v[ob[test]])
        ll = float(-np.sum(_bt_nll(pred, y[test])))
        if ll > best_ll:
            best, best_ll = rank, ll
    if best == 0:
        return None
    u, v = _fit(oa, ob, rater, y, d, n_raters, k, best, np.random.default_rng(seed))
    return _tastes_of(ids, u, v)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-z) without overflow (and without importing scipy on the scoring path)."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _bt_nll(d: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per vote, -log P(outcome y) at score difference d (a tie counts half each way)."""
    return y * np.logaddexp(0.0, -d) + (1 - y) * np.logaddexp(0.0, d)


def taste_verdicts(tastes: CrowdTastes | None, own_a: Sequence[str], own_b: Sequence[str], own_y: np.ndarray,
                   d_own: np.ndarray):
    """What your taste on the crowd's axes says of every recipe the crowd rated.

    Parameters
    ----------
    tastes : the crowd's axes, or None.
    own_a, own_b, own_y : your votes' recipe ids and outcomes; d_own : the prior's score
        differences on them.

    Returns
    -------
    `like_you.LikeYou` (trust 1, `axes` its rank), or None without axes or without a vote on
    two crowd recipes.
    """
    from pantry.model.like_you import LikeYou

    if tastes is None or not len(own_y):
        return None
    where = {rid: j for j, rid in enumerate(tastes.ids)}
    ia = np.fromiter((where.get(str(r), -1) for r in own_a), np.int64, len(own_a))
    ib = np.fromiter((where.get(str(r), -1) for r in own_b), np.int64, len(own_b))
    if not np.any((ia >= 0) & (ib >= 0)):
        return None
    u = person_tastes(tastes, ia, ib, np.asarray(own_y, np.float64), np.asarray(d_own, np.float64))[0]
    return LikeYou(tastes.ids, tastes.positions @ u, 1.0, tastes.raters, tastes.rank)
