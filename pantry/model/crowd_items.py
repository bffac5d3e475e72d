"""What a crowd's votes say about one recipe beyond its content, and how far that carries to
someone else.

A population model fitted with recipe ids has an offset per recipe its voters rated (what
they saw in the dish that its features do not say: how well it is written, a dish people
love or avoid). A personal model starts from those offsets (`crowd_offsets`), so a recipe
others rated keeps their verdict until this person says otherwise, as popularity would.

Whether a verdict carries from some people to another is a fact about the crowd, so it is
measured on the crowd (`shared_item_var`): the offsets' prior variance is the one whose
offsets, fitted on half of the raters, best predict the other half's votes (both ways),
from a grid that includes 0 (no offsets). Where people share a view of the dishes the
variance is large and a newcomer inherits it; where they disagree (tastes that cancel out,
a handful of raters) it is 0 and nothing is inherited.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from pantry.model.solver import bt_loss, fit_bradley_terry

VAR_STEPS = (0.0, 0.01, 0.03, 0.1, 0.3, 1.0)  # candidate variances, times the configured item_var
MIN_RATERS = 4  # fewer raters than this: nobody can tell whether a verdict carries (variance 0)


def _fit_offsets(oa: np.ndarray, ob: np.ndarray, y: np.ndarray, d0: np.ndarray, margin: np.ndarray,
                 weight: np.ndarray | None, k: int, var: float) -> np.ndarray:
    """MAP offsets of k recipes (prior N(0, var)) on pairs whose other score difference is d0;
    a side without an offset has index k."""
    from scipy.sparse import eye as sparse_eye

    if var <= 0 or not len(y):
        return np.zeros(k)
    eye = sparse_eye(k + 1, k, format="csr")  # identity plus an all-zero last row
    return fit_bradley_terry(eye, oa, ob, y, 1.0 / (2 * var), d0, margin, weight).coef


def shared_item_var(oa: np.ndarray, ob: np.ndarray, y: np.ndarray, d0: np.ndarray, margin: np.ndarray,
                    weight: np.ndarray | None, rater: np.ndarray, k: int, item_var: float,
                    seed: int = 0) -> float:
    """The offsets' prior variance that carries best from some raters to others.

    Parameters
    ----------
    oa, ob : (n,) each pair's recipe indices (k: a side without an offset).
    y, margin, weight : the pairs' outcomes, margins and weights (None: 1 each).
    d0 : (n,) the content model's score differences (a minus b).
    rater : (n,) who cast each vote.
    k : the number of recipes with an offset.
    item_var : the configured variance; the candidates are `VAR_STEPS` times it.
    seed : the split of raters into two halves.

    Returns
    -------
    The candidate whose offsets, fitted on one half of the raters, give the other half's votes
    the highest likelihood (summed over both directions); 0 when no candidate beats no offsets,
    or with fewer than `MIN_RATERS` raters.
    """
    labels = np.unique(np.asarray(rater))
    if len(labels) < MIN_RATERS or item_var <= 0:
        return 0.0
    half = set(np.random.default_rng(seed).permutation(labels)[: len(labels) // 2].tolist())
    in_half = np.fromiter((r in half for r in rater), bool, len(rater))
    w = np.ones(len(y)) if weight is None else np.asarray(weight, np.float64)
    best, best_ll = 0.0, -np.inf
    for step in VAR_STEPS:
        var = step * item_var
        ll = 0.0
        for fit_on in (in_half, ~in_half):
            test = ~fit_on
            off = np.append(_fit_offsets(oa[fit_on], ob[fit_on], y[fit_on], d0[fit_on], margin[fit_on],
                                         w[fit_on], k, var), 0.0)
            d = d0[test] + off[oa[test]] - off[ob[test]]
            ll -= float(np.sum(w[test] * bt_loss(d, y[test], margin[test])))
        if ll > best_ll + 1e-9:
            best, best_ll = var, ll
    return best


def crowd_offsets(prior, own_ids: Sequence[str], k: int) -> tuple[tuple[str, ...], np.ndarray] | None:
    """(ids, offsets): prior member k's per-recipe offsets over its recipes and `own_ids` (0
    where it has none), or None when the prior has no offsets (or only zeros: a crowd whose
    verdicts do not carry, `shared_item_var`)."""
    if prior is None or not prior.item_ids:
        return None
    arrays = prior.member_arrays()
    off = arrays[k % len(arrays)].get("offsets")
    if off is None or len(off) != len(prior.item_ids) or not np.any(off):
        return None
    ids = tuple(sorted(set(prior.item_ids) | set(own_ids)))
    where = {rid: j for j, rid in enumerate(ids)}
    full = np.zeros(len(ids))
    full[[where[rid] for rid in prior.item_ids]] = np.asarray(off, np.float64)
    return ids, full
