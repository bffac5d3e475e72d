"""Learning curves: strict accuracy of the project's model vs baselines as labels grow.

Runs `pantry.evaluation.protocols.evaluate` for K = 5, 10, 15, 25, 50 with random and active pair
selection (seen protocol), plus the unseen protocol, on one data folder (recipes.jsonl +
votes.jsonl), with the one trainer the app ships (`training.train_reward_model`);
prints a table and writes bench/out/learning_curves.{csv,json,html}.

    .venv/bin/python bench/learning_curves.py [--data ../shared/data/giallozafferano-dev] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pantry.evaluation.protocols import evaluate, recipe_features  # noqa: E402
from pantry.storage.jsonl import read_votes_file  # noqa: E402
from pantry.storage.jsonl import read_recipes_file  # noqa: E402

KS = (5, 10, 15, 25, 50)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "giallozafferano-dev"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "bench" / "out"))
    ap.add_argument("--labels", type=int, nargs="*", default=list(KS))
    args = ap.parse_args(argv)
    data = Path(args.data)
    if not (data / "votes.jsonl").exists():
        print(f"no votes.jsonl in {data}: pass --data", file=sys.stderr)
        return 2

    from pantry.model.embedding import Embedder
    from pantry.settings import DEFAULT_EMBEDDER

    t = time.perf_counter()
    recipes = {r.id: r for r in read_recipes_file(data / "recipes.jsonl")}
    votes, inline = read_votes_file(data / "votes.jsonl")
    for r in inline:
        recipes.setdefault(r.id, r)
    used = {x for v in votes for x in (v.a, v.b)}
    voted = [r for rid, r in recipes.items() if rid in used]
    embedder = Embedder(os.environ.get("PANTRY_EMBEDDER") or DEFAULT_EMBEDDER)
    features = recipe_features(voted, embedder)
    print(f"embedded {len(voted)} recipes in {time.perf_counter() - t:.1f}s")

    rows = []
    runs = ([("seen", k, sel) for k in args.labels for sel in ("random", "active")]
            + [("unseen", None, "random")])
    for protocol, k, sel in runs:
        r = evaluate(voted, votes, features, protocol, k or 0, sel, args.seed, embedder_name=embedder.name)
        row = {"protocol": protocol, "labels": k, "selection": sel, "users": r["users"],
               "test_pairs": r["test_pairs"], "project": r["accuracy"], "low": r["accuracy_low"],
               "high": r["accuracy_high"], "tie_rate": r["tie_rate"],
               "popularity": r["baselines"]["popularity"], "user_item_bt": r["baselines"]["user_item_bt"],
               "random_same_split": r.get("accuracy_random_same_split"), "seconds": r["seconds"]}
        rows.append(row)
        print(f"{protocol:6} K={str(k or '-'):>3} {sel:6} users={row['users']:2} n={row['test_pairs']:5} "
              f"project={row['project']:.3f} [{row['low']:.3f},{row['high']:.3f}] "
              f"popularity={row['popularity']:.3f} user_item_bt={row['user_item_bt']:.3f}"
              + (f" random_same_split={row['random_same_split']:.3f}" if row["random_same_split"] is not None else "")
              + f" {row['seconds']:.1f}s", flush=True)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    import pandas as pd

    df = pd.DataFrame(rows)
    df.to_csv(out / "learning_curves.csv", index=False)
    (out / "learning_curves.json").write_text(json.dumps(rows, indent=2))
    try:
        import altair as alt

        seen = df[df.protocol == "seen"]
        rand = seen[seen.selection == "random"]
        long = pd.concat([
            seen.assign(model="project (" + seen.selection + ")", accuracy=seen.project),
            rand.assign(model="user item BT", accuracy=rand.user_item_bt),
            rand.assign(model="popularity", accuracy=rand.popularity),
        ])[["labels", "model", "accuracy"]]
        chart = alt.Chart(long).mark_line(point=True).encode(
            x=alt.X("labels:Q", title="labels (votes) per user"),
            y=alt.Y("accuracy:Q", title="strict pairwise accuracy", scale=alt.Scale(zero=False)),
            color="model:N", tooltip=["model", "labels", alt.Tooltip("accuracy:Q", format=".3f")],
        ).properties(title=f"Learning curves on {data.name} (seen protocol)", width=520, height=320)
        chart.save(str(out / "learning_curves.html"))
    except ImportError:
        print("altair not installed: chart skipped", file=sys.stderr)
    print(f"wrote {out}/learning_curves.csv, .json, .html")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
