"""Which pair of recipes to show next (active learning), and best-of-N ranking.

A vote is most useful where the model does not yet know the answer. For a pair (i, j)
each ensemble member m gives a Bradley-Terry preference probability
`p_m = sigmoid(s_m(i) - s_m(j))`. Three measures of how much a vote on the pair would teach:

- "uncertainty": `p(1 - p)` of the ensemble-mean probability, largest at p = 0.5 (the
  model cannot tell which recipe the user prefers);
- "disagreement": the variance of `p_m` across members (members trained on different
  bootstrap resamples disagree where the data does not pin the answer down);
- "information" (default): the expected information a vote brings about the score
  difference under a Gaussian (Laplace) approximation of the posterior, 
  `0.5 * log(1 + p(1 - p) * var(s_i - s_j))`: large where the model is both unsure of
  the outcome (p near 0.5) and unsure of the scores (var large, e.g. a recipe it has no
  vote on). `var` is the posterior variance when the caller has it (`pair_variance`),
  else the variance of the score difference across ensemble members; with no variance
  at all it reduces to uncertainty sampling.
- "bald": the mutual information between the vote and the model,
  `H(mean p) - mean H(p_m)`: the expected information a vote brings. It is high where the
  members disagree, and unlike plain uncertainty it does not chase pairs that every member
  agrees are a coin flip (two recipes the person likes equally teach little). With one
  member, or identical members, it is 0 everywhere; the rule then falls back to
  uncertainty sampling.

With the votes already cast (`history`), "information" also counts what a vote would teach
about the person's *taste*: `design_variance`, the variance of a pair's taste-score
difference under a linear model on the standardised taste columns that has seen those votes
(sequential experimental design). A model with no spread of its own yet (the heuristic, the
crowd's model, a one-member fit) would otherwise ask about the pair it finds closest, often
two dishes alike in every taste.

A share of pairs (`random_share`) is chosen at random so the learner keeps seeing the
whole space and cannot lock itself into a corner of it. Pairs of near-duplicates
(embeddings with cosine similarity above 0.95, or a caller's predicate) are never shown:
"which of these two identical dishes?" wastes the user's time.

Pure functions over numpy arrays plus one entry point that takes a `RewardModel`.
"""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

import numpy as np
from scipy.special import expit

from pantry.errors import InvalidInput

NEAR_DUPLICATE_COSINE = 0.95
METHODS = ("information", "bald", "disagreement", "uncertainty")
_EPS = 1e-12


