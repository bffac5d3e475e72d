"""Rater self-consistency: how often one person agrees with themselves, and what that means
for the model.

Pairwise labelling tools either trust every click or measure agreement between annotators;
here one profile is measured against itself, two ways:
- repeats: now and then (`DEFAULT_REPEAT_SHARE`, about 1 round in 15, never twice in a row)
  the Compare round shows again a pair this profile already judged, sides swapped
  (`choose_repeat`); the vote is stored with `repeat_of` = the earlier vote's id. A later
  decisive vote on a pair the profile had already judged (an import, the API) counts as a
  repeat of the latest earlier one too;
- intransitive triads: among the profile's decisive votes, three recipes judged pairwise
  as A>B, B>C, C>A (`triad_counts`, counted over the directed graph of judged pairs).

Noise model (`estimate_noise`): each judgement is the person's true order flipped with
probability e. Then a repeat disagrees with probability 2e(1-e), and a triad whose three
pairs were each judged once is cyclic with probability e(1-e) (exactly one flip of the
"long" pair, or flips of both "short" ones). Both counts are binomial in q = e(1-e); e is
their joint maximum-likelihood estimate with a likelihood-ratio 95% interval. Triads share
pairs, so they count as at most (pairs in some triad) / 3 independent observations.

For the model (`likelihood_weight`, `tempered_config`): a binary judgement flipped with
probability e carries (1 - 2e)^2 of the information of a clean one about a score difference
near 0, which is 2a - 1 for a self-agreement a. That is the weight of each of the person's
votes in the Bradley-Terry likelihood (a person at 60% self-agreement: 0.2; at 95%: 0.9),
taken at the interval's low end of e so a model is only tempered by noise the data show.
`Lab.train` gives the person's pairs that weight (`Pairs.weight`), which the solver and the
evidence search for the prior's shape use; `tempered_config` (dividing the L2 pull and the
offset precision by w) is the same fit for the isotropic prior only.

Repeats and triads leave out household votes (`group_id`): those are a group's choice.
What it may import: see `pantry.evaluation` (domain, model; nothing of the UI).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict, dataclass, replace
from typing import Callable, Iterable, Sequence

import numpy as np

from pantry.domain.votes import Vote

DEFAULT_REPEAT_SHARE = 1 / 15  # share of Compare rounds that show a judged pair again
REPEAT_SHARE_PREF = "repeat_share"  # the profile setting (`Store.get_user_prefs`) that overrides it
MAX_REPEAT_SHARE = 0.5
MIN_GAP = 5  # a pair is shown again only after at least this many later votes (not from memory)
MIN_WEIGHT = 0.1  # a vote never counts less than this in the likelihood
_LR_95 = 3.841458820694124  # chi-square, 1 degree of freedom, 95%
_GRID = np.linspace(0.0, 0.5, 2001)  # flip probabilities searched (step 0.00025)


def repeat_share(prefs: dict | None) -> float:
    """The profile's repeat share from its preferences (`REPEAT_SHARE_PREF`), else the default;
    a stored value that is not a number in [0, MAX_REPEAT_SHARE] reads as the default."""
    value = (prefs or {}).get(REPEAT_SHARE_PREF, DEFAULT_REPEAT_SHARE)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= MAX_REPEAT_SHARE:
        return DEFAULT_REPEAT_SHARE
    return float(value)


def _own(votes: Iterable[Vote]) -> list[Vote]:
    """The votes that are a person's own judgement: not deleted, not household votes."""
    return [v for v in votes if not v.deleted and v.group_id is None]


def choose_repeat(votes: Sequence[Vote], rng: np.random.Generator,
                  share: float = DEFAULT_REPEAT_SHARE,
                  allowed: Callable[[list[Vote]], list[Vote]] | None = None) -> Vote | None:
    """Whether this round repeats an earlier judgement, and which: the earlier vote, or None.

    Parameters
    ----------
    votes: the profile's stored votes, oldest first.
    rng: draws whether to repeat (probability `share`) and which vote; not used at all when
        no vote can be repeated, so a profile without votes sees the same rounds as before.
    share: the share of rounds that are repeats (0 turns repeats off).
    allowed: keeps the votes whose pair may be shown now (e.g. both dishes within the round's
        diet and time limits); None: every one.

    Returns
    -------
    A decisive vote older than the last `MIN_GAP` votes, not a repeat itself and not repeated
    yet, or None: never when the newest vote is a repeat (no two repeats in a row), whether a
    repeat round's or a pair judged again some other way (the API carries no `repeat_of`).
    """
    own = _own(votes)
    if not own or own[-1].repeat_of is not None or share <= 0:
        return None
    last = frozenset((own[-1].a, own[-1].b))
    if any(frozenset((v.a, v.b)) == last for v in own[:-1]):  # the newest vote judged a pair again (the API)
        return None
    repeated = {v.repeat_of for v in own if v.repeat_of is not None}
    pool = [v for v in own[:-MIN_GAP] if v.decisive and v.repeat_of is None and v.id is not None
            and v.id not in repeated]
    if not pool or rng.random() >= share:
        return None
    if allowed is not None:
        pool = allowed(pool)
        if not pool:
            return None
    return pool[int(rng.integers(len(pool)))]


