"""Bradley-Terry training of the reward ensemble: one exact solver, validation, cross-validation.

A vote between recipes a and b becomes a pair (x_a, x_b, y): y = 1 when a won, 0 when
b won, 0.5 for a tie ("both bad" says nothing about the order and is left out). The loss
is the Bradley-Terry negative log-likelihood `-[y log s(d - m) + (1-y) log s(-d - m)]`
with `d = score(a) - score(b)` and a margin `m` for votes marked "much better", plus an
L2 pull toward a prior: the population model's weights for a personal model (so a user's
few votes adapt the shared taste instead of starting from nothing), zero otherwise. With
`prior_shape="evidence"` (the default for personal models) the pull has one variance per
feature group chosen by the fit's marginal likelihood, and the prior's score gets its own
coefficient (see `choose_prior_scales` and `_fit_member`).

One solver (`fit_bradley_terry`): Newton's method on this objective, which with a linear
head is convex, so every fit is its exact optimum (no learning rate, epochs, batches or
early stopping to tune). The app (`Lab`), `python -m pantry train` and `python -m pantry
evaluate` all train through `train_reward_model`. It replaced full-batch L-BFGS (torch)
in the app and a separate recipe-space Newton solver in evaluation: on giallozafferano-dev
it is at least as accurate as either, and fits a population model (5,460 votes) 4-8x
faster than L-BFGS did.
A personal model also has an offset per recipe the user rated (prior N(0, item_var)),
fitted after the content head with it fixed (see `_fit_member`): new recipes are scored
by the content head alone, exactly as fitted on every vote.
With fewer distinct recipes R than features D (every personal fit) each Newton step is
solved through an R x R system (push-through identity) instead of the D x D Hessian: the
same step; a 25-vote personal fit (5 members, 400 features) took 0.24 s instead of 3.3 s
on a busy 2-core machine.
Procedure: (1) fit one member on the training split (`validation_split`) and report strict
validation metrics (measured every Newton iteration for the loss chart, never used to
choose weights); (2) refit on *all* pairs so no vote is wasted: member 0 on every pair
(its score is the model's score), the other members on bootstrap resamples (their spread
is the uncertainty).

`cross_validate` measures a training procedure on votes it did not fit (k folds, strict
accuracy with a Wilson interval): the one accuracy figure the app shows for a version. The
validation split's own accuracy stays in the metrics (`val_accuracy`) but is a 20% sample
of a model that is then refitted on it, so it is not shown next to the other figures.

Legacy defaults were Adam, 10 epochs, lr 1e-4, batch size 4, val split 0.2; with those the
head barely moves from its initialisation (which is how scores end up near one value).

Layering: model/ may import domain, kitchen, base, errors and settings (never evaluation,
storage or the UI). No process-global state is touched (no torch seeds or thread counts).

Modules, by job (this one trains; it re-exports every name the others define):
`train_config` (settings and option metadata), `pairs` (votes as arrays, validation
split), `solver` (`fit_bradley_terry`), `prior_shape` (`choose_prior_scales`),
`cross_validation` (strict metrics and k-fold cross-validation).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import numpy as np

from pantry.errors import NotEnoughVotes
from pantry.model.reward import RewardModel, _score_arrays

# Re-exported (and used here): callers import every training name from this module.
from pantry.model.train_config import (  # noqa: F401
    LEGACY_DEFAULTS, MUCH_MARGIN, Member, NEWTON_ITERS, POPULATION_CONFIG, PRIOR_SHAPES, TrainConfig,
    TrainOption, TrainingError, _option, config_from, train_options,
)
from pantry.model.pairs import (  # noqa: F401
    Pairs, concat_pairs, distinct_rows, make_pairs, pair_rows, validation_split,
)
from pantry.model.solver import (  # noqa: F401
    BTFit, bt_loss, fit_bradley_terry,
)
from pantry.model.taste_spread import spread_of, taste_spread
from pantry.model.crowd_items import (MIN_RATERS as CROWD_MIN_RATERS, crowd_item_vars, crowd_offsets, fit_offsets,
                                     own_factor_of, rater_halves)
from pantry.model.like_you import (CROWD_RATERS, CROWD_Z, MIN_VOTES as LIKE_YOU_MIN, SCALES as LIKE_YOU_SCALES,
                                   TRUST_COST as LIKE_YOU_COST, LikeYou, Neighbours, like_you_metrics,
                                   crowd_features, neighbour_verdicts, scaled, with_like_you)
from pantry.model.crowd_tastes import CrowdTastes, fit_crowd_tastes, taste_verdicts
from pantry.model.prior_shape import (  # noqa: F401
    ARD_COLUMNS, CROWD_VAR, MAX_EVIDENCE_ROWS, MIN_COLUMN_VAR, TAU_SPREAD, TAU_STEPS, choose_prior_scales,
    explicit_count, group_precision, isotropic_scales, log_evidence,
)
from pantry.model.cross_validation import (  # noqa: F401
    CV_FOLDS, CrossValidation, _summary, cross_validate, evaluate_pairs, fold_assignment, pair_scores,
    strict_counts, usable_folds, wilson_interval,
)


@dataclass
class EpochStats:
    epoch: int
    train_loss: float
    val_loss: float | None
    val_accuracy: float | None


@dataclass
class TrainResult:
    model: RewardModel
    metrics: dict
    history: list[EpochStats] = field(default_factory=list)


def _content_member(prior: RewardModel | None, k: int, dim: int) -> Member:
    """A fresh member that scores like prior member k's content part (no offsets), or zero."""
    if prior is None:
        return {"linear.weight": np.zeros((1, dim), np.float32), "linear.bias": np.zeros(1, np.float32)}
    if prior.dim != dim:
        raise ValueError("prior model has another shape than the model being trained")
    arrays = prior.member_arrays()
    src = arrays[k % len(arrays)]
    return {name: np.array(v, np.float32) for name, v in src.items() if name != "offsets"}


