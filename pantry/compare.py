"""The Compare page's logic: make a pair of recipes to show, turn a click into a vote.

Everything here is plain Python over the library (no Streamlit), so the page stays a thin
layer of widgets and the rules are unit-tested:

- `prepare_round` generates candidates, drops near-duplicates, scores them with the
  profile's model and picks what to show: the most informative pair for the model (with a
  share of random pairs mixed in) among the candidates that fit the pantry
  (`fit_for_pantry`), or, in "just cook" mode, the model's best-of-N ranking;
- `Matchup` is one pair on screen with its randomised left/right placement and the
  (hidden until the vote) scores;
- `vote_from_click` maps "left better" etc. to a stored `Vote` (a/b outcome, strength,
  reasons, pantry, the model and generator that produced the pair);
- `retrain_hint` says how many more votes make retraining worthwhile;
- `RoundPrefetch` generates and embeds the next round's candidates in the background while
  the user reads the pair, so the click on "Get two recipes" finds them ready (scoring and
  the choice of the pair still happen at the click, with the model active then).
"""

from __future__ import annotations

import itertools
import logging
import math
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Callable, Sequence

import numpy as np

from pantry.base import ProgressFn
from pantry.kitchen.dedupe import (DEFAULT_THRESHOLD, drop_near_duplicates, fresh_for_session, near_duplicate,
                                  same_family, signature, signature_similarity)
from pantry.errors import GeneratorError, InvalidInput, PantryError
from pantry.domain.recipes import Recipe
from pantry.domain.votes import Side, Vote
from pantry.model.kinds import ModelKind

log = logging.getLogger(__name__)


REASONS = ("too long", "missing ingredients", "bland", "too complex", "not my cuisine",
           "too many steps", "looks delicious", "quick and easy")
CHOICES = ("left", "right", "tie", "both_bad")  # what the buttons say; "skip" saves nothing
RANDOM_SHARE = 0.2  # share of pairs picked at random (keeps the data unbiased by the model)
MAX_NOTE_CHARS = 200
PANTRY_FIT_BAND = 0.25  # a pair's recipes are at most this far below the best candidate's pantry share


class NoPairAvailable(PantryError):
    """Fewer than two distinct recipes came back; nothing can be compared."""


@dataclass(frozen=True)
class Scored:
    recipe: Recipe
    score: float
    uncertainty: float
    explanation: object | None = None  # `pantry.model.explain.Explanation`: why this score (shown on demand)


@dataclass(frozen=True)
class Matchup:
    """One pair on screen. `a`/`b` are the stored order; `left` says which one is on the left."""

    a: Scored
    b: Scored
    left: Side  # which recipe is on the left
    why: str  # "informative" | "random"
    model_label: str
    model_kind: ModelKind  # what scored the pair (a plain str equal to a member works too)
    generator: str
    pantry: tuple[str, ...]
    generator_reason: str | None = None  # recorded with the vote: why this generator was used
    ranking: tuple[Scored, ...] = ()  # every candidate, best first (for "just cook")
    amounts: dict = field(default_factory=dict)  # pantry quantities (kitchen.read_pantry), for "missing"
    repeat_of: int | None = None  # a repeat round: the id of the earlier vote on this pair (sides swapped)

    def __post_init__(self) -> None:
        if self.left not in ("a", "b"):
            raise ValueError(f"left must be 'a' or 'b', got {self.left!r}")

    @property
    def left_item(self) -> Scored:
        return self.a if self.left == "a" else self.b

    @property
    def right_item(self) -> Scored:
        return self.b if self.left == "a" else self.a

    def outcome(self, choice: str) -> str:
        """Map a button ("left", "right", "tie", "both_bad") to a stored outcome ("a", "b", ...)."""
        if choice == "left":
            return self.left
        if choice == "right":
            return "b" if self.left == "a" else "a"
        if choice in ("tie", "both_bad"):
            return choice
        raise ValueError(f"unknown choice {choice!r}; use one of {', '.join(CHOICES)}")


