"""Benchmark: `evaluate` on thousands of raters (user folds) against leave-one-user-out.

Writes a synthetic many-rater data set (`bench/synth_raters.py`: --raters raters x 45 votes
over --recipes recipes, tastes from a few latent factors) to a temporary folder, embeds its
recipes once through the app's embedding cache (a row of its own), then times one protocol
and seed of `pantry.evaluation.protocols.evaluate` on the first N raters for each --sizes N,
with population models on 5 folds of users and --workers processes. The baseline, measured
in the same run, is the old protocol (one population model per test user, fitted on every
other user's votes: `folds=0`, one process) on the first --old-raters raters; it is scaled
to N linearly, which flatters it (each of its fits also grows with N: it is quadratic).

    .venv/bin/python bench/evaluate_scale.py [--sizes 500 1000 5000] [--old-raters 100]
        [--protocol seen] [--labels 10] [--workers 2] [--recipes 3000] [--embedder hash]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import Row, machine, print_table  # noqa: E402
from bench.synth_raters import write_dataset  # noqa: E402

TARGET_S = 600.0  # 5,000 raters x 45 votes, one protocol and seed, on 2 cores (issue 20)


class HashEmbedder:
    """A stand-in encoder for quick runs (--embedder hash): a fixed random unit vector per text."""

    name, dim = "hash-384", 384

    def encode(self, texts, on_progress=None):
        import zlib

        import numpy as np

        out = np.stack([np.random.default_rng(zlib.crc32(t.encode())).normal(size=self.dim) for t in texts])
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 5000], help="raters per timed run")
    ap.add_argument("--old-raters", type=int, default=100, help="raters of the leave-one-user-out baseline")
    ap.add_argument("--votes", type=int, default=45, help="votes per rater (default 45)")
    ap.add_argument("--recipes", type=int, default=3000)
    ap.add_argument("--protocol", choices=["seen", "unseen", "cold"], default="seen")
    ap.add_argument("--labels", type=int, default=10)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--workers", type=int, default=min(os.cpu_count() or 1, 4))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--embedder", choices=["default", "hash"], default="default",
                    help="default: the app's encoder through its embedding cache; hash: a stand-in (quick runs)")
    args = ap.parse_args(argv)

    from pantry.evaluation.protocols import default_embedder, evaluate, read_evaluation_data, recipe_features

    n_max = max([*args.sizes, args.old_raters])
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="pantry-raters-") as tmp:
        t = time.perf_counter()
        recipes_path, votes_path = write_dataset(tmp, n_max, args.votes, args.recipes, args.seed)
        voted, votes = read_evaluation_data(recipes_path, votes_path)
        read_s = time.perf_counter() - t
        embedder = HashEmbedder() if args.embedder == "hash" else default_embedder()
        t = time.perf_counter()
        features = recipe_features(voted, embedder)
        embed_s = time.perf_counter() - t
    print(f"{n_max} raters x {args.votes} votes, {len(voted)} recipes; written and read in {read_s:.1f} s; "
          f"{embedder.name}: {embed_s:.1f} s to embed (cached after a first run); {machine()}", flush=True)

    by_user: dict[str, list] = {}
    for v in votes:
        by_user.setdefault(v.user, []).append(v)
    users = sorted(by_user)

    def run(n: int, folds: int, workers: int) -> tuple[float, dict]:
        sub = [v for u in users[:n] for v in by_user[u]]
        used = {x for v in sub for x in (v.a, v.b)}
        t0 = time.perf_counter()
        r = evaluate([r for r in voted if r.id in used], sub, features, args.protocol, args.labels, seed=args.seed,
                     embedder_name=embedder.name, folds=folds, workers=workers)
        return time.perf_counter() - t0, r

    old_s, old = run(args.old_raters, 0, 1)
    per_rater = old_s / args.old_raters
    print(f"leave one user out, {args.old_raters} raters: {old_s:.1f} s (accuracy {old['accuracy']:.3f})", flush=True)
    rows.append(Row(f"leave one user out (the old protocol), {args.old_raters} raters, 1 process", old_s,
                    note=f"{old['cache']['population_fits']} population fits"))
    for n in args.sizes:
        secs, r = run(n, args.folds, args.workers)
        print(f"{args.folds} user folds, {n} raters, {r['workers']} worker(s): {secs:.1f} s "
              f"(accuracy {r['accuracy']:.3f}, population alone {r['baselines']['population']:.3f})", flush=True)
        rows.append(Row(f"{args.folds} user folds, {n:,} raters x {args.votes} votes, {r['workers']} worker(s)", secs,
                        target=f"<= {TARGET_S:.0f} s" if n >= 5000 else None,
                        baseline=per_rater * n, baseline_name=f"leave one user out, {args.old_raters} raters scaled",
                        ok=(secs <= TARGET_S) if n >= 5000 else None,
                        note=f"{args.protocol}{' K=' + str(args.labels) if args.protocol == 'seen' else ''}, "
                             f"{r['test_pairs']:,} test pairs"))
    rows.append(Row(f"embedding {len(voted):,} recipes ({embedder.name}), once", embed_s))
    print_table(rows, f"evaluate at scale: one protocol ({args.protocol}) and seed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