def _member_content_scores(member: Member, x: np.ndarray) -> np.ndarray:
    return _score_arrays(member, np.asarray(x, np.float64), None)


def _offset_diff(pairs: Pairs, inherited: tuple[tuple[str, ...], np.ndarray] | None) -> np.ndarray | float:
    """Per pair, the inherited offsets' difference (a minus b); 0 without them."""
    if inherited is None or pairs.ids_a is None or not len(pairs):
        return 0.0
    ia, ib = pairs.item_index(inherited[0])
    off = inherited[1]
    return np.where(ia >= 0, off[np.clip(ia, 0, None)], 0.0) - np.where(ib >= 0, off[np.clip(ib, 0, None)], 0.0)


# votes per content column in each half of a crowd's raters above which a content head fitted on
# one half stands in for one fitted on all when judging the crowd's offsets (the "10 events per
# variable" rule of thumb for a logistic regression's learning curve to flatten; below it, half
# the votes make a weaker content head that offsets would be chosen to make up for)
HALF_VOTES_PER_COLUMN = 10


def _fit_member(pairs: Pairs, cfg: TrainConfig, base: Member, item_ids: Sequence[str],
                weight: np.ndarray | None = None, val: Pairs | None = None,
                on_epoch: Callable[[EpochStats], None] | None = None,
                rows_ix: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                start: Member | None = None, n_explicit: int = 0,
                prior_choice: dict | None = None, spread: np.ndarray | None = None,
                inherited: tuple[tuple[str, ...], np.ndarray] | None = None, own_factor: float = 1.0,
                late: np.ndarray | None = None, search: bool = True,
                folded: Folded | None = None) -> tuple[Member, int, list[EpochStats]]:
    """Fit one member in two stages, each solved exactly by `fit_bradley_terry`.

    Stage 1 fits the content head (embedding + explicit features): `w = w_prior + coef`, with
    precision l2 (isotropic) or, with `cfg.prior_shape` "evidence", per group precisions and
    a coefficient on the prior's score (`choose_prior_scales`; `prior_choice`, a dict, gets
    the chosen scales, or gives them when it already holds "precision", e.g. for bootstrap
    members), so it learns from every vote and is all a new recipe is scored by. Stage 2
    keeps it fixed and fits an offset per rated recipe (prior N(0, item_var)) on what content
    leaves unexplained. Fitted jointly, offsets would absorb votes on recipes seen once (most
    generated recipes) and starve the content weights. History: per Newton iteration of
    stage 1, from iteration 0 (the prior's weights).
    `inherited` (ids, offsets): the crowd's offsets (`crowd_offsets`), a fixed part of the
    prior's score in both stages; the member's offsets then cover those ids, each the crowd's
    plus this person's own (0 for recipes they did not rate), whose prior variance is
    `own_factor` times `cfg.item_var` (how far people's own verdicts depart from the crowd's,
    measured on the crowd: `crowd_item_vars`). `late`: the part of `inherited` that stage 1
    leaves out (what people who vote like this person say, `pantry.model.like_you`: it was
    chosen to agree with these very votes, so the content head would learn nothing they explain).
    `folded` (`Folded`): recipes where those verdicts stand in for what the content head learnt
    from these votes about the dish: stage 2 and the score take the prior's content there (the
    head's lesson on the request's columns, pantry coverage, is kept).
    `search` False: the prior scales' search start (`isotropic_scales`), not searched.
    """
    y, m = pairs.y.astype(np.float64), pairs.margin.astype(np.float64)
    boot = weight  # a bootstrap member's resample counts (None for member 0)
    if pairs.weight is not None:  # a rater's noise: each vote counts this much in the likelihood
        weight = pairs.weight if weight is None else weight * pairs.weight
    rows, ia, ib = rows_ix if rows_ix is not None else pair_rows(pairs)
    prior_rows = _member_content_scores(base, rows) if len(rows) else np.zeros(0)
    early = inherited if late is None or inherited is None else (inherited[0], inherited[1] - late)
    d0 = prior_rows[ia] - prior_rows[ib] + _offset_diff(pairs, early)
    w0 = np.asarray(base["linear.weight"], np.float32)[0].copy()
    evidence = cfg.prior_shape in ("evidence", "ard")
    crowd = evidence and "up.weight" not in base  # a linear prior: its score is one more column
    fit_rows = np.column_stack([rows, prior_rows]) if crowd else rows
    history: list[EpochStats] = []
    if val is not None and len(val):
        v_rows, v_ia, v_ib = pair_rows(val)
        v_prior = _member_content_scores(base, v_rows)
        if crowd:
            v_rows = np.column_stack([v_rows, v_prior])
        yv = val.y.astype(np.float64)
        v_crowd = _offset_diff(val, early)

    def record(it: int, coef: np.ndarray) -> None:
        s = fit_rows @ coef
        d = d0 + s[ia] - s[ib]
        stats = EpochStats(it, float(np.mean(bt_loss(d, y, m))) if len(pairs) else float("nan"), None, None)
        if val is not None and len(val):
            sv = v_prior + v_rows @ coef
            dv = sv[v_ia] - sv[v_ib] + v_crowd
            stats.val_loss = float(np.mean(bt_loss(dv, yv)))
            n_dec, correct, _ = strict_counts(dv, yv)
            stats.val_accuracy = correct / n_dec if n_dec else float("nan")
        history.append(stats)
        if on_epoch:
            on_epoch(stats)

    own_var = cfg.item_var * own_factor
    precision: np.ndarray | float = cfg.l2
    if evidence:
        if prior_choice is not None and "precision" in prior_choice:
            precision = prior_choice["precision"]
        elif not search:
            precision = group_precision(fit_rows, n_explicit, isotropic_scales(fit_rows, n_explicit, crowd, cfg.l2),
                                        crowd, spread)
        elif len(rows):
            scales, precision, ev = choose_prior_scales(fit_rows, ia, ib, y, d0, m, n_explicit, crowd, cfg.l2,
                                                        own_var if item_ids else 0.0,
                                                        per_feature=cfg.prior_shape == "ard", weight=weight,
                                                        spread=spread)
            if prior_choice is not None:
                prior_choice.update({"precision": precision, "scales": scales, "log_evidence": ev})
        else:
            precision = np.ones(fit_rows.shape[1])
    warm = None
    if crowd and prior_choice is not None and "coef" in prior_choice:
        warm = prior_choice["coef"]  # member 0's fit (same columns): a few steps from here
    elif not crowd and start is not None and start["linear.weight"].shape == (1, len(w0)):
        warm = start["linear.weight"][0].astype(np.float64) - w0  # member 0's fit: a few steps from here
    fit = fit_bradley_terry(fit_rows, ia, ib, y, precision, d0, m, weight,
                            on_iter=record if (val is not None or on_epoch) else None, start=warm)
    state = {k: np.array(v, np.float32) for k, v in base.items()}
    coef = fit.coef
    if crowd and prior_choice is not None and "coef" not in prior_choice and boot is None and val is None:
        prior_choice["coef"] = coef
    if crowd:  # (1 + c) * prior + delta, folded into one linear head
        c = float(coef[-1])
        state["linear.weight"] = ((1 + c) * w0.astype(np.float64) + coef[:-1])[None, :].astype(np.float32)
        state["linear.bias"] = ((1 + c) * np.asarray(base["linear.bias"], np.float64)).astype(np.float32)
    else:
        state["linear.weight"] = (w0 + coef)[None, :].astype(np.float32)
    if item_ids:
        # offsets: one per rated recipe, on what the content head leaves unexplained; a side
        # without an offset (index -1) points at an extra all-zero row
        oa, ob = (t.copy() for t in pairs.item_index(item_ids))
        k = len(item_ids)
        oa[oa < 0], ob[ob < 0] = k, k
        s = fit_rows @ coef
        item_var = own_var
        if prior_choice is not None and "item_var" in prior_choice:  # a crowd's, chosen by the first member
            item_var = prior_choice["item_var"]
        elif pairs.rater is not None and inherited is None and len(set(pairs.rater)) > 1:
            # a crowd's votes: its offsets' variance is what carries from some raters to others
            # judged on top of the content head fitted on all the votes, the offsets can only carry
            # what it left: with more columns than recipes it learnt each recipe's appeal from both
            # halves. Where each half has HALF_VOTES_PER_COLUMN votes per content column (a content
            # head fitted on it is about as good as one on all), each half gets its own instead
            halves = rater_halves(pairs.rater, np.random.default_rng(cfg.seed))
            parts = (np.flatnonzero(halves), np.flatnonzero(~halves))
            by_half = None
            if (len(set(pairs.rater)) >= CROWD_MIN_RATERS and cfg.item_var > 0
                    and min(len(p) for p in parts) >= HALF_VOTES_PER_COLUMN * fit_rows.shape[1]):
                heads = []
                for part in parts:
                    sub = fit_bradley_terry(fit_rows, ia[part], ib[part], y[part], precision, d0[part], m[part],
                                            None if weight is None else weight[part], start=coef).coef
                    sh = fit_rows @ sub
                    heads.append(d0 + sh[ia] - sh[ib])
                by_half = (halves, heads[0], heads[1])
            item_var, own = crowd_item_vars(oa, ob, y, d0 + s[ia] - s[ib], m, weight, pairs.rater, k,
                                            cfg.item_var, cfg.seed, by_half=by_half)
            if prior_choice is not None:
                prior_choice.update({"item_var": item_var, "own_factor": own})
        d_late = 0.0 if late is None else _offset_diff(pairs, (inherited[0], late))
        sa, sb = s[ia], s[ib]
        if folded is not None:  # the prior's content on those dishes: only the request's lesson kept
            kept = folded.lesson(state, base, rows) - folded.lesson(state, base, _dish_only(rows, folded.request))
            fa, fb = (i >= 0 for i in pairs.item_index(folded.ids))
            sa, sb = np.where(fa, kept[ia], sa), np.where(fb, kept[ib], sb)
        offsets = fit_offsets(oa, ob, y, d0 + d_late + sa - sb, m, weight, k, item_var)
        if inherited is not None:  # the crowd's offsets, plus this person's own where they voted
            ids, crowd = inherited
            where = {rid: j for j, rid in enumerate(ids)}
            full = np.array(crowd, np.float64)
            full[[where[rid] for rid in item_ids]] += offsets
            if folded is not None:  # the score there: the prior's content, not this member's
                full[[where[rid] for rid in folded.ids]] -= folded.lesson(state, base, folded.x)
            offsets = full
        state["offsets"] = offsets.astype(np.float32)
    return state, fit.iterations, history


