"""Benchmark: does the offline composer make food a person would cook from *this* pantry?

Simulated Compare sessions (`bench/composer_sessions.py`: 40 pantries x 8 rounds of 6
candidates, a random valid pair shown per round) are made three ways in one run:

- after: the working tree;
- random dish book: the working tree with `OfflineComposer(family_choice="random")`, a
  uniformly random feasible family per candidate and the pair chosen without
  `pantry.compare.fit_for_pantry` (the baseline the issue names);
- before: the composer, dish book and Compare filters of an older revision (`--before`,
  default the branch point of issue 18's composer work), extracted with `git archive`.

Every figure is computed by the working tree's checks (`pantry.generators.realism`) on the
recipes as JSON, so the three columns are measured the same way. Table: bench/common.py.

    .venv/bin/python bench/composer_realism.py [--before REV] [--sessions 40] [--rounds 8]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, Row, machine, print_table  # noqa: E402

DEFAULT_BEFORE = "e09c924"
EARLY_ROUNDS = 3  # "every recognised pantry item is used within the first few rounds"
BIG_PANTRY = 6  # recognised items: a pantry that allows most dishes to come mostly from it


def run_sessions(tree: Path, out: Path, sessions: int, rounds: int, family_choice: str | None = None) -> float:
    cmd = [sys.executable, str(ROOT / "bench" / "composer_sessions.py"), str(out), "--sessions", str(sessions),
           "--rounds", str(rounds)]
    if family_choice:  # the baseline: a random family and a random valid pair, no pantry fit
        cmd += ["--family-choice", family_choice, "--no-fit"]
    env = {**os.environ, "PYTHONPATH": str(tree), "HF_HUB_OFFLINE": "1"}
    t = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=tree, check=True)
    return time.perf_counter() - t


def extract(rev: str, into: Path) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    tar = into / "tree.tar"
    subprocess.run(["git", "archive", "-o", str(tar), rev, "pantry", "data"], cwd=ROOT, check=True)
    with tarfile.open(tar) as t:
        t.extractall(into, filter="data")
    return into


def best_shares(runs: list[list[dict]]) -> dict[str, float]:
    """Per pantry text, the best main-ingredient share any candidate of any run reaches: what
    the dish book allows for that pantry ("when the pantry allows it")."""
    from pantry.domain.recipes import Recipe
    from pantry.generators.realism import pantry_share
    from pantry.kitchen import load_kitchen

    kb = load_kitchen()
    best: dict[str, float] = {}
    for sessions in runs:
        for s in sessions:
            for rnd in s["rounds"]:
                for c in rnd["candidates"]:
                    r = Recipe(**{**c, "ingredients": tuple(c["ingredients"]), "steps": tuple(c["steps"]),
                                  "tags": tuple(c.get("tags") or ())})
                    share = pantry_share(r, s["pantry"], kb)
                    if share is not None:
                        best[s["pantry_text"]] = max(best.get(s["pantry_text"], 0.0), share)
    return best


def figures(sessions: list[dict], best: dict[str, float] | None = None) -> dict[str, float]:
    from pantry.domain.recipes import Recipe
    from pantry.generators.realism import (clashes, heat_order_problems, main_ingredients, pantry_share,
                                           same_family, unused_lines)
    from pantry.kitchen import load_kitchen, pantry_coverage
    from pantry.kitchen.dedupe import near_duplicate, overlap, signature

    kb = load_kitchen()
    rec = lambda d: Recipe(**{**d, "ingredients": tuple(d["ingredients"]), "steps": tuple(d["steps"]),  # noqa: E731
                              "tags": tuple(d.get("tags") or ())})
    best = best or {}
    early_shares: list[float] = []
    big_shares: list[float] = []  # pantries of >= BIG_PANTRY recognised items
    allowed: list[bool] = []  # where the dish book allows a dish >= half from the pantry: is this one?
    old_shares: list[float] = []  # spoonfuls counted as mains (the definition before the second round)
    shares, coverages, early_used, family_max, pairs_same, pairs, repeats, shown_n = [], [], [], [], 0, 0, 0, 0
    omelettes = 0
    candidates: list = []
    pb_sessions = pb_used = 0
    for s in sessions:
        pantry = set(s["pantry"])
        shown: list = []
        known = {n for n in pantry if kb.get(n) is not None}
        used_early: set[str] = set()
        for k, rnd in enumerate(s["rounds"]):
            candidates += [rec(c) for c in rnd["candidates"]]
            a, b = (rec(x) for x in rnd["pair"])
            pairs += 1
            pairs_same += same_family(a, b, kb)
            for r in (a, b):
                sig = signature(r, kb)
                window = shown[-12:]
                if any(near_duplicate(r, o, kitchen=kb) or (same_family(sig, signature(o, kb))
                       and overlap(sig.main, signature(o, kb).main) >= 2 / 3) for o in window):
                    repeats += 1
                shown.append(r)
                share = pantry_share(r, pantry, kb)
                old_share = pantry_share(r, pantry, kb, spoonfuls=True)
                if old_share is not None:
                    old_shares.append(old_share)
                if share is not None:
                    shares.append(share)
                    if len(known) >= BIG_PANTRY:
                        big_shares.append(share)
                    if best.get(s["pantry_text"], 0.0) >= 0.5:
                        allowed.append(share >= 0.5)
                    if k < EARLY_ROUNDS:
                        early_shares.append(share)
                coverages.append(pantry_coverage(r, pantry, kb))
                omelettes += "omelette" in r.title.lower()
                if k < EARLY_ROUNDS:
                    used_early |= set(main_ingredients(r, kb)) | {i.name for line in r.ingredients
                                                                  if (i := kb.match_line(line)) is not None}
        shown_n += len(shown)
        if known:
            early_used.append(len(known & used_early) / len(known))
        if "peanut butter" in pantry:
            pb_sessions += len(shown)
            pb_used += sum(any("peanut butter" in line for line in r.ingredients) for r in shown)
        sigs = [signature(r, kb) for r in shown]
        if sigs:
            family_max.append(max(sum(same_family(x, y) for y in sigs) for x in sigs) / len(sigs))
    n = len(candidates)
    return {
        "median main-ingredient share from the pantry (shown)": statistics.median(shares),
        f"median main-ingredient share, first {EARLY_ROUNDS} rounds": statistics.median(early_shares),
        "median non-staple share from the pantry (shown)": statistics.median(coverages),
        **({f"median main-ingredient share, pantries of >= {BIG_PANTRY} items": statistics.median(big_shares)}
           if big_shares else {}),  # none at the smoke test's size
        "shown recipes with >= half their mains from the pantry": sum(x >= 0.5 for x in shares) / len(shares),
        "the same, where some dish-book dish reaches half": sum(allowed) / max(1, len(allowed)),
        "median share, spoonfuls counted as mains (old definition)": statistics.median(old_shares),
        ">= half from the pantry, spoonfuls counted (old definition)": (
            sum(x >= 0.5 for x in old_shares) / len(old_shares)),
        f"pantry items used in the first {EARLY_ROUNDS} rounds (mean share)": statistics.mean(early_used),
        "sessions with every pantry item used by round 3": sum(x == 1 for x in early_used) / len(early_used),
        "peanut-butter pantry: shown recipes using it": pb_used / max(1, pb_sessions),
        "pairs of the same dish family": pairs_same / pairs,
        "shown recipes repeating one of the last 6 rounds": repeats / shown_n,
        "largest dish family's share of a session (median)": statistics.median(family_max),
        "largest dish family's share of a session (worst)": max(family_max),
        "omelettes among shown recipes": omelettes / shown_n,
        "candidates with a listed ingredient no step uses": sum(bool(unused_lines(r, kb)) for r in candidates) / n,
        "candidates listing oil/butter no step uses": sum(
            any((i := kb.match_line(line)) is not None and (i.category == "oil" or i.name == "butter")
                for line in unused_lines(r, kb)) for r in candidates) / n,
        "candidates adding to a pan before heating / 'Add' first": sum(
            bool(heat_order_problems(r)) for r in candidates) / n,
        "candidates with clashing mains (tuna + tofu...)": sum(bool(clashes(r, kb)) for r in candidates) / n,
    }


# Which way is better, and the target, per figure.
TARGETS = {
    "median main-ingredient share from the pantry (shown)": (">= 0.6", lambda v: v >= 0.6),
    f"median main-ingredient share, first {EARLY_ROUNDS} rounds": (">= 0.6", lambda v: v >= 0.6),
    "median non-staple share from the pantry (shown)": (">= 0.4", lambda v: v >= 0.4),
    f"median main-ingredient share, pantries of >= {BIG_PANTRY} items": (">= 0.75", lambda v: v >= 0.75),
    "shown recipes with >= half their mains from the pantry": (">= 0.75", lambda v: v >= 0.75),
    "the same, where some dish-book dish reaches half": (">= 0.7", lambda v: v >= 0.7),
    "median share, spoonfuls counted as mains (old definition)": (">= 0.6", lambda v: v >= 0.6),
    ">= half from the pantry, spoonfuls counted (old definition)": (">= 0.75", lambda v: v >= 0.75),
    f"pantry items used in the first {EARLY_ROUNDS} rounds (mean share)": (">= 0.9", lambda v: v >= 0.9),
    "sessions with every pantry item used by round 3": (">= 0.6", lambda v: v >= 0.6),
    "peanut-butter pantry: shown recipes using it": (">= 0.2", lambda v: v >= 0.2),
    "pairs of the same dish family": ("0", lambda v: v == 0),
    "shown recipes repeating one of the last 6 rounds": ("<= 0.02", lambda v: v <= 0.02),
    "largest dish family's share of a session (median)": ("<= 0.15", lambda v: v <= 0.15),
    "largest dish family's share of a session (worst)": ("<= 0.25", lambda v: v <= 0.25),
    "omelettes among shown recipes": ("<= 0.05", lambda v: v <= 0.05),
    "candidates with a listed ingredient no step uses": ("0", lambda v: v == 0),
    "candidates listing oil/butter no step uses": ("0", lambda v: v == 0),
    "candidates adding to a pan before heating / 'Add' first": ("0", lambda v: v == 0),
    "candidates with clashing mains (tuna + tofu...)": ("0", lambda v: v == 0),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", default=DEFAULT_BEFORE, help="git revision for the 'before' column")
    ap.add_argument("--sessions", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=8)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        try:
            old = extract(args.before, tmp / "before")
        except (subprocess.CalledProcessError, OSError) as e:  # no git, or no such revision
            print(f"before ({args.before}): not available ({e}); after and random dish book only")
            old = None
        made, secs = {}, {}
        runs = [("after", ROOT, None), ("random dish book", ROOT, "random")]
        runs += [(f"before ({args.before})", old, None)] if old is not None else []
        for name, tree, choice in runs:
            out = tmp / f"{len(made)}.json"
            secs[name] = run_sessions(tree, out, args.sessions, args.rounds, choice)
            made[name] = json.loads(out.read_text(encoding="utf-8"))
        best = best_shares(list(made.values()))
        results = {}
        for name, sessions in made.items():
            results[name] = figures(sessions, best)
            results[name]["seconds to make the sessions"] = secs[name]
    after, rand, *before = results.values()
    before_name = list(results)[2] if before else ""
    rows = []
    for key, value in after.items():
        target, ok = TARGETS.get(key, (None, None))
        rows.append(Row(key, value, unit="", target=target, baseline=rand[key], baseline_name="random dish book",
                        ok=ok(value) if ok else None))
        for old in before:
            rows.append(Row("  " + before_name, old[key], unit="", target=target, ok=ok(old[key]) if ok else None))
    print_table(rows, f"Offline composer realism: {args.sessions} pantries x {args.rounds} rounds of 6 candidates")
    print(f"machine: {machine()}")


if __name__ == "__main__":
    main()
