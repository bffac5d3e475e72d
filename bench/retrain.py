"""Benchmark: retraining with cached embeddings, full ensemble (issue 10, part 4).

A store with --votes synthetic votes by 5 profiles over --recipes recipes (Food Network
recipes when the shared data is there, else synthetic ones), every recipe's embedding
already cached (random unit vectors put in the store's cache under the embedder's key, so
nothing is encoded and the encoder never loads). Timed, through `Lab.train` as the CLI and
the app's Retrain page use it: population model (3 members) + personal model for one
profile (5 members, 5-fold cross-validation of its settings), weights saved; then, in the same
Lab, the same retrain after one more vote by that profile (the prior and the crowd reused). `--profiles 60 --camps`: a crowd
in two camps of opposite tastes, where the like-you verdicts are trusted and the crowd's players measure them. Baseline in the
same run: `Lab.vote_pairs` over all votes (reading votes and building every feature row,
the data part that any trainer pays). Targets: 1,000 votes <= 2 s; 100,000 votes <= 60 s.

    .venv/bin/python bench/retrain.py [--votes 1000,100000] [--recipes 1594] [--profiles 5]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Row, foodnetwork_recipes, machine, print_table  # noqa: E402

TARGETS = {1000: 2.0, 100000: 60.0}


def build_store(home: Path, n_votes: int, n_recipes: int, seed: int = 0, profiles: int = 5, camps: bool = False):
    import numpy as np

    from pantry.domain.recipes import Recipe
    from pantry.domain.votes import Vote
    from pantry.lab import Lab
    from pantry.model.embedding import text_hash
    from pantry.settings import Settings
    from pantry.storage.jsonl import read_recipes_file

    settings = Settings(**{**Settings.from_env().__dict__, "home": home})
    lab = Lab(settings)
    src = foodnetwork_recipes()
    recipes = read_recipes_file(src)[:n_recipes] if src is not None else []
    rng = random.Random(seed)
    foods = ["egg", "rice", "onion", "garlic", "tomato", "spinach", "chicken", "beans", "cheese", "pasta", "salmon"]
    while len(recipes) < n_recipes:
        k = len(recipes)
        recipes.append(Recipe(id=f"syn{k}", title=f"Dish {k}", ingredients=tuple(rng.sample(foods, 4)),
                              steps=("Cook.", "Serve."), minutes=10 + k % 50, servings=2, cuisine=None,
                              tags=(), source="bench"))
    lab.store.add_recipes(recipes)
    gen = np.random.default_rng(seed)
    vecs = gen.normal(size=(len(recipes), lab.embedder.dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    lab.store.put_embeddings(lab.embedder.cache_key, {text_hash(r.text): v for r, v in zip(recipes, vecs)})
    taste = gen.normal(size=lab.embedder.dim)
    score = {r.id: float(v @ taste) for r, v in zip(recipes, vecs)}
    votes = []
    for k in range(n_votes):
        a, b = rng.sample(recipes, 2)
        side = -1.0 if camps and (k % profiles) % 2 else 1.0  # camps: odd profiles hate what even ones love
        d = side * (score[a.id] - score[b.id]) + rng.gauss(0, 0.5)
        outcome = "tie" if abs(d) < 0.05 else ("a" if d > 0 else "b")
        votes.append(Vote(user=f"u{k % profiles}", a=a.id, b=b.id, outcome=outcome,
                          strength="much" if abs(d) > 1.5 and outcome != "tie" else None,
                          pantry=("egg", "rice") if k % 3 == 0 else ()))
    lab.store.add_votes(votes)
    return settings


def time_retrain(n_votes: int, n_recipes: int, cv_folds: int, profiles: int = 5, camps: bool = False
                 ) -> tuple[float, float, dict]:
    """(seconds of u0's first retrain in a fresh Lab, of `Lab.vote_pairs`, info: cpu, figures and
    `repeat`, the seconds of a second retrain in the same Lab after one more vote by u0)."""
    from pantry.domain.votes import Vote
    from pantry.lab import Lab
    from pantry.model.training import TrainConfig
    from pantry.storage.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        settings = build_store(home, n_votes, n_recipes, profiles=profiles, camps=camps)
        lab = Lab(settings, Store.open(settings))  # a fresh process's view: nothing in memory
        votes = lab.store.votes()
        t0 = time.perf_counter()
        lab.vote_pairs(votes)
        t_pairs = time.perf_counter() - t0
        lab = Lab(settings, Store.open(settings))
        t0, c0 = time.perf_counter(), time.process_time()
        out = lab.train("u0", TrainConfig(), cv_folds=cv_folds)
        t_train, c_train = time.perf_counter() - t0, time.process_time() - c0
        assert not lab.embedder.loaded, "the encoder loaded: an embedding was not cached"
        first, second = votes[0].a, votes[0].b
        lab.store.add_votes([Vote(user="u0", a=first, b=second, outcome="a")])
        t0 = time.perf_counter()
        lab.train("u0", TrainConfig(), cv_folds=cv_folds)
        t_repeat = time.perf_counter() - t0
        info = {"repeat": t_repeat, "population": out.population_version, "personal": out.personal_version,
                "cv_accuracy": out.metrics.get("cv_accuracy"), "n_pairs": out.metrics.get("n_pairs"),
                "cpu": c_train}
    return t_train, t_pairs, info


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--votes", default="1000,100000", help="comma-separated vote counts")
    ap.add_argument("--recipes", type=int, default=1594, help="distinct recipes the votes are over")
    ap.add_argument("--cv-folds", type=int, default=5)
    ap.add_argument("--profiles", type=int, default=5, help="profiles the votes are spread over (a crowd: 60)")
    ap.add_argument("--camps", action="store_true", help="two camps of opposite tastes (the like-you verdicts carry)")
    args = ap.parse_args(argv)
    os.environ.setdefault("PANTRY_GENERATOR", "offline")
    rows = []
    for n in [int(x) for x in args.votes.split(",") if x.strip()]:
        t_train, t_pairs, info = time_retrain(n, min(args.recipes, max(4, n)), args.cv_folds, args.profiles, args.camps)
        target = TARGETS.get(n)
        who = (f"{args.profiles} profiles" + (" in two camps" if args.camps else "")) if args.profiles != 5 \
            else "personal u0"
        rows.append(Row(f"retrain, {n:,} votes ({info['n_pairs']:,} personal pairs, population + {who}, "
                        f"{args.cv_folds}-fold CV)", t_train, "s",
                        target=f"<= {target:g} s" if target else None, baseline=t_pairs,
                        baseline_name="vote_pairs: votes -> features", ok=None if target is None else t_train <= target,
                        note=f"CPU {info['cpu']:.1f} s" + (f", cv_accuracy {info['cv_accuracy']:.3f}"
                                                      if info["cv_accuracy"] is not None else "")))
        rows.append(Row("  the same Lab again after one more vote by u0 (everyone else's votes unchanged)",
                        info["repeat"], "s", target=f"<= {target:g} s" if target else None, baseline=t_pairs,
                        baseline_name="vote_pairs: votes -> features",
                        ok=None if target is None else info["repeat"] <= target))
    print(f"cached embeddings (random unit vectors), {args.recipes} recipes at most; {machine()}")
    print_table(rows, "retrain through Lab.train (as `python -m pantry train --user u0`)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