def fit_on_train(cfg: TrainConfig, pairs: Pairs, train: Pairs) -> bool:
    """Whether the final members are fitted on the validation run's training pairs."""
    return not cfg.refit or len(train) == len(pairs)


def _digest(*arrays) -> str:
    """A short digest of arrays (None: empty), for memo keys that must not outlive their inputs."""
    import hashlib

    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        h.update(b"|" if a is None else np.ascontiguousarray(a, np.float64).tobytes())
    return h.hexdigest()


def _held_person(neighbours: Neighbours) -> tuple[str, ...]:
    """The person's label where the crowd holds their votes (else none: a memo key stays shared)."""
    me = neighbours.exclude
    return (str(me),) if me is not None and str(me) in set(neighbours.crowd.labels) else ()


def _tastes(neighbours: Neighbours, cfg: TrainConfig, exclude: Sequence[str] = (),
            rank: int | None = None) -> CrowdTastes | None:
    """The axes of taste the crowd shares (`crowd_tastes`), fitted once per crowd, prior and
    raters left out (the person, where the crowd holds them, and `exclude`; memoised on the
    crowd); `rank`: that many, not chosen."""
    out = tuple(sorted({*map(str, exclude), *_held_person(neighbours)}))
    key = (_digest(neighbours.d0), out, cfg.seed, rank)
    memo = neighbours.crowd.tastes_memo
    if key not in memo:
        memo[key] = fit_crowd_tastes(neighbours.crowd, neighbours.d0, cfg.seed, out, rank)
    return memo[key]