def _entropy(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return -(p * np.log(p) + (1 - p) * np.log(1 - p))


def pair_probabilities(member_scores: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """(n_members, n_pairs) probability that the first recipe of each pair is preferred.

    member_scores: (n_members, n_recipes) or (n_recipes,); pairs: (n_pairs, 2) indices.
    """
    s = np.atleast_2d(np.asarray(member_scores, dtype=np.float64))
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    return expit(s[:, pairs[:, 0]] - s[:, pairs[:, 1]])


def pair_utility(member_scores: np.ndarray, pairs: np.ndarray, method: str = "information",
                 pair_variance: np.ndarray | None = None) -> np.ndarray:
    """Expected usefulness of a vote on each pair (higher = ask sooner); see module docstring.

    "bald" and "disagreement" add a tiny uncertainty term so that ties between pairs with
    the same epistemic score (e.g. at the start, when all members equal the prior) are
    broken toward the pairs closest to 50/50.
    """
    if method not in METHODS:
        raise InvalidInput(f"unknown selection method {method!r}; use one of {', '.join(METHODS)}")
    p = pair_probabilities(member_scores, pairs)
    mean = p.mean(axis=0)
    uncertainty = mean * (1 - mean)
    if method == "uncertainty":
        return uncertainty
    if method == "information":
        if pair_variance is None:
            s = np.atleast_2d(np.asarray(member_scores, dtype=np.float64))
            pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
            pair_variance = (s[:, pairs[:, 0]] - s[:, pairs[:, 1]]).var(axis=0)
        return 0.5 * np.log1p(uncertainty * np.asarray(pair_variance, np.float64)) + 1e-6 * uncertainty
    if method == "disagreement":
        return p.var(axis=0) + 1e-6 * uncertainty
    return (_entropy(mean) - _entropy(p).mean(axis=0)) + 1e-6 * uncertainty


def choose_from_pairs(member_scores: np.ndarray, pairs: np.ndarray, rng: np.random.Generator,
                      random_share: float = 0.2, method: str = "information",
                      allowed: np.ndarray | None = None, pair_variance: np.ndarray | None = None,
                      utility: np.ndarray | None = None) -> int:
    """Index (into `pairs`) of the next pair to ask about.

    With probability `random_share` a uniformly random allowed pair, else the allowed pair
    with the highest `pair_utility` (first one on exact ties). `allowed` is a boolean mask.
    `utility` (one value per pair), when given, replaces `pair_utility`.
    """
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    ok = np.ones(len(pairs), dtype=bool) if allowed is None else np.asarray(allowed, dtype=bool)
    candidates = np.flatnonzero(ok)
    if len(candidates) == 0:
        raise InvalidInput("no pair left to choose from (all excluded or near-duplicates)")
    if not 0.0 <= random_share <= 1.0:
        raise InvalidInput(f"random_share must be between 0 and 1, got {random_share}")
    if random_share > 0 and rng.random() < random_share:
        return int(rng.choice(candidates))
    if utility is not None:
        util = np.asarray(utility, np.float64)[candidates]
        return int(candidates[int(np.argmax(util))])
    if member_scores is None:
        return int(rng.choice(candidates))
    var = None if pair_variance is None else np.asarray(pair_variance)[candidates]
    util = pair_utility(member_scores, pairs[candidates], method, var)
    return int(candidates[int(np.argmax(util))])


def cosine_similarity_matrix(embeddings: np.ndarray) -> np.ndarray:
    x = np.asarray(embeddings, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = x / np.where(norms > 0, norms, 1.0)
    return x @ x.T


def _embedding_part(features: np.ndarray) -> np.ndarray:
    """The embedding columns of `[embedding | explicit]` rows (features.py's layout)."""
    from pantry.model.features import FEATURE_NAMES

    n_explicit = len(FEATURE_NAMES)
    return features[:, :-n_explicit] if features.shape[1] > n_explicit else features


def all_pairs(n: int) -> np.ndarray:
    """Every unordered pair (i < j) of n items, as an (n*(n-1)/2, 2) array."""
    i, j = np.triu_indices(n, k=1)
    return np.stack([i, j], axis=1).astype(np.int64)


def design_columns() -> np.ndarray:
    """Positions, within the explicit columns, of the taste columns a pair's design looks at:
    every explicit feature except the pantry ones (they describe the round, not the dish) and
    `minutes_known` (bookkeeping)."""
    from pantry.model.features import FEATURE_NAMES, NOT_TASTE

    return np.array([k for k, name in enumerate(FEATURE_NAMES) if name not in NOT_TASTE], dtype=np.int64)


def design_variance(candidates: np.ndarray, pairs: np.ndarray, history: np.ndarray | None = None,
                    ridge: float = 1.0, min_spread: float = 0.05) -> np.ndarray:
    """Variance of each pair's score difference under a linear taste model that has seen `history`.

    Parameters
    ----------
    candidates : (n, k) taste columns of the candidate recipes (`design_columns` of the explicit part).
    pairs : (m, 2) candidate index pairs.
    history : (h, 2, k) taste columns of the two recipes of each vote already cast, or None.
    ridge : prior precision of each standardised taste weight.
    min_spread : floor of a column's spread (a column nearly constant here is not magnified).

    Returns
    -------
    (m,) `d' A^-1 d` for each pair's standardised difference d, where
    `A = ridge * I + 0.25 * sum of the past votes' d d'` (each vote's Fisher information at a
    50/50 outcome). Large for a pair that differs where past votes have not looked yet: a vote
    on it teaches a weight the votes so far could not tell. Columns are standardised by their
    spread over the candidates and the voted recipes, so no taste's unit decides its share.
    """
    x = np.asarray(candidates, np.float64)
    h = np.zeros((0, 2, x.shape[1])) if history is None else np.asarray(history, np.float64).reshape(-1, 2, x.shape[1])
    spread = np.maximum(np.concatenate([x, h.reshape(-1, x.shape[1])]).std(axis=0), min_spread)
    x, h = x / spread, h / spread
    past = h[:, 0] - h[:, 1]
    a = ridge * np.eye(x.shape[1]) + 0.25 * past.T @ past
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    d = x[pairs[:, 0]] - x[pairs[:, 1]]
    return np.einsum("ij,ij->i", d, np.linalg.solve(a, d.T).T)


def choose_pair(candidates_features: np.ndarray, model=None, rng: np.random.Generator | None = None,
                random_share: float = 0.2,
                exclude: Iterable[tuple[int, int]] | None = None,
                near_duplicate: Callable[[int, int], bool] | None = None,
                embeddings: np.ndarray | None = None,
                similarity_threshold: float = NEAR_DUPLICATE_COSINE,
                method: str = "information", history: np.ndarray | None = None,
                ids: Sequence[str] | None = None) -> tuple[int, int]:
    """Pick two candidate recipes (row indices, i < j) to show side by side.

    candidates_features: (n, dim) rows as the model sees them ([embedding | explicit]).
    model: a `RewardModel` (anything with `member_scores(features)`), or None for a random pair.
    exclude: pairs already asked (either order). near_duplicate: an extra predicate(i, j);
    pairs whose embeddings (`embeddings`, default the embedding columns of the features)
    have cosine similarity above `similarity_threshold` are always left out.
    history: (h, 2, explicit columns) of the votes already cast; when given (even empty), the
    "information" method adds `design_variance` on the taste columns to the members' spread,
    so early votes go to pairs that differ in taste (meat or not, quick or slow, hot or mild)
    where a model alone, with no spread yet, would pick the pair it finds closest.
    ids: the candidates' recipe ids, so the model scores them as the cards show them (with the
    per-recipe offsets of recipes this profile or its crowd rated).
    """
    x = np.asarray(candidates_features, dtype=np.float32)
    if x.ndim != 2 or len(x) < 2:
        raise InvalidInput("need at least two candidate recipes to choose a pair")
    rng = rng if rng is not None else np.random.default_rng()
    pairs = all_pairs(len(x))
    emb = _embedding_part(x) if embeddings is None else np.asarray(embeddings)
    if len(emb) != len(x):
        raise InvalidInput(f"embeddings has {len(emb)} rows for {len(x)} candidates")
    sim = cosine_similarity_matrix(emb)
    allowed = sim[pairs[:, 0], pairs[:, 1]] <= similarity_threshold
    if exclude:
        excluded = {(min(int(i), int(j)), max(int(i), int(j))) for i, j in exclude}
        allowed &= np.array([(int(i), int(j)) not in excluded for i, j in pairs], dtype=bool)
    if near_duplicate is not None:
        allowed &= np.array([not near_duplicate(int(i), int(j)) for i, j in pairs], dtype=bool)
    scores = None if model is None else model.member_scores(x) if ids is None else model.member_scores(x, ids)
    variance = None
    from pantry.model.features import FEATURE_NAMES

    if history is not None and method == "information" and x.shape[1] >= len(FEATURE_NAMES):
        cols = design_columns()
        explicit = x[:, x.shape[1] - len(FEATURE_NAMES):][:, cols]
        past = np.asarray(history, np.float64).reshape(-1, 2, len(FEATURE_NAMES))[:, :, cols]
        variance = design_variance(explicit, pairs, past)
        if scores is not None and len(scores) > 1:
            s = np.atleast_2d(scores)
            variance = variance + (s[:, pairs[:, 0]] - s[:, pairs[:, 1]]).var(axis=0)
        if scores is None:
            scores = np.zeros((1, len(x)))
    k = choose_from_pairs(scores, pairs, rng, random_share, method, allowed, pair_variance=variance)
    return int(pairs[k, 0]), int(pairs[k, 1])


def rank(scores: Sequence[float] | np.ndarray, uncertainty: Sequence[float] | np.ndarray | None = None,
         risk: float = 0.0) -> np.ndarray:
    """Indices from best to worst by `scores - risk * uncertainty` (stable on ties).

    With `risk > 0` an uncertain recipe ranks below a surely-good one of the same mean score.
    """
    s = np.asarray(scores, dtype=np.float64)
    if uncertainty is not None and risk:
        s = s - risk * np.asarray(uncertainty, dtype=np.float64)
    s = np.where(np.isnan(s), -np.inf, s)
    return np.argsort(-s, kind="stable")


def best_of_n(scores: Sequence[float] | np.ndarray, uncertainty: Sequence[float] | np.ndarray | None = None,
              risk: float = 0.0) -> int:
    """Index of the recipe to cook ("Just cook" mode): the top of `rank`."""
    if len(scores) == 0:
        raise InvalidInput("no recipes to choose from")
    return int(rank(scores, uncertainty, risk)[0])
