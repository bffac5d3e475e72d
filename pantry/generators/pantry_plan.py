"""Pantry planning for the offline composer: what the pantry has (canonical names, amounts),
which dish families a request can make and how much of each the pantry supplies (the
weights that put dishes made mostly from the pantry first), and a slot's options.

Families are weighted by exp(SHARE_WEIGHT x pantry share), within BAND below the best;
a "veg" or "protein" slot also takes the pantry's versatile items of its kind; a
spoonful (garlic, soy sauce) does not count towards a share.

Imports: `pantry.errors`, `pantry.kitchen`, `pantry.generators.base`,
`pantry.generators.dishbook`, `pantry.generators.realism` and `pantry.generators.recipe_render`.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

from pantry.errors import GeneratorError
from pantry.generators.base import GenerationRequest
from pantry.generators.dishbook import Family, Slot
from pantry.generators.recipe_render import MIN_SCALE, _Have
from pantry.kitchen import Amount, parse_amount
from pantry.kitchen.dedupe import MINOR_CATEGORIES

# Pantry first: families whose pantry share is this far below the best family's are rarely drawn.
BAND = 0.4
SHARE_WEIGHT = 12.0  # a family weighs exp(SHARE_WEIGHT x its pantry share)
# Flexible slots: a pantry item that this many families take in the role may fill it in any family.
SUBSTITUTE_ROLES = ("veg", "protein")
SUBSTITUTE_FAMILIES = 6


class PantryPlanner:
    """The composer's planning half (a mixin of `OfflineComposer`: uses its `book`, caches,
    `_kitchen_obj()` and the renderer's `_line` / `_share_of_need`)."""

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
    @staticmethod
    def _plan_key(request: GenerationRequest) -> tuple:
        return (tuple(sorted(request.pantry)), tuple(sorted(request.diets)),
                (request.cuisine or "").strip().lower(), request.max_minutes, tuple(sorted(request.cooked or ())),
                tuple(sorted((str(k), str(v)) for k, v in dict(request.amounts or {}).items())), request.servings)

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