def _verdicts(neighbours: Neighbours, votes: Pairs, prior: RewardModel | None, cfg: TrainConfig,
              tastes: CrowdTastes | None) -> list[LikeYou | None]:
    """What people like the one who cast `votes` say of recipes, from each source: the raters
    who agreed with them (`neighbour_verdicts`), and, where the crowd shares axes of taste
    (`tastes`), their own taste on those axes (`taste_verdicts`)."""
    out = [neighbour_verdicts(neighbours, votes.ids_a, votes.ids_b, votes.y, cfg.item_var)]
    if tastes is not None:
        d_own = np.zeros(len(votes))
        if prior is not None and len(votes):
            d_own = prior.score(votes.xa, list(votes.ids_a))[0] - prior.score(votes.xb, list(votes.ids_b))[0]
        out.append(taste_verdicts(tastes, votes.ids_a, votes.ids_b, votes.y, d_own))
    return out


@dataclass(frozen=True)
class Folded:
    """Recipes where like-you verdicts stand in for the content head (`_folded`): their ids,
    their feature rows with the request's columns (`request`: pantry coverage) at 0."""

    ids: tuple[str, ...]
    x: np.ndarray
    request: np.ndarray

    @staticmethod
    def lesson(state: Member, base: Member, x: np.ndarray) -> np.ndarray:
        """What a member's content head learnt over its prior's, on rows `x`."""
        return _member_content_scores(state, x) - _member_content_scores(base, x)


def _dish_only(x: np.ndarray, request: np.ndarray | None) -> np.ndarray:
    """Rows `x` (float64, a copy) with the request's columns (`_request_columns`) at 0: the dish alone."""
    dish = np.array(x, np.float64)
    if request is not None:
        dish[:, request] = 0.0
    return dish


def _request_columns(feature_spec: str, dim: int) -> np.ndarray:
    """Indices of the columns about the request, not the dish (`features.PANTRY_COLUMNS`)."""
    from pantry.model.features import PANTRY_COLUMNS  # here: the features module compiles the kitchen's patterns

    k = explicit_count(feature_spec, dim)
    names = feature_spec.split(":", 1)[1].split(",") if k else []
    return np.array([dim - k + names.index(c) for c in PANTRY_COLUMNS if c in names], np.int64)


def _folded(like_you: LikeYou | None, crowd: tuple[tuple[str, ...], list[np.ndarray]] | None,
            late: np.ndarray | None, neighbours: Neighbours | None, request: np.ndarray) -> Folded | None:
    """The recipes with a like-you verdict (`late` != 0 among the inherited offsets' ids) where
    `like_you` stands in (`_stands_in`): there the verdict, chosen on the person's votes,
    replaces what the content head learnt from the same votes about the dish (counting them
    twice on a dish that people like them judged adds the head's noise to their verdict); None
    without verdicts standing in or the crowd recipes' features."""
    if crowd is None or late is None or neighbours is None or like_you is None or not like_you.stands_in:
        return None
    x = crowd_features(neighbours)
    ids = [rid for rid, v in zip(crowd[0], late) if v != 0]
    if x is None or not ids:
        return None
    where = neighbours.crowd.where
    # the request's columns are another vote's pantry there: not this person's request
    return Folded(tuple(ids), _dish_only(x[[where[rid] for rid in ids]], request), request)


# how a person's like-you verdicts are used: (trust, whether on the dishes they speak for they
# stand in for what the content head learnt from the same votes, `_folded`); option 0 is none
OPTIONS = ((0.0, False), *((t, False) for t in LIKE_YOU_SCALES[1:]), *((t, True) for t in LIKE_YOU_SCALES[1:]))


