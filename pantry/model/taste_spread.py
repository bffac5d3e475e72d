"""How much people differ on each taste feature, read from a crowd's own votes (empirical Bayes).

A personal model is the crowd's model plus a deviation per feature. How far a person may
move on each feature is a fact about people, so it is estimated from the other raters:
each rater with enough decisive votes gets a small Bradley-Terry fit on the standardised
explicit columns alone, and a column's *spread* is the between-rater variance of its
weight, estimated by EM (so raters with few votes do not pass their noise off as taste, and
two columns that say the same thing do not hide each other; see `taste_spread`). Where
people agree (or a column never varies) the spread is small and the personal model stays
with the crowd; where they differ (meat or not, heat, time) it moves with few votes. The
spread also tells pair selection which differences are worth asking about.
"""

from __future__ import annotations

import numpy as np

from pantry.model.pairs import Pairs
from pantry.model.solver import fit_bradley_terry

MIN_VOTES = 8  # a rater's decisive votes before their fit says anything about their taste
MAX_RATERS = 300  # raters sampled (the estimate is a variance: a few hundred pin it down)
FLOOR = 0.05  # no column's spread below this share of the mean spread (nor exactly zero)
EM_ITERATIONS = 15
MIN_SD = 0.03  # a column whose sd over the crowd's recipes is below this does not vary


def rater_weights(d: np.ndarray, y: np.ndarray, precision: np.ndarray | float, mean: np.ndarray | None = None,
                  start: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One rater's MAP weights under the prior N(mean, 1 / (2 precision)) and their posterior
    variances (the diagonal of the Laplace covariance).

    Parameters
    ----------
    d : (n, k) standardised feature differences of the rater's decisive votes (a minus b).
    y : (n,) 1 when a won, 0 when b won.
    precision : the pull `precision * (w - mean)^2` on each weight (scalar or (k,)).
    mean, start : the prior's centre (default 0) and a warm start for the weights.

    Returns
    -------
    (w, var): (k,) each.
    """
    from scipy.special import expit  # here: `python -m pantry score` imports this module, never scipy

    n, k = d.shape
    mean = np.zeros(k) if mean is None else mean
    rows = np.vstack([d, np.zeros((1, k))])
    fit = fit_bradley_terry(rows, np.arange(n), np.full(n, n), y.astype(np.float64), precision, d @ mean,
                            start=None if start is None else start - mean)
    w = mean + fit.coef
    p = expit(d @ w)
    hess = (d * (p * (1 - p))[:, None]).T @ d + np.diag(2 * np.broadcast_to(precision, (k,)))
    return w, np.diag(np.linalg.inv(hess))


def taste_spread(pairs: Pairs, n_explicit: int, min_votes: int = MIN_VOTES, max_raters: int = MAX_RATERS,
                 seed: int = 0, iterations: int = EM_ITERATIONS) -> np.ndarray | None:
    """How much raters differ on each explicit column: the variance of its standardised weight
    across raters, estimated by EM on a Gaussian population of tastes, or None.

    Each rater's weights have the prior N(mu, diag(tau^2)); EM alternates each rater's
    Laplace posterior (mean w_r, variances s_r) and `mu = mean(w_r)`,
    `tau^2 = mean((w_r - mu)^2 + s_r)`, so correlated columns (meat, vegetarian) and raters
    with few votes neither hide nor invent a difference between people.

    Parameters
    ----------
    pairs : everyone's pairs with `pairs.rater` set (one label per vote).
    n_explicit : the explicit columns, the last ones of each row.
    min_votes, max_raters, seed : raters with at least `min_votes` decisive votes, at most
        `max_raters` of them drawn with `seed`.
    iterations : EM steps.

    Returns
    -------
    (n_explicit,) variances in standardised units (a column's weight times its sd over the
    crowd's recipes), floored at `FLOOR` of their mean (columns that do not vary: the floor);
    None when fewer than three raters have `min_votes` decisive votes.
    """
    if pairs.rater is None or n_explicit <= 0 or not len(pairs):
        return None
    xa = np.asarray(pairs.xa, np.float64)[:, -n_explicit:]
    xb = np.asarray(pairs.xb, np.float64)[:, -n_explicit:]
    sd = np.concatenate([xa, xb]).std(axis=0)
    varies = sd > MIN_SD
    decisive = pairs.y != 0.5
    who = np.asarray(pairs.rater)
    labels, counts = np.unique(who[decisive], return_counts=True)
    raters = labels[counts >= min_votes]
    if len(raters) < 3 or not varies.any():
        return None
    if len(raters) > max_raters:
        raters = np.random.default_rng(seed).choice(raters, max_raters, replace=False)
    d = (xa - xb)[:, varies] / sd[varies]
    data = [(d[m], pairs.y[m]) for m in (decisive & (who == r) for r in raters)]
    k = d.shape[1]
    mu, tau2 = np.zeros(k), np.ones(k)
    w = np.zeros((len(data), k))
    for _ in range(iterations):
        fits = [rater_weights(dr, yr, 1.0 / (2 * tau2), mu, w[i]) for i, (dr, yr) in enumerate(data)]
        w = np.array([f[0] for f in fits])
        s = np.array([f[1] for f in fits])
        mu = w.mean(axis=0)
        tau2 = np.maximum(((w - mu) ** 2 + s).mean(axis=0), 1e-4)
    spread = np.zeros(n_explicit)
    spread[varies] = tau2
    floor = FLOOR * float(np.mean(tau2))
    return np.maximum(spread, floor)


def column_shares(spread: np.ndarray | None, varies: np.ndarray) -> np.ndarray | None:
    """Each varying column's share (summing to 1) of the explicit group's prior variance,
    in proportion to `spread`; None (equal shares) without a spread."""
    if spread is None:
        return None
    s = np.where(varies, np.asarray(spread, np.float64), 0.0)
    total = s.sum()
    return s / total if total > 0 else None