def swapped_left(vote: Vote, rng: np.random.Generator) -> str:
    """Which recipe ("a"/"b") goes on the left when `vote`'s pair is shown again: the other side
    from last time (random when the vote does not say)."""
    if vote.left in ("a", "b"):
        return "b" if vote.left == "a" else "a"
    return "a" if rng.random() < 0.5 else "b"


# --------------------------------------------------------------------------- the measures

def repeat_pairs(votes: Sequence[Vote]) -> list[tuple[Vote, Vote]]:
    """(earlier vote, repeat) for each decisive repeat of a decisive judgement, oldest first.

    A vote with `repeat_of` is paired with that vote; a decisive vote on a pair the profile
    already judged decisively, with the latest earlier judgement of that pair.
    """
    own = _own(votes)
    by_id = {v.id: v for v in own if v.id is not None}
    last: dict[frozenset[str], Vote] = {}
    out = []
    for v in own:
        if not v.decisive:
            continue
        key = frozenset((v.a, v.b))
        before = by_id.get(v.repeat_of) if v.repeat_of is not None else last.get(key)
        if before is not None and before.decisive:
            out.append((before, v))
        last[key] = v
    return out


def triad_counts(votes: Sequence[Vote]) -> tuple[int, int, int]:
    """(triads, cyclic triads, pairs in some triad) among the profile's decisive votes.

    Each judged pair is one directed edge, winner -> loser, by the majority of its decisive
    votes (an even split leaves the pair out). A triad is three recipes whose three pairs all
    have an edge; it is cyclic when the edges go round (A>B, B>C, C>A). Triangles are listed
    once each by ordering recipes by degree (O(E^1.5)).
    """
    net: dict[tuple[str, str], int] = defaultdict(int)
    for v in _own(votes):
        if v.decisive:
            u, w = sorted((v.winner, v.loser))
            net[(u, w)] += 1 if v.winner == u else -1
    beats: set[tuple[str, str]] = set()
    nbr: dict[str, set[str]] = defaultdict(set)
    for (u, w), n in net.items():
        if n:
            beats.add((u, w) if n > 0 else (w, u))
            nbr[u].add(w)
            nbr[w].add(u)
    rank = {node: k for k, node in enumerate(sorted(nbr, key=lambda x: (len(nbr[x]), x)))}
    higher = {node: {m for m in nbr[node] if rank[m] > rank[node]} for node in nbr}
    triads = cyclic = 0
    in_triads: set[frozenset[str]] = set()
    for u in nbr:
        for v in higher[u]:
            for w in higher[u] & higher[v]:
                triads += 1
                in_triads.update((frozenset((u, v)), frozenset((v, w)), frozenset((u, w))))
                outs = ((u, v) in beats) + ((v, w) in beats) + ((w, u) in beats)
                cyclic += outs in (0, 3)
    return triads, cyclic, len(in_triads)


def _loglik(e: np.ndarray, k: float, n: float, c: float, m: float) -> np.ndarray:
    """Log-likelihood of flip probability e: k of n repeats disagree, c of m triads cyclic."""
    q = e * (1 - e)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = [(k, 2 * q), (n - k, 1 - 2 * q), (c, q), (m - c, 1 - q)]
        out = np.zeros_like(e)
        for count, p in terms:
            if count > 0:
                out = out + count * np.log(p)
    return out


@dataclass(frozen=True)
class NoiseEstimate:
    """A flip probability (0: always the same answer, 0.5: a coin) with its 95% interval;
    NaN with (0, 0.5) when there is nothing to go on."""

    flip: float
    low: float
    high: float