def _trust_losses(sub: Pairs, test: Pairs, cfg: TrainConfig, prior: RewardModel | None, neighbours: Neighbours,
                  base: tuple[tuple[str, ...], np.ndarray] | None, dim: int, n_explicit: int,
                  spread: np.ndarray | None, warm: dict, own_var: float, tastes: CrowdTastes | None,
                  correct: bool = False, can_fold: bool = True, request: np.ndarray | None = None) -> np.ndarray:
    """Per source of verdicts (`_verdicts`) and use of them (`OPTIONS`), the log-loss on `test`
    (`correct`: minus the decisive votes ordered right) of a personal model fitted on `sub` as
    the final one is: a content head without the verdicts (from the prior scales' search start),
    then own offsets on `sub`'s recipes (prior variance `own_var`) on top of the inherited
    offsets `base` and of the verdicts (chosen on `sub`) times the trust; where they stand in,
    the prior's content instead of the head's on the recipes they speak for, but for the head's
    lesson on the `request` columns (as `_folded`). `can_fold` False: those uses are not
    computed and score as none."""
    start = _content_member(prior, 0, dim)
    member, _, _ = _fit_member(sub, cfg, start, (), n_explicit=n_explicit,
                               prior_choice=warm, spread=spread, inherited=base, search=False)

    def content(votes: Pairs, said: set) -> np.ndarray:
        """Per vote, the content score difference: on recipes in `said` the prior's (the head's
        on the request's columns), else the head's."""
        sides = []
        for x, ids in ((votes.xa, votes.ids_a), (votes.xb, votes.ids_b)):
            c = _member_content_scores(member, x)
            if said:
                c = np.where([r in said for r in ids], c - Folded.lesson(member, start, _dish_only(x, request)), c)
            sides.append(c)
        return sides[0] - sides[1] + _offset_diff(votes, base)

    fit_d, d = content(sub, set()), content(test, set())
    own = tuple(sorted(set(sub.ids_a) | set(sub.ids_b)))
    oa, ob = sub.item_index(own)
    ta, tb = (np.where(i >= 0, i, len(own)) for i in test.item_index(own))  # unrated: an all-zero row
    y, margin = sub.y.astype(np.float64), sub.margin.astype(np.float64)

    touched = bool(np.any(ta < len(own)) or np.any(tb < len(own)))  # else own offsets move no test vote

    def loss(near_fit, near, fit_d=fit_d, d=d) -> float:
        dt = d + near
        if touched:
            off = np.append(fit_offsets(oa, ob, y, fit_d + near_fit, margin, None, len(own), own_var), 0.0)
            dt = dt + off[ta] - off[tb]
        return -strict_counts(dt, test.y)[1] if correct else float(np.sum(bt_loss(dt, test.y, test.margin)))

    sources = _verdicts(neighbours, sub, prior, cfg, tastes)
    out = np.full((len(sources), len(OPTIONS)), float(loss(0.0, 0.0)))
    for s, verdicts in enumerate(sources):
        if verdicts is None:  # nothing to trust: any trust scores as none does
            continue
        near_fit, near = (_offset_diff(v, (verdicts.ids, verdicts.offsets)) for v in (sub, test))
        if can_fold:
            said = {rid for rid, v in zip(verdicts.ids, verdicts.offsets) if v != 0}
            folded = content(sub, said), content(test, said)
        for j, (t, fold) in enumerate(OPTIONS[1:], start=1):
            if fold and not can_fold:  # not asked for: as none
                continue
            out[s, j] = loss(t * near_fit, t * near, *(folded if fold else (fit_d, d)))
    return out


def _crowd_gains(n: int, cfg: TrainConfig, prior: RewardModel | None, neighbours: Neighbours, dim: int,
                 n_explicit: int, spread: np.ndarray | None, warm: dict, own_var: float,
                 tastes: CrowdTastes | None, request: np.ndarray | None = None) -> np.ndarray | None:
    """Per crowd rater playing a person with `n` votes, per source of verdicts and use of them
    (`OPTIONS`), the votes ordered right beyond none (players x sources x options); None where
    fewer than 2 raters could play or the crowd cannot (no `votes`).

    Up to `CROWD_RATERS` crowd raters with at least `n + LIKE_YOU_MIN` decisive votes each play
    such a person: n of their votes among some of their recipes (as densely as they voted), a
    model fitted on them as the final one is (own offsets included), their votes on their other
    recipes to predict, never their own neighbour, and the crowd's axes (with `tastes`) learnt
    without them. Ordered votes, not log-loss: the verdicts at full trust are overconfident yet
    order more votes right, and a ranking is what the model is for. Memoised on the crowd per
    `n`, prior, the settings a single fit reads (`TrainConfig.fit_settings`: a Retrain's folds
    and final fit share it) and the rest of the inputs (a Retrain preview compares two settings
    on one crowd). The prior has seen these raters' votes, which favours it alone: the measure errs
    towards none.
    """
    crowd = neighbours.crowd
    key = (n, 0 if tastes is None else tastes.rank, neighbours.votes is not None, _held_person(neighbours),
           _digest(neighbours.d0, None if prior is None else prior.parameters_vector(), spread), own_var,
           cfg.fit_settings())
    if key in crowd.trust_memo:
        return crowd.trust_memo[key]
    gains = []  # per rater played, votes each source and use orders right beyond none
    if neighbours.votes is not None:
        decisive = crowd.y != 0.5
        count = np.bincount(crowd.rater[decisive], minlength=len(crowd.labels))
        able = [r for r in np.flatnonzero(count >= n + LIKE_YOU_MIN)
                if neighbours.exclude is None or crowd.labels[r] != str(neighbours.exclude)]
        rng = np.random.default_rng(cfg.seed)
        chosen = rng.permutation(able)[:CROWD_RATERS] if able else []
        # the axes for each rater who plays, learnt without them: the players in groups of at most
        # a quarter of the crowd, each group's axes fitted on everyone else
        group = np.arange(len(chosen)) // max(1, len(crowd.labels) // 4)
        played_tastes = {}
        if tastes is not None:
            for g in np.unique(group):
                out = [crowd.labels[r] for r in np.asarray(chosen)[group == g]]
                played_tastes[int(g)] = _tastes(neighbours, cfg, exclude=out, rank=tastes.rank)
        base = crowd_offsets(prior, ())
        base = None if base is None else (base[0], base[1][0])
        for r, g in zip(chosen, group):
            rows = np.flatnonzero(crowd.rater == r)
            # their recipes in a random order; a vote is in once both its recipes are: the first n
            # votes in are the person's, the votes on a recipe not yet in then are to predict
            rank = rng.permutation(len(crowd.where))
            ra, rb = rank[crowd.oa[rows]], rank[crowd.ob[rows]]
            order = np.argsort(np.maximum(ra, rb), kind="stable")
            last = np.maximum(ra, rb)[order[n - 1]]
            sub, test = neighbours.votes(rows[order[:n]]), neighbours.votes(rows[np.maximum(ra, rb) > last])
            if sub.n_decisive < 1 or not len(test):
                continue
            played = Neighbours(crowd, neighbours.d0, exclude=str(crowd.labels[r]))
            axes = played_tastes.get(int(g))
            loss = _trust_losses(sub, test, cfg, prior, played, base, dim, n_explicit, spread, warm, own_var,
                                 axes, correct=True, request=request)
            if axes is None and tastes is not None:  # the axes vanished without these raters: as none
                loss = np.vstack([loss, np.full(loss.shape[1], loss[0, 0])])
            gains.append(loss[:, :1] - loss)
    out = np.array(gains, np.float64) if len(gains) >= 2 else None
    crowd.trust_memo[key] = out
    return out


