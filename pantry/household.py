"""One pantry, one recipe for a whole household: 2-6 profiles, each with their own model.

- Hard limits first: each member's diet limits (`LIMITS`: the kitchen's diets, plus
  "pork-free"), stored in the profile's preferences (`DIETS_PREF`), remove a recipe
  outright when any present member's limit is broken (`pantry.kitchen.diet_violations`;
  pork by a short word list), before any ranking.
- Then each member's own model scores the recipes that are left (personal, else population,
  else the pantry heuristic, as for one person), and each member's scores are standardised
  over those candidates (z = (score - mean) / std), so a member whose model is sure of itself
  does not outvote one whose scores are close together.
- The ranking protects the least happy member: highest minimum z first, the sum of z as the
  tie-break, then the recipe id (deterministic). Each member's liking is data for the page to
  word: "likes" (z >= LIKE_Z), "would_rather_not" (z <= -LIKE_Z), else "neutral".
- A vote can be cast for the household (`household_votes`: one vote per present member,
  marked with a shared `group_id`) or by one member (an ordinary vote).

Household votes are a group's choice, not each person's own judgement: rater
self-consistency leaves them out.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import asdict, dataclass
from typing import Iterable, Sequence

import numpy as np

from pantry.domain.recipes import Recipe
from pantry.domain.votes import DECISIVE, OUTCOMES, STRENGTHS, Vote, validate_user_name
from pantry.errors import InvalidInput
from pantry.kitchen.vocab import DIETS

MIN_MEMBERS, MAX_MEMBERS = 2, 6
DIETS_PREF = "diets"  # the profile preference (`Store.get_user_prefs`) holding its limits
PORK_FREE = "pork-free"
LIMITS: tuple[str, ...] = (*DIETS, PORK_FREE)
# Other ways people write a limit -> its name in LIMITS.
LIMIT_ALIASES = {"no-pork": PORK_FREE, "no-meat": "vegetarian", "nut-allergy": "nut-free", "no-nuts": "nut-free",
                 "coeliac": "gluten-free", "celiac": "gluten-free", "lactose-free": "dairy-free",
                 "no-dairy": "dairy-free", "no-gluten": "gluten-free"}
LIKE_Z = 0.5  # |z| from which a member likes / would rather not have a recipe
LIKINGS = ("likes", "neutral", "would_rather_not")

_PORK = frozenset("pork bacon ham prosciutto salami pepperoni chorizo pancetta guanciale lard lardon lardons "
                  "mortadella nduja sobrasada speck gammon coppa capicola porchetta sausage sausages "
                  "cotechino zampone jamon serrano".split())
_NOT_PORK_BEFORE = frozenset("turkey chicken beef vegan veggie vegetarian plant soy tofu lamb fish".split())
_WORD = re.compile(r"[a-z']+")


def normalise_limit(text: str) -> str:
    """A limit's name in LIMITS ("Nut allergy" -> "nut-free"); InvalidInput for anything else."""
    if not isinstance(text, str):
        raise InvalidInput(f"a diet limit must be text, got {type(text).__name__}")
    key = "-".join(text.strip().lower().replace("_", " ").replace("-", " ").split())
    key = LIMIT_ALIASES.get(key, key)
    if key not in LIMITS:
        raise InvalidInput(f"unknown diet limit {text!r}: expected one of {', '.join(LIMITS)} "
                           f"(or {', '.join(LIMIT_ALIASES)})")
    return key


def pork_lines(recipe: Recipe) -> list[str]:
    """The ingredient lines that name pork (a word list, as for unknown lines in the diet
    checks: "bacon", "chorizo"...; "turkey bacon" and "vegan sausage" are not pork)."""
    out = []
    for line in recipe.ingredients:
        words = _WORD.findall(line.lower())
        if any(w in _PORK and (i == 0 or words[i - 1] not in _NOT_PORK_BEFORE) for i, w in enumerate(words)):
            out.append(line.strip())
    return out


