"""Benchmark: `python -m pantry score` on a warm cache, whole process (issue 10, part 3).

Set-up (not timed): a fresh PANTRY_HOME, the recipes scored once (embeddings cached in its
SQLite store), and a trained population model active (synthetic votes), so the timed runs
score with a saved reward ensemble from cached embeddings, exactly what a re-scoring
process does. Timed: the whole process wall time of `python -m pantry score --recipes F`
(median of --repeat runs), against baselines from the same run: `python -c pass` (the
interpreter) and `python -c "import torch"` (what the old path paid before anything else).
Also reported: whether the warm run imported torch / transformers (-X importtime).

    .venv/bin/python bench/startup.py [--n 1594] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, Row, foodnetwork_recipes, machine, print_table  # noqa: E402


def wall(cmd: list[str], env: dict, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        run = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
        times.append(time.perf_counter() - t)
        if run.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{run.stderr[-2000:]}")
    return statistics.median(times)


def imported(cmd: list[str], env: dict) -> set[str]:
    run = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], env=env, cwd=ROOT, capture_output=True, text=True)
    names = set()
    for line in run.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


def synth_recipes(n: int) -> list[dict]:
    """Small composer-like recipes for a run without the shared data (the smoke test)."""
    rng = random.Random(0)
    foods = ["egg", "rice", "onion", "garlic", "tomato", "spinach", "chicken", "beans", "cheese", "pasta"]
    return [{"id": f"r{k}", "title": f"Dish {k}", "ingredients": rng.sample(foods, 4),
             "steps": ["Cook.", "Serve."], "minutes": 10 + k % 50, "servings": 2, "cuisine": None,
             "tags": [], "source": "bench"} for k in range(n)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipes", default=None, help="recipes JSONL (default: the shared Food Network file)")
    ap.add_argument("--n", type=int, default=0, help="first N recipes (0: all; synthetic recipes without the shared data)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--votes", type=int, default=200, help="synthetic votes the population model is trained on")
    args = ap.parse_args(argv)
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        env = {**os.environ, "PANTRY_HOME": str(home), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "PYTHONPATH": str(ROOT)}
        src = Path(args.recipes) if args.recipes else foodnetwork_recipes()
        recipes_file = Path(tmp) / "recipes.jsonl"
        if src is not None and src.exists():
            lines = [line for line in src.read_text().splitlines() if line.strip()]
            lines = lines[: args.n] if args.n else lines
        else:
            lines = [json.dumps(r) for r in synth_recipes(args.n or 200)]
        recipes_file.write_text("\n".join(lines) + "\n")
        # set-up: recipes + votes in the store, embeddings cached, a population model active
        setup = f"""
import random, sys
from pantry.lab import Lab
from pantry.domain.votes import Vote
from pantry.storage.jsonl import read_recipes_file
from pantry.model.training import TrainConfig
lab = Lab()
recipes = read_recipes_file({str(recipes_file)!r})
lab.store.add_recipes(recipes)
lab.features(recipes)
rng = random.Random(0)
votes = []
for k in range({args.votes}):
    a, b = rng.sample(recipes, 2)
    votes.append(Vote(user=f"u{{k % 3}}", a=a.id, b=b.id, outcome="a" if len(a.ingredients) < len(b.ingredients) else "b"))
lab.store.add_votes(votes)
lab.train(None, TrainConfig(members=3, min_decisive=2), cv_folds=0)
"""
        t0 = time.perf_counter()
        run = subprocess.run([py, "-c", setup], env=env, cwd=ROOT, capture_output=True, text=True)
        t_setup = time.perf_counter() - t0
        if run.returncode != 0:
            raise SystemExit(f"set-up failed:\n{run.stderr[-3000:]}")
        score = [py, "-m", "pantry", "score", "--recipes", str(recipes_file), "--top", "5"]
        check = subprocess.run(score, env=env, cwd=ROOT, capture_output=True, text=True)
        if check.returncode != 0 or "population model" not in check.stdout:
            raise SystemExit(f"warm score did not use the trained model:\n{check.stdout}\n{check.stderr}")
        t_pass = wall([py, "-c", "pass"], env, args.repeat)
        t_torch = wall([py, "-c", "import torch"], env, args.repeat)
        t_score = wall(score, env, args.repeat)
        mods = imported(score, env)
    heavy = sorted(mods & {"torch", "transformers", "sentence_transformers", "onnxruntime", "scipy"})
    n = len(lines)
    print(f"{n} recipes, warm cache, population model over {args.votes} votes; set-up {t_setup:.1f} s; {machine()}")
    rows = [
        Row("python -c pass", t_pass, "s"),
        Row('python -c "import torch"', t_torch, "s", baseline=t_pass, baseline_name="python -c pass"),
        Row(f"python -m pantry score ({n} recipes, warm)", t_score, "s", target="<= 2.0 s", baseline=t_torch,
            baseline_name="import torch", ok=t_score <= 2.0,
            note="imports " + (", ".join(heavy) if heavy else "no torch/transformers/scipy/onnxruntime")),
    ]
    print_table(rows, "start-up: whole-process wall time, median of %d" % args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
