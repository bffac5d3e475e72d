"""The offline recipe composer: the embedded default generator (no network, no model).

It fills the dish *families* of the dish book (`data/dishes.json`, read and validated by
`pantry.generators.dishbook`: slots, title patterns, step templates) with ingredients.
A recipe's minutes are the family's prep time plus the times of the steps it uses; each
step may have a shorter "quick" time used when the request sets `max_minutes`.

Filling a slot prefers what the user has (pantry items and kitchen staples), only picks
ingredients whose knowledge-base diet flags (`pantry.kitchen.knowledge`) satisfy every requested
diet, and never uses an ingredient twice in one recipe. It uses the user's own variety
("rice", not "brown rice", when the slot offers both).

Pantry quantities (`GenerationRequest.amounts`) count: when the dish needs more of an item
than the user has, the line is scaled down to what they have if that leaves at least half
of the dish's amount; otherwise the full amount stays and `kitchen.missing_ingredients`
reports the line as missing. Cooked leftovers (`GenerationRequest.cooked`: "leftover rice")
only go into slots marked `"takes_cooked"`, as "cooked rice", and the steps that would cook
them are replaced by their `"if_cooked"` text (or dropped); they are never used raw. All
randomness comes from a `random.Random` seeded from the request seed, so the same request
gives the same recipes. A batch (`n >= 2`) never holds near-duplicates (`pantry.kitchen.dedupe`).

Pantry first (issue 18; README "Composer realism"): families are weighted by the share of
their ingredients the pantry holds, within a band below the best; a batch uses one family
per recipe, drafts a few more recipes than asked and keeps those made most from the pantry
while covering every pantry item; a draft is drawn again when it uses nothing from the
pantry or fails a check of `pantry.generators.realism` (an unused ingredient, a cold pan,
clashing mains); a "veg" or "protein" slot also takes the pantry's versatile items of its
kind (`_options`), a slot buys a spoonful rather than a main where it can, and a spoonful
(garlic, soy sauce) does not count towards a share; `GenerationRequest.recent` keeps a session from getting the same dish, or
one family over its share, again. `family_choice="random"` turns all this off (the bench's
baseline).

Imports: `pantry.domain`, `pantry.kitchen`, `pantry.errors`, `pantry.generators.base`,
`pantry.generators.dishbook` and `pantry.generators.realism`.
"""

from __future__ import annotations

import dataclasses
import math
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from pantry.domain.recipes import Recipe, content_id
from pantry.errors import GeneratorError
from pantry.generators.base import DIETS, GenerationRequest, ProgressFn
from pantry.generators.dishbook import (OPTIONAL, PLACEHOLDER, DishBook, Family, Measure, Slot, default_book,
                                        load_dish_book, outside_placeholders, step_used, title_role)
from pantry.kitchen import Amount, amount_ratio, line_amount, parse_amount
from pantry.kitchen.dedupe import (MINOR_CATEGORIES, Signature, same_dish, session_conflict, signature,
                                  signature_similarity)

__all__ = ["NAME", "OfflineComposer", "format_line"]

NAME = "offline-composer"
# Up to this many fresh draws per recipe when a draw is a near-duplicate or too slow.
MAX_DRAWS_PER_RECIPE = 24
DUPLICATE_THRESHOLD = 0.8
# Scale a line down to the pantry amount when that keeps at least this share of the dish's amount.
MIN_SCALE = 0.5
# Cooked weight per raw weight, by kitchen category, for a cooked leftover in a slot sized raw.
COOKED_GAIN = {"grain": 2.5, "pasta": 2.2}
# Pantry first: families whose pantry share is this far below the best family's are rarely drawn.
BAND = 0.4
SHARE_WEIGHT = 12.0  # a family weighs exp(SHARE_WEIGHT x its pantry share)
EXTRA_DRAFTS = 6  # a batch of n drafts up to n + 6 and keeps the n made most from the pantry
COVERAGE_BONUS = 0.25  # per pantry item a kept draft adds, when choosing among the drafts
# Flexible slots: a pantry item that this many families take in the role may fill it in any family.
SUBSTITUTE_ROLES = ("veg", "protein")
SUBSTITUTE_FAMILIES = 6
RECENT_ROUNDS = 6  # of GenerationRequest.recent, the latest rounds (two recipes each) that count


# ---------------------------------------------------------------------------------------
# Quantities and lines
# ---------------------------------------------------------------------------------------

_FRACTIONS = {0.25: "1/4", 0.5: "1/2", 0.75: "3/4"}


def _fraction(x: float) -> str:
    whole = int(x)
    frac = round(x - whole, 2)
    if frac == 0:
        return str(whole)
    f = _FRACTIONS.get(frac)
    if f is None:
        return f"{x:g}"
    return f"{whole} {f}" if whole else f


def _round_to(x: float, step: float) -> float:
    return max(step, round(x / step) * step)