def _sure(gains: np.ndarray) -> np.ndarray:
    """Where the players' gains (first axis) add up to more than `CROWD_Z` standard errors of
    their sum: a fixed cost pooled over many votes would let chance pass."""
    return gains.sum(axis=0) > CROWD_Z * np.sqrt(len(gains)) * gains.std(axis=0, ddof=1)


PLAIN = np.array([not fold for _, fold in OPTIONS])  # the uses that leave the content head alone


def _crowd_trust(gains: np.ndarray | None) -> tuple[int, int]:
    """(source, use: an index in `OPTIONS` that leaves the head alone) that the crowd's players
    (`_crowd_gains`) order the most votes right with, where sure (`_sure`); else (0, 0), none."""
    if gains is None:
        return 0, 0
    total = np.where(_sure(gains) & PLAIN, gains.sum(axis=0), -np.inf)
    if not np.isfinite(total).any():
        return 0, 0
    s, j = np.unravel_index(int(np.argmax(total)), total.shape)
    return int(s), int(j)


def _stands_in(gains: np.ndarray | None, s: int, j: int) -> bool:
    """Whether source `s`, trusted as in `OPTIONS[j]`, orders more of the crowd's players' votes
    right (`_crowd_gains`) standing in for the content head on the recipes it speaks for. Two
    uses of the same verdicts at the same trust, neither a model with more to fit: the one that
    orders more votes right, with no margin (a margin is for trusting verdicts at all, `_sure`:
    requiring one here kept the gain from the many-rater world's newcomers)."""
    if gains is None or OPTIONS[j][0] == 0:
        return False
    fold = OPTIONS.index((OPTIONS[j][0], True))
    return bool(np.sum(gains[:, s, fold] - gains[:, s, j]) > 0)


def _trusted_like_you(pairs: Pairs, cfg: TrainConfig, prior: RewardModel | None, neighbours: Neighbours,
                      crowd: tuple[tuple[str, ...], list[np.ndarray]] | None, dim: int, n_explicit: int,
                      spread: np.ndarray | None, warm: dict, own_var: float,
                      request: np.ndarray | None = None) -> LikeYou | None:
    """What people who vote like this person say (`pantry.model.like_you`: the raters who agreed
    with them, or their own taste on the axes the crowd shares, `crowd_tastes`), trusted as far
    as it helps where it is used: on recipes the person has not rated. The person's recipes are
    split in two halves; the verdicts chosen on the votes within one half, added times each
    trust in `LIKE_YOU_SCALES` to a content model fitted on those votes, predict the votes
    within the other half (recipes the verdicts were not chosen on, and that model never rated).
    The source and trust with the lowest log-loss over both halves, less `LIKE_YOU_COST` nats
    for any trust above 0, are used on all the votes (None for 0). A person with fewer than
    `LIKE_YOU_MIN` votes within a half gets those measured on the crowd for as many votes as
    theirs, rounded down to a power of 2 (`_crowd_gains`, `_crowd_trust`: one measure serves
    many people; fewer votes err towards less trust). Whether trusted verdicts stand in for the
    content head on the recipes they speak for (`_folded`) is measured on the crowd's players
    for as many votes, paired (`_stands_in`): a person's halves were too few to tell (on
    giallozafferano-dev they chose it where it cost). The halves' content fits take the prior
    scales' search start (searching them per half cost a retrain its time target, and measured
    no better); `warm` carries one fit's weights to the next."""
    tastes = _tastes(neighbours, cfg)
    every = _verdicts(neighbours, pairs, prior, cfg, tastes)
    if all(v is None for v in every):  # nobody agreed with any of these votes, and no axes
        return None
    recipes = np.array(sorted(set(pairs.ids_a) | set(pairs.ids_b)), dtype=object)
    side = dict(zip(recipes, np.random.default_rng(cfg.seed).permutation(len(recipes)) % 2))
    sa = np.array([side[r] for r in pairs.ids_a])
    sb = np.array([side[r] for r in pairs.ids_b])
    halves = [np.flatnonzero((sa == h) & (sb == h)) for h in (0, 1)]
    played = 1 << (len(pairs).bit_length() - 1)  # as many votes, rounded down to a power of 2

    def gains() -> np.ndarray | None:
        return _crowd_gains(played, cfg, prior, neighbours, dim, n_explicit, spread, warm, own_var, tastes,
                            request)

    judged = "own"
    if min(len(h) for h in halves) < LIKE_YOU_MIN:
        s, j = _crowd_trust(gains())
        judged = "crowd"
    else:
        base = None if crowd is None else (crowd[0], crowd[1][0])
        loss = np.zeros((len(every), len(OPTIONS)))
        for pick, held in ((halves[0], halves[1]), (halves[1], halves[0])):
            loss += _trust_losses(pairs.subset(pick), pairs.subset(held), cfg, prior, neighbours, base, dim,
                                  n_explicit, spread, warm, own_var, tastes, can_fold=False)
        loss[:, 1:] += LIKE_YOU_COST  # chance agreement must not pass for taste
        s, j = np.unravel_index(int(np.argmin(np.where(PLAIN, loss, np.inf))), loss.shape)
    chosen = scaled(every[s], OPTIONS[j][0])
    if chosen is None:
        return None
    return replace(chosen, judged=judged, stands_in=neighbours.votes is not None and _stands_in(gains(), s, j))


