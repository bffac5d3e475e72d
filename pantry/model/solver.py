"""The exact Bradley-Terry solver: Newton's method on the convex MAP objective
(`fit_bradley_terry`), through an R x R system when there are fewer distinct recipes than
features, and the per-pair loss (`bt_loss`). Split out of `pantry.model.training` (which
re-exports every name)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from pantry.model.train_config import NEWTON_ITERS, TrainingError

DENSE_OFFSETS_MAX = 150  # offsets up to which a Newton step is a dense solve (scipy.sparse's overhead dominates)
SPARSE_DIRECT_MAX = 300  # offsets up to which a Newton step is a sparse direct solve (above: conjugate gradients)


def bt_loss(d: np.ndarray, y: np.ndarray, m: np.ndarray | float = 0.0) -> np.ndarray:
    """Per-pair Bradley-Terry loss for score differences d = s_a - s_b (margin m for "much")."""
    return y * np.logaddexp(0.0, m - d) + (1 - y) * np.logaddexp(0.0, d + m)


@dataclass
class BTFit:
    """The exact MAP fit of `d = d0 + delta @ coef`: coefficients and iterations used."""

    coef: np.ndarray
    iterations: int
    converged: bool


def fit_bradley_terry(rows: np.ndarray, ia: np.ndarray, ib: np.ndarray, y: np.ndarray,
                      precision: np.ndarray | float, d0: np.ndarray | None = None,
                      margin: np.ndarray | None = None, weight: np.ndarray | None = None,
                      max_iter: int = NEWTON_ITERS, tol: float = 1e-10,
                      on_iter: Callable[[int, np.ndarray], None] | None = None,
                      start: np.ndarray | None = None) -> BTFit:
    """THE solver: Newton's method on the MAP Bradley-Terry objective of a linear model.

    Minimises `sum_k weight_k * bt_loss(d_k, y_k, margin_k) + sum_j precision_j * coef_j^2`
    with `d_k = d0_k + (rows[ia_k] - rows[ib_k]) @ coef`: `rows` (R, D) are the distinct
    feature rows (recipe features for a content head, the identity for per-recipe offsets),
    pair k compares row ia_k with row ib_k, and d0 is the prior's score difference. The
    objective is convex, so this is its exact optimum: Newton steps with step halving,
    stopped when the objective moves by less than `tol` (relative). The Hessian is built as
    `rows^T L rows` with L the sparse (R, R) graph Laplacian of the pairs, so many votes on
    few recipes cost little. `on_iter(iteration, coef)`: iteration 0 (the prior), then each step.
    """
    from scipy.sparse import coo_matrix, diags, issparse
    from scipy.special import expit

    sparse_rows = issparse(rows)  # the per-recipe offsets: an identity (plus a zero row), sparse
    rows = rows.tocsr().astype(np.float64) if sparse_rows else np.asarray(rows, np.float64)
    ia, ib = np.asarray(ia, np.int64), np.asarray(ib, np.int64)
    R, dim = rows.shape
    n = len(ia)
    y = np.asarray(y, np.float64)
    d0 = np.zeros(n) if d0 is None else np.asarray(d0, np.float64)
    m = np.zeros(n) if margin is None else np.asarray(margin, np.float64)
    w = np.ones(n) if weight is None else np.asarray(weight, np.float64)
    lam = np.broadcast_to(np.asarray(precision, np.float64), (dim,))
    coef = np.zeros(dim) if start is None else np.array(start, np.float64)  # a warm start (convex: same optimum)

    # the per-recipe offsets' rows are the identity plus an all-zero row: scores are the
    # coefficients themselves and the Hessian is the Laplacian's block (no sparse products)
    identity = (sparse_rows and R == dim + 1 and rows.nnz == dim and np.array_equal(rows.indices, np.arange(dim))
                and np.array_equal(rows.indptr, np.r_[np.arange(dim + 1), dim]) and bool(np.all(rows.data == 1)))

    def diffs(c: np.ndarray) -> np.ndarray:
        s = np.append(c, 0.0) if identity else rows @ c
        return d0 + s[ia] - s[ib]

    def objective(c: np.ndarray) -> float:
        return float(np.sum(w * bt_loss(diffs(c), y, m)) + np.sum(lam * c * c))

    for name, arr in (("features", rows.data if sparse_rows else rows), ("prior score differences", d0), ("targets", y), ("margins", m),
                      ("weights", w), ("precision", lam)):
        if not np.isfinite(arr).all():
            raise TrainingError(f"cannot train: {int(np.sum(~np.isfinite(arr)))} non-finite {name} (NaN/inf)")
    if on_iter:
        on_iter(0, coef)
    obj = objective(coef)
    if not np.isfinite(obj):
        raise TrainingError(f"cannot train: the loss is non-finite ({obj}) at the prior's weights")
    converged = n == 0
    it = 0
    kernel = None
    while not converged and it < max_iter:
        it += 1
        d = diffs(coef)
        pa, pb = expit(m - d), expit(d + m)
        r = w * (-y * pa + (1 - y) * pb)  # d loss / d d
        h = w * (y * pa * (1 - pa) + (1 - y) * pb * (1 - pb))  # d2 loss / d d2
        per_row = np.bincount(ia, r, R) - np.bincount(ib, r, R)
        grad = (per_row[:dim] if identity else rows.T @ per_row) + 2 * lam * coef
        if identity and dim <= DENSE_OFFSETS_MAX:
            # a person's own offsets (tens of recipes): the Laplacian block built and solved dense;
            # scipy's sparse machinery costs more than the arithmetic at this size
            flat = np.bincount(np.concatenate([ia * R + ia, ib * R + ib, ia * R + ib, ib * R + ia]),
                               np.concatenate([h, h, -h, -h]), R * R).reshape(R, R)
            hess = flat[:dim, :dim]
            hess[np.diag_indices(dim)] += 2 * lam
            try:
                step = np.linalg.solve(hess, grad)
            except np.linalg.LinAlgError:
                step = np.linalg.lstsq(hess, grad, rcond=None)[0]
            coef, obj, converged = line_step(objective, coef, step, obj, tol, it)
            if on_iter:
                on_iter(it, coef)
            continue
        lap = coo_matrix((np.concatenate([h, h, -h, -h]),
                          (np.concatenate([ia, ib, ia, ib]), np.concatenate([ia, ib, ib, ia]))), shape=(R, R)).tocsr()
        if R < dim and np.all(lam > 0):
            # fewer distinct recipes than features (every personal fit, a population over few
            # recipes): the same Newton step through an R x R system (push-through identity)
            # H^-1 g = A^-1 g - A^-1 X' (I + L X A^-1 X')^-1 L X A^-1 g, A = diag(2 lam)
            inv_a = 1.0 / (2 * lam)
            ag = inv_a * grad
            if kernel is None:  # X A^-1 X' does not change between iterations
                kernel = (rows * inv_a) @ rows.T
            q = np.eye(R) + lap @ kernel
            step = ag - inv_a * (rows.T @ np.linalg.solve(q, lap @ (rows @ ag)))
        elif sparse_rows:  # offsets: the Hessian is the pairs' graph Laplacian plus the prior, sparse
            from scipy.sparse.linalg import cg, spsolve
            hess = ((lap[:dim, :dim] if identity else rows.T @ (lap @ rows)) + diags(2 * lam)).tocsc()
            if dim > SPARSE_DIRECT_MAX and n > dim and np.all(lam > 0):
                # a crowd's offsets over thousands of recipes, more votes than recipes: a direct
                # factorisation of a random vote graph fills in (seconds a step); conjugate
                # gradients with a diagonal preconditioner take milliseconds (the prior keeps the
                # system well conditioned). Fewer votes than recipes: the direct solve is faster
                step, _ = cg(hess, grad, rtol=1e-12, atol=0.0, maxiter=10 * dim, M=diags(1.0 / hess.diagonal()))
            else:
                step = np.asarray(spsolve(hess, grad)).reshape(-1)
            if not np.isfinite(step).all():
                step = np.linalg.lstsq(hess.toarray(), grad, rcond=None)[0]
        else:
            hess = rows.T @ (lap @ rows)
            hess[np.diag_indices(dim)] += 2 * lam
            try:
                step = np.linalg.solve(hess, grad)
            except np.linalg.LinAlgError:  # only without a prior (precision 0) along flat directions
                step = np.linalg.lstsq(hess, grad, rcond=None)[0]
        coef, obj, converged = line_step(objective, coef, step, obj, tol, it)
        if on_iter:
            on_iter(it, coef)
    return BTFit(coef, it, converged)


def line_step(objective: Callable[[np.ndarray], float], coef: np.ndarray, step: np.ndarray, obj: float,
              tol: float, it: int) -> tuple[np.ndarray, float, bool]:
    """One damped Newton step: `coef - t * step`, t halved until the objective does not rise.

    Parameters
    ----------
    objective : the convex objective; coef, obj : the current point and its objective.
    step : the Newton direction; tol : relative change in the objective that counts as converged.
    it : the iteration number (for the error message).

    Returns
    -------
    (new coef, its objective, converged). Raises TrainingError when the objective turns non-finite.
    """
    t = 1.0
    while True:
        cand = coef - t * step
        obj_cand = objective(cand)
        if obj_cand <= obj + 1e-12 * max(1.0, abs(obj)) or t < 1e-6:
            break
        t *= 0.5
    if not (np.isfinite(obj_cand) and np.isfinite(cand).all()):
        raise TrainingError(f"cannot train: the loss became non-finite ({obj_cand}) at Newton "
                            f"iteration {it} (features too large or damaged?)")
    converged = (obj - obj_cand <= tol * max(1.0, abs(obj))
                 or float(np.max(np.abs(t * step), initial=0.0)) < 1e-12)
    return cand, obj_cand, converged