def _plural(word: str) -> str:
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es" if not word.endswith("s") else word
    if word.endswith("o"):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def format_line(name: str, qty: float, unit: str, prep: str | None, measure: Measure | None,
                servings: int | None = None, scale: float = 1.0) -> str:
    """One ingredient line: '300 g spaghetti', '2 cloves garlic, minced', '1 tbsp olive oil'.

    `scale` multiplies the final amount (used to fit a line to what the pantry holds).
    """
    note = prep if prep is not None else (measure.prep if measure else None)
    tail = f", {note}" if note else ""
    if measure is not None and measure.per_serving is not None and servings is not None:
        if measure.per_serving_unit is not None:
            qty, unit = measure.per_serving * servings, measure.per_serving_unit
        else:
            qty, unit = measure.per_serving * servings * (measure.grams or 1), "g"
    qty *= scale
    if unit == "to taste":
        return f"{name}, to taste"
    if unit == "pinch":
        return f"a pinch of {name}{tail}"
    if unit == "g" and measure is not None and measure.grams:
        count = qty / measure.grams
        count = max(1.0, math.ceil(count - 0.15)) if measure.whole else _round_to(count, 0.5)
        if measure.unit:
            u = measure.unit if count <= 1 else (measure.plural or _plural(measure.unit))
            return f"{_fraction(count)} {u} {name}{tail}"
        n = name if count <= 1 else (measure.plural or _plural(name))
        return f"{_fraction(count)} {n}{tail}"
    if unit == "each":
        count = _round_to(qty, 0.5)
        n = name if count <= 1 else ((measure.plural if measure and measure.plural and not measure.unit else None)
                                      or _plural(name))
        return f"{_fraction(count)} {n}{tail}"
    if unit in ("g", "ml"):
        step = 5 if qty < 50 else 10 if qty < 300 else 25
        return f"{int(_round_to(qty, step))} {unit} {name}{tail}"
    if unit == "tsp":
        return f"{_fraction(_round_to(qty, 0.25))} tsp {name}{tail}"
    if unit == "tbsp":
        return f"{_fraction(_round_to(qty, 0.5))} tbsp {name}{tail}"
    if unit == "cup":
        c = _round_to(qty, 0.25)
        return f"{_fraction(c)} {'cup' if c <= 1 else 'cups'} {name}{tail}"
    return f"{qty:g} {unit} {name}{tail}"


