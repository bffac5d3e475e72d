"""Benchmark: the explicit features (`pantry.model.features.explicit_matrix`) at scale.

Recipes: the 1,594 Food Network recipes when the shared data is there, plus recipes from the
offline composer (varied pantries and seeds), as distinct contents; the big set cycles over
them as fresh Recipe objects with their own ids (as a store returns them).

Rows (same run; the baseline is the per-recipe definition `explicit_features` with today's
kitchen code, each on a fresh Kitchen so its line-match cache is cold; with --against REV,
also the whole library as it was at git revision REV (e.g. the commit before the cache),
run in a subprocess from `git archive REV` on the same recipes):
1. cold: the distinct recipes never seen (fresh Kitchen, fresh cache), one pantry;
2. warm: --recipes already-seen recipes, another pantry (the pantry part is always computed);
3. warm, one pantry per recipe (retraining's `vote_pairs`: 20 distinct pantries).
The baseline of the warm rows is measured on --baseline-recipes of them and scaled per recipe.

    .venv/bin/python bench/features.py [--recipes 100000] [--baseline-recipes 10000] [--against e4d191d]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from bench.common import Row, machine, print_table  # noqa: E402

FOODNETWORK = Path(os.environ.get("PANTRY_SHARED_DATA", "/work/shared/data")) / "foodnetwork" / "recipes.jsonl"
PANTRIES = (("egg", "onion", "garlic", "rice", "spinach"), ("chicken", "tomatoes", "pasta", "parmesan", "basil"),
            ("flour", "butter", "sugar", "milk", "eggs"), ("chickpeas", "lentils", "coconut milk", "curry paste"))


def distinct_recipes(composed: int):
    from pantry.domain.recipes import recipe_from_dict
    from pantry.generators import GenerationRequest
    from pantry.generators.composer import OfflineComposer

    out = []
    if FOODNETWORK.exists():
        with FOODNETWORK.open(encoding="utf-8") as f:
            out += [recipe_from_dict(json.loads(line)) for line in f if line.strip()]
    composer = OfflineComposer()
    seed = 0
    target = len(out) + composed
    while len(out) < target:
        pantry = PANTRIES[seed % len(PANTRIES)][: 2 + seed % 4]
        out += composer.generate(GenerationRequest(pantry=pantry, n=8, seed=seed))
        seed += 1
    seen, unique = set(), []
    for r in out:
        key = (r.ingredients, r.minutes, len(r.steps))
        if key not in seen:
            seen.add(key)
            unique.append(r)
    return unique


def fresh_kitchen():
    from pantry.kitchen import DEFAULT_KB_PATH, Kitchen

    return Kitchen.from_dict(json.loads(DEFAULT_KB_PATH.read_text(encoding="utf-8")), source="bench")


def reference(recipes, pantries, kitchen):
    from pantry.model.features import explicit_features

    return np.stack([explicit_features(r, p, kitchen) for r, p in zip(recipes, pantries)])


_OLD = r"""
import pickle, sys, time
sys.path.insert(0, sys.argv[1])
from pantry.model.features import explicit_matrix
from pantry.kitchen import load_kitchen
base, big, pantries = pickle.load(open(sys.argv[2], "rb"))
kb = load_kitchen()
t = time.perf_counter(); explicit_matrix(base, pantries[0], kitchen=kb); cold = time.perf_counter() - t
t = time.perf_counter(); explicit_matrix(big, pantries[1], kitchen=kb); warm = time.perf_counter() - t
print(cold, warm)
"""


def old_revision(rev: str, base, big, pantries) -> tuple[float, float]:
    """(cold, warm) seconds of the library at git revision `rev` on the same recipes."""
    import pickle
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "pantry", "data"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        with open(Path(tmp) / "in.pkl", "wb") as f:
            pickle.dump(([r.to_dict() for r in base], [r.to_dict() for r in big], pantries), f)
        code = _OLD.replace("base, big, pantries = pickle.load(open(sys.argv[2], \"rb\"))",
                            "from pantry.domain.recipes import Recipe\n"
                            "b, g, pantries = pickle.load(open(sys.argv[2], 'rb'))\n"
                            "mk = lambda d: Recipe(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})\n"
                            "base = [mk(d) for d in b]; big = [mk(d) for d in g]")
        out = subprocess.run([sys.executable, "-c", code, tmp, str(Path(tmp) / "in.pkl")], capture_output=True,
                             text=True, check=True, cwd=tmp).stdout.split()
    return float(out[0]), float(out[1])


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipes", type=int, default=100_000, help="already-seen recipes for the warm rows")
    ap.add_argument("--baseline-recipes", type=int, default=10_000, help="recipes the old path runs on (warm rows)")
    ap.add_argument("--against", metavar="REV", help="also time the library at this git revision (subprocess)")
    ap.add_argument("--composed", type=int, default=2_000, help="composer recipes added to the distinct set")
    args = ap.parse_args(argv)

    from pantry.domain.recipes import Recipe
    from pantry.model.features import RecipeFactsCache, explicit_matrix

    base = distinct_recipes(args.composed)
    n_lines = sum(len(r.ingredients) for r in base)
    print(f"{len(base)} distinct recipes ({n_lines} ingredient lines); {machine()}", file=sys.stderr)
    one = [PANTRIES[0]] * len(base)
    rows = []

    # 1. cold
    old_s, old = timed(lambda: reference(base, one, fresh_kitchen()))
    kb = fresh_kitchen()
    cache = RecipeFactsCache()
    new_s, new = timed(lambda: explicit_matrix(base, PANTRIES[0], kitchen=kb, cache=cache))
    assert np.array_equal(old, new), "the fast path differs from the definition"
    rows.append(Row(f"cold: {len(base):,} never-seen recipes, one pantry", new_s, target="several x faster",
                    baseline=old_s, baseline_name="per-recipe definition", ok=new_s * 3 <= old_s,
                    note=f"{1e3 * new_s / len(base):.3f} ms/recipe"))

    # 2. warm, one pantry
    big = [Recipe(id=f"b{i}", title=r.title, ingredients=tuple(r.ingredients), steps=r.steps, minutes=r.minutes)
           for i, r in enumerate(base[i % len(base)] for i in range(args.recipes))]
    explicit_matrix(big, PANTRIES[1], kitchen=kb, cache=cache)  # every content is seen already; objects fresh
    new_s, new = timed(lambda: explicit_matrix(big, PANTRIES[1], kitchen=kb, cache=cache))
    nb = min(args.baseline_recipes, len(big))
    old_s, old = timed(lambda: reference(big[:nb], [PANTRIES[1]] * nb, kb))
    assert np.array_equal(old, new[:nb])
    rows.append(Row(f"warm: {len(big):,} seen recipes, one pantry", new_s, target="<= 0.5 s",
                    baseline=old_s * len(big) / nb, baseline_name=f"definition, {nb:,} scaled",
                    ok=new_s <= 0.5, note=f"{1e6 * new_s / len(big):.2f} us/recipe"))

    # 3. warm, a pantry per recipe
    per = [PANTRIES[i % len(PANTRIES)][: 1 + i % 5] for i in range(len(big))]
    per = [p + (f"extra {i % 5}",) if i % 7 == 0 else p for i, p in enumerate(per)]  # some items the KB lacks
    new_s, new = timed(lambda: explicit_matrix(big, per, kitchen=kb, cache=cache))
    old_s, old = timed(lambda: reference(big[:nb], per[:nb], kb))
    assert np.array_equal(old, new[:nb])
    rows.append(Row(f"warm: {len(big):,} seen recipes, {len(set(per))} pantries (vote_pairs)", new_s,
                    target="<= 0.5 s", baseline=old_s * len(big) / nb, baseline_name=f"definition, {nb:,} scaled",
                    ok=new_s <= 0.5, note=f"{1e6 * new_s / len(big):.2f} us/recipe"))
    if args.against:
        nb = min(args.baseline_recipes, len(big))
        cold_s, warm_s = old_revision(args.against, base, big[:nb], PANTRIES)
        rows.insert(1, Row(f"  same, the library at {args.against}", cold_s, note="the baseline of the row above"))
        rows[0].baseline, rows[0].baseline_name = cold_s, f"library at {args.against}"
        rows[0].ok = rows[0].value * 3 <= cold_s
        for r in rows[2:3]:
            r.baseline, r.baseline_name = warm_s * len(big) / nb, f"library at {args.against}, {nb:,} scaled"
    print_table(rows, "explicit features")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
