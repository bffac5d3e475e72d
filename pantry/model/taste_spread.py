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

MIN_VOTES = 8  # a rater's decisive votes before their fit says anything about their taste
MAX_RATERS = 300  # raters sampled (the estimate is a variance: a few hundred pin it down)
FLOOR = 0.05  # no column's spread below this share of the mean spread (nor exactly zero)
EM_ITERATIONS = 15
NEWTON_STEPS = 3  # per EM iteration, warm-started from the last
MIN_SD = 0.03  # a column whose sd over the crowd's recipes is below this does not vary


def rater_posteriors(d: np.ndarray, y: np.ndarray, mask: np.ndarray, mean: np.ndarray, var: np.ndarray,
                     start: np.ndarray | None = None, steps: int = NEWTON_STEPS) -> tuple[np.ndarray, np.ndarray]:
    """Every rater's MAP weights under the prior N(mean, diag(var)) and their posterior variances
    (the diagonal of the Laplace covariance), by Newton steps on all raters at once.

    Parameters
    ----------
    d : (R, n, k) standardised feature differences of each rater's decisive votes (a minus b),
        padded to n votes per rater.
    y : (R, n) 1 when a won, 0 when b won; mask : (R, n) True for a real (not padded) vote.
    mean, var : (k,) the prior.
    start : (R, k) warm start (default: the prior mean).
    steps : Newton steps (the log-likelihood plus a Gaussian prior is concave, and from a warm
        start a few steps converge).

    Returns
    -------
    (w, s): (R, k) weights and posterior variances.
    """
    from scipy.special import expit  # here: `python -m pantry score` imports this module, never scipy

    r, _, k = d.shape
    w = np.broadcast_to(mean, (r, k)).copy() if start is None else start.copy()
    m = mask.astype(np.float64)
    prec = 1.0 / var
    for _ in range(steps + 1):
        p = expit((d @ w[..., None])[..., 0])
        h = np.swapaxes(d * (m * p * (1 - p))[..., None], 1, 2) @ d + np.diag(prec)
        if _ == steps:
            break
        g = (np.swapaxes(d, 1, 2) @ (m * (y - p))[..., None])[..., 0] - (w - mean) * prec
        w = w + np.linalg.solve(h, g[..., None])[..., 0]
    return w, np.diagonal(np.linalg.inv(h), axis1=1, axis2=2)


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
    rows = [np.flatnonzero(decisive & (who == r)) for r in raters]
    n = max(len(ix) for ix in rows)
    k = d.shape[1]
    dd, yy, mask = np.zeros((len(rows), n, k)), np.zeros((len(rows), n)), np.zeros((len(rows), n), bool)
    for i, ix in enumerate(rows):
        dd[i, :len(ix)], yy[i, :len(ix)], mask[i, :len(ix)] = d[ix], pairs.y[ix], True
    mu, tau2 = np.zeros(k), np.ones(k)
    w = None
    for _ in range(iterations):
        w, s = rater_posteriors(dd, yy, mask, mu, tau2, w)
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


def spread_of(model, n_explicit: int) -> np.ndarray | None:
    """The crowd's spread of each taste column a model carries (`meta["taste_spread"]`), or
    None when it has none or one of another length (a model of other features)."""
    raw = model.meta.get("taste_spread") if model is not None else None
    if not isinstance(raw, list) or len(raw) != n_explicit:
        return None
    try:
        spread = np.asarray(raw, np.float64)
    except (TypeError, ValueError):
        return None
    return spread if np.isfinite(spread).all() and (spread > 0).all() else None


def spread_shares(model, names: tuple[str, ...]) -> list[tuple[str, float]]:
    """Where the people behind `model` differ: (taste column, share of the differences between
    them) for the columns of `names`, largest first, the shares summing to 1; [] when the model
    carries no spread. Pantry and bookkeeping columns are left out (they describe a round,
    not a taste)."""
    spread = spread_of(model, len(names))
    if spread is None:
        return []
    from pantry.model.features import NOT_TASTE

    kept = [(n, float(v)) for n, v in zip(names, spread) if n not in NOT_TASTE]
    total = sum(v for _, v in kept)
    return sorted(((n, v / total) for n, v in kept), key=lambda t: -t[1]) if total > 0 else []

