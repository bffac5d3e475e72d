"""What a crowd's votes say about one recipe beyond its content, and how far that carries to
someone else.

A population model fitted with recipe ids has an offset per recipe its voters rated (what
they saw in the dish that its features do not say: how well it is written, a dish people
love or avoid). A personal model starts from those offsets (`crowd_offsets`), so a recipe
others rated keeps their verdict until this person says otherwise, as popularity would.

Whether a verdict carries from some people to another is a fact about the crowd, so it is
measured on the crowd (`crowd_item_vars`): the offsets' prior variance is the one whose
offsets, fitted on half of the raters, best predict the other half's votes (both ways),
from a grid that includes 0 (no offsets). Where people share a view of the dishes the
variance is large and a newcomer inherits it; where they disagree (tastes that cancel out,
a handful of raters) it is 0 and nothing is inherited. How far a person's own verdict on a
dish departs from the crowd's is measured the same way (half of each rater's votes against
the rest), and sets the prior variance of a personal model's own offsets (`own_factor_of`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from pantry.model.solver import bt_loss, fit_bradley_terry

VAR_STEPS = (0.0, 0.01, 0.03, 0.1, 0.3, 1.0)  # candidate variances, times the configured item_var
# a person's own offsets: how far their verdicts depart from the crowd's may exceed the configured
# item_var (the survey set's raters chose the top of VAR_STEPS: a search cut short there)
OWN_STEPS = VAR_STEPS + (3.0, 10.0, 30.0)
MIN_RATERS = 4  # fewer raters than this: nobody can tell whether a verdict carries (variance 0)
MIN_OWN_VOTES = 8  # a rater's votes before half of them can say anything about the other half
OWN_RATERS = 100  # raters sampled to measure how far a person's own verdicts depart from the crowd's


def fit_offsets(oa: np.ndarray, ob: np.ndarray, y: np.ndarray, d0: np.ndarray, margin: np.ndarray,
                weight: np.ndarray | None, k: int, var: float, start: np.ndarray | None = None) -> np.ndarray:
    """MAP per-recipe offsets on pairs whose other score difference is `d0`.

    Parameters
    ----------
    oa, ob : (n,) each pair's recipe indices (k: a side without an offset).
    y, d0, margin, weight : outcomes, the rest of each score difference (a minus b), margins,
        weights (None: 1 each).
    k : the number of recipes; var : their offsets' prior variance (0: no offsets).
    start : a warm start (the optimum is the same).

    Returns
    -------
    (k,) offsets; zeros when `var` is 0 or there are no pairs.
    """
    from scipy.sparse import eye as sparse_eye

    if var <= 0 or not len(y):
        return np.zeros(k)
    eye = sparse_eye(k + 1, k, format="csr")  # identity plus an all-zero last row
    return fit_bradley_terry(eye, oa, ob, y, 1.0 / (2 * var), d0, margin, weight, start=start).coef


def rater_halves(rater: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(n,) True for the votes of a random half of the raters (`rng` draws which)."""
    labels = np.unique(np.asarray(rater))
    half = set(rng.permutation(labels)[: len(labels) // 2].tolist())
    return np.fromiter((r in half for r in rater), bool, len(rater))


def crowd_item_vars(oa: np.ndarray, ob: np.ndarray, y: np.ndarray, d0: np.ndarray, margin: np.ndarray,
                    weight: np.ndarray | None, rater: np.ndarray, k: int, item_var: float,
                    seed: int = 0, by_half: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
                    ) -> tuple[float, float]:
    """(shared, own): the prior variance of the crowd's offsets that carries best from some raters
    to others, and the factor (of `item_var`) for a person's own offsets on top of them that best
    predicts a person's other votes.

    Parameters
    ----------
    oa, ob : (n,) each pair's recipe indices (k: a side without an offset).
    y, margin, weight : the pairs' outcomes, margins and weights (None: 1 each).
    d0 : (n,) the content model's score differences (a minus b).
    rater : (n,) who cast each vote.
    k : the number of recipes with an offset.
    item_var : the configured variance; the candidates are `VAR_STEPS` times it.
    seed : the split of raters into two halves (`rater_halves`), and of each rater's votes.
    by_half : (the halves' mask, as `rater_halves` draws it with `seed`; then, for each half,
        (n,) score differences of a content model fitted on that half's raters alone): the
        offsets fitted on a half are judged on top of that half's content model, so that a
        content head which learnt every recipe from all the votes does not pass for one that
        leaves nothing for the offsets to carry; a person's own offsets are then measured on
        top of the other half's content model and offsets.

    Returns
    -------
    shared: the candidate whose offsets, fitted on one half of the raters, give the other
    half's votes the highest likelihood (both directions summed); 0 when none beats no offsets.
    own: the step (`OWN_STEPS`) whose own offsets, fitted on half of a rater's votes on top of
    the other raters' offsets, best predict the rest of their votes (both halves, at most
    `OWN_RATERS` raters with `MIN_OWN_VOTES` votes); 1 when it cannot be measured. With fewer
    than `MIN_RATERS` raters (or `item_var` 0): (0, 1).
    """
    labels = np.unique(np.asarray(rater))
    if len(labels) < MIN_RATERS or item_var <= 0:
        return 0.0, 1.0
    rng = np.random.default_rng(seed)
    in_half = rater_halves(rater, rng)
    if by_half is not None and not np.array_equal(by_half[0], in_half):
        raise ValueError("by_half: the content heads were fitted on other halves of the raters")
    w = np.ones(len(y)) if weight is None else np.asarray(weight, np.float64)
    best, best_ll, best_off = 0.0, -np.inf, None
    last = [None, None]  # each half's fit at the previous (smaller) variance: a warm start
    for step in VAR_STEPS:
        var = step * item_var
        ll, offs = 0.0, []
        for h, fit_on in enumerate((in_half, ~in_half)):
            test = ~fit_on
            dh = d0 if by_half is None else by_half[1 + h]
            off = np.append(fit_offsets(oa[fit_on], ob[fit_on], y[fit_on], dh[fit_on], margin[fit_on],
                                        w[fit_on], k, var, last[h]), 0.0)
            last[h] = off[:k]
            offs.append(off)
            d = dh[test] + off[oa[test]] - off[ob[test]]
            ll -= float(np.sum(w[test] * bt_loss(d, y[test], margin[test])))
        if ll > best_ll + 1e-9:
            best, best_ll, best_off = var, ll, offs
        elif step > 0:  # past the peak (the held-out likelihood rises, then falls, with the variance)
            break
    # each vote's score difference with the offsets of the half of the crowd it is not in
    other = np.where(in_half, best_off[1][oa] - best_off[1][ob], best_off[0][oa] - best_off[0][ob])
    base = d0 + other if by_half is None else np.where(in_half, by_half[2], by_half[1]) + other
    who = np.asarray(rater)
    counts = {r: c for r, c in zip(*np.unique(who, return_counts=True))}
    eligible = [r for r in labels if counts[r] >= MIN_OWN_VOTES]
    if len(eligible) < MIN_RATERS:
        return best, 1.0
    if len(eligible) > OWN_RATERS:
        eligible = rng.choice(eligible, OWN_RATERS, replace=False).tolist()
    # each rater's votes in two halves; every rater's own offsets are fitted at once (an offset
    # per rater and recipe: independent blocks of one sparse problem), on one half, tested on the other
    chosen = np.isin(who, eligible)
    code = np.unique(who, return_inverse=True)[1].reshape(-1).astype(np.int64)
    part = np.zeros(len(y), bool)
    for r in eligible:
        idx = rng.permutation(np.flatnonzero(who == r))
        part[idx[: len(idx) // 2]] = True
    key_a, key_b = code * (k + 1) + oa, code * (k + 1) + ob
    own, own_ll = 1.0, -np.inf
    last = [None, None]
    for step in OWN_STEPS:
        ll = 0.0
        for h, fit in enumerate((chosen & part, chosen & ~part)):
            test = chosen & ~fit
            keys, inv = np.unique(np.concatenate([key_a[fit], key_b[fit]]), return_inverse=True)
            n = int(fit.sum())
            off = np.append(fit_offsets(inv[:n], inv[n:], y[fit], base[fit], margin[fit], w[fit], len(keys),
                                        step * item_var, last[h]), 0.0)
            last[h] = off[:-1]
            ta = np.searchsorted(keys, key_a[test])
            tb = np.searchsorted(keys, key_b[test])
            ta = np.where((ta < len(keys)) & (keys[np.minimum(ta, len(keys) - 1)] == key_a[test]), ta, len(keys))
            tb = np.where((tb < len(keys)) & (keys[np.minimum(tb, len(keys) - 1)] == key_b[test]), tb, len(keys))
            d = base[test] + off[ta] - off[tb]
            ll -= float(np.sum(w[test] * bt_loss(d, y[test], margin[test])))
        if ll > own_ll + 1e-9:
            own, own_ll = step, ll
        elif step > 0:
            break
    return best, own


def crowd_offsets(prior, own_ids: Sequence[str]) -> tuple[tuple[str, ...], list[np.ndarray]] | None:
    """(ids, offsets per prior member): the prior's per-recipe offsets over its recipes and
    `own_ids` (0 where it has none), or None when the prior has no offsets (or only zeros: a
    crowd whose verdicts do not carry, `crowd_item_vars`). A personal member k starts from the
    prior member k's (modulo their number), as its content does."""
    if prior is None or not prior.item_ids:
        return None
    offs = [a.get("offsets") for a in prior.member_arrays()]
    if any(o is None or len(o) != len(prior.item_ids) for o in offs) or not any(np.any(o) for o in offs):
        return None
    ids = tuple(sorted(set(prior.item_ids) | set(own_ids)))
    where = {rid: j for j, rid in enumerate(ids)}
    at = [where[rid] for rid in prior.item_ids]
    out = []
    for o in offs:
        full = np.zeros(len(ids))
        full[at] = np.asarray(o, np.float64)
        out.append(full)
    return ids, out


def own_factor_of(prior) -> float:
    """The factor of `item_var` for a personal model's own offsets that its crowd prior measured
    (`meta["own_offset_factor"]`, one of `OWN_STEPS`); 1 without one (or outside their range)."""
    raw = prior.meta.get("own_offset_factor") if prior is not None else None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return 1.0
    return value if 0.0 <= value <= OWN_STEPS[-1] else 1.0


def verdict_summary(model) -> dict | None:
    """What a model carries of its crowd's verdicts on dishes, for the Scores page; None when it
    has no crowd's offsets (a model fitted without a crowd, or a crowd whose verdicts do not carry).

    Returns
    -------
    {"personal": whether it is a personal model that inherited them, "recipes": dishes with the
    crowd's verdict (for a personal model: those it has not rated), "variance": the crowd
    offsets' prior variance (None for a personal model), "own_factor": the factor of
    `item_var` a person's own verdicts get on top of them, "like_you": for a personal model,
    what the raters who vote like this person said ({"scale", "raters", "recipes"},
    `pantry.model.like_you`) or None}.
    """
    if model is None:
        return None
    metrics = model.meta.get("metrics") or {}
    own = own_factor_of(model)
    if "own_offset_factor" in model.meta:  # a crowd's model: its own offsets are the crowd's
        arrays = model.member_arrays()
        off = arrays[0].get("offsets") if arrays else None
        if off is None or not np.any(off):
            return None
        return {"personal": False, "recipes": int(np.count_nonzero(off)),
                "variance": float(metrics.get("offset_variance", 0.0)), "own_factor": own, "like_you": None}
    inherited = int(metrics.get("crowd_recipes_with_offset") or 0)
    if not inherited:
        return None
    config = metrics.get("config") or {}
    item_var = float(config.get("item_var") or 0.0)
    variance = float(metrics.get("offset_variance", 0.0))
    like_you = metrics.get("like_you")
    return {"personal": True, "recipes": inherited, "variance": None,
            "own_factor": variance / item_var if item_var else own,
            "like_you": like_you if isinstance(like_you, dict) else None}