def train_reward_model(pairs: Pairs, embedder: str, feature_spec: str, cfg: TrainConfig | None = None,
                       prior: RewardModel | None = None,
                       on_progress: Callable[[int, int, str], None] | None = None,
                       on_epoch: Callable[[EpochStats], None] | None = None,
                       neighbours: Neighbours | None = None) -> TrainResult:
    """Train an ensemble on `pairs`; see the module docstring for the procedure. `neighbours`:
    the other raters' votes; what those who vote like this person say about recipes
    (`pantry.model.like_you`) is inherited with the crowd's offsets, trusted as far as it helps
    a model fitted on one half of the person's recipes predict the other half's votes."""
    cfg = cfg or TrainConfig()
    if pairs.n_decisive < cfg.min_decisive:
        raise NotEnoughVotes(f"need at least {cfg.min_decisive} decisive votes (a or b better) to train, "
                             f"have {pairs.n_decisive}: vote on a few more pairs")
    for side, x in (("a", pairs.xa), ("b", pairs.xb)):
        bad = int(np.sum(~np.isfinite(np.asarray(x, np.float64)).all(axis=1))) if len(x) else 0
        if bad:
            raise TrainingError(f"cannot train: {bad} vote(s) have non-finite features (NaN/inf) for recipe {side}")
    if prior is not None and not np.isfinite(prior.parameters_vector()).all():
        raise TrainingError("cannot train: the prior model's weights contain NaN/inf")
    dim = pairs.xa.shape[1]
    val_idx, train_idx = validation_split(len(pairs), cfg.val_split, cfg.seed)
    n_val = len(val_idx)
    val, train = pairs.subset(val_idx), pairs.subset(train_idx)
    unit = "iteration"
    total_steps = NEWTON_ITERS + 1 + cfg.members
    done = 0

    def epoch_cb(stats: EpochStats) -> None:
        nonlocal done
        done += 1
        if on_epoch:
            on_epoch(stats)
        if on_progress:
            on_progress(min(done, total_steps), total_steps, f"validation run, {unit} {stats.epoch}")

    item_ids: tuple[str, ...] = ()
    if cfg.item_var > 0 and pairs.ids_a is not None:
        item_ids = tuple(sorted(set(pairs.ids_a) | set(pairs.ids_b)))
    n_items = len(item_ids)
    # the crowd's per-recipe offsets (a prior with offsets: a population fitted with recipe ids)
    crowd_only = crowd_offsets(prior, item_ids) if item_ids else None
    own_factor = own_factor_of(prior)  # how far a person's own verdicts depart from the crowd's
    n_explicit = explicit_count(feature_spec, dim)
    # how much people differ per taste column: carried by a crowd prior, or read from a crowd's votes
    spread = spread_of(prior, n_explicit)

    request = _request_columns(feature_spec, dim)  # the columns about the request, not the dish
    half_warm: dict = {}  # the like-you halves' content fits: each starts from the last one's weights

    def inheritance(votes: Pairs):
        """(like-you offsets chosen on `votes`, the offsets inherited with them, their like-you part)"""
        near = (_trusted_like_you(votes, cfg, prior, neighbours, crowd_only, dim, n_explicit, spread, half_warm,
                                  cfg.item_var * own_factor, request)
                if neighbours is not None and item_ids else None)
        return (near, *with_like_you(crowd_only, near, item_ids))

    # the validation run's neighbours, and how far to trust them, are chosen on its training votes only
    like_you, crowd, late = inheritance(train)
    folded = _folded(like_you, crowd, late, neighbours, request)
    own_spread = taste_spread(pairs, n_explicit, seed=cfg.seed) if pairs.rater is not None else None
    probe_choice: dict = {}
    probe, iterations, history = _fit_member(train, cfg, _content_member(prior, 0, dim), item_ids,
                                             val=val if n_val else None, on_epoch=epoch_cb,
                                             n_explicit=n_explicit, prior_choice=probe_choice, spread=spread,
                                             inherited=None if crowd is None else (crowd[0], crowd[1][0]),
                                             own_factor=own_factor, late=late, folded=folded)
    # the final members use the group scales the validation run chose on its training votes
    # (one search per training; the validation votes never choose them for the probe)
    choice = {k: v for k, v in probe_choice.items() if k != "coef"} if not fit_on_train(cfg, pairs, train) \
        else probe_choice
    val_metrics = evaluate_pairs(probe, val, crowd[0] if crowd is not None else item_ids) if n_val else {}
    total_steps = done + cfg.members
    members = []
    fit_on = pairs if cfg.refit else train
    if len(fit_on) != len(train):  # refitted on every vote: so are the neighbours and their trust
        like_you, crowd, late = inheritance(fit_on)
        folded = _folded(like_you, crowd, late, neighbours, request)
    inherit = [None if crowd is None else (crowd[0], crowd[1][k % len(crowd[1])]) for k in range(cfg.members)]
    model_ids = crowd[0] if crowd is not None else item_ids
    rows_ix = pair_rows(fit_on) if cfg.members > 1 else None  # the same distinct rows for every member
    for k in range(cfg.members):
        if k == 0 and fit_on is train:  # the validation run already fitted exactly this
            member = probe
        else:
            # member 0 is fitted on every pair and gives the score; the others on bootstrap
            # resamples (as counts) and only widen the uncertainty (averaging them would lose a
            # third of the votes each and costs accuracy when there are few votes)
            counts = (np.bincount(np.random.default_rng(cfg.seed * 1000 + k + 1).integers(0, len(fit_on), len(fit_on)),
                                  minlength=len(fit_on)).astype(np.float64) if k > 0 else None)
            member, _, _ = _fit_member(fit_on, cfg, _content_member(prior, k, dim), item_ids, weight=counts,
                                       rows_ix=rows_ix, start=members[0] if members else None,
                                       n_explicit=n_explicit, prior_choice=choice, spread=spread,
                                       inherited=inherit[k], own_factor=own_factor, late=late, folded=folded)
        members.append(member)
        done += 1
        if on_progress:
            on_progress(done, total_steps, f"ensemble member {k + 1}/{cfg.members}")
    model = RewardModel(None, embedder, feature_spec, dim, prior.hidden if prior is not None else 0,
                        item_ids=model_ids, arrays=members)
    if not np.isfinite(model.parameters_vector()).all():
        raise TrainingError("training produced non-finite weights (NaN/inf): nothing was saved")
    train_metrics = evaluate_pairs(model, pairs)
    all_x = np.concatenate([pairs.xa, pairs.xb])
    all_ids = None if pairs.ids_a is None else list(pairs.ids_a) + list(pairs.ids_b)
    scores = model.score(all_x, all_ids)[0]
    metrics = {
        "n_pairs": len(pairs),
        "n_decisive": pairs.n_decisive,
        "n_val": n_val,
        "rated_recipes_with_offset": n_items,
        "crowd_recipes_with_offset": len(model_ids) - n_items if crowd is not None else 0,
        "like_you": like_you_metrics(like_you, item_ids) if item_ids else None,
        "offset_variance": float(choice.get("item_var", cfg.item_var * own_factor)) if n_items else 0.0,
        "best_epoch": max(1, iterations),  # Newton iterations to convergence
        "history_unit": unit,
        "val_accuracy": val_metrics.get("accuracy"),
        "val_loss": val_metrics.get("loss"),
        "val_mean_margin": val_metrics.get("mean_margin"),
        "val_tied_scores": val_metrics.get("tied_scores"),
        "train_accuracy": train_metrics["accuracy"],
        "train_loss": train_metrics["loss"],
        "reward_min": float(scores.min()),
        "reward_mean": float(scores.mean()),
        "reward_max": float(scores.max()),
        "data_hash": pairs.digest(),
        "prior": (prior.meta.get("version_name") if prior is not None else None),
        "prior_scales": ({k: float(v) for k, v in choice["scales"].items()} if "scales" in choice else None),
        "config": cfg.to_dict(),
    }
    model.meta.update({"metrics": metrics, "data_hash": metrics["data_hash"],
                       # the typical recipe its scores are explained against (`pantry.model.explain`)
                       "reference_row": [round(float(v), 6) for v in all_x.mean(axis=0)]})
    if "own_factor" in choice:  # a crowd's: passed on to the personal models fitted on it
        model.meta["own_offset_factor"] = float(choice["own_factor"])
    kept = own_spread if own_spread is not None else spread
    if kept is not None:
        model.meta["taste_spread"] = [float(v) for v in kept]
    return TrainResult(model, metrics, history)