def limit_violations(recipe: Recipe, limits: Iterable[str], kitchen=None) -> list[str]:
    """One message per broken limit and line ("bacon is not vegetarian", "bacon is pork")."""
    from pantry.kitchen import diet_violations

    limits = [normalise_limit(x) for x in limits]
    out = diet_violations(recipe, [x for x in limits if x != PORK_FREE], kitchen)
    if PORK_FREE in limits:
        out += [f"{line} is pork" for line in pork_lines(recipe)]
    return out


def existing_profile(store, member: str) -> str:
    """The stored spelling of profile `member`; InvalidInput when there is none."""
    found = store.find_user(validate_user_name(member))
    if found is None:
        raise InvalidInput(f"no profile named {member!r}")
    return found


def member_limits(store, member: str) -> tuple[str, ...]:
    """A profile's stored diet limits (a stored value that is not a list of known limits is
    read as the known ones in it)."""
    raw = store.get_user_prefs(member).get(DIETS_PREF) or []
    out = []
    for x in raw if isinstance(raw, list) else []:
        try:
            out.append(normalise_limit(x))
        except InvalidInput:
            continue
    return tuple(dict.fromkeys(out))


def set_member_limits(store, member: str, limits: Iterable[str]) -> tuple[str, ...]:
    """Store an existing profile's diet limits (its other preferences kept; "Maria" finds
    "maria"); returns them normalised. InvalidInput (nothing saved) for an unknown limit or
    profile: setting a diet never creates a profile."""
    member = existing_profile(store, member)
    clean = tuple(dict.fromkeys(normalise_limit(x) for x in limits))
    prefs = store.get_user_prefs(member)
    prefs[DIETS_PREF] = list(clean)
    store.set_user_prefs(member, prefs)
    return clean


def check_members(store, members: Sequence[str]) -> tuple[str, ...]:
    """2-6 distinct existing profiles, validated, as stored ("Maria" finds "maria", as every
    other profile lookup does); InvalidInput naming the problem."""
    if isinstance(members, str) or not isinstance(members, Sequence):
        raise InvalidInput("members must be a list of profile names")
    given = tuple(validate_user_name(m) for m in members)
    if not MIN_MEMBERS <= len(given) <= MAX_MEMBERS:
        raise InvalidInput(f"a household is {MIN_MEMBERS} to {MAX_MEMBERS} profiles, got {len(given)}")
    found = [store.find_user(m) for m in given]
    unknown = [m for m, f in zip(given, found) if f is None]
    if unknown:
        raise InvalidInput(f"no profile named {', '.join(repr(m) for m in unknown)}")
    names = tuple(found)
    if len(set(names)) != len(names):
        raise InvalidInput(f"members name a profile twice: {', '.join(given)}")
    return names


# ------------------------------------------------------------------------------ ranking

def liking(z: float) -> str:
    """A member's predicted liking from their standardised score (one of LIKINGS)."""
    return "likes" if z >= LIKE_Z else "would_rather_not" if z <= -LIKE_Z else "neutral"


def standardise(scores: np.ndarray) -> np.ndarray:
    """Each row (a member's scores over the candidates) as z-scores; a row with no spread is 0."""
    scores = np.asarray(scores, np.float64)
    std = scores.std(axis=1, keepdims=True)
    return np.where(std > 1e-12, (scores - scores.mean(axis=1, keepdims=True)) / np.where(std > 1e-12, std, 1), 0.0)


def household_order(z: np.ndarray, ids: Sequence[str]) -> list[int]:
    """Candidate indices best first: highest minimum z, then highest sum, then recipe id."""
    low, total = z.min(axis=0), z.sum(axis=0)
    return sorted(range(z.shape[1]), key=lambda k: (-round(float(low[k]), 12), -round(float(total[k]), 12), ids[k]))


@dataclass(frozen=True)
class MemberScore:
    """One member's view of one recipe: the model's score, its z over the candidates, the
    liking it implies, and the recipe's rank among the candidates by this member alone."""

    member: str
    score: float
    z: float
    liking: str
    own_rank: int