def vote_from_click(user: str, matchup: Matchup, choice: str, much: bool = False,
                    reasons: Sequence[str] = (), note: str = "", left_reasons: Sequence[str] = (),
                    right_reasons: Sequence[str] = ()) -> Vote:
    """The Vote for a click on the Compare page (strength only for decisive votes).

    `left_reasons` / `right_reasons` are reasons about one side's recipe, stored as
    "left: too long" / "right: looks delicious" (the vote's `left` field says which recipe
    was on the left, so each reason stays tied to its recipe); `reasons` are about the pair.
    """
    outcome = matchup.outcome(choice)
    decisive = outcome in ("a", "b")
    all_reasons = [r for r in reasons if r]
    all_reasons += [f"left: {r}" for r in left_reasons if r]
    all_reasons += [f"right: {r}" for r in right_reasons if r]
    note = " ".join((note or "").split())[:MAX_NOTE_CHARS]
    if note:
        all_reasons.append("note: " + note)
    return Vote(user=user, a=matchup.a.recipe.id, b=matchup.b.recipe.id, outcome=outcome,
                strength=("much" if much else "slightly") if decisive else None,
                left=matchup.left, reasons=tuple(all_reasons), pantry=tuple(matchup.pantry),
                model_version=matchup.model_label, generator=matchup.generator,
                generator_reason=matchup.generator_reason, repeat_of=matchup.repeat_of)


def reason_about(reason: str, vote: Vote) -> tuple[str | None, str]:
    """(recipe id the reason is about, or None for the pair; the reason's text)."""
    for side in ("left", "right"):
        if reason.startswith(side + ": ") and vote.left in ("a", "b"):
            on_left = vote.a if vote.left == "a" else vote.b
            on_right = vote.b if vote.left == "a" else vote.a
            return (on_left if side == "left" else on_right), reason[len(side) + 2:]
    return None, reason


class Duplicates:
    """`near_duplicate` with each recipe's signature computed once (a round compares every
    candidate with every other and with the recent rounds' recipes: dozens of pairs).
    `family=True` also calls two dishes of one family (`pantry.kitchen.dedupe.same_family`:
    a yaki udon and a pad thai) duplicates: the rule for the pair shown."""

    def __init__(self, family: bool = False) -> None:
        self._sigs: dict[str, object] = {}
        self._family = family

    def _sig(self, recipe: Recipe):
        key = recipe.id
        if key not in self._sigs:
            self._sigs[key] = signature(recipe)
        return self._sigs[key]

    def __call__(self, a: Recipe, b: Recipe) -> bool:
        sa, sb = self._sig(a), self._sig(b)
        return (a.id == b.id or signature_similarity(sa, sb) >= DEFAULT_THRESHOLD
                or (self._family and same_family(sa, sb)))


def drop_recently_shown(recipes: Sequence[Recipe], recent: Sequence[Recipe],
                        dup: Callable[[Recipe, Recipe], bool] | None = None) -> list[Recipe]:
    """The candidates that are not (near-)duplicates of a recipe shown in recent rounds.

    Keeps round after round from showing the same dish again under a new title, or one dish
    family (omelettes) more than its share (`pantry.kitchen.dedupe.fresh_for_session`); when
    fewer than two would remain, that rule and then the near-duplicate one are let go (a pair
    beats no pair).
    """
    dup = dup or (lambda r, s: r.id == s.id or near_duplicate(r, s))
    fresh = [r for r in recipes if not any(dup(r, s) for s in recent)]
    varied = fresh_for_session(fresh, recent)  # nor the same dish again, nor a family over its share
    if len(varied) >= 2:
        return varied
    return fresh if len(fresh) >= 2 else list(recipes)


