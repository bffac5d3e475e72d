"""Synthetic preferences: simulated users ("personas") who vote on composer pairs.

Each persona has a hidden utility over recipe *content* (ingredient categories from the
kitchen knowledge base, tags, minutes, step count). `simulate_votes` shows it pairs from
the offline composer and draws a Bradley-Terry vote:

    P(choose a) = sigmoid((u_a - u_b) / temperature)

with a tie, some of the time, when the two utilities are nearly equal. The votes follow
docs/ARCHITECTURE.md's vote format with the two recipes inline, so they import like real votes and
give training and evaluation code a user whose taste is known exactly.

Everything is a pure function of its arguments: the same persona, n and seed give the same
votes (timestamps included).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Callable, Iterable

from scipy.special import expit

from pantry.domain.recipes import Recipe

MEAT_CATEGORIES = frozenset({"meat", "poultry", "fish", "seafood"})
SPICY_INGREDIENTS = frozenset({"chili pepper", "jalapeno", "chipotle", "chili flakes", "chili powder",
                               "cayenne", "hot sauce", "curry powder"})
SPICY_CUISINES = frozenset({"indian", "thai", "mexican", "korean"})
CHEESES = frozenset({"cheese", "cheddar", "parmesan", "mozzarella", "feta", "goat cheese", "ricotta",
                     "cream cheese", "swiss cheese", "monterey jack", "blue cheese", "halloumi", "paneer",
                     "brie", "queso fresco", "mascarpone", "cottage cheese"})
RICH = frozenset({"cream", "butter", "creme fraiche", "sour cream", "mascarpone", "bacon", "sausage",
                  "puff pastry", "sugar", "brown sugar", "maple syrup", "honey", "chocolate", "mayonnaise"})
STARCHY_COMFORT = frozenset({"pasta", "potato", "gnocchi", "bread", "egg noodle", "tortellini"})
WHOLESOME = frozenset({"quinoa", "lentil", "chickpea", "black bean", "kidney bean", "bulgur", "farro",
                       "barley", "kale", "spinach", "broccoli", "tofu", "tempeh", "edamame"})

DEFAULT_TEMPERATURE = 1.0
TIE_MARGIN = 0.15  # |u_a - u_b| below this may be a tie
TIE_PROBABILITY = 0.5
BASE_TIME = datetime(2024, 1, 1, 9, 0, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Features:
    """What personas look at, extracted once per recipe."""

    categories: tuple[str, ...]  # kitchen category of each known ingredient line
    names: frozenset[str]  # canonical ingredient names
    n_ingredients: int
    n_steps: int
    minutes: int
    tags: frozenset[str]
    cuisine: str


@lru_cache(maxsize=1)
def _kitchen():
    from pantry.kitchen import load_kitchen
    return load_kitchen()


@lru_cache(maxsize=65536)
def _line_info(line: str) -> tuple[str, str] | None:
    ing = _kitchen().match_line(line)
    return (ing.name, ing.category) if ing is not None else None


def recipe_features(recipe: Recipe) -> Features:
    infos = [i for i in (_line_info(line) for line in recipe.ingredients) if i is not None]
    return Features(
        categories=tuple(c for _, c in infos),
        names=frozenset(n for n, _ in infos),
        n_ingredients=len(recipe.ingredients),
        n_steps=len(recipe.steps),
        minutes=int(recipe.minutes) if recipe.minutes is not None else 45,
        tags=frozenset(t.lower() for t in recipe.tags),
        cuisine=(recipe.cuisine or "").lower(),
    )


def has_meat(recipe: Recipe) -> bool:
    """True when any ingredient line is meat, poultry, fish or seafood (kitchen categories)."""
    return any(c in MEAT_CATEGORIES for c in recipe_features(recipe).categories)


def _vegetarian(f: Features) -> float:
    meat = sum(1 for c in f.categories if c in MEAT_CATEGORIES)
    veg = sum(1 for c in f.categories if c in ("vegetable", "legume"))
    return (-5.0 if meat else 0.0) - 0.5 * max(0, meat - 1) + 0.2 * min(veg, 5) \
        + (0.4 if "tofu" in f.names or "tempeh" in f.names else 0.0)


def _quick_weeknight(f: Features) -> float:
    return -f.minutes / 10.0 - 0.3 * f.n_steps - 0.08 * f.n_ingredients \
        + (0.5 if "quick" in f.tags else 0.0)


def _spice_lover(f: Features) -> float:
    hot = len(f.names & SPICY_INGREDIENTS)
    spices = sum(1 for c in f.categories if c == "spice")
    return 1.2 * hot + 0.25 * min(spices, 6) + (1.5 if "spicy" in f.tags else 0.0) \
        + (0.6 if f.cuisine in SPICY_CUISINES else 0.0) - (0.6 if "sweet" in f.tags else 0.0)


def _comfort_food(f: Features) -> float:
    cheese = len(f.names & CHEESES)
    return 0.9 * min(cheese, 2) + 1.0 * len(f.names & STARCHY_COMFORT) + 0.5 * len(f.names & RICH) \
        + sum(0.8 for t in ("baked", "comfort", "creamy", "cheesy") if t in f.tags) \
        - (1.0 if "salad" in f.tags else 0.0)


def _health_nut(f: Features) -> float:
    veg = sum(1 for c in f.categories if c in ("vegetable", "legume", "fruit", "seed"))
    return 0.4 * min(veg, 7) + 0.6 * len(f.names & WHOLESOME) - 0.8 * len(f.names & RICH) \
        - 0.6 * len(f.names & CHEESES) - (0.8 if "baked" in f.tags and "comfort" in f.tags else 0.0) \
        - (1.0 if f.names & {"bacon", "sausage", "salami", "chorizo"} else 0.0)


@dataclass(frozen=True)
class Persona:
    name: str
    description: str
    utility: Callable[[Features], float]


PERSONAS: dict[str, Persona] = {
    p.name: p for p in (
        Persona("vegetarian", "strongly avoids meat and fish; likes vegetables, legumes, tofu", _vegetarian),
        Persona("quick-weeknight", "wants few minutes, few steps and few ingredients", _quick_weeknight),
        Persona("spice-lover", "chilli, lots of spices, 'spicy' dishes and hot cuisines", _spice_lover),
        Persona("comfort-food", "cheese, pasta, potato, bread; baked, creamy, comforting dishes", _comfort_food),
        Persona("health-nut", "vegetables, legumes and whole grains; avoids cream, cheese and processed meat",
                _health_nut),
    )
}

# Deterministic idiosyncrasy: a small per-(persona, recipe) term so that different recipes
# with the same features do not get exactly the same utility.
IDIOSYNCRASY = 0.2


def persona_names() -> list[str]:
    return list(PERSONAS)


def _persona(name: str) -> Persona:
    try:
        return PERSONAS[name]
    except KeyError:
        raise ValueError(f"unknown persona '{name}'; known: {', '.join(PERSONAS)}") from None


def _idiosyncrasy(persona: str, recipe: Recipe) -> float:
    h = hashlib.sha256(f"{persona}|{recipe.title}|{'|'.join(recipe.ingredients)}".encode()).digest()
    return IDIOSYNCRASY * (int.from_bytes(h[:8], "big") / 2 ** 64 * 2 - 1)


def persona_utility(persona: str, recipe: Recipe) -> float:
    """The persona's hidden utility of a recipe (pure and deterministic)."""
    p = _persona(persona)
    return p.utility(recipe_features(recipe)) + _idiosyncrasy(persona, recipe)


