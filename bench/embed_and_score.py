"""Benchmark: embedding and scoring throughput on real recipes, with the cache as the win.

Baseline (measured in the same run): encoding recipes with the embedder and no cache.
Compared: the same texts again through the persistent SQLite cache, and scoring with a
5-member reward ensemble once embeddings are cached. Prints a table of rates and ratios.

    .venv/bin/python bench/embed_and_score.py [--recipes ../shared/data/foodnetwork/recipes.jsonl] [--n 400]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from pantry.model.embedding import Embedder, MemoryCache  # noqa: E402
from pantry.model.features import FEATURE_SPEC, feature_matrix  # noqa: E402
from pantry.storage.jsonl import read_recipes_file  # noqa: E402
from pantry.model.reward import RewardModel  # noqa: E402
from pantry.storage.store import Store  # noqa: E402


def main() -> None:
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "foodnetwork" / "recipes.jsonl"
    ap = argparse.ArgumentParser()
    ap.add_argument("--recipes", default=str(default))
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    recipes = read_recipes_file(args.recipes)[: args.n]
    texts = [r.text for r in recipes]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.sqlite3")
        emb = Embedder("all-MiniLM-L6-v2", device=args.device, cache=MemoryCache())
        emb.encode(texts[:8])  # warm-up
        t = time.perf_counter()
        emb.cache = MemoryCache()
        x = emb.encode(texts)
        base = time.perf_counter() - t
        rows.append(("encode, no cache (baseline)", base))
        emb.cache = store
        emb.encode(texts)  # fill the SQLite cache
        t = time.perf_counter()
        emb.encode(texts)
        rows.append(("encode, SQLite cache hit", time.perf_counter() - t))
        t = time.perf_counter()
        feats = feature_matrix(x, recipes, ("egg", "onion", "garlic", "rice", "spinach"))
        rows.append(("explicit features (pantry of 5)", time.perf_counter() - t))
        model = RewardModel.new(feats.shape[1], 5, emb.name, FEATURE_SPEC)
        t = time.perf_counter()
        for _ in range(10):
            model.score(feats)
        rows.append(("score, 5-member ensemble", (time.perf_counter() - t) / 10))
    n = len(texts)
    print(f"{n} recipes from {Path(args.recipes).name}, device {emb.device}, {os.cpu_count()} CPUs")
    print(f"{'step':34} {'seconds':>9} {'recipes/s':>11} {'vs baseline':>12}")
    for name, secs in rows:
        print(f"{name:34} {secs:9.3f} {n / secs:11.0f} {base / secs:11.1f}x")


if __name__ == "__main__":
    main()
