"""Recipe rendering for the offline composer: a draft's lines, amounts fitted to the
pantry, title and steps, turned into a `Recipe`.

Pantry quantities count: a line the pantry holds less of is scaled down to what it holds
when that leaves at least MIN_SCALE of the dish's amount, else the full amount stays (to
buy). Cooked leftovers are named "cooked rice" and their cooking steps are replaced by
the step's `"if_cooked"` text (or dropped). A recipe's minutes are the family's prep time
plus its steps' times, or their "quick" times when the request sets `max_minutes`.

Imports: `pantry.domain`, `pantry.kitchen`, `pantry.generators.base`,
`pantry.generators.dishbook` and `pantry.generators.recipe_text`.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from pantry.domain.recipes import Recipe, content_id
from pantry.generators.base import GenerationRequest
from pantry.generators.dishbook import PLACEHOLDER, Family, Slot, outside_placeholders, step_used, title_role
from pantry.generators.recipe_text import (COOKED_PREFIX, _cooked_name, _fill_step, _join, _title_case,
                                           format_line)
from pantry.kitchen import Amount, amount_ratio, line_amount
from pantry.kitchen.dedupe import Signature

NAME = "offline-composer"
# Scale a line down to the pantry amount when that keeps at least this share of the dish's amount.
MIN_SCALE = 0.5
# Cooked weight per raw weight, by kitchen category, for a cooked leftover in a slot sized raw.
COOKED_GAIN = {"grain": 2.5, "pasta": 2.2}


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


class RecipeRenderer:
    """The composer's rendering half (a mixin of `OfflineComposer`: uses its `book` and
    `_kitchen_obj()`)."""

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