@dataclass(frozen=True)
class HouseholdPick:
    recipe: Recipe
    rank: int
    min_z: float
    sum_z: float
    members: tuple[MemberScore, ...]


@dataclass(frozen=True)
class HouseholdRanking:
    """The household's ranking (best first), what was removed by whose limits, and which
    model scored each member (kind: personal / population / heuristic, and its label)."""

    members: tuple[str, ...]
    limits: dict[str, tuple[str, ...]]
    ranked: tuple[HouseholdPick, ...]
    removed: tuple[tuple[Recipe, tuple[str, ...]], ...]  # (recipe, "ana: bacon is not vegetarian", ...)
    models: dict[str, tuple[str, str]]
    pantry: tuple[str, ...] = ()  # the shared pantry the scores are for (store it with a vote)

    def to_dict(self) -> dict:
        """JSON-ready: recipes as {id, title} plus their members' scores and likings."""
        return {
            "members": list(self.members), "limits": {m: list(v) for m, v in self.limits.items()},
            "models": {m: {"kind": k, "label": label} for m, (k, label) in self.models.items()},
            "ranked": [{"rank": p.rank, "id": p.recipe.id, "title": p.recipe.title, "min_z": p.min_z,
                        "sum_z": p.sum_z, "members": [asdict(ms) for ms in p.members]} for p in self.ranked],
            "removed": [{"id": r.id, "title": r.title, "reasons": list(why)} for r, why in self.removed],
            "pantry": list(self.pantry),
        }


def rank_scores(recipes: Sequence[Recipe], members: Sequence[str], scores: np.ndarray) -> list[HouseholdPick]:
    """The household ranking of `recipes` from each member's raw scores (members x recipes)."""
    scores = np.asarray(scores, np.float64)
    if scores.shape != (len(members), len(recipes)):
        raise ValueError(f"scores must be members x recipes {(len(members), len(recipes))}, got {scores.shape}")
    if not recipes:
        return []
    z = standardise(scores)
    own = np.empty_like(z, dtype=np.int64)
    for m in range(len(members)):
        own[m, np.argsort(-scores[m], kind="stable")] = np.arange(1, len(recipes) + 1)
    order = household_order(z, [r.id for r in recipes])
    return [HouseholdPick(recipes[k], rank, float(z[:, k].min()), float(z[:, k].sum()),
                          tuple(MemberScore(name, float(scores[m, k]), float(z[m, k]), liking(z[m, k]), int(own[m, k]))
                                for m, name in enumerate(members)))
            for rank, k in enumerate(order, 1)]


def rank_household(lab, members: Sequence[str], recipes: Sequence[Recipe], pantry: Sequence[str] = ()
                   ) -> HouseholdRanking:
    """Rank `recipes` for the household `members` (2-6 existing profiles).

    Parameters
    ----------
    lab: a `pantry.lab.Lab` (its store holds the profiles, their limits and models).
    members: the profiles present.
    recipes: the candidates; pantry: the shared pantry (the models' pantry features).

    Returns
    -------
    HouseholdRanking: recipes breaking any member's limit are in `removed` and never ranked.
    """
    from pantry.errors import ModelFileError, PantryError

    members = check_members(lab.store, members)
    limits = {m: member_limits(lab.store, m) for m in members}
    allowed, removed = [], []
    for r in recipes:
        why = tuple(f"{m}: {msg}" for m in members for msg in limit_violations(r, limits[m], lab.kitchen))
        (removed.append((r, why)) if why else allowed.append(r))
    choices = {m: lab.model_for(m) for m in members}
    scores = np.zeros((len(members), len(allowed)))
    if allowed:
        x = lab.features(allowed, tuple(pantry))
        for k, m in enumerate(members):
            model = choices[m].model
            if model.dim != x.shape[1]:
                raise ModelFileError(f"{m}'s {choices[m].label} expects {model.dim} features, this app builds "
                                     f"{x.shape[1]}: retrain or choose another model")
            mean, _ = model.score(x, [r.id for r in allowed])
            if not np.isfinite(mean).all():
                raise PantryError(f"{m}'s {choices[m].label} gave non-finite scores (NaN/inf): retrain the model")
            scores[k] = mean
    return HouseholdRanking(members, limits, tuple(rank_scores(allowed, members, scores)), tuple(removed),
                            {m: (c.kind, c.label) for m, c in choices.items()}, tuple(pantry))


