"""Baselines of `evaluate` that fit no feature model: Bradley-Terry over recipe ids
(`item_bradley_terry`: popularity on other users' votes, or one user's own votes), and the
baselines a protocol cannot have, with the reason (`unavailable_baselines`).
"""

from __future__ import annotations

import numpy as np

from pantry.model.solver import line_step


def item_bradley_terry(n_recipes: int, ia: np.ndarray, ib: np.ndarray, y: np.ndarray, l2: float) -> np.ndarray:
    """Scores of a Bradley-Terry model over recipe ids (a baseline): one score per recipe.

    The MAP fit of `sum_k bt_loss(s[ia_k] - s[ib_k], y_k) + l2 * |s|^2` (the objective of
    `training.fit_bradley_terry` over one-hot recipe rows) over the recipes the votes use;
    a recipe without a vote scores exactly 0, its prior mean. Newton's method with
    fit_bradley_terry's step halving and stopping rule (`solver.line_step`); each step's system (the pairs'
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
    for it in range(1, max_iter + 1):
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
        c, obj, done = line_step(objective, c, step, obj, tol, it)
        if done:
            break
    return c


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