def fit_for_pantry(recipes: Sequence[Recipe], pantry: Sequence[str], band: float = PANTRY_FIT_BAND) -> list[Recipe]:
    """The candidates made about as much from the pantry as the best one: those whose share of
    main ingredients the pantry holds (`pantry.generators.realism.pantry_share`) is at most
    `band` below the best candidate's, so the pair shown is two dishes of this pantry whatever
    generator made them. Keeps order; keeps everything when the pantry is empty, when no
    candidate has a share, or when fewer than two would remain.

    Parameters: `recipes` the round's distinct candidates; `pantry` canonical item names.
    Returns: the candidates to choose the pair from."""
    if not pantry or len(recipes) <= 2:
        return list(recipes)
    from pantry.generators.realism import pantry_share

    shares = [pantry_share(r, pantry) for r in recipes]
    known = [s for s in shares if s is not None]
    if not known:
        return list(recipes)
    floor = max(known) - band
    kept = [r for r, s in zip(recipes, shares) if s is None or s >= floor]
    return kept if len(kept) >= 2 else list(recipes)


# ---------------------------------------------------------------------------------- pairs

def valid_pairs(recipes: Sequence[Recipe], dup: Callable[[Recipe, Recipe], bool] | None = None
                ) -> list[tuple[int, int]]:
    """Index pairs of recipes that are not (near-)duplicates of each other."""
    dup = dup or (lambda a, b: a.id == b.id or near_duplicate(a, b))
    return [(i, j) for i, j in itertools.combinations(range(len(recipes)), 2)
            if not dup(recipes[i], recipes[j])]


def pick_pair(recipes: Sequence[Recipe], features: np.ndarray, model, rng: np.random.Generator,
              random_share: float = RANDOM_SHARE, avoid: set[frozenset[str]] | None = None,
              duplicates: Duplicates | None = None, history: np.ndarray | None = None) -> tuple[int, int, str]:
    """Choose which two candidates to show: (i, j, why) with why "informative" or "random".

    Uses `pantry.model.selection.choose_pair` (BALD over the model's ensemble, near-duplicate
    embeddings left out) and also leaves out pairs that `pantry.kitchen.dedupe.near_duplicate`
    calls the same dish. Pairs in `avoid` (sets of two recipe ids already shown) are used
    only when nothing else is left. `history`: the explicit columns of the votes already cast
    ((h, 2, columns), `vote_history`), so the informative pair is the one that teaches the
    most about this person's taste (`pantry.model.selection.design_variance`).
    Raises NoPairAvailable when every pair is a duplicate.
    """
    from pantry.model.selection import choose_pair

    same = duplicates or Duplicates()
    if len(recipes) < 2 or not valid_pairs(recipes, same):
        raise NoPairAvailable("the generator returned no two different recipes; "
                              "add a few pantry items or loosen diet/cuisine/time limits")
    why = "random" if rng.random() < random_share else "informative"
    share = 1.0 if why == "random" else 0.0
    dup = lambda i, j: same(recipes[i], recipes[j])  # noqa: E731
    exclude = [(i, j) for i, j in itertools.combinations(range(len(recipes)), 2)
               if avoid and frozenset((recipes[i].id, recipes[j].id)) in avoid]
    for excl in (exclude, None):
        try:
            i, j = choose_pair(features, model, rng, random_share=share, exclude=excl, near_duplicate=dup,
                               history=history, ids=[r.id for r in recipes])
            return i, j, why
        except InvalidInput:
            continue
    raise NoPairAvailable("every pair of candidates is a near-duplicate; "
                          "add a few pantry items or loosen diet/cuisine/time limits")


HISTORY_VOTES = 200  # the latest votes whose design `vote_history` reads (older ones add little)