def settings_fit(embedder: str, feature_spec: str, cfg: TrainConfig, prior: RewardModel | None = None,
                 neighbours: Neighbours | None = None) -> Callable[[Pairs], RewardModel]:
    """`train_reward_model` with `cfg` and `prior` as a `cross_validate` procedure.

    Only member 0 is fitted (it alone gives the score; the bootstrap members only add
    uncertainty). With refit on, the validation split changes nothing about member 0 (it is
    only measured), so it is skipped; with refit off the fold's training votes are split
    exactly as a real run splits all votes. `neighbours` (`pantry.model.like_you`): each fold
    chooses who votes like the person from that fold's training votes only.
    """
    skip_val = cfg.refit  # the validation split changes nothing about member 0 then
    cv_cfg = TrainConfig(**{**cfg.to_dict(), "members": 1, "min_decisive": 0,
                            "val_split": 0.0 if skip_val else cfg.val_split})

    def fit(train: Pairs) -> RewardModel:
        return train_reward_model(train, embedder, feature_spec, cv_cfg, prior=prior, neighbours=neighbours).model

    return fit


def fixed_model(model: RewardModel) -> Callable[[Pairs], RewardModel]:
    """A model that is not retrained per fold (it saw none of the votes): scored as is."""
    return lambda _train: model
