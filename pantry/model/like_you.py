"""What the people who vote like you say about a recipe: the crowd's votes, each voter weighted
by how often they agreed with you.

A crowd's plain verdict on a dish (`crowd_items`) carries to a newcomer only where people
share a view; where tastes split it cancels out. The raters who agreed with you on dishes you
both judged are the part of the crowd whose verdicts do carry to you (user-based
collaborative filtering). `neighbour_verdicts` weighs each other rater by the log-odds of that
agreement (a Beta(1, 1) posterior: one agreement is weak evidence, a rater who disagrees as
often as not weighs 0) and fits per-recipe offsets on their votes so weighted, on top of
what the prior already says. The trainer (`training._trusted_like_you`) decides how far to
trust them, on the person's own votes, or, for a person with too few to judge it, on crowd
raters each playing a person with as many votes (`training._crowd_gains`); a personal model
starts from them on recipes it has not rated, as it does from the crowd's verdicts.

A rater counts where they judged both recipes of one of your votes (ranked by their own net
wins, so no identical pair is needed). In the app every profile mostly sees recipes of its
own, so there is usually nobody and nothing changes; on shared recipe sets (imports, the
evaluation data) this is what other people's votes say about a dish you have not rated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from pantry.model.crowd_items import fit_offsets

SCALES = (0.0, 0.25, 0.5, 1.0)  # candidate trust in the neighbours' verdicts, chosen per person
# nats of held-out log-loss a trust above 0 must gain, as a step of a prior scale costs in
# `prior_shape`: among a few neighbours someone agrees with a person by chance
TRUST_COST = 0.5
MIN_VOTES = 4  # votes within each half of a person's recipes below which they cannot judge the trust
CROWD_RATERS = 48  # crowd raters who each play a person with few votes, to measure such a person's trust
CROWD_Z = 2.0  # standard errors (over those raters) a trust's gain must reach: one-sided ~2%


@dataclass(frozen=True)
class LikeYou:
    """Offsets from the raters who vote like you: `offsets[j]` for recipe `ids[j]`, already
    times `scale` (the trust your own votes chose); `raters` how many weighed more than 0. With
    `axes` > 0 the offsets are your taste on that many axes the crowd shares
    (`crowd_tastes.taste_verdicts`) and `raters` how many raters the axes were learnt from;
    `judged`: whose votes chose the trust ("own", or "crowd" for a person with too few);
    `stands_in`: on the recipes they speak for they replace what the person's content head learnt
    from the same votes (`training._folded`), as those votes measured better."""

    ids: tuple[str, ...]
    offsets: np.ndarray
    scale: float
    raters: int
    axes: int = 0
    judged: str = "own"
    stands_in: bool = False


class Crowd:
    """Other raters' votes, indexed once for many people's `neighbour_verdicts`.

    Parameters
    ----------
    ids_a, ids_b : each vote's recipe ids; y : outcomes (1 a won, 0 b won, 0.5 a tie).
    rater : who cast each vote (any labels).
    """

    def __init__(self, ids_a: Sequence[str], ids_b: Sequence[str], y: np.ndarray, rater: Sequence) -> None:
        from scipy.sparse import coo_matrix

        self.where: dict[str, int] = {}
        self._ids: list[str] = []
        self.oa = self._index(ids_a)
        self.ob = self._index(ids_b)
        self.y = np.asarray(y, np.float64)
        self.labels, self.rater = np.unique(np.asarray([str(r) for r in rater], dtype=object), return_inverse=True)
        self.rater = self.rater.astype(np.int64)
        shape = (len(self.labels), len(self.where))
        rows, cols = np.concatenate([self.rater, self.rater]), np.concatenate([self.oa, self.ob])
        sign = 2.0 * self.y - 1.0  # +1 a won, -1 b won, 0 a tie
        self.net = coo_matrix((np.concatenate([sign, -sign]), (rows, cols)), shape=shape).tocsc()
        seen = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=shape).tocsc()
        seen.data[:] = 1.0  # judged at all (repeats summed, then flattened)
        self.seen = seen
        self.trust_memo: dict[tuple, np.ndarray | None] = {}  # (votes, prior, settings, ...) -> players' gains
        self.tastes_memo: dict[tuple, object] = {}  # (prior's differences, raters left out) -> its axes

    def _index(self, ids: Sequence[str]) -> np.ndarray:
        where = self.where
        return np.fromiter((where.setdefault(str(r), len(where)) for r in ids), np.int64, len(ids))

    def __len__(self) -> int:
        return len(self.y)

    def ids(self) -> list[str]:
        """The recipe id of each index."""
        if len(self._ids) != len(self.where):
            self._ids = sorted(self.where, key=self.where.__getitem__)
        return self._ids

    def weights(self, own_a: np.ndarray, own_b: np.ndarray, own_y: np.ndarray) -> np.ndarray:
        """Each rater's weight, max(0, log((agreements + 1) / (disagreements + 1))), over your
        decisive votes on two recipes (indices here, -1: unknown) they both judged and ranked apart."""
        own_a, own_b, own_y = (np.asarray(v) for v in (own_a, own_b, own_y))
        keep = (own_y != 0.5) & (own_a >= 0) & (own_b >= 0) & (own_a != own_b)
        if not keep.any():
            return np.zeros(len(self.labels))
        a, b = own_a[keep], own_b[keep]
        mine = np.where(own_y[keep] == 1.0, 1.0, -1.0)  # +1: I preferred a
        both = self.seen[:, a].multiply(self.seen[:, b]).tocsr()  # (raters, my votes): judged both
        gap = (self.net[:, a] - self.net[:, b]).multiply(both).tocsr()  # their net-win gap, where judged
        says = gap.multiply(mine[None, :]).tocsr()  # > 0: ranked as I did; < 0: the other way
        agree = np.asarray((says > 0).sum(axis=1)).ravel()
        disagree = np.asarray((says < 0).sum(axis=1)).ravel()
        return np.maximum(0.0, np.log((agree + 1.0) / (disagree + 1.0)))

    def offsets(self, w: np.ndarray, d0: np.ndarray | None, item_var: float) -> np.ndarray:
        """Per-recipe offsets (index order) on the votes of raters with weight > 0, each vote
        counting its rater's weight, on top of the prior's score differences `d0` (per vote)."""
        vote_w = w[self.rater]
        keep = np.flatnonzero(vote_w > 0)
        if not len(keep):
            return np.zeros(len(self.where))
        base = np.zeros(len(keep)) if d0 is None else np.asarray(d0, np.float64)[keep]
        return fit_offsets(self.oa[keep], self.ob[keep], self.y[keep], base, np.zeros(len(keep)), vote_w[keep],
                           len(self.where), item_var)


@dataclass
class Neighbours:
    """A person's crowd for `neighbour_verdicts`: the other raters' votes (`Crowd`), the prior's
    score difference on each of them (None: 0), the rater label that is the person (None:
    the crowd holds none of their votes), and `votes`: the crowd's votes at given row indices
    as `Pairs` with features (None: the crowd cannot play a person, so a person with too few
    votes to judge the trust gets none)."""

    crowd: Crowd
    d0: np.ndarray | None = None
    exclude: str | None = None
    votes: Callable[[np.ndarray], object] | None = None
    # each crowd recipe's feature row (`crowd_features`): kept per Neighbours (one training), not
    # on the crowd, which a Lab may keep across retrains (a row per recipe is large at scale)
    features_memo: np.ndarray | None = field(default=None, repr=False, compare=False)


def crowd_features(neighbours: Neighbours) -> np.ndarray | None:
    """Each crowd recipe's feature row (index order), read from the first vote on it through
    `neighbours.votes`; None where the crowd has no features. Memoised on `neighbours`. The
    columns about a request (pantry coverage) are that vote's pantry's: a caller that means the
    dish leaves them out."""
    crowd = neighbours.crowd
    if neighbours.features_memo is None and neighbours.votes is not None and len(crowd):
        n = len(crowd.where)
        first_a, first_b = np.full(n, -1), np.full(n, -1)
        for first, side in ((first_a, crowd.oa), (first_b, crowd.ob)):
            idx, row = np.unique(side, return_index=True)  # each recipe's first vote on that side
            first[idx] = row
        on_a = first_a >= 0
        votes = neighbours.votes(np.where(on_a, first_a, first_b))
        neighbours.features_memo = np.where(on_a[:, None], votes.xa, votes.xb)
    return neighbours.features_memo


def neighbour_verdicts(neighbours: Neighbours | None, own_a: Sequence[str], own_b: Sequence[str],
                       own_y: np.ndarray, item_var: float) -> LikeYou | None:
    """Per-recipe offsets from the raters who vote like you (trust 1: the caller scales them).

    Parameters
    ----------
    neighbours : the other raters' votes (`Neighbours`); None or empty: nothing to learn from.
    own_a, own_b, own_y : your votes' recipe ids and outcomes (1 a won, 0 b won, 0.5 a tie).
    item_var : the offsets' prior variance (0: none).

    Returns
    -------
    `LikeYou` (scale 1), or None when nobody agreed with you on anything.
    """
    own_y = np.asarray(own_y, np.float64)
    crowd = neighbours.crowd if neighbours is not None else None
    if crowd is None or not len(crowd) or item_var <= 0 or not len(own_y):
        return None
    ua = np.fromiter((crowd.where.get(str(r), -1) for r in own_a), np.int64, len(own_a))
    ub = np.fromiter((crowd.where.get(str(r), -1) for r in own_b), np.int64, len(own_b))
    w = crowd.weights(ua, ub, own_y)
    if neighbours.exclude is not None:
        w[crowd.labels == str(neighbours.exclude)] = 0.0
    if not np.any(w):
        return None
    off = crowd.offsets(w, neighbours.d0, item_var)
    said = np.flatnonzero(off)  # the recipes the neighbours voted on: a model keeps only these
    if not len(said):
        return None
    ids = crowd.ids()
    return LikeYou(tuple(ids[j] for j in said), off[said], 1.0, int(np.count_nonzero(w)))


def scaled(like_you: LikeYou | None, scale: float) -> LikeYou | None:
    """`like_you` trusted `scale` (its offsets times it); None for a scale of 0."""
    if like_you is None or scale == 0.0:
        return None
    return LikeYou(like_you.ids, like_you.offsets * scale, scale, like_you.raters, like_you.axes, like_you.judged,
                   like_you.stands_in)


def with_like_you(crowd: tuple[tuple[str, ...], list[np.ndarray]] | None, like_you: LikeYou | None,
                  own_ids: Sequence[str]
                  ) -> tuple[tuple[tuple[str, ...], list[np.ndarray]] | None, np.ndarray | None]:
    """(the offsets a personal model inherits, in `crowd_items.crowd_offsets`' shape: ids and one
    array per prior member, with the like-you offsets added to each; the like-you part alone on
    those ids, or None without it)."""
    if like_you is None:
        return crowd, None
    ids = tuple(sorted(set(like_you.ids) | set(own_ids) | (set(crowd[0]) if crowd is not None else set())))
    where = {rid: j for j, rid in enumerate(ids)}
    mine = np.zeros(len(ids))
    mine[[where[rid] for rid in like_you.ids]] = like_you.offsets
    if crowd is None:
        return (ids, [mine]), mine
    at = [where[rid] for rid in crowd[0]]
    out = []
    for off in crowd[1]:
        full = mine.copy()
        full[at] += off
        out.append(full)
    return (ids, out), mine


def like_you_metrics(like_you: LikeYou | None, own_ids: Sequence[str]) -> dict | None:
    """{"scale", "raters", "recipes" (those with a like-you offset the person has not rated),
    "axes", "judged", "stands_in"}, for a version's metrics; None without like-you offsets."""
    if like_you is None:
        return None
    rated = set(own_ids)
    recipes = sum(1 for rid, off in zip(like_you.ids, like_you.offsets) if off != 0 and rid not in rated)
    return {"scale": like_you.scale, "raters": like_you.raters, "recipes": recipes, "axes": like_you.axes,
            "judged": like_you.judged, "stands_in": like_you.stands_in}


def neighbours_of(others, prior, crowd: Crowd | None = None) -> Neighbours | None:
    """`Neighbours` from `others` (`Pairs` of every other profile, with recipe ids and raters),
    each vote's prior score difference by `prior` (a `RewardModel`); None without such votes.
    `crowd`: the `Crowd` of these same votes built before (its memos kept)."""
    if others is None or not len(others) or others.ids_a is None or others.rater is None:
        return None
    d0 = None
    if prior is not None:
        d0 = prior.score(others.xa, list(others.ids_a))[0] - prior.score(others.xb, list(others.ids_b))[0]
    if crowd is None or len(crowd) != len(others):
        crowd = Crowd(others.ids_a, others.ids_b, others.y, others.rater)
    return Neighbours(crowd, d0, votes=others.subset)