def vote_history(lab, user: str, limit: int = HISTORY_VOTES) -> np.ndarray:
    """(h, 2, explicit columns): the two recipes of each of `user`'s latest `limit` votes, as
    `pick_pair`'s `history` (pantry columns left at 0: the design does not read them).
    Votes whose recipes are no longer stored are left out."""
    from pantry.model.features import FEATURE_NAMES, explicit_matrix

    total, _ = lab.store.votes_page(user, limit=0)
    _, votes = lab.store.votes_page(user, limit=limit, offset=max(0, total - limit))
    recipes = lab.store.get_recipes({v.a for v in votes} | {v.b for v in votes})
    votes = [v for v in votes if v.a in recipes and v.b in recipes]
    if not votes:
        return np.zeros((0, 2, len(FEATURE_NAMES)))
    ids = sorted({v.a for v in votes} | {v.b for v in votes})
    rows = dict(zip(ids, explicit_matrix([recipes[i] for i in ids], (), lab.kitchen, lab.recipe_facts)))
    return np.array([[rows[v.a], rows[v.b]] for v in votes], dtype=np.float64)


def rank(recipes: Sequence[Recipe], mean: np.ndarray, std: np.ndarray, why: Sequence | None = None) -> list[Scored]:
    """Best-of-N (`pantry.model.selection.rank`): the candidates by score, best first
    (`why`: each candidate's explanation, in the candidates' order)."""
    from pantry.model.selection import rank as rank_indices

    return [Scored(recipes[k], float(mean[k]), float(std[k]), why[k] if why is not None else None)
            for k in rank_indices(mean, std)]


@dataclass
class Round:
    """What `prepare_round` made: the pair (or the ranking) and how it was made."""

    matchup: Matchup
    generator_reason: str
    generator_name: str
    candidates: int
    dropped_duplicates: int
    notes: list[str] = field(default_factory=list)


def prepare_round(lab, choice, request, user: str, rng: np.random.Generator,
                  random_share: float = RANDOM_SHARE, avoid: set[frozenset[str]] | None = None,
                  on_progress: ProgressFn | None = None, recent: Sequence[Recipe] = (),
                  prefetch: "RoundPrefetch | None" = None, repeat_share: float | None = None) -> Round:
    """Generate candidates, drop near-duplicates, score them, and pick the pair to show.

    `recent` are recipes shown in this session's last rounds: candidates that are
    near-duplicates of them are left out while at least two others remain.

    `prefetch`: candidates made in the background for this same request (any seed); used
    when `prefetch.matches(choice, request)` (waiting for them if they are still being made),
    else ignored. A prefetch that failed is ignored too: the round generates afresh.

    `repeat_share`: the share of rounds that show again, sides swapped, a pair `user` already
    judged (`repeat_round`; None: the profile's setting, default 1 in 15; 0: never).

    `lab` is a `pantry.lab.Lab`, `choice` a `GeneratorChoice`, `request` a
    `GenerationRequest`. The generated recipes are stored and logged for `user`.
    Raises NoPairAvailable / GeneratorError / PantryError with a message for people.
    """
    from pantry.generators import generate_with_fallback

    made = prefetch.take() if prefetch is not None and prefetch.matches(choice, request) else None
    if made is not None:
        recipes, used = made
        if used is prefetch.choice:  # nothing fell back: the click's own choice (no note to show)
            used = choice
    else:
        recipes, used = generate_with_fallback(choice, request, on_progress)
    recipes = list(recipes)
    if not recipes:
        raise GeneratorError(f"{used.name} returned no recipes; try again or change the pantry")
    same = Duplicates()
    distinct = drop_recently_shown(drop_near_duplicates(recipes), recent, same)
    dropped = len(recipes) - len(distinct)
    if len(distinct) < 2:
        raise NoPairAvailable(
            f"{used.name} returned {len(recipes)} recipe(s) but fewer than two different ones; "
            "add a few pantry items or loosen diet/cuisine/time limits")
    lab.store.log_generated(user, distinct)
    model_choice = lab.model_for(user)
    if on_progress:
        on_progress(0, len(distinct), "scoring candidates")
    x, mean, std, reasons = score_candidates(lab, model_choice, distinct, request.pantry)
    # The pair: two dishes of this pantry (all candidates stay logged, scored and ranked).
    fit = {r.id for r in fit_for_pantry(distinct, tuple(request.pantry))}
    idx = [k for k, r in enumerate(distinct) if r.id in fit]
    shown = [distinct[k] for k in idx]
    apart = Duplicates(family=True)  # nor two dishes of one family, while another pair is left
    i, j, why = pick_pair(shown, x[idx], model_choice.model, rng, random_share, avoid,
                          apart if valid_pairs(shown, apart) else same, history=vote_history(lab, user))
    i, j = idx[i], idx[j]
    left = "a" if rng.random() < 0.5 else "b"
    matchup = Matchup(
        a=Scored(distinct[i], float(mean[i]), float(std[i]), reasons[i]),
        b=Scored(distinct[j], float(mean[j]), float(std[j]), reasons[j]),
        left=left, why=why, model_label=model_choice.label, model_kind=ModelKind(model_choice.kind),
        generator=used.name, generator_reason=used.reason, pantry=tuple(request.pantry),
        ranking=tuple(rank(distinct, mean, std, reasons)),
        amounts=dict(getattr(request, "amounts", {}) or {}))
    matchup = repeat_round(lab, user, matchup, rng, model_choice, repeat_share, request, recent) or matchup
    notes = [used.reason] if used is not choice else []
    return Round(matchup, used.reason, used.name, len(recipes), dropped, notes)