def _join(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _title_case(s: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in s.split())


# ---------------------------------------------------------------------------------------
# The composer
# ---------------------------------------------------------------------------------------

def _fill_step(text: str, words: dict[str, str], minutes: int) -> str:
    def keep(m: re.Match) -> str:
        inner = m.group(1)
        needed = {p.group(1) for p in PLACEHOLDER.finditer(inner)} - {"m"}
        return inner if needed <= set(words) else ""

    text = OPTIONAL.sub(keep, text)
    text = PLACEHOLDER.sub(lambda mm: str(minutes) if mm.group(1) == "m" else words[mm.group(1)], text)
    text = re.sub(r"\b1 minutes\b", "1 minute", " ".join(text.split()))
    text = text.replace(" ,", ",").replace(" .", ".")
    return text[:1].upper() + text[1:]


COOKED_PREFIX = "cooked "


def _cooked_name(canon: str) -> str:
    """How a cooked leftover is named in a recipe: "cooked rice", "cooked chicken"."""
    return COOKED_PREFIX + canon


@dataclass(frozen=True)
class _Have:
    """The pantry as the composer uses it: canonical names, cooked leftovers, amounts."""

    names: frozenset[str] = frozenset()
    cooked: frozenset[str] = frozenset()
    amounts: dict[str, Amount] = field(default_factory=dict)


@dataclass
class _Draft:
    family: Family
    picks: dict[str, list[str]]  # role -> display names
    recipe: Recipe
    signature: Signature | None = None
    canon: frozenset[str] = frozenset()  # canonical ingredients used
    short: int = 0  # lines the pantry holds too little of


class OfflineComposer:
    """Template-based recipe generator; the embedded default (Generator protocol)."""

    name = NAME

    def __init__(self, dishes_path: str | Path | None = None, kitchen: Any = None, family_choice: str = "pantry"):
        """`family_choice`: "pantry" (dishes made mostly from the pantry first) or "random" (any
        feasible dish-book family, uniformly: the baseline of bench/composer_realism.py)."""
        if family_choice not in ("pantry", "random"):
            raise ValueError(f"family_choice must be 'pantry' or 'random', got {family_choice!r}")
        self._dishes_path = dishes_path
        self._kitchen = kitchen
        self._family_choice = family_choice
        self._book: DishBook | None = None
        self._plan_cache: dict[tuple, tuple[list[Family], list[float], frozenset[str]]] = {}
        self._uses: dict[tuple[tuple, str], frozenset[str]] = {}  # (plan key, family id) -> pantry items it can use
        self._versatile_cache: dict[str, frozenset[str]] | None = None
        self._options_cache: dict[tuple, tuple[str, ...]] = {}
        self._main_cache: dict[tuple, bool] = {}  # (slot, name, servings) -> main ingredient of the dish

    # -- loading -------------------------------------------------------------------------
    @property
    def book(self) -> DishBook:
        if self._book is None:
            if self._dishes_path is None and self._kitchen is None:
                self._book = default_book()
            else:
                self._book = load_dish_book(self._dishes_path, self._kitchen)
        return self._book

    @property
    def families(self) -> tuple[Family, ...]:
        return self.book.families

    @property
    def cuisines(self) -> tuple[str, ...]:
        return self.book.cuisines

    # -- public API ----------------------------------------------------------------------
    def compose(self, request: GenerationRequest) -> list[Recipe]:
        """Same as `generate(request)` (without progress reports)."""
        return self.generate(request)

    def generate(self, request: GenerationRequest, on_progress: ProgressFn | None = None) -> list[Recipe]:
        """`request.n` recipes for the pantry, respecting diets, cuisine and max_minutes.

        Deterministic for a request. For n >= 2 no two recipes are near-duplicates
        (`pantry.kitchen.dedupe.near_duplicate`); if the constraints leave too little room for n
        distinct recipes, fewer are returned, and GeneratorError is raised when not even
        min(n, 2) distinct recipes can be made. Pantry amounts and cooked leftovers are
        respected as the module docstring says.
        """
        n = int(request.n)
        if n < 1:
            raise GeneratorError(f"asked for {n} recipes; n must be at least 1")
        if request.servings is None or int(request.servings) < 1:
            raise GeneratorError(f"servings must be at least 1, got {request.servings!r}")
        bad = [d for d in request.diets if d not in DIETS]
        if bad:
            raise GeneratorError(f"unknown diet(s) {', '.join(bad)}; known: {', '.join(DIETS)}")
        if request.max_minutes is not None and int(request.max_minutes) < 1:
            raise GeneratorError(f"max_minutes must be at least 1, got {request.max_minutes!r}")
        families, weights, pantry = self._plan(request)
        key = self._plan_key(request)
        uses = {f.id: self._uses.get((key, f.id), frozenset()) for f in families}
        have = _Have(names=pantry, cooked=self._canonical_pantry(request.cooked or ()) & pantry,
                     amounts=self._amounts(request.amounts))
        rng = random.Random(f"{NAME}|{request.seed}|{'|'.join(sorted(pantry))}")
        out: list[_Draft] = []
        used_families: dict[str, int] = {}
        covered: set[str] = set()  # pantry items some recipe of this batch already uses
        pantry_first = self._family_choice == "pantry"
        recent = [signature(r) for r in (request.recent or ())][-2 * RECENT_ROUNDS:] if pantry_first else []
        blocked: dict[str, int] = {}  # families a recent round had enough of: drawn only when nothing else is left
        failed: dict[str, int] = {}  # families whose draft came back empty (no title, too slow...)
        # Pantry first, a batch drafts more than it returns and keeps the drafts made most from the pantry.
        drafts = n + min(n, EXTRA_DRAFTS) if pantry_first and pantry and n >= 2 else n
        for i in range(drafts):
            draft = None
            for attempt in range(MAX_DRAWS_PER_RECIPE):
                w = self._batch_weights(families, weights, {**blocked, **used_families}, uses, covered, pantry_first)
                fam = rng.choices(families, weights=w, k=1)[0]
                minimal = attempt >= MAX_DRAWS_PER_RECIPE // 2 and request.max_minutes is not None
                cand = self._compose_one(fam, request, have, rng, minimal=minimal,
                                         prefer=frozenset(pantry - covered) if pantry_first else frozenset(),
                                         relaxed=attempt >= MAX_DRAWS_PER_RECIPE // 2, buy_small=pantry_first)
                if cand is None:
                    failed[fam.id] = failed.get(fam.id, 0) + 1
                    if failed[fam.id] >= 2:
                        blocked[fam.id] = 1  # this family cannot make a dish of these constraints
                    continue
                if pantry_first and attempt < MAX_DRAWS_PER_RECIPE - 4:
                    if pantry and not cand.canon & pantry:
                        continue  # a smoked-salmon frittata for a tofu pantry: nothing of it is at home
                    if self._unrealistic(cand, attempt):
                        continue
                    if recent:
                        cand.signature = signature(cand.recipe)
                        if session_conflict(cand.signature, recent):
                            blocked[fam.id] = 1
                            continue
                if n > 1:
                    cand.signature = signature(cand.recipe)
                    strict = pantry_first and attempt < MAX_DRAWS_PER_RECIPE - 4  # one dish, one name
                    if any(signature_similarity(cand.signature, prev.signature) >= DUPLICATE_THRESHOLD
                           or (strict and same_dish(cand.signature, prev.signature)) for prev in out):
                        continue
                draft = cand
                break
            if draft is None:
                break
            out.append(draft)
            used_families[draft.family.id] = used_families.get(draft.family.id, 0) + 1
            covered |= {c for c in draft.canon if c in pantry}
            if on_progress is not None and i < n:
                on_progress(i + 1, n, f"composed '{draft.recipe.title}'")
        if len(out) < min(n, 2) and recent:
            # The session has had every dish this pantry allows: repeat one rather than fail.
            # Relax the session rule step by step: only the last pair, then nothing.
            fewer = tuple(request.recent)[-2:] if len(request.recent) > 2 else ()
            return self.generate(dataclasses.replace(request, recent=fewer), on_progress)
        if len(out) < min(n, 2) and pantry_first:
            # Pantry first left too little room: any feasible family, as before issue 18.
            anyway = OfflineComposer(self._dishes_path, self._kitchen_obj(), family_choice="random")
            anyway._book = self._book
            return anyway.generate(request, on_progress)
        if len(out) < min(n, 2):
            raise GeneratorError(
                f"the offline composer could only make {len(out)} distinct recipe(s) of {n} "
                f"for these constraints; try fewer diets, another cuisine or a longer time limit")
        if len(out) > n:
            out = self._most_from_pantry(out, n, pantry)
        return [d.recipe for d in out]

    def _most_from_pantry(self, drafts: list[_Draft], n: int, pantry: frozenset[str]) -> list[_Draft]:
        """The `n` drafts made most from the pantry, in their drafting order: greedily, each
        scored by its share of main ingredients from the pantry plus a bonus for pantry items
        no draft kept so far uses (so every pantry item still turns up)."""
        from pantry.generators.realism import pantry_share

        kb = self._kitchen_obj()
        shares = [pantry_share(d.recipe, pantry, kb) or 0.0 for d in drafts]
        kept: list[int] = []
        covered: set[str] = set()
        while len(kept) < n:
            def score(k: int) -> float:
                return shares[k] + COVERAGE_BONUS * len((drafts[k].canon & pantry) - covered)
            k = max((k for k in range(len(drafts)) if k not in kept), key=score)
            kept.append(k)
            covered |= drafts[k].canon & pantry
        return [drafts[k] for k in sorted(kept)]

    # -- planning ------------------------------------------------------------------------
    def _canonical_pantry(self, items: Iterable[str]) -> frozenset[str]:
        kitchen = self._kitchen_obj()
        out = set()
        for item in items:
            key = (item or "").strip().lower()
            if not key:
                continue
            ing = kitchen.lookup(key) if kitchen is not None else None
            out.add(ing.name if ing is not None else key)
        return frozenset(out)

    def _amounts(self, amounts: Any) -> dict[str, Amount]:
        """request.amounts (name -> "2" / "half" / "200 g") as canonical name -> Amount."""
        kitchen = self._kitchen_obj()
        out: dict[str, Amount] = {}
        for key, value in dict(amounts or {}).items():
            ing = kitchen.lookup(key) if isinstance(key, str) else None
            amount = value if isinstance(value, Amount) else parse_amount(value)
            if ing is not None and amount is not None:
                out[ing.name] = amount
        return out

    def _kitchen_obj(self):
        if self._kitchen is None:
            from pantry.kitchen import load_kitchen
            self._kitchen = load_kitchen()
        return self._kitchen

    @staticmethod
    def _plan_key(request: GenerationRequest) -> tuple:
        return (tuple(sorted(request.pantry)), tuple(sorted(request.diets)),
                (request.cuisine or "").strip().lower(), request.max_minutes, tuple(sorted(request.cooked or ())),
                tuple(sorted((str(k), str(v)) for k, v in dict(request.amounts or {}).items())), request.servings)

    def _batch_weights(self, families: list[Family], weights: list[float], used: dict[str, int],
                       uses: dict[str, frozenset[str]], covered: set[str], pantry_first: bool) -> list[float]:
        """Family weights for the next recipe of a batch: one recipe per family while others are
        left (two of one family would make a pair of the same dish), and, pantry first, a
        family that can use a pantry item no recipe of the batch uses yet counts for more."""
        good = 0.05 * max(weights, default=0.0)  # dishes in the pantry band
        fresh = any(f.id not in used and wt > 0 for f, wt in zip(families, weights))
        out = []
        for f, wt in zip(families, weights):
            if f.id in used:
                wt = 0.0 if fresh else wt / (1 + 4 * used[f.id])
            elif pantry_first and wt >= good:
                wt *= 1 + 3 * len(uses[f.id] - covered)
            out.append(wt)
        return out if sum(out) > 0 else list(weights)

    def _unrealistic(self, draft: "_Draft", attempt: int) -> bool:
        """A draft to draw again: an ingredient no step uses, food in a pan before it is heated,
        mains that clash (`pantry.generators.realism`), or, in the first draws, a line the
        pantry holds too little of (a dish the pantry's amounts can make comes first)."""
        from pantry.generators.realism import clashes, heat_order_problems, unused_lines

        kb = self._kitchen_obj()
        r = draft.recipe
        if draft.short and attempt < MAX_DRAWS_PER_RECIPE // 3:
            return True
        return bool(clashes(r, kb) or unused_lines(r, kb) or heat_order_problems(r))

    def _plan(self, request: GenerationRequest) -> tuple[list[Family], list[float], frozenset[str]]:
        """Families that can satisfy the request, with pantry-driven weights (cached).

        A cooked leftover counts as "in the pantry" only for slots that take cooked items.
        """
        key = self._plan_key(request)
        hit = self._plan_cache.get(key)
        if hit is not None:
            return hit
        book = self.book
        cands = list(book.families)
        cuisine = key[2]
        where = f" of cuisine '{request.cuisine}'" if cuisine else ""
        if cuisine:
            allowed = set(book.cuisine_groups.get(cuisine, ())) | {cuisine}
            cands = [f for f in cands if f.cuisine in allowed]
            if not cands:
                raise GeneratorError(
                    f"the offline composer has no dishes for cuisine '{request.cuisine}'; "
                    f"available: {', '.join(book.cuisines)}")
        if request.max_minutes is not None:
            limit = int(request.max_minutes)
            fast = [f for f in cands if f.min_minutes() <= limit]
            if not fast:
                quickest = min(f.min_minutes() for f in cands)
                raise GeneratorError(
                    f"no offline dish{where} can be made in {limit} minutes (the quickest takes {quickest})")
            cands = fast
        cooked = self._canonical_pantry(request.cooked or ())
        pantry = self._canonical_pantry(request.pantry) | cooked
        # What the pantry holds too little of for a slot (1 egg for an omelette for two) is not "had".
        sized = _Have(names=pantry, amounts=self._amounts(request.amounts))
        servings = int(request.servings or 1)
        feasible: list[Family] = []
        weights: list[float] = []
        shares: list[float] = []
        pantry_first = self._family_choice == "pantry"
        for f in cands:
            ok = True
            from_pantry = 0.0  # expected non-staple lines the user already has
            to_buy = 0.0  # expected non-staple lines the user would need to buy
            uses: set[str] = set()
            for s in f.slots:
                allowed = self._allowed(self._options(f, s, pantry), request.diets)
                canon = {book.canon[o] for o in allowed}
                usable = pantry if s.takes_cooked else pantry - cooked
                held = {c for c in canon & usable
                        if (self._share_of_need(s, c, c, servings, sized) or 1.0) >= MIN_SCALE}
                uses |= held
                if pantry_first and not any(self._makes_dish(s, o, servings) for o in allowed):
                    continue  # a spoonful of something (garlic, soy sauce): not what the dish is made of
                if pantry_first:
                    held = {c for c in held if self._makes_dish(s, c, servings)}
                have = len(held)
                staple = len((canon - pantry) & book.staples)
                if pantry_first:  # what a slot buys, it buys small where it can (garlic, not an onion)
                    staple += sum(1 for o in allowed if book.canon[o] not in pantry | book.staples
                                  and not self._makes_dish(s, o, servings))
                if s.include >= 1.0:
                    if len(canon) < s.count[0]:
                        ok = False
                        break
                    from_pantry += min(have, s.count[1])
                    # A slot the pantry fills in part asks for one item less (see _compose_one).
                    lo = max(1, s.count[0] - 1) if pantry else s.count[0]
                    to_buy += max(0, lo - have - staple)
                elif have:
                    from_pantry += min(have, s.count[1])
            if not ok:
                continue
            feasible.append(f)
            self._uses[(key, f.id)] = frozenset(uses)
            share = from_pantry / max(1.0, from_pantry + to_buy)
            shares.append(share)
            if pantry and self._family_choice == "pantry":
                # Strongly prefer dishes made mostly from what the user has.
                weights.append(math.exp(SHARE_WEIGHT * share) * (1.0 + 0.1 * min(from_pantry, 5)))
            else:
                weights.append(1.0)
        if not feasible:
            raise GeneratorError(
                f"no offline dish{where} fits the diets ({', '.join(request.diets)})"
                + (f" within {request.max_minutes} minutes" if request.max_minutes else ""))
        if pantry and feasible and self._family_choice == "pantry":
            # Pantry first: a dish far below the best pantry share comes only when few others fit.
            best = max(shares)
            weights = [w * (1.0 if sh >= best - BAND else 0.01 if sh > 0 else 0.0) for w, sh in zip(weights, shares)]
            if not any(weights):
                weights = [1.0] * len(feasible)
        result = (feasible, weights, pantry)
        self._plan_cache[key] = result
        if len(self._uses) > 256 * 64:
            self._uses.clear()
        if len(self._plan_cache) > 256:
            self._plan_cache.pop(next(iter(self._plan_cache)))
        return result

    def _makes_dish(self, slot: Slot, name: str, servings: int) -> bool:
        """Is `name` in `slot` one of what the dish is made of (`pantry.generators.realism`:
        not a staple, herb, spice or oil, and more than a spoonful)? Cached per slot and servings."""
        key = (id(slot), name, servings)
        hit = self._main_cache.get(key)
        if hit is None:
            from pantry.generators.realism import is_spoonful
            ing = self._kitchen_obj().get(self.book.canon.get(name, name))
            hit = (ing is not None and not ing.staple and ing.category not in MINOR_CATEGORIES
                   and not is_spoonful(self._line(slot, name, self.book.canon.get(name, name), servings), ing))
            if len(self._main_cache) > 50_000:
                self._main_cache.clear()
            self._main_cache[key] = hit
        return hit

    def _versatile(self) -> dict[str, frozenset[str]]:
        """Per flexible role ("veg", "protein"), the options that at least SUBSTITUTE_FAMILIES
        families of the dish book take in that role (broccoli, mushrooms, chicken thighs,
        tofu): everyday items a cook puts in any dish of that kind. Never a base or an
        aromatic anywhere (potato, onion). Computed once per book."""
        if self._versatile_cache is None:
            book = self.book
            counts: dict[str, dict[str, int]] = {r: {} for r in SUBSTITUTE_ROLES}
            never: set[str] = set()
            for f in book.families:
                for sl in f.slots:
                    if sl.role in SUBSTITUTE_ROLES:
                        for o in set(sl.options):
                            counts[sl.role][o] = counts[sl.role].get(o, 0) + 1
                    elif sl.role in ("base", "aromatic"):
                        never.update(sl.options)
            self._versatile_cache = {r: frozenset(o for o, k in c.items() if k >= SUBSTITUTE_FAMILIES and o not in never)
                                     for r, c in counts.items()}
        return self._versatile_cache

    def _options(self, fam: Family, slot: Slot, pantry: frozenset[str]) -> tuple[str, ...]:
        """The slot's options, plus, pantry first, a versatile pantry item of the same kind the
        slot does not list (a stir-fry's vegetables take the pantry's broccoli, a curry's
        protein the pantry's pork when it lists beef): a cook uses what they have before
        buying. Only in a slot of that kind (its options' kitchen categories) of a cooked dish,
        and not where the dish book says the options are the dish (`Slot.substitute`)."""
        extra = (self._versatile().get(slot.role) if self._family_choice == "pantry" and pantry and slot.substitute
                 else None)
        if not extra:
            return slot.options
        key = (id(slot), pantry)
        hit = self._options_cache.get(key)
        if hit is None:
            from pantry.generators.realism import cooks
            book = self.book
            cats = {book.categories.get(book.canon[o]) for o in slot.options}
            have = {book.canon[o] for o in slot.options}
            add = [] if not cooks(fam.steps[i].text for i in range(len(fam.steps))) else sorted(
                o for o in extra if book.canon[o] in pantry and book.canon[o] not in have
                and book.categories.get(book.canon[o]) in cats)
            hit = slot.options + tuple(add)
            if len(self._options_cache) > 20_000:
                self._options_cache.clear()
            self._options_cache[key] = hit
        return hit

    def _allowed(self, options: Iterable[str], diets: tuple[str, ...]) -> list[str]:
        book = self.book
        return [o for o in options if all(book.flags[book.canon[o]][d] for d in diets)]

    # -- one recipe ----------------------------------------------------------------------
    def _line(self, slot: Slot, name: str, canon: str, servings: int, scale: float = 1.0) -> str:
        """The ingredient line for `name` in `slot`; a cooked leftover is sized as cooked."""
        qty = slot.qty
        if name == _cooked_name(canon):
            gain = COOKED_GAIN.get(self.book.categories.get(canon, ""), 1.0)
            qty = slot.cooked_qty if slot.cooked_qty is not None else slot.qty * gain
        return format_line(name, qty * servings, slot.unit, slot.prep, self.book.measures.get(name), servings, scale)

    def _share_of_need(self, slot: Slot, name: str, canon: str, servings: int, have: "_Have",
                       scale: float = 1.0) -> float | None:
        """What the pantry holds of `canon` / what the line asks for; None = no amount to compare."""
        amount = have.amounts.get(canon)
        if amount is None:
            return None
        line = self._line(slot, name, canon, servings, scale)
        return amount_ratio(amount, line_amount(line), self._kitchen_obj().get(canon))

    def _compose_one(self, fam: Family, request: GenerationRequest, have_: "_Have",
                     rng: random.Random, minimal: bool = False, prefer: frozenset[str] = frozenset(),
                     relaxed: bool = False, buy_small: bool = False) -> _Draft | None:
        """One draft of `fam`, or None. `relaxed` (late draws of a batch that found too few
        distinct recipes): slots are filled as before issue 18, with extras to buy and full
        counts, so that drafts differ where the constraints leave few families."""
        book = self.book
        canon = book.canon
        pantry, cooked = have_.names, have_.cooked
        servings = int(request.servings)
        used: set[str] = set()  # canonical names already in the recipe
        picks: dict[str, list[str]] = {}
        names_canon: dict[str, str] = {}  # display name in this recipe -> canonical name
        n_short = 0
        for s in fam.slots:
            allowed = [o for o in self._allowed(self._options(fam, s, pantry), request.diets) if canon[o] not in used]
            if not s.takes_cooked:
                allowed = [o for o in allowed if canon[o] not in cooked]  # never cook a leftover again
            # One display name per pantry ingredient: the user's own variety when offered.
            variants: dict[str, list[str]] = {}
            for o in allowed:
                if canon[o] in pantry:
                    variants.setdefault(canon[o], []).append(o)
            have, short = [], []
            for c, opts in variants.items():
                name = _cooked_name(c) if c in cooked else (c if c in opts else rng.choice(opts))
                names_canon[name] = c
                share = self._share_of_need(s, name, c, servings, have_)
                (short if share is not None and share < MIN_SCALE else have).append(name)
            staple = [o for o in allowed if canon[o] in book.staples and canon[o] not in pantry]
            other = [o for o in allowed if canon[o] not in pantry and canon[o] not in book.staples]
            for o in staple + other:
                names_canon[o] = canon[o]
            required = s.include >= 1.0
            if not required:
                if minimal:
                    continue
                if have:
                    p = max(0.85, s.include)
                elif staple or not pantry:
                    p = s.include
                elif relaxed:
                    p = s.include * (0.3 if len(pantry) >= 6 else 1.0)
                elif all(book.categories.get(canon[o]) in MINOR_CATEGORIES for o in other):
                    p = s.include * 0.7  # a herb or a spice to buy is a small thing
                else:
                    p = s.include * 0.05  # an extra main to buy (salmon in a tofu pantry's pasta): rarely
                if rng.random() >= p:
                    continue
            lo = s.count[0] if required else 1
            if pantry and lo > 1 and not relaxed:
                lo -= 1  # "tofu and broccoli stir-fry": what the pantry has may stand for two
            k = rng.randint(lo, max(lo, s.count[1]))
            rng.shuffle(have)
            rng.shuffle(staple)
            rng.shuffle(short)
            rng.shuffle(other)
            if pantry and buy_small:  # buy a spoonful (garlic) rather than a main (an onion) where the slot allows
                other.sort(key=lambda o: self._makes_dish(s, o, servings))
            if prefer:  # items no recipe of the batch uses yet come first
                have.sort(key=lambda o: names_canon[o] not in prefer)
            chosen: list[str] = []
            seen: set[str] = set()
            # With a real pantry, buy only what the slot needs; otherwise fill it up. An item
            # the pantry holds too little of comes after staples: it means buying more.
            found = bool(have or staple or short)
            if relaxed and other and rng.random() < 0.5:  # a batch short of distinct dishes: vary it
                have, other = [], other + have
                found = bool(staple or short)
            for pool, limit in ((have, k), (staple, k), (short, k), (other, lo if pantry and found else k)):
                for o in pool:
                    if len(chosen) >= limit:
                        break
                    if names_canon[o] not in seen:
                        chosen.append(o)
                        seen.add(names_canon[o])
                        n_short += pool is short
            if len(chosen) < lo:
                if required:
                    return None
                continue
            picks[s.role] = chosen
            used.update(seen)
        draft = self._render(fam, picks, request, rng, names_canon, have_)
        if draft is not None:
            draft.canon = frozenset(used)
            draft.short = n_short
        return draft

    def _render(self, fam: Family, picks: dict[str, list[str]], request: GenerationRequest,
                rng: random.Random, names_canon: dict[str, str] | None = None,
                have: "_Have | None" = None) -> _Draft | None:
        book = self.book
        names_canon = names_canon or {}
        have = have or _Have()
        canon_of = lambda n: names_canon.get(n) or book.canon[n]  # noqa: E731
        servings = int(request.servings)
        cooked_roles = {role for role, names in picks.items()
                        if names and all(n == _cooked_name(canon_of(n)) and canon_of(n) in have.cooked for n in names)}
        # (text, minutes, quick minutes) of the steps this recipe uses
        plan: list[tuple[str, int, int]] = []
        for st in fam.steps:
            if not step_used(st, picks):
                continue
            if set(st.cooks) & cooked_roles:
                if st.if_cooked is None or not outside_placeholders(st.if_cooked) <= set(picks):
                    continue  # the leftover is already cooked: no cooking step
                plan.append((st.if_cooked, st.cooked_minutes, st.cooked_minutes))
            else:
                plan.append((st.text, st.minutes, st.quick))
        full = fam.prep + sum(m for _, m, _ in plan)
        quick = request.max_minutes is not None and full > request.max_minutes
        total = (fam.quick_prep + sum(q for _, _, q in plan)) if quick else full
        if request.max_minutes is not None and total > request.max_minutes:
            return None

        lines: list[str] = []
        for s in fam.slots:
            for name in picks.get(s.role, ()):
                lines.append(self._fitted_line(s, name, canon_of(name), servings, have))

        words = {role: _join(names) for role, names in picks.items()}
        steps = [_fill_step(text, words, q if quick else m) for text, m, q in plan]

        names = [n for ns in picks.values() for n in ns]
        title = self._meat_named(self._title(fam, picks, rng), names, canon_of)
        canon = [canon_of(n) for n in names]
        tags = list(dict.fromkeys(fam.tags))
        if total <= 30 and "quick" not in tags:
            tags.append("quick")
        if any(n in book.spicy for n in names) and "spicy" not in tags:
            tags.append("spicy")
        tags = [t for t in tags if t not in ("vegan", "vegetarian")]
        if all(book.flags[c]["vegetarian"] for c in canon):
            tags.append("vegetarian")
        if all(book.flags[c]["vegan"] for c in canon):
            tags.append("vegan")
        recipe = Recipe(
            id=content_id(title, lines, steps),
            title=title,
            ingredients=tuple(lines),
            steps=tuple(steps),
            minutes=int(total),
            servings=servings,
            cuisine=fam.cuisine,
            tags=tuple(tags),
            source=NAME,
        )
        return _Draft(family=fam, picks=picks, recipe=recipe)

    def _fitted_line(self, slot: Slot, name: str, canon: str, servings: int, have: "_Have") -> str:
        """The line, scaled down to the pantry amount when the pantry holds at least MIN_SCALE of it."""
        line = self._line(slot, name, canon, servings)
        share = self._share_of_need(slot, name, canon, servings, have)
        if share is None or share >= 1 or share < MIN_SCALE:
            return line  # enough, not comparable, or too little to cook the dish: buy the rest
        scale = share
        for _ in range(6):  # rounding may land just above the pantry amount: shave a little
            fitted = self._line(slot, name, canon, servings, scale)
            again = self._share_of_need(slot, name, canon, servings, have, scale)
            if again is None or again >= 1 - 1e-9:
                return fitted
            scale *= 0.9
        return line

    def _short(self, name: str) -> str:
        """An ingredient as a title names it ("Rice Donburi", not "Cooked Rice Donburi")."""
        m = self.book.measures.get(name)
        if name.startswith(COOKED_PREFIX):
            name = name[len(COOKED_PREFIX):]
        return m.title if m is not None and m.title else _title_case(name)

    def _meat_named(self, title: str, names: list[str], canon_of) -> str:
        """`title`, with " with Bacon" added when the recipe holds meat or fish and its title names
        none: a person choosing the vegetarian dish by its title must not get bacon in it."""
        said = {w for w in re.findall(r"[a-z]+", title.lower()) if len(w) > 3}
        named, unnamed = False, []
        for name in names:
            if self.book.flags[canon_of(name)]["vegetarian"]:
                continue
            short = self._short(name)
            if said & {w for w in re.findall(r"[a-z]+", short.lower()) if len(w) > 3}:
                named = True  # "Chicken Pie" already says it is not vegetarian
            elif short not in unnamed:
                unnamed.append(short)
        if named or not unnamed:
            return title
        if " with " in title:  # "Baked Eggs with Spinach and Dill" -> "... with Spinach, Dill and Bacon"
            head, tail = title.rsplit(" with ", 1)
            return f"{head} with {_join(re.split(r', | and ', tail) + unnamed)}"
        return f"{title} with {_join(unnamed)}"

    def _title(self, fam: Family, picks: dict[str, list[str]], rng: random.Random) -> str:
        book, short = self.book, self._short

        usable = []
        for t in fam.titles:
            ok = True
            for m in PLACEHOLDER.finditer(t):
                ph = m.group(1)
                base = title_role(ph)
                if base == "Adj":
                    continue
                idx = int(ph[-1]) - 1 if ph[-1:].isdigit() else 0
                role = base.lower()
                if role not in picks or idx >= len(picks[role]):
                    ok = False
                    break
            if ok:
                usable.append(t)
        if not usable:  # "Pasta" alone says nothing: name the main pick ("Cabbage Yaki Udon")
            main = next((picks[r][0] for r in ("protein", "veg", "legume", "base") if picks.get(r)), None)
            usable = [f"{{Adj}} {short(main)} {fam.name}" if main else f"{{Adj}} {fam.name}"]
        template = rng.choice(usable)
        adjs = list(fam.adjectives)
        for ns in picks.values():
            for n in ns:
                adjs.extend(book.adjectives.get(n, ()) * 2)  # ingredient-driven words weigh double
        adj = rng.choice(adjs)

        def sub(m: re.Match) -> str:
            ph = m.group(1)
            base = title_role(ph)
            if base == "Adj":
                return adj
            idx = int(ph[-1]) - 1 if ph[-1:].isdigit() else 0
            return short(picks[base.lower()][idx])

        return " ".join(PLACEHOLDER.sub(sub, template).split())
