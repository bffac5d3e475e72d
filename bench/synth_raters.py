"""A synthetic many-rater data set for timing `evaluate` at scale: recipes.jsonl + votes.jsonl.

Recipes are templated (a main ingredient, a dish style, a cuisine, a few extras, minutes),
so the project's explicit features (meat, minutes, spice, richness, ...) vary between them.
Each rater has a taste over a few latent factors of a recipe (meat or fish, log-minutes,
spice, richness, one per cuisine) drawn around a shared mean, plus a per-recipe appeal
shared by everyone (popularity); each rater votes on `--votes` random pairs among 30
recipes drawn for them, by a Bradley-Terry draw on their utility difference (a small
difference is a tie). Nothing here is real data: it only gives `evaluate` the shape of a
large real set (thousands of raters, 45 votes each, a few thousand recipes), and nothing
of its output is committed.

    .venv/bin/python bench/synth_raters.py --out /tmp/raters --raters 5000 [--votes 45]
        [--recipes 3000] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

MAINS = {  # name: (meat or fish, richness)
    "chicken thighs": (1, 0.2), "beef chuck": (1, 0.6), "pork shoulder": (1, 0.6), "lamb shoulder": (1, 0.6),
    "salmon fillet": (1, 0.3), "shrimp": (1, 0.1), "cod fillet": (1, 0.0), "italian sausage": (1, 0.8),
    "firm tofu": (0, 0.0), "chickpeas": (0, 0.0), "red lentils": (0, 0.0), "eggs": (0, 0.3),
    "mushrooms": (0, 0.0), "black beans": (0, 0.0), "cauliflower": (0, 0.0), "eggplant": (0, 0.1),
}
STYLES = {"curry": 40, "stir-fry": 15, "stew": 120, "salad": 10, "soup": 45, "pasta": 25, "tacos": 20,
          "roast": 90, "bake": 60, "skillet": 20, "braise": 150, "bowl": 15}
CUISINES = ["italian", "indian", "mexican", "thai", "chinese", "french", "american", "japanese"]
EXTRAS = {  # name: (spice, richness)
    "garlic": (0, 0), "onion": (0, 0), "chili flakes": (1, 0), "jalapeno": (1, 0), "cayenne pepper": (1, 0),
    "heavy cream": (0, 1), "parmesan": (0, 1), "butter": (0, 1), "cheddar": (0, 1), "spinach": (0, 0),
    "lemon": (0, 0), "rice": (0, 0), "potatoes": (0, 0), "tomatoes": (0, 0), "ginger": (0, 0),
    "coconut milk": (0, 0.5), "cilantro": (0, 0), "bell pepper": (0, 0), "carrots": (0, 0), "soy sauce": (0, 0),
}


def make_recipes(n: int, rng: np.random.Generator) -> tuple[list[dict], np.ndarray]:
    """n templated recipes and their latent factors (n, 4 + cuisines)."""
    mains, styles, extras = list(MAINS), list(STYLES), list(EXTRAS)
    recipes, factors = [], []
    for k in range(n):
        main, style, cuisine = mains[rng.integers(len(mains))], styles[rng.integers(len(styles))], \
            CUISINES[rng.integers(len(CUISINES))]
        extra = [extras[i] for i in rng.choice(len(extras), size=int(rng.integers(3, 8)), replace=False)]
        minutes = int(max(5, round(STYLES[style] * float(rng.lognormal(0, 0.35)))))
        ingredients = [f"1 lb {main}"] + [f"1 tbsp {e}" if EXTRAS[e][0] else f"1 cup {e}" for e in extra]
        steps = [f"Prepare the {main}.", f"Cook with {', '.join(extra[:3])} for {minutes} minutes.", "Serve."]
        recipes.append({"id": f"syn-{k}", "title": f"{cuisine.title()} {main} {style} #{k}",
                        "ingredients": ingredients, "steps": steps, "minutes": minutes, "servings": 4,
                        "cuisine": cuisine, "tags": [style]})
        meat, rich = MAINS[main]
        f = [meat, np.log(minutes / 30.0), sum(EXTRAS[e][0] for e in extra), rich + sum(EXTRAS[e][1] for e in extra)]
        factors.append(f + [float(c == cuisine) for c in CUISINES])
    return recipes, np.array(factors, np.float64)


def make_votes(factors: np.ndarray, raters: int, votes_per_rater: int, rng: np.random.Generator,
               recipes_per_rater: int = 30, groups: int = 0, latent: int = 0,
               content: float = 1.0) -> list[dict]:
    """votes_per_rater random pairs per rater among recipes_per_rater recipes drawn for them.
    groups > 0: rater r belongs to group r % groups, and each group also shares an appeal per
    recipe that no recipe factor explains (circles of people who like the same dishes).
    latent > 0: each recipe also has that many hidden traits no recipe field shows, and each
    rater their own weight on each (tastes only other people's votes reveal); `content` scales
    the taste over the recipe's visible factors (0: what a recipe says tells nothing of taste)."""
    n, k = factors.shape
    mean = np.array([0.3, -0.6, 0.0, 0.2] + [0.0] * (k - 4))  # most like quick food a bit
    spread = np.array([1.5, 0.8, 0.5, 0.6] + [0.4] * (k - 4))  # how much people differ per factor
    appeal = rng.normal(0, 0.7, n)  # what everyone sees in a recipe beyond its factors
    circle = rng.normal(0, 1.0, (groups, n)) if groups > 0 else None  # what only one group sees in it
    hidden = rng.normal(0, 0.7, (n, latent))  # traits of a recipe no field shows
    out = []
    iu = np.triu_indices(recipes_per_rater, 1)
    for r in range(raters):
        w = mean + spread * rng.normal(size=k)
        mine = rng.choice(n, size=recipes_per_rater, replace=False)
        u = content * (factors[mine] @ w) + appeal[mine] + hidden[mine] @ rng.normal(size=latent) \
            + (circle[r % groups, mine] if circle is not None else 0.0)
        pick = rng.choice(len(iu[0]), size=min(votes_per_rater, len(iu[0])), replace=False)
        for i, j in zip(iu[0][pick], iu[1][pick]):
            d = u[i] - u[j]
            if abs(d) < 0.05:
                outcome = "tie"
            else:
                outcome = "a" if rng.random() < 1.0 / (1.0 + np.exp(-2.0 * d)) else "b"
            a, b = (mine[i], mine[j]) if rng.random() < 0.5 else (mine[j], mine[i])
            if a != mine[i]:
                outcome = {"a": "b", "b": "a", "tie": "tie"}[outcome]
            out.append({"user": f"syn-u{r:05d}", "a": f"syn-{a}", "b": f"syn-{b}", "outcome": outcome})
    return out


def write_dataset(out: str | Path, raters: int, votes_per_rater: int = 45, recipes: int = 3000,
                  seed: int = 0, groups: int = 0, per_rater: int = 30, latent: int = 0,
                  content: float = 1.0) -> tuple[Path, Path]:
    """Write out/recipes.jsonl and out/votes.jsonl; returns their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rec, factors = make_recipes(recipes, rng)
    votes = make_votes(factors, raters, votes_per_rater, rng, recipes_per_rater=per_rater, groups=groups,
                       latent=latent, content=content)
    rp, vp = out / "recipes.jsonl", out / "votes.jsonl"
    rp.write_text("".join(json.dumps(r) + "\n" for r in rec))
    vp.write_text("".join(json.dumps(v) + "\n" for v in votes))
    return rp, vp


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--raters", type=int, default=5000)
    ap.add_argument("--votes", type=int, default=45, help="votes per rater (default 45)")
    ap.add_argument("--recipes", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--groups", type=int, default=0,
                    help="circles of raters who share a liking for particular dishes (default 0: none)")
    ap.add_argument("--per-rater", type=int, default=30,
                    help="recipes drawn for each rater (default 30; 10 with --votes 45: every pair of a ranking of 10)")
    ap.add_argument("--latent", type=int, default=0,
                    help="hidden traits per recipe each rater weighs (default 0; tastes only other votes reveal)")
    ap.add_argument("--content", type=float, default=1.0,
                    help="weight of the taste over the recipe's visible factors (default 1; 0: none)")
    args = ap.parse_args(argv)
    rp, vp = write_dataset(args.out, args.raters, args.votes, args.recipes, args.seed, args.groups, args.per_rater,
                           args.latent, args.content)
    print(f"wrote {rp} and {vp} ({args.raters} raters x {args.votes} votes, {args.recipes} recipes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