def next_pair(lab, choice, request, user: str) -> Round:
    """The pair the app would show `user` for `request`, as POST /pairs and `python -m pantry pair`
    choose it: candidates generated first, the pairs `user` already judged among them avoided,
    then `prepare_round` with a generator seeded by `request.seed` (the same seed and store give
    the same pair). The recipes are stored and logged for `user`, so a vote can name them.
    Raises NoPairAvailable / GeneratorError / PantryError with a message for people."""
    from pantry.generators import generate_with_fallback

    made, used = generate_with_fallback(choice, request)
    # only the judged pairs among these candidates: one indexed query, flat in the number of votes
    shown = lab.store.judged_pairs(user, [r.id for r in made])
    rng = np.random.default_rng(request.seed)
    return prepare_round(lab, choice, request, user, rng, avoid=shown, prefetch=_Made(made, used, choice))


class _Made:
    """Candidates `next_pair` generated before the round (so the judged pairs among them are
    known), handed to `prepare_round` the way a prefetch hands its recipes."""

    def __init__(self, recipes, used, choice):
        self._made, self.choice = (list(recipes), used), choice

    def matches(self, choice, request) -> bool:
        return True

    def take(self):
        return self._made


def score_candidates(lab, model_choice, recipes: Sequence[Recipe], pantry: Sequence[str] = ()):
    """(features, scores, uncertainties, explanations) of `recipes` for `pantry` under
    `model_choice` (a `Lab.model_for` answer): what every round's cards show, "Why this score"
    included, whether the pair is new, a repeat or brought back after a reload."""
    from pantry.model.explain import explain

    x = lab.features(recipes, tuple(pantry))
    ids = [r.id for r in recipes]
    mean, std = model_choice.model.score(x, ids)
    return x, mean, std, explain(model_choice.model, x, ids)


