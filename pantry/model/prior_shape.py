"""The prior's shape for a personal fit: one variance per feature group (and per taste
column with "ard") chosen by the Laplace-approximated marginal likelihood
(`choose_prior_scales`, `log_evidence`), or the isotropic pull (`isotropic_scales`).
Split out of `pantry.model.training` (which re-exports every name)."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from pantry.model.solver import BTFit, bt_loss, fit_bradley_terry
from pantry.model.taste_spread import column_shares

def explicit_count(feature_spec: str, dim: int) -> int:
    """How many trailing columns of a `dim`-wide row are named taste features: the names
    after "explicit-vN:" in the feature spec (0 for any other spec, e.g. test fixtures)."""
    if not feature_spec.startswith("explicit") or ":" not in feature_spec:
        return 0
    n = len([x for x in feature_spec.split(":", 1)[1].split(",") if x])
    return n if 0 < n < dim else 0


# Empirical Bayes prior shape (TrainConfig.prior_shape == "evidence"). The content head's
# deviation from the prior is `delta`, plus one coefficient `c` on the prior's own score
# (the model is `(1 + c) * prior + delta`: a person may lean on the crowd, ignore it or
# even go against it). Every weight of group g gets prior variance tau_g^2 / sum_j v_j, v_j
# the column's variance over the fit's recipes (so the group's part of the score varies by
# about tau_g^2); the crowd coefficient N(0, CROWD_VAR). tau_g^2 for the
# taste features and for the embedding are chosen by the fit's Laplace-approximated
# marginal likelihood (a coordinate search over a log grid, `choose_prior_scales`), starting
# from the isotropic prior's own group variances (`cfg.l2`: what one pull on every weight
# gives each group), with a log-normal hyperprior around them: few or noisy votes stay near
# the isotropic prior, votes that clearly follow taste features widen that group.
# Above MAX_EVIDENCE_ROWS distinct recipes the search is skipped (the start's scales are used):
# the votes then outweigh the prior's shape, and each evidence fit would cost an R x R solve.
MAX_EVIDENCE_ROWS = 500
TAU_STEPS = tuple(range(-4, 5))  # scale = start * 4**step: 1/256 .. 256 times the start
CROWD_VAR = 1.0
TAU_SPREAD = float(np.log(4.0))  # sd of log tau_g^2 (hyperprior): one step costs as much as 1/2 nat of evidence
MIN_COLUMN_VAR = 1e-3  # a column that barely varies over the fit's recipes: its scale is floored
ARD_COLUMNS = 6  # prior shape "ard": the taste columns given their own factor (see choose_prior_scales)


def group_precision(rows: np.ndarray, n_explicit: int, scales: Mapping[str, float], crowd: bool,
                    spread: np.ndarray | None = None) -> np.ndarray:
    """Precision (objective's `precision * coef^2`) of each column of `rows` ([embedding |
    taste features | crowd score] when `crowd`) for group variances `scales`. The explicit
    group's variance is shared equally among its varying columns, or in proportion to the
    crowd's `spread` of each column's weight (`pantry.model.taste_spread`) when given."""
    dim = rows.shape[1] - (1 if crowd else 0)
    n_emb = dim - n_explicit
    raw = rows[:, :dim].var(axis=0) if len(rows) > 1 else np.ones(dim)
    v = np.maximum(raw, MIN_COLUMN_VAR)
    var = np.empty(rows.shape[1])
    # standardised columns; d_g counts the columns that vary over these recipes (a column
    # constant here, e.g. a cuisine none of them has, takes no share of the group's variance)
    d_emb = max(int(np.sum(raw[:n_emb] > MIN_COLUMN_VAR)), 1)
    d_exp = max(int(np.sum(raw[n_emb:] > MIN_COLUMN_VAR)), 1)
    var[:n_emb] = scales["embedding"] / d_emb / v[:n_emb]
    var[n_emb:dim] = scales["explicit"] / d_exp / v[n_emb:dim]
    varying = raw[n_emb:] > MIN_COLUMN_VAR
    shares = column_shares(spread, varying) if n_explicit else None
    if shares is not None:
        var[n_emb:dim][varying] = scales["explicit"] * shares[varying] / v[n_emb:dim][varying]
    if crowd:
        var[-1] = CROWD_VAR
    return 1.0 / (2.0 * var)


def log_evidence(rows: np.ndarray, ia: np.ndarray, ib: np.ndarray, y: np.ndarray, precision: np.ndarray,
                 fit: BTFit, d0: np.ndarray, margin: np.ndarray, weight: np.ndarray | None = None) -> float:
    """Laplace approximation of the log marginal likelihood of the pairs under the prior
    N(0, diag(1 / (2 precision))) at the MAP `fit`: -objective - 1/2 log|I + prior cov. x data Hessian|
    (through an R x R determinant when there are fewer distinct rows R than columns)."""
    from scipy.special import expit

    c = fit.coef
    s = rows @ c
    d = d0 + s[ia] - s[ib]
    pa, pb = expit(margin - d), expit(d + margin)
    w = np.ones(len(y)) if weight is None else np.asarray(weight, np.float64)
    h = w * (y * pa * (1 - pa) + (1 - y) * pb * (1 - pb))
    R = rows.shape[0]
    lap = np.zeros((R, R))
    np.add.at(lap, (ia, ia), h)
    np.add.at(lap, (ib, ib), h)
    np.add.at(lap, (ia, ib), -h)
    np.add.at(lap, (ib, ia), -h)
    inv_a = 1.0 / (2 * precision)
    if R <= rows.shape[1]:
        _, logdet = np.linalg.slogdet(np.eye(R) + lap @ ((rows * inv_a) @ rows.T))
    else:
        scaled = rows * np.sqrt(inv_a)
        _, logdet = np.linalg.slogdet(np.eye(rows.shape[1]) + scaled.T @ lap @ scaled)
    obj = float(np.sum(w * bt_loss(d, y, margin)) + np.sum(precision * c * c))
    return -obj - 0.5 * float(logdet)


def isotropic_scales(rows: np.ndarray, n_explicit: int, crowd: bool, l2: float) -> dict[str, float]:
    """The group variances tau_g^2 that one isotropic pull of precision `l2` amounts to: each
    weight N(0, 1 / (2 l2)), so a group's score variance is the sum of its columns' variances
    over 2 l2 (the start and hyperprior centre of `choose_prior_scales`)."""
    dim = rows.shape[1] - (1 if crowd else 0)
    v = np.maximum(rows[:, :dim].var(axis=0) if len(rows) > 1 else np.ones(dim), MIN_COLUMN_VAR)
    n_emb = dim - n_explicit
    per_weight = 1.0 / (2.0 * max(l2, 1e-3))
    return {"explicit": float(per_weight * v[n_emb:].sum()) if n_explicit else 1.0,
            "embedding": float(per_weight * v[:n_emb].sum()) if n_emb else 1.0}


def choose_prior_scales(rows: np.ndarray, ia: np.ndarray, ib: np.ndarray, y: np.ndarray, d0: np.ndarray,
                        margin: np.ndarray, n_explicit: int, crowd: bool, l2: float = 1.0,
                        item_var: float = 0.0, per_feature: bool = False,
                        weight: np.ndarray | None = None, spread: np.ndarray | None = None
                        ) -> tuple[dict, np.ndarray, float]:
    """(scales, precision, log evidence): the group variances tau_g^2 = start_g * 4**step
    (`TAU_STEPS`, start from `isotropic_scales(l2)`) that maximise the Laplace evidence plus
    the log-normal hyperprior, by coordinate search from the start (one group at a time,
    moving while it improves; each fit warm-started from the last).

    With `item_var` > 0 the evidence is that of the content head *plus* an offset per distinct
    row (a third group, "offsets", searched the same way from 1 / (2 l2)): what a person says
    about one recipe only is then explained by that recipe's offset, not by widening the
    embedding's scale until content memorises it (which does not carry to new recipes).
    With `per_feature` (prior shape "ard") each taste column that varies also gets its own
    factor 4**step on its share of the group's variance, searched the same way under the same
    hyperprior (keys "x<j>", j its index among the taste columns): one feature the votes follow
    can then widen without widening every other taste column with it. Only the ARD_COLUMNS
    columns whose weight at the group search's optimum is largest against its prior sd are
    searched (the others cannot gain evidence by widening; see the code).
    `spread`: the crowd's spread of each taste column (`group_precision`), or None.
    The returned precision covers the columns of `rows` only."""
    start = isotropic_scales(rows, n_explicit, crowd, l2)
    n_cols = rows.shape[1]
    pos = {"explicit": 0, "embedding": 0}
    if len(rows) > MAX_EVIDENCE_ROWS:  # many rated recipes: the votes outweigh the prior's shape
        lam = group_precision(rows, n_explicit, start, crowd, spread)
        return start, lam, float("nan")
    if item_var > 0:
        rows = np.hstack([rows, np.eye(len(rows))])
        start["offsets"] = item_var
    groups = [g for g in ("explicit", "embedding") if (n_explicit if g == "explicit" else
                                                        n_cols - n_explicit - crowd) > 0] + (
        [])  # the offsets' variance stays item_var (searching it too was measured: worse on unseen)
    n_emb = n_cols - n_explicit - crowd
    memo: dict[tuple, tuple[float, np.ndarray, np.ndarray]] = {}
    last = [None]

    def scales_at(p: dict) -> dict:
        return {**start, **{g: (start[g] if g in start else 1.0) * 4.0 ** p[g] for g in p}}

    def ev(p: dict) -> float:
        key = tuple(sorted(p.items()))
        if key not in memo:
            sc = scales_at(p)
            lam = group_precision(rows[:, :n_cols], n_explicit, sc, crowd, spread)
            for g, v in sc.items():
                if g.startswith("x"):
                    lam[n_emb + int(g[1:])] /= v
            if item_var > 0:
                lam = np.concatenate([lam, np.full(rows.shape[1] - n_cols, 1.0 / (2 * sc["offsets"]))])
            fit = fit_bradley_terry(rows, ia, ib, y, lam, d0, margin, weight, start=last[0])
            last[0] = fit.coef
            memo[key] = (log_evidence(rows, ia, ib, y, lam, fit, d0, margin, weight), lam, fit.coef)
        return memo[key][0]

    def penalised(p: dict) -> float:  # the log-normal hyperprior on each group's scale
        return ev(p) - sum((p[g] * np.log(4.0) / TAU_SPREAD) ** 2 / 2 for g in groups)

    def search(pos: dict, over: list[str]) -> dict:
        best = penalised(pos)
        improved = True
        while improved:
            improved = False
            for g in over:
                for step in (1, -1):
                    while TAU_STEPS[0] <= pos[g] + step <= TAU_STEPS[-1]:
                        cand = {**pos, g: pos[g] + step}
                        e = penalised(cand)
                        if e > best + 1e-9:
                            best, pos, improved = e, cand, True
                        else:
                            break
        return pos

    pos = search(pos, groups)
    if per_feature and n_explicit and len(rows) > 1:
        # ARD on the taste columns whose MAP weight is largest against its prior sd: the
        # evidence's slope in a column's log variance s_j is ((w_j^2 + Sigma_jj) / s_j - 1) / 2
        # with Sigma_jj <= s_j, so a column with a small w_j^2 / s_j has nothing to gain by
        # widening; searching only the top ARD_COLUMNS keeps the fit a few times the group search
        _, lam, coef = memo[tuple(sorted(pos.items()))]
        j = np.arange(n_emb, n_emb + n_explicit)
        ratio = coef[j] ** 2 * 2 * lam[j]
        ratio[rows[:, j].var(axis=0) <= MIN_COLUMN_VAR] = 0.0
        cols = [f"x{k}" for k in np.argsort(-ratio, kind="stable")[:ARD_COLUMNS] if ratio[k] > 0]
        groups = groups + cols  # the group scales stay where the group search put them
        pos = search({**pos, **{g: 0 for g in cols}}, cols)
    key = tuple(sorted(pos.items()))
    return scales_at(pos), memo[key][1][:n_cols], memo[key][0]