def random_pantry(rng: random.Random, kitchen: Any = None,
                  known: Iterable[str] | None = None) -> tuple[str, ...]:
    """A plausible pantry of 6-11 non-staple items drawn from the knowledge base.

    `known` limits the draw to those canonical names (e.g. what the composer's dishes use),
    so pantries look like real kitchens rather than a random slice of the knowledge base.
    """
    kb = kitchen or _kitchen()
    allowed = frozenset(known) if known is not None else None

    def pick(categories: Iterable[str], k: int) -> list[str]:
        pool = sorted({i.name for c in categories for i in kb.by_category(c)
                       if not i.staple and (allowed is None or i.name in allowed)})
        return rng.sample(pool, min(k, len(pool)))

    items = (pick(["meat", "poultry", "fish", "seafood", "legume", "egg"], rng.randint(1, 2))
             + pick(["vegetable"], rng.randint(3, 5))
             + pick(["grain", "pasta"], 1)
             + pick(["dairy"], rng.randint(0, 2))
             + pick(["herb", "spice", "condiment"], rng.randint(1, 2)))
    return tuple(dict.fromkeys(items))


def simulate_votes(persona: str, n: int, seed: int = 0, user: str | None = None,
                   pantry: Iterable[str] | None = None, composer: Any = None,
                   temperature: float = DEFAULT_TEMPERATURE) -> list[dict[str, Any]]:
    """`n` votes by `persona` on composer pairs (docs/ARCHITECTURE.md vote format, recipes inline).

    Pairs come from the given pantry, or from a fresh random pantry per vote drawn from the
    kitchen knowledge base. Deterministic for (persona, n, seed, pantry, temperature).
    """
    _persona(persona)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if composer is None:
        from pantry.generators.composer import OfflineComposer
        composer = OfflineComposer()
    from pantry.generators.base import GenerationRequest

    rng = random.Random(f"synth|{persona}|{seed}")
    fixed = tuple(pantry) if pantry is not None else None
    user = user or f"synth-{persona}"
    book = getattr(composer, "book", None)
    known = frozenset(book.canon.values()) if book is not None and hasattr(book, "canon") else None
    votes: list[dict[str, Any]] = []
    for i in range(n):
        items = fixed if fixed is not None else random_pantry(rng, known=known)
        req = GenerationRequest(pantry=items, n=2, servings=2, seed=rng.randrange(2 ** 31))
        a, b = composer.generate(req)[:2]
        ua, ub = persona_utility(persona, a), persona_utility(persona, b)
        diff = ua - ub
        if abs(diff) < TIE_MARGIN and rng.random() < TIE_PROBABILITY:
            outcome = "tie"
        else:
            outcome = "a" if rng.random() < float(expit(diff / temperature)) else "b"
        vote: dict[str, Any] = {
            "user": user,
            "a": a.to_dict(),
            "b": b.to_dict(),
            "outcome": outcome,
            "left": rng.choice(("a", "b")),
            "pantry": list(items),
            "created_at": (BASE_TIME + timedelta(minutes=i)).isoformat().replace("+00:00", "Z"),
            "generator": getattr(composer, "name", "offline-composer"),
        }
        if outcome in ("a", "b"):
            vote["strength"] = "much" if abs(diff) > 2 * temperature else "slightly"
        votes.append(vote)
    return votes