def restore_pair(lab, user: str, a_id: str, b_id: str, left: str, why: str,
                 pantry: Sequence[str] = ()) -> Matchup | None:
    """The pair `user` had on screen before a reload (its recipe ids, sides and why, as the page
    address keeps them), scored now by the model the app would use; None when it cannot or
    should not come back: a bad side or why, one id twice, a recipe no longer stored, or the
    user has a vote on this pair (it was judged, so a new round is due; an undone vote does
    not count, and a repeat round, judged before by design, is not brought back either).

    Parameters
    ----------
    lab : a `pantry.lab.Lab`; user : the profile.
    a_id, b_id, left, why : `Matchup.a` / `.b` recipe ids, `Matchup.left`, `Matchup.why`.
    pantry : the pantry the features are read with (the profile's saved one).

    Returns
    -------
    A `Matchup` whose ranking holds the two recipes (the other candidates are not kept), or None.
    """
    if a_id == b_id or left not in ("a", "b") or why not in ("informative", "random"):
        return None
    recipes = lab.store.get_recipes({a_id, b_id})
    if a_id not in recipes or b_id not in recipes or lab.store.judged_pairs(user, (a_id, b_id)):
        return None
    pair = [recipes[a_id], recipes[b_id]]
    model_choice = lab.model_for(user)
    _, mean, std, reasons = score_candidates(lab, model_choice, pair, pantry)
    a, b = (Scored(r, float(mean[k]), float(std[k]), reasons[k]) for k, r in enumerate(pair))
    return Matchup(a=a, b=b, left=left, why=why, model_label=model_choice.label,
                   model_kind=ModelKind(model_choice.kind), generator=pair[0].source or "restored",
                   generator_reason="the pair on screen before a reload", pantry=tuple(pantry),
                   ranking=tuple(rank(pair, mean, std, reasons)))


def fits_request(recipe: Recipe, request) -> bool:
    """Whether `recipe` keeps the request's limits: every diet, the time limit (a recipe of
    unknown time does not), the cuisine when one is asked (a recipe that names none does)."""
    from pantry.kitchen import diet_violations

    if request.diets and diet_violations(recipe, request.diets):
        return False
    if request.max_minutes and (recipe.minutes is None or recipe.minutes > request.max_minutes):
        return False
    return not (request.cuisine and recipe.cuisine and recipe.cuisine.lower() != request.cuisine.lower())


def repeat_round(lab, user: str, matchup: Matchup, rng: np.random.Generator, model_choice,
                 share: float | None = None, request=None, recent: Sequence[Recipe] = ()) -> Matchup | None:
    """Now and then, `matchup` turned into a repeat round: an earlier decisive vote's pair shown
    again with sides swapped, as an ordinary round (`why` "random": the pair is drawn at random
    from the judged ones), its vote stored with `repeat_of` (rater self-consistency,
    `pantry.evaluation.consistency`). None for an ordinary round. With `request` (the round's
    `GenerationRequest`), only a pair whose two dishes keep its limits (`fits_request`): a
    vegetarian round never repeats a pair with bacon in it. Nor a pair whose two dishes were
    shown in the session's `recent` rounds (a repeat skipped is not drawn again at once).

    Draws from `rng` after the round's own choices, so the generated pair is the same with
    or without repeats; the profile's votes are read only when the draw says repeat.
    """
    from pantry.evaluation.consistency import choose_repeat, repeat_share, swapped_left

    share = repeat_share(lab.store.get_user_prefs(user)) if share is None else share
    if share <= 0 or rng.random() >= share:
        return None

    seen = {r.id for r in recent}

    def allowed(pool):
        pool = [v for v in pool if not (v.a in seen and v.b in seen)]
        if request is None:
            return pool
        ok = {rid for rid, r in lab.store.get_recipes([i for v in pool for i in (v.a, v.b)]).items()
              if fits_request(r, request)}
        return [v for v in pool if v.a in ok and v.b in ok]

    earlier = choose_repeat(lab.store.votes(user), rng, share=1.0, allowed=allowed)
    found = lab.store.get_recipes([earlier.a, earlier.b]) if earlier is not None else {}
    if earlier is None or len(found) < 2:
        return None
    both = [found[earlier.a], found[earlier.b]]
    _, mean, std, reasons = score_candidates(lab, model_choice, both, matchup.pantry)
    return replace(matchup, a=Scored(both[0], float(mean[0]), float(std[0]), reasons[0]),
                   b=Scored(both[1], float(mean[1]), float(std[1]), reasons[1]), left=swapped_left(earlier, rng),
                   why="random", repeat_of=earlier.id)


RECENT_ROUNDS = 6  # rounds whose recipes a new round avoids repeating


