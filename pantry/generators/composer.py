"""The offline recipe composer: the embedded default generator (no network, no model).

It fills the dish *families* of the dish book (`data/dishes.json`, read by
`pantry.generators.dishbook`) with ingredients the diets allow, preferring what the user
has, never one ingredient twice in a recipe. All randomness comes from a `random.Random`
seeded from the request, so the same request gives the same recipes; a batch (`n >= 2`)
never holds near-duplicates (`pantry.kitchen.dedupe`).

This module holds the draft and selection loop (pantry first, issue 18; README "Composer
realism"): a batch drafts a few more recipes than asked and keeps those made most from the
pantry while covering every pantry item; a draft is drawn again when it uses nothing from
the pantry, fails a check of `pantry.generators.realism`, or repeats a dish of
`GenerationRequest.recent`. Planning is in `pantry.generators.pantry_plan`, rendering in
`pantry.generators.recipe_render` and `pantry.generators.recipe_text`.
`family_choice="random"` turns pantry first off (the bench's baseline).

Imports: `pantry.domain`, `pantry.kitchen`, `pantry.errors` and `pantry.generators`
(base, dishbook, realism, pantry_plan, recipe_render, recipe_text).
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import Any

from pantry.domain.recipes import Recipe
from pantry.errors import GeneratorError
from pantry.generators.base import DIETS, GenerationRequest, ProgressFn
from pantry.generators.dishbook import DishBook, Family, default_book, load_dish_book
from pantry.generators.pantry_plan import PantryPlanner
from pantry.generators.recipe_render import MIN_SCALE, NAME, RecipeRenderer, _Draft, _Have
from pantry.generators.recipe_text import _cooked_name, format_line
from pantry.kitchen.dedupe import MINOR_CATEGORIES, same_dish, session_conflict, signature, signature_similarity

__all__ = ["NAME", "OfflineComposer", "format_line"]

# Up to this many fresh draws per recipe when a draw is a near-duplicate or too slow.
MAX_DRAWS_PER_RECIPE = 24
DUPLICATE_THRESHOLD = 0.8
EXTRA_DRAFTS = 6  # a batch of n drafts up to n + 6 and keeps the n made most from the pantry
COVERAGE_BONUS = 0.25  # per pantry item a kept draft adds, when choosing among the drafts
RECENT_ROUNDS = 6  # of GenerationRequest.recent, the latest rounds (two recipes each) that count


class OfflineComposer(PantryPlanner, RecipeRenderer):
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
        respected as `pantry.generators.recipe_render` says.
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

    def _kitchen_obj(self):
        if self._kitchen is None:
            from pantry.kitchen import load_kitchen
            self._kitchen = load_kitchen()
        return self._kitchen

    # -- drafting ------------------------------------------------------------------------
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
