"""Learning curves: strict accuracy of the project's model vs baselines, over seeds.

Runs `pantry.evaluation.protocols.evaluate_seeds` on one data folder (recipes.jsonl +
votes.jsonl) with the one trainer the app ships (`training.train_reward_model`): the seen
protocol for each K with random and active pair selection, then `unseen` and `cold`, each
over `--seeds` seeds (default 5). Per row: the project's mean over seeds with a 95% t
interval from the seed-to-seed spread, each baseline from the same runs likewise, and the
time. The recipes are embedded once and one `EvalCache` is shared by every run, so the
population model per left-out user is fitted once for all seen/unseen runs (cold refits it
per seed: its training votes change with the held-out recipes). Writes
bench/out/learning_curves.{csv,json,html}.

Default K: 5, 10, 25 with random selection and 10 with active selection (K refits per
user per seed, the slow part: measured on giallozafferano-dev on 2 busy cores, one seed of
active K=10 took 85 s and of K=25 540 s), so a default run stays under about 20 minutes
on 2 cores. Pass --active-labels 10 25 (about +45 minutes at 5 seeds) or
--labels 5 10 15 25 50 for the fuller curve.

    .venv/bin/python bench/learning_curves.py [--data ../shared/data/giallozafferano-dev]
        [--seeds 5] [--seed 0] [--labels 5 10 25] [--active-labels 10] [--protocols seen unseen cold]
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

from pantry.evaluation.protocols import (EvalCache, ModelSettings, default_embedder, evaluate_seeds,  # noqa: E402
                                         read_evaluation_data, recipe_features)

KS = (5, 10, 25)
ACTIVE_KS = (10,)
BASELINES = ("population", "heuristic", "popularity", "user_item_bt", "random_same_split")


def _interval(s: dict | None) -> str:
    if s is None:
        return "n/a"
    if s["low"] is None:
        return f"{s['mean']:.3f}"
    return f"{s['mean']:.3f} [{s['low']:.3f}, {s['high']:.3f}]"


def table_row(r: dict) -> dict:
    """One flat row of the table from an `evaluate_seeds` result."""
    row = {"protocol": r["protocol"], "labels": r["labels"], "selection": r["selection"],
           "seeds": len(r["seeds"]), "users": r["users"], "test_pairs": r["test_pairs"],
           "project": r["project"]["mean"], "project_low": r["project"]["low"], "project_high": r["project"]["high"],
           "project_per_seed": r["project"]["per_seed"], "seconds": r["seconds"]}
    for name in BASELINES:
        b = r["baselines"].get(name)
        row[name] = None if b is None else b["mean"]
        row[f"{name}_low"] = None if b is None else b["low"]
        row[f"{name}_high"] = None if b is None else b["high"]
    row["unavailable"] = r["unavailable"]
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "giallozafferano-dev"))
    ap.add_argument("--seed", type=int, default=0, help="the first seed")
    ap.add_argument("--seeds", type=int, default=5, help="seeds per protocol (default 5)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "out"))
    ap.add_argument("--labels", type=int, nargs="*", default=list(KS), help="K values, random selection")
    ap.add_argument("--active-labels", type=int, nargs="*", default=list(ACTIVE_KS),
                    help="K values, active selection (with the random reference on the same split)")
    ap.add_argument("--protocols", nargs="*", default=["seen", "unseen", "cold"],
                    choices=["seen", "unseen", "cold"])
    ap.add_argument("--folds", type=int, default=5,
                    help="user folds of the population models (default 5; 0: leave one user out)")
    ap.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE",
                    help="personal TrainConfig settings to try (e.g. item_var=30 prior_shape=evidence)")
    args = ap.parse_args(argv)
    from pantry.model.training import config_from

    try:
        settings = ModelSettings(personal=config_from(dict(kv.split("=", 1) for kv in args.set), text=True))
    except ValueError as e:
        print(f"--set: {e}", file=sys.stderr)
        return 2
    data = Path(args.data)
    if not (data / "votes.jsonl").exists():
        print(f"no votes.jsonl in {data}: pass --data", file=sys.stderr)
        return 2
    if args.seeds < 1:
        print("--seeds must be at least 1", file=sys.stderr)
        return 2

    t_start = time.perf_counter()
    voted, votes = read_evaluation_data(data / "recipes.jsonl", data / "votes.jsonl")
    embedder = default_embedder()
    features = recipe_features(voted, embedder)
    print(f"embedded {len(voted)} recipes in {time.perf_counter() - t_start:.1f}s; "
          f"{args.seeds} seeds from {args.seed}; intervals: 95% t over the per-seed accuracies", flush=True)

    runs: list[tuple[str, int, str]] = []
    if "seen" in args.protocols:
        runs += [("seen", k, "random") for k in args.labels] + [("seen", k, "active") for k in args.active_labels]
    runs += [(p, 0, "random") for p in ("unseen", "cold") if p in args.protocols]
    cache = EvalCache()
    seeds = range(args.seed, args.seed + args.seeds)
    rows, results = [], []
    for protocol, k, sel in runs:
        r = evaluate_seeds(voted, votes, features, protocol, k, sel, seeds, embedder_name=embedder.name, cache=cache,
                           folds=args.folds, settings=settings)
        results.append({key: val for key, val in r.items() if key != "runs"})
        row = table_row(r)
        rows.append(row)
        shown = " ".join(f"{name}={_interval(r['baselines'].get(name))}" for name in BASELINES
                         if name in r["baselines"])
        missing = " ".join(f"{name}=n/a" for name in r["unavailable"])
        print(f"{protocol:6} K={str(k or '-'):>3} {sel:6} users={row['users']:2} pairs={row['test_pairs']:5} "
              f"project={_interval(r['project'])} {shown} {missing} {row['seconds']:.1f}s", flush=True)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    import pandas as pd

    df = pd.DataFrame(rows)
    df.drop(columns=["project_per_seed", "unavailable"]).to_csv(out / "learning_curves.csv", index=False)
    (out / "learning_curves.json").write_text(json.dumps({"data": str(data), "embedding": embedder.name,
                                                          "seeds": list(seeds), "rows": rows,
                                                          "results": results}, indent=2, default=str))
    print("\n" + markdown_table(rows))
    try:
        import altair as alt

        seen = df[df.protocol == "seen"]
        rand = seen[seen.selection == "random"]
        long = pd.concat([
            seen.assign(model="project (" + seen.selection + ")", accuracy=seen.project,
                        low=seen.project_low, high=seen.project_high),
            rand.assign(model="user item BT", accuracy=rand.user_item_bt, low=rand.user_item_bt_low,
                        high=rand.user_item_bt_high),
            rand.assign(model="popularity", accuracy=rand.popularity, low=rand.popularity_low,
                        high=rand.popularity_high),
            rand.assign(model="population", accuracy=rand.population, low=rand.population_low,
                        high=rand.population_high),
        ])[["labels", "model", "accuracy", "low", "high"]]
        base = alt.Chart(long).encode(x=alt.X("labels:Q", title="labels (votes) per user"),
                                      color="model:N")
        lines = base.mark_line(point=True).encode(
            y=alt.Y("accuracy:Q", title=f"strict pairwise accuracy (mean of {args.seeds} seeds)",
                    scale=alt.Scale(zero=False)),
            tooltip=["model", "labels", alt.Tooltip("accuracy:Q", format=".3f")])
        bars = base.mark_errorbar().encode(y="low:Q", y2="high:Q")
        (lines + bars).properties(title=f"Learning curves on {data.name} (seen protocol)", width=520,
                                  height=320).save(str(out / "learning_curves.html"))
    except ImportError:
        print("altair not installed: chart skipped", file=sys.stderr)
    print(f"total {time.perf_counter() - t_start:.0f}s; cache {cache.stats()}; "
          f"wrote {out}/learning_curves.csv, .json, .html")
    return 0


def markdown_table(rows: list[dict]) -> str:
    """The table as Markdown: protocol, K, selection, project and each baseline mean [low, high], time."""
    names = [n for n in BASELINES if any(r[n] is not None or n in r["unavailable"] for r in rows)]
    head = ["protocol", "K", "selection", "pairs (pooled)", "this project", *names, "time"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["protocol"], str(r["labels"] or "-"), r["selection"], str(r["test_pairs"]),
                 _interval({"mean": r["project"], "low": r["project_low"], "high": r["project_high"]})]
        for n in names:
            if r[n] is not None:
                cells.append(_interval({"mean": r[n], "low": r[f"{n}_low"], "high": r[f"{n}_high"]}))
            else:
                cells.append("n/a (by construction)" if n in r["unavailable"] and r["protocol"] == "cold" else "-")
        cells.append(f"{r['seconds']:.0f}s")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