def request_key(choice, request) -> tuple:
    """What a round's candidates depend on, but for the seed: the generator and the request."""
    return (getattr(choice, "name", None), getattr(choice, "mode", None), replace(request, seed=0))


class RoundPrefetch:
    """The next round's candidates, generated and embedded on `executor` while the user reads
    the current pair.

    Only generation and embedding (which fills the embedder's cache) happen ahead: the
    near-duplicate filters, the model, the scores and the pair are worked out at the click,
    so a vote, a training run or a model activation in between is taken into account. Nothing
    is stored before the click (the recipes are logged by `prepare_round` when used).
    """

    def __init__(self, lab, choice, request, executor: Executor):
        self.key = request_key(choice, request)
        self.choice = choice
        self.future: Future = executor.submit(self._make, lab, choice, request)

    @staticmethod
    def _make(lab, choice, request):
        from pantry.generators import generate_with_fallback

        recipes, used = generate_with_fallback(choice, request)
        distinct = drop_near_duplicates(recipes)
        # Embed only with an encoder already loaded: loading one here could race the page's
        # own first load (two copies) or outlive the Lab it was made for.
        if distinct and lab.embedder_created:
            lab.features(distinct, tuple(request.pantry))  # embeds the texts (cached by the embedder)
        return list(recipes), used

    def matches(self, choice, request) -> bool:
        return self.key == request_key(choice, request)

    @property
    def ready(self) -> bool:
        return self.future.done()

    def take(self):
        """(recipes, generator choice used), or None when making them failed."""
        try:
            return self.future.result()
        except PantryError as e:  # a request no generator can meet (5 minutes): the round words it itself
            log.info("making the next round ahead failed (%s); the round generates afresh",
                     (str(e).splitlines() or [type(e).__name__])[0])
            return None
        except Exception:  # noqa: BLE001 - the round then generates afresh and reports its own error
            log.warning("making the next round ahead failed; the round generates afresh", exc_info=True)
            return None


# ---------------------------------------------------------------------------- progress line

RETRAIN_MIN_NEW = 5  # at least this many new decisive votes before a retrain is worth it
RETRAIN_SHARE = 0.25  # ... and at least this share of what the current model was trained on


class HintState(StrEnum):
    """Where a profile stands on (re)training: first model or retrain, needs votes or ready."""

    FIRST_NEEDS_VOTES = "first_needs_votes"
    FIRST_READY = "first_ready"
    RETRAIN_NEEDS_VOTES = "retrain_needs_votes"
    RETRAIN_WORTHWHILE = "retrain_worthwhile"


HINT_STATES = tuple(HintState)


@dataclass(frozen=True)
class RetrainHint:
    """Where a profile stands on (re)training, as numbers and a state; the page words it."""

    votes: int  # all (non-deleted) votes by the profile
    decisive: int  # of which decisive
    more_needed: int  # decisive votes until retraining is worthwhile (0 = now)
    state: HintState
    new_since_training: int | None = None  # decisive votes since the active personal model was trained


def retrain_hint(votes: int, decisive: int, trained_on: int | None, min_decisive: int = 8) -> RetrainHint:
    """How many more decisive votes until retraining is worthwhile.

    Without a personal model: until `min_decisive` (training's minimum). With one trained
    on `trained_on` decisive votes: until max(5, 25% of that) new decisive votes.
    """
    if trained_on is None:
        more = max(0, min_decisive - decisive)
        return RetrainHint(votes, decisive, more, HintState.FIRST_NEEDS_VOTES if more else HintState.FIRST_READY)
    target = trained_on + max(RETRAIN_MIN_NEW, math.ceil(RETRAIN_SHARE * trained_on))
    more = max(0, target - decisive)
    return RetrainHint(votes, decisive, more,
                       HintState.RETRAIN_NEEDS_VOTES if more else HintState.RETRAIN_WORTHWHILE,
                       decisive - trained_on)