def estimate_noise(disagree: int, repeats: int, cyclic: float = 0, triads: float = 0) -> NoiseEstimate:
    """The joint maximum-likelihood flip probability from repeats and triads (module docstring).

    Parameters
    ----------
    disagree, repeats: repeats whose answer differed from the earlier one, and all repeats.
    cyclic, triads: cyclic triads and all triads (may be fractional: down-weighted counts).

    Returns
    -------
    NoiseEstimate with a likelihood-ratio 95% interval on a 0.00025 grid over [0, 0.5].
    """
    if not (0 <= disagree <= repeats and 0 <= cyclic <= triads):
        raise ValueError(f"need 0 <= disagree <= repeats and 0 <= cyclic <= triads, got "
                         f"{disagree}/{repeats}, {cyclic}/{triads}")
    if repeats == 0 and triads == 0:
        return NoiseEstimate(float("nan"), 0.0, 0.5)
    ll = _loglik(_GRID, disagree, repeats, cyclic, triads)
    best = int(np.argmax(ll))
    inside = _GRID[2 * (ll[best] - ll) <= _LR_95]
    return NoiseEstimate(float(_GRID[best]), float(inside.min()), float(inside.max()))


def likelihood_weight(flip: float) -> float:
    """How much one vote of a rater with flip probability `flip` counts in the Bradley-Terry
    likelihood: (1 - 2 flip)^2, at least MIN_WEIGHT; 1.0 for an unknown (NaN) flip."""
    if flip is None or math.isnan(flip):
        return 1.0
    return max(MIN_WEIGHT, (1 - 2 * min(max(flip, 0.0), 0.5)) ** 2)


def tempered_config(cfg, weight: float):
    """`cfg` (a TrainConfig) fitted as if each vote counted `weight` in the likelihood.

    minimise w * loss + l2 |c|^2 is minimise loss + (l2 / w) |c|^2, and the same for the
    per-recipe offsets (variance item_var * w), so the trainer needs no new argument. l2 is
    capped at its option's maximum (100)."""
    from pantry.model.training import train_options

    if not 0 < weight <= 1:
        raise ValueError(f"weight must be in (0, 1], got {weight!r}")
    if weight == 1:
        return cfg
    l2_max = next(o.maximum for o in train_options() if o.name == "l2")
    return replace(cfg, l2=min(l2_max, cfg.l2 / weight), item_var=cfg.item_var * weight)


@dataclass(frozen=True)
class Consistency:
    """One profile's consistency with itself (numbers only; the page and the CLI word them).

    decisive: the profile's own decisive votes (household votes left out).
    repeats, agreements: repeat judgements compared with the earlier one, and how many agreed;
    agreement (NaN without repeats) with its Wilson 95% interval; explicit_repeats: of the
    repeats, those shown by a repeat round (`repeat_of`).
    triads, cyclic: fully judged triads and the intransitive ones; cyclic_rate (NaN without
    triads) with a Wilson interval on the triads counted as independent (they are not
    quite: see `triad_weight`, the share of them the noise estimate counts).
    flip, flip_low, flip_high: the estimated flip probability and its interval.
    weight: each vote's Bradley-Terry likelihood weight (`likelihood_weight` of flip_low).
    ceiling: the accuracy a model can reach on this person's own votes, 1 - flip (NaN when
    unknown): a held-out accuracy above it is not reachable.
    """

    user: str
    decisive: int
    repeats: int
    agreements: int
    agreement: float
    agreement_low: float
    agreement_high: float
    explicit_repeats: int
    triads: int
    cyclic: int
    cyclic_rate: float
    cyclic_low: float
    cyclic_high: float
    triad_weight: float
    flip: float
    flip_low: float
    flip_high: float
    weight: float
    ceiling: float

    def to_dict(self) -> dict:
        return asdict(self)


def consistency(votes: Sequence[Vote], user: str = "") -> Consistency:
    """The consistency figures of one profile's votes (oldest first).

    Parameters
    ----------
    votes: the profile's stored votes (deleted and household votes are left out here).
    user: the profile's name, carried into the result.

    Returns
    -------
    Consistency (see its docstring).
    """
    from pantry.evaluation.checks import CONFIDENCE_95
    from pantry.model.cross_validation import wilson_interval  # light: the diagnostics import sklearn

    own = _own(votes)
    pairs = repeat_pairs(own)
    agree = sum(1 for before, again in pairs if before.winner == again.winner)
    n = len(pairs)
    triads, cyclic, edges = triad_counts(own)
    factor = min(1.0, edges / 3 / triads) if triads else 0.0
    noise = estimate_noise(n - agree, n, cyclic * factor, triads * factor)
    a_low, a_high = wilson_interval(agree, n, CONFIDENCE_95)
    c_low, c_high = wilson_interval(cyclic, triads, CONFIDENCE_95)
    return Consistency(
        user=user, decisive=sum(1 for v in own if v.decisive), repeats=n, agreements=agree,
        agreement=agree / n if n else float("nan"), agreement_low=a_low, agreement_high=a_high,
        explicit_repeats=sum(1 for _, again in pairs if again.repeat_of is not None),
        triads=triads, cyclic=cyclic, cyclic_rate=cyclic / triads if triads else float("nan"),
        cyclic_low=c_low, cyclic_high=c_high, triad_weight=factor,
        flip=noise.flip, flip_low=noise.low, flip_high=noise.high,
        weight=likelihood_weight(noise.low if not math.isnan(noise.flip) else float("nan")),
        ceiling=1 - noise.flip if not math.isnan(noise.flip) else float("nan"))


