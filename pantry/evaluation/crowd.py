"""A crowd of simulated raters with varied, known tastes (for learning-speed benchmarks).

Written from first principles, apart from the model's features and the `synth` personas:
each recipe is read into a short list of *taste facts* a person plausibly cares about
(`TASTE_AXES`: meat, fish, pork, vegetables, legumes, log minutes, steps, ingredients,
heat, sweetness, richness, starchy comfort, oven-baked, cuisines), and a rater is a weight
per fact (`Rater.weights`) drawn from one or two archetypes (vegetarian, in a hurry, heat
lover, ...) plus a personal jitter on every weight. A rater votes Bradley-Terry on the
utility difference (`P(a) = sigmoid(u_a - u_b)`), and some raters flip a share of their
votes at random (inattention). Because the true utility is linear in the taste facts, a
logistic regression on them from the same votes (`oracle_scores`) is the reference a
learned model can hope to approach. A second world (`make_five_taste_crowd`) has raters
whose taste varies by degree along five directions (diet, time, spice, richness, comfort),
so its oracle on those five knows exactly what each rater weighs.

Everything is a pure function of its arguments and seeds.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np

from pantry.domain.recipes import Recipe

TASTE_AXES = ("meat", "fish", "pork", "vegetables", "legumes", "minutes", "steps", "ingredients",
              "heat", "sweet", "rich", "starchy", "baked", "asian", "italian", "mexican")
_HOT = ("chili", "chilli", "chile", "jalapeno", "jalapeño", "cayenne", "chipotle", "sriracha", "hot sauce",
        "gochujang", "harissa", "habanero", "peperoncino", "curry paste", "red pepper flakes", "wasabi")
_HOT_WORDS = ("spicy", "hot", "fiery", "diavola", "arrabbiata", "piccante", "vindaloo", "szechuan", "sichuan")
_RICH = ("cream", "butter", "cheese", "parmesan", "mozzarella", "cheddar", "mascarpone", "ricotta", "bacon",
         "pancetta", "guanciale", "mayonnaise", "coconut milk", "lard", "gruyere", "pecorino", "brie")
_PORK = ("pork", "bacon", "ham", "pancetta", "prosciutto", "guanciale", "sausage", "salami", "chorizo", "speck")
_STARCH = ("pasta", "potato", "bread", "rice", "noodle", "gnocchi", "spaghetti", "penne", "tortilla", "couscous")
_BAKED = ("bake", "baked", "oven", "roast", "gratin", "casserole", "al forno", "lasagna", "pie")
_ASIAN = ("chinese", "japanese", "korean", "thai", "vietnamese", "indian", "asian")


@lru_cache(maxsize=1)
def _kitchen():
    from pantry.kitchen import load_kitchen
    return load_kitchen()


@lru_cache(maxsize=65536)
def _line(line: str) -> tuple[str, str]:
    """(lowercased line, kitchen category or '')."""
    ing = _kitchen().match_line(line)
    return line.lower(), (ing.category if ing is not None else "")


def _any(text: str, words: Sequence[str]) -> bool:
    return any(w in text for w in words)


def taste_facts(recipe: Recipe) -> np.ndarray:
    """The recipe's value on each of `TASTE_AXES` (float64, each roughly within [0, 1])."""
    lines = [_line(x) for x in recipe.ingredients if x.strip()]
    cats = [c for _, c in lines]
    text = " ".join(t for t, _ in lines)
    head = " ".join([recipe.title.lower(), " ".join(t.lower() for t in recipe.tags)])
    method = " ".join(s.lower() for s in recipe.steps)
    cuisine = (recipe.cuisine or "").lower()
    minutes = recipe.minutes if recipe.minutes else 40
    heat = sum(_any(t, _HOT) for t, _ in lines) + (1 if _any(f" {head} ", [f" {w} " for w in _HOT_WORDS]) else 0)
    return np.array([
        float(any(c in ("meat", "poultry") for c in cats)),
        float(any(c in ("fish", "seafood") for c in cats)),
        float(_any(text, _PORK)),
        min(sum(c in ("vegetable", "fruit") for c in cats), 6) / 6.0,
        float("legume" in cats or "tofu" in text),
        math.log(max(minutes, 5) / 5.0) / math.log(36.0),  # 5 min -> 0, 3 h -> 1
        min(len(recipe.steps), 16) / 16.0,
        min(len(recipe.ingredients), 20) / 20.0,
        min(heat, 3) / 3.0,
        float("sweetener" in cats or _any(head, ("dessert", "cake", "sweet", "cookie"))),
        min(sum(_any(t, _RICH) for t, _ in lines) + (1 if "fry" in method or "fried" in head else 0), 4) / 4.0,
        float(_any(text + " " + head, _STARCH)),
        float(_any(head + " " + method, _BAKED)),
        float(cuisine in _ASIAN),
        float(cuisine == "italian"),
        float(cuisine in ("mexican", "tex-mex")),
    ])


# archetype -> weights on TASTE_AXES (utility units: 1 = odds e to 1 in a pair differing by 1)
ARCHETYPES: dict[str, dict[str, float]] = {
    "vegetarian": {"meat": -4.0, "fish": -4.0, "vegetables": 1.5, "legumes": 1.0},
    "pescatarian": {"meat": -3.5, "fish": 1.5, "vegetables": 0.8},
    "meat-lover": {"meat": 2.5, "pork": 0.8, "vegetables": -1.0},
    "no-pork": {"pork": -4.0},
    "in-a-hurry": {"minutes": -5.0, "steps": -2.0, "ingredients": -1.5},
    "weekend-cook": {"minutes": 1.5, "steps": 1.5, "baked": 0.8},
    "heat-lover": {"heat": 4.0, "asian": 0.8, "mexican": 0.8},
    "heat-averse": {"heat": -4.0},
    "rich": {"rich": 3.5, "starchy": 0.8, "vegetables": -0.5},
    "light": {"rich": -3.0, "vegetables": 1.5, "sweet": -1.0},
    "comfort": {"starchy": 2.0, "baked": 1.5, "rich": 1.5, "meat": 0.5},
    "sweet-tooth": {"sweet": 2.5},
    "asian-food": {"asian": 2.5, "italian": -0.5},
    "italian-food": {"italian": 2.5, "asian": -0.5},
}