def plan_household(lab, choice, request, members: Sequence[str]) -> HouseholdRanking:
    """Generate candidates for the shared pantry (`request`, a GenerationRequest, with the
    generator `choice`; the members' kitchen diets are added to its diets, so fewer candidates
    are removed), store them (so a vote can name them) and rank them for `members`."""
    from dataclasses import replace

    from pantry.generators import generate_with_fallback
    from pantry.kitchen.dedupe import drop_near_duplicates

    from pantry.generators.base import MAX_RECIPES_PER_REQUEST

    members = check_members(lab.store, members)
    limits = {x for m in members for x in member_limits(lab.store, m)}
    diets = limits - {PORK_FREE}
    wanted = request.n
    # A limit the generator cannot be asked for (no pork) is met by removing recipes: ask for
    # more, so the household still gets `n` to choose from when the pantry holds bacon.
    ask = min(MAX_RECIPES_PER_REQUEST, 3 * wanted) if PORK_FREE in limits else wanted
    request = replace(request, n=ask, diets=tuple(sorted(set(request.diets) | diets)))
    recipes, _used = generate_with_fallback(choice, request)
    recipes = drop_near_duplicates(list(recipes))
    lab.store.add_recipes(recipes)
    ranking = rank_household(lab, members, recipes, tuple(request.pantry))
    return replace(ranking, ranked=ranking.ranked[:wanted])


# -------------------------------------------------------------------------------- votes

def household_votes(members: Sequence[str], a: str, b: str, outcome: str, strength: str | None = None,
                    left: str | None = None, pantry: Sequence[str] = (), group_id: str | None = None
                    ) -> list[Vote]:
    """The votes of one household choice: one per present member, all with one `group_id`
    (a new one unless given). Store them with `Store.add_votes` (one transaction)."""
    if outcome not in OUTCOMES:
        raise InvalidInput(f"outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
    if strength is not None and (outcome not in DECISIVE or strength not in STRENGTHS):
        raise InvalidInput(f"strength {strength!r} does not go with outcome {outcome!r}")
    names = tuple(validate_user_name(m) for m in members)
    if len(set(names)) != len(names) or not MIN_MEMBERS <= len(names) <= MAX_MEMBERS:
        raise InvalidInput(f"a household vote needs {MIN_MEMBERS} to {MAX_MEMBERS} different profiles")
    gid = group_id or "household-" + uuid.uuid4().hex[:16]
    return [Vote(user=m, a=a, b=b, outcome=outcome, strength=strength, left=left, pantry=tuple(pantry),
                 group_id=gid) for m in names]


def cast_household_vote(store, members: Sequence[str], a: str, b: str, outcome: str, strength: str | None = None,
                        left: str | None = None, pantry: Sequence[str] = (), request_key: str | None = None,
                        request_digest: str | None = None, recipes: Sequence = ()) -> list[int]:
    """Store a household choice for every present member (one transaction, with the inline
    `recipes` it names); their vote ids. `request_key` (an Idempotency-Key) makes it once-only:
    `Store.add_votes`."""
    members = check_members(store, members)
    return store.add_votes(household_votes(members, a, b, outcome, strength, left, pantry), request_key,
                           request_digest, recipes)


__all__ = ["LIKINGS", "LIMITS", "HouseholdPick", "HouseholdRanking", "MemberScore", "cast_household_vote",
           "check_members", "household_order", "household_votes", "liking", "limit_violations", "member_limits",
           "normalise_limit", "plan_household", "rank_household", "rank_scores", "set_member_limits",
           "standardise"]