def profile_consistency(store, user: str) -> Consistency:
    """`consistency` of a stored profile's votes (one read)."""
    return consistency(store.votes(user), user)


# ------------------------------------------------------------------------- simulated raters

def flip_rater_votes(utility: np.ndarray, n_votes: int, flip: float, seed: int = 0,
                     share: float = DEFAULT_REPEAT_SHARE, user: str = "sim") -> list[Vote]:
    """Votes of a simulated rater who knows their order (`utility` per item, ids "r0", "r1"...)
    and flips each answer with probability `flip`, with repeat rounds as the app makes them
    (`choose_repeat`, sides swapped); ids are assigned as a store would. For tests and the
    README's figures."""
    rng = np.random.default_rng(seed)
    votes: list[Vote] = []
    n = len(utility)
    for k in range(n_votes):
        again = choose_repeat(votes, rng, share)
        if again is not None:
            i, j = int(again.a[1:]), int(again.b[1:])
            left = swapped_left(again, rng)
        else:
            i, j = (int(x) for x in rng.choice(n, 2, replace=False))
            left = "a" if rng.random() < 0.5 else "b"
        a_wins = (utility[i] > utility[j]) != (rng.random() < flip)
        votes.append(Vote(user=user, a=f"r{i}", b=f"r{j}", outcome="a" if a_wins else "b", left=left, id=k + 1,
                          repeat_of=None if again is None else again.id))
    return votes


def simulated_model_accuracy(flip: float, seed: int, dim: int = 16, n_items: int = 60, n_votes: int = 300,
                             n_test: int = 200) -> tuple[float, float, float]:
    """The experiment behind "a noisy rater's model is no worse with the weight" (tests, README).

    A population prior `w_pop` and a rater whose taste is `w_pop` plus a deviation, over
    random `dim`-wide features; `n_votes` votes by `flip_rater_votes`; a personal model
    pulled toward the prior (`train_reward_model`, one member, no validation split) fitted
    with and without `tempered_config(cfg, consistency(votes).weight)`.

    Returns
    -------
    (the rater's weight, held-out pairwise accuracy without, with the weight) against the
    rater's true order on `n_test` fresh recipes.
    """
    from pantry.model.reward import RewardModel
    from pantry.model.training import TrainConfig, make_pairs, train_reward_model

    rng = np.random.default_rng(100 + seed)
    w_pop = rng.normal(size=dim)
    w_user = w_pop + 0.7 * rng.normal(size=dim) * np.linalg.norm(w_pop) / np.sqrt(dim)
    x = rng.normal(size=(n_items, dim)).astype(np.float32)
    votes = flip_rater_votes(x @ w_user, n_votes, flip, seed=seed)
    ia, ib = [int(v.a[1:]) for v in votes], [int(v.b[1:]) for v in votes]
    pairs = make_pairs(x[ia], x[ib], [v.outcome for v in votes], None, [v.a for v in votes], [v.b for v in votes])
    prior = RewardModel(None, "simulated", "simulated", dim, arrays=[
        {"linear.weight": (0.5 * w_pop)[None, :].astype(np.float32), "linear.bias": np.zeros(1, np.float32)}])
    cfg = TrainConfig(members=1, val_split=0.0)
    weight = consistency(votes).weight
    test = rng.normal(size=(n_test, dim)).astype(np.float32)
    truth = test @ w_user
    i, j = np.triu_indices(n_test, 1)
    acc = []
    for config in (cfg, tempered_config(cfg, weight)):
        s = train_reward_model(pairs, "simulated", "simulated", config, prior=prior).model.score(test)[0]
        acc.append(float(np.mean(np.sign(s[i] - s[j]) == np.sign(truth[i] - truth[j]))))
    return weight, acc[0], acc[1]


__all__ = ["DEFAULT_REPEAT_SHARE", "REPEAT_SHARE_PREF", "Consistency", "NoiseEstimate", "choose_repeat",
           "consistency", "estimate_noise", "flip_rater_votes", "likelihood_weight", "profile_consistency",
           "repeat_pairs", "repeat_share", "simulated_model_accuracy", "swapped_left",
           "tempered_config", "triad_counts"]