@dataclass(frozen=True)
class Rater:
    """One simulated person: a weight per taste axis and a share of votes flipped at random."""

    name: str
    weights: tuple[float, ...]
    flip: float = 0.0

    def utility(self, facts: np.ndarray) -> np.ndarray:
        """Utility of recipes given their taste facts ((n, axes) -> (n,))."""
        return np.asarray(facts, np.float64) @ np.asarray(self.weights)


def make_rater(name: str, archetypes: Sequence[str], rng: random.Random, jitter: float = 0.2,
               flip: float = 0.0) -> Rater:
    """A rater from archetypes (their weights summed) plus N(0, jitter^2) on every axis."""
    w = np.zeros(len(TASTE_AXES))
    for a in archetypes:
        for axis, v in ARCHETYPES[a].items():
            w[TASTE_AXES.index(axis)] += v
    w += np.array([rng.gauss(0.0, jitter) for _ in TASTE_AXES])
    return Rater(name, tuple(float(v) for v in w), flip)


def make_crowd(n: int, seed: int = 0, flip_share: float = 1 / 3, flip: float = 0.1) -> list[Rater]:
    """`n` raters of varied taste: one archetype, or two of them (half the time); a
    `flip_share` of them flip `flip` of their votes."""
    rng = random.Random(f"crowd|{seed}")
    names = sorted(ARCHETYPES)
    out = []
    for k in range(n):
        picks = rng.sample(names, 2 if rng.random() < 0.5 else 1)
        out.append(make_rater(f"crowd-{seed}-{k}:{'+'.join(picks)}", picks, rng,
                              flip=flip if rng.random() < flip_share else 0.0))
    return out


# The five-taste world: continuous tastes along five directions over TASTE_AXES (each a
# column of FIVE_TASTE_MAP): diet (meat or fish in the dish), time (log minutes), spice (heat),
# richness, comfort (starchy and oven-baked, half each). A rater's weight on each is
# N(0, scale^2), so tastes vary by degree, not only by archetype, and a logistic regression
# on the five (`oracle_scores` on `five_taste_facts`) knows exactly what the rater cares about.
FIVE_TASTES = ("diet", "time", "spice", "richness", "comfort")
_FIVE = {"diet": {"meat": 1.0, "fish": 1.0}, "time": {"minutes": 1.0}, "spice": {"heat": 1.0},
         "richness": {"rich": 1.0}, "comfort": {"starchy": 0.5, "baked": 0.5}}
FIVE_TASTE_MAP = np.array([[_FIVE[t].get(axis, 0.0) for t in FIVE_TASTES] for axis in TASTE_AXES])
FIVE_TASTE_SCALE = 4.0  # its oracle at 20 / 50 votes is then 0.83 / 0.88 (the level raters of this kind reach)


def five_taste_facts(facts: np.ndarray) -> np.ndarray:
    """(n, TASTE_AXES) taste facts -> (n, 5) values on `FIVE_TASTES`."""
    return np.asarray(facts, np.float64) @ FIVE_TASTE_MAP


def make_five_taste_crowd(n: int, seed: int = 0, scale: float = FIVE_TASTE_SCALE, flip_share: float = 1 / 3,
                          flip: float = 0.1, prefix: str = "five") -> list[Rater]:
    """`n` raters of the five-taste world: weight N(0, scale^2) on each of `FIVE_TASTES`
    (spread over TASTE_AXES by `FIVE_TASTE_MAP`); a `flip_share` of them flip `flip` of their votes."""
    rng = random.Random(f"five-tastes|{seed}")
    out = []
    for k in range(n):
        taste = np.array([rng.gauss(0.0, scale) for _ in FIVE_TASTES])
        out.append(Rater(f"{prefix}-{seed}-{k}", tuple(float(v) for v in FIVE_TASTE_MAP @ taste),
                         flip if rng.random() < flip_share else 0.0))
    return out


def vote(rater: Rater, ua: float, ub: float, rng: random.Random) -> str:
    """"a" or "b": a Bradley-Terry draw on ua - ub, then flipped with probability `rater.flip`."""
    d = ua - ub
    p = 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, d))))
    out = "a" if rng.random() < p else "b"
    if rater.flip and rng.random() < rater.flip:
        out = "b" if out == "a" else "a"
    return out


def oracle_scores(facts_a: np.ndarray, facts_b: np.ndarray, outcomes: Sequence[str], facts_test: np.ndarray,
                  l2: float = 0.1) -> np.ndarray:
    """Scores of `facts_test` by a logistic regression on the true taste facts of voted pairs
    (difference of facts, no intercept, L2 `l2`): the reference a learned model can approach."""
    from pantry.model.training import fit_bradley_terry

    rows = np.concatenate([facts_a, facts_b]).astype(np.float64)
    n = len(facts_a)
    y = np.array([1.0 if o == "a" else 0.0 for o in outcomes])
    fit = fit_bradley_terry(rows, np.arange(n), np.arange(n, 2 * n), y, l2)
    return np.asarray(facts_test, np.float64) @ fit.coef
