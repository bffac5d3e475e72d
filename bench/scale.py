"""Benchmark: the app and the library against a big store (default 100,000 recipes and votes).

1. Build: synthetic recipes (titles, ingredients and steps from the kitchen's names), one
   random unit vector per recipe put in the embedding cache (so nothing is encoded), votes
   over them by --users profiles, all stored through the Store's bulk calls; the build is
   timed and the database size on disk reported.
2. Rank every stored recipe for a profile with a trained personal model, the library path
   the API's /rank takes (`Lab.model_for` + `Lab.score`), embeddings already cached; warm
   (the second call) and split into its steps. Baseline, same run: the model's own
   `score` on the ready feature matrix (the arithmetic every ranking needs).
3. Memory: peak resident size of this process (resource.getrusage).
4. With --browser: every page of the app in real Chromium against that store, warm (each
   page opened once first), from navigation to the end of the run.

    .venv/bin/python bench/scale.py [--recipes 100000] [--votes 100000] [--users 50] [--browser]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("PANTRY_DEVICE", "cpu")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from bench.common import Row, machine, print_table  # noqa: E402

EMBEDDER = "all-MiniLM-L6-v2"
DIM = 384
PAGES = (("", "Compare recipes"), ("scores", "Scores & diagnostics"), ("training", "Retrain"), ("votes", "Data"))


def synthetic_recipes(n: int, seed: int = 0):
    from pantry.domain.recipes import Recipe
    from pantry.kitchen import load_kitchen

    names = sorted(load_kitchen().names)
    rng = np.random.default_rng(seed)
    methods = ("Bake", "Simmer", "Roast", "Fry", "Stew", "Grill", "Toss", "Braise")
    out = []
    for k in range(n):
        picks = [names[i] for i in rng.choice(len(names), 5, replace=False)]
        method = methods[k % len(methods)]
        out.append(Recipe(id=f"s{k:06d}", title=f"{method}d {picks[0]} with {picks[1]} #{k}",
                          ingredients=tuple(f"{1 + k % 3} {p}" for p in picks),
                          steps=(f"{method} the {picks[0]} and {picks[1]}.", f"Add the {picks[2]}; season.",
                                 "Serve warm."),
                          minutes=int(10 + k % 80), servings=2, cuisine=None, tags=(), source="bench"))
    return out


def build(home: Path, n_recipes: int, n_votes: int, users: int, chunk: int = 10_000) -> dict[str, float]:
    from pantry.domain.votes import Vote
    from pantry.model.embedding import text_hash
    from pantry.storage.store import Store

    times = {}
    store = Store(home / "pantry.sqlite3")
    t = time.perf_counter()
    recipes = synthetic_recipes(n_recipes)
    times["make recipes"] = time.perf_counter() - t
    t = time.perf_counter()
    for k in range(0, n_recipes, chunk):
        store.add_recipes(recipes[k:k + chunk])
    times["store recipes"] = time.perf_counter() - t
    t = time.perf_counter()
    rng = np.random.default_rng(1)
    for k in range(0, n_recipes, chunk):
        part = recipes[k:k + chunk]
        v = rng.normal(size=(len(part), DIM)).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        store.put_embeddings(EMBEDDER, {text_hash(r.text): x for r, x in zip(part, v)})
    times["store embeddings"] = time.perf_counter() - t
    t = time.perf_counter()
    names = [f"user{u:03d}" for u in range(users)]
    for name in names:
        store.ensure_user(name)
        store.set_user_pantry(name, "4 eggs, spinach, feta, rice, an onion, tomatoes")
    taste = rng.normal(size=n_recipes)
    for k in range(0, n_votes, chunk):
        m = min(chunk, n_votes - k)
        i = rng.integers(0, n_recipes, m)
        j = (i + rng.integers(1, n_recipes, m)) % n_recipes
        who = rng.integers(0, users, m)
        noise = rng.normal(scale=0.5, size=m)
        store.add_votes([Vote(user=names[w], a=recipes[a].id, b=recipes[b].id,
                              outcome="a" if taste[a] + e > taste[b] else "b", left="a")
                         for w, a, b, e in zip(who, i, j, noise)])
    times["store votes"] = time.perf_counter() - t
    return times


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipes", type=int, default=100_000)
    ap.add_argument("--votes", type=int, default=100_000)
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--train-votes", type=int, default=2_000,
                    help="the profile trained for ranking: how many of its votes (training speed is another bench)")
    ap.add_argument("--browser", action="store_true", help="time every page in Chromium against the store")
    ap.add_argument("--home", help="keep the store here (default: a temporary folder)")
    args = ap.parse_args(argv)
    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="bench-scale-"))
    home.mkdir(parents=True, exist_ok=True)
    os.environ["PANTRY_HOME"] = str(home)
    rows: list[Row] = []

    t = time.perf_counter()
    steps = build(home, args.recipes, args.votes, args.users)
    build_s = time.perf_counter() - t
    db = home / "pantry.sqlite3"
    size = sum(p.stat().st_size for p in home.glob("pantry.sqlite3*"))
    rows.append(Row(f"build: {args.recipes:,} recipes + embeddings, {args.votes:,} votes", build_s,
                    note=", ".join(f"{k} {v:.1f} s" for k, v in steps.items())))
    rows.append(Row("database size on disk (with -wal)", size / 2**20, unit="MiB"))

    from pantry.lab import Lab
    from pantry.settings import Settings
    from pantry.storage.store import Store

    lab = Lab(Settings.from_env(), Store(db))
    trainee = "ranker"
    t = time.perf_counter()
    recipes = lab.store.all_recipes()
    read_s = time.perf_counter() - t
    rows.append(Row(f"read all {len(recipes):,} recipes from the store", read_s))
    _train_ranker(lab, trainee, recipes, args.train_votes)
    choice = lab.model_for(trainee)
    pantry = ("egg", "spinach", "feta", "rice", "onion", "tomato")
    lab.score(recipes[:100], trainee, pantry, choice=choice)  # loads the encoder once (nothing is encoded)
    t = time.perf_counter()
    ranked = lab.score(recipes, trainee, pantry, choice=choice)
    rank_s = time.perf_counter() - t
    assert len(ranked) == len(recipes)
    # its steps, for the profile
    emb = lab.embedder
    t = time.perf_counter()
    vecs = emb.encode([r.text for r in recipes])
    cache_s = time.perf_counter() - t
    from pantry.model.features import feature_matrix

    t = time.perf_counter()
    x = feature_matrix(vecs, recipes, pantry, kitchen=lab.kitchen)
    feat_s = time.perf_counter() - t
    t = time.perf_counter()
    choice.model.score(x, [r.id for r in recipes])
    score_s = time.perf_counter() - t
    rows.append(Row(f"rank {len(recipes):,} cached recipes (Lab.score, {choice.kind} model)", rank_s,
                    target="<= 0.5 s", baseline=score_s, baseline_name="model.score on ready features",
                    ok=rank_s <= 0.5))
    rows.append(Row("  of which: embeddings from the cache (hash + read + check)", cache_s))
    rows.append(Row("  of which: explicit features (feature_matrix)", feat_s))
    rows.append(Row("  of which: the model's score", score_s))
    rows.append(Row("peak resident memory of this process", peak_rss_mb(), unit="MiB"))
    if args.browser:
        print_table(rows, "so far")
        bare = bare_page(home)
        for path, heading, secs in browser_pages(home, trainee):
            rows.append(Row(f"Chromium, warm: /{path} ({heading})", secs, target="<= 2 s", ok=secs <= 2.0,
                            baseline=bare, baseline_name="a one-line Streamlit page"))
    print_table(rows, f"Scale: {args.recipes:,} recipes, {args.votes:,} votes, {args.users} profiles ({machine()})")
    return 0


def _train_ranker(lab, user: str, recipes, n_votes: int) -> None:
    """A personal model for `user` over `n_votes` votes among the stored recipes."""
    from pantry.domain.votes import Vote

    lab.store.ensure_user(user)
    lab.store.set_user_pantry(user, "4 eggs, spinach, feta, rice, an onion, tomatoes")
    rng = np.random.default_rng(5)
    pool = min(len(recipes), 2_000)
    votes = []
    for _ in range(n_votes):
        i, j = rng.choice(pool, 2, replace=False)
        a, b = recipes[i], recipes[j]
        votes.append(Vote(user=user, a=a.id, b=b.id, outcome="a" if (a.minutes or 0) < (b.minutes or 0) else "b"))
    lab.store.add_votes(votes)
    lab.train(user, train_population=False, cv_folds=0)


BARE_PAGE = 'import streamlit as st\nst.title("Hello")\n'


def bare_page(home: Path, repeat: int = 3) -> float:
    """Median warm load of a one-line Streamlit page (st.title) on the same machine: the floor
    every page load pays (Streamlit's front end, the session's websocket, one script run)."""
    import statistics

    from playwright.sync_api import sync_playwright

    from bench.compare_round import CHROMIUM, FLAGS, IDLE, start_server

    script = home / "bare_page.py"
    script.write_text(BARE_PAGE)
    proc, url = start_server(home, home / "bench-bare.log", str(script))
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})

            def load() -> float:
                t = time.perf_counter()
                page.goto(url)
                page.get_by_role("heading", name="Hello").wait_for()
                page.wait_for_timeout(50)
                page.wait_for_function(IDLE, polling="raf")
                return time.perf_counter() - t

            load()
            secs = statistics.median(load() for _ in range(repeat))
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    return secs


def browser_pages(home: Path, user: str, repeat: int = 3):
    """[(path, heading, median warm seconds)] for every page, each opened once before timing."""
    import statistics

    from playwright.sync_api import sync_playwright

    from bench.compare_round import CHROMIUM, FLAGS, IDLE, start_server

    proc, url = start_server(home, home / "bench-streamlit.log")
    out = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(600_000)

            def load(path: str, heading: str) -> float:
                t = time.perf_counter()
                page.goto(f"{url}/{path}?profile={user}")
                page.get_by_role("heading", name=heading, exact=True).wait_for()
                page.wait_for_timeout(50)
                page.wait_for_function(IDLE, polling="raf")
                return time.perf_counter() - t

            for path, heading in PAGES:
                load(path, heading)  # cold: the first visit
            for path, heading in PAGES:
                out.append((path, heading, statistics.median(load(path, heading) for _ in range(repeat))))
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    return out


if __name__ == "__main__":
    sys.exit(main())
