"""The bench scripts run end to end at tiny sizes and print their table (figure, target,
same-run baseline, ratio). Full-size figures are in the README's Performance section."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import REPO, shared_data


def _run(script: str, *args: str, timeout: int = 600) -> str:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, str(REPO / "bench" / script), *args], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=timeout)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    return run.stdout


def _table_rows(out: str) -> list[list[str]]:
    lines = [line for line in out.splitlines() if line.startswith("| ")]
    assert lines and lines[0].split("|")[1].strip() == "figure", out
    return [[c.strip() for c in line.split("|")[1:-1]] for line in lines[1:]]


def test_common_table_has_ratio_and_verdict():
    sys.path.insert(0, str(REPO))
    from bench.common import Row, format_table

    text = format_table([Row("x", 3.0, target="<= 2 s", baseline=1.5, baseline_name="base", ok=False)])
    row = _table_rows(text)[0]
    assert row[0] == "x" and row[1] == "3.000 s" and row[3] == "1.500 s (base)" and row[4] == "2.00x" and row[5] == "NO"


def test_retrain_bench_small():
    out = _run("retrain.py", "--votes", "60", "--recipes", "30", "--cv-folds", "2", "--profiles", "6", "--camps")
    rows = _table_rows(out)
    assert len(rows) == 2 and rows[0][0].startswith("retrain, 60 votes") and rows[0][4].endswith("x")
    assert "one more vote" in rows[1][0] and rows[1][1].endswith(" s")


def test_startup_bench_small():
    out = _run("startup.py", "--n", "12", "--repeat", "1", "--votes", "30")
    rows = {r[0].split(" [")[0]: r for r in _table_rows(out)}
    score = next(r for k, r in rows.items() if k.startswith("python -m pantry score"))
    assert score[2] == "<= 2.0 s" and "no torch" in score[0]  # the warm path imported no torch


@pytest.mark.skipif(not (shared_data() / "foodnetwork" / "recipes.jsonl").exists(),
                    reason="the shared Food Network recipes are not here")
def test_encoder_bench_small():
    out = _run("encoder.py", "--n", "6", "--variants", "onnx")
    rows = _table_rows(out.split("\n\n")[0])
    assert rows[0][0].startswith("bare SentenceTransformer.encode") and any(r[0].startswith("onnx") for r in rows)
    assert "Spearman of scores" in out and any(r[0].startswith("cold scoring") for r in rows)


def test_composer_realism_bench_small():
    """Before (here HEAD, so the test needs no old revision), random dish book and after, one table."""
    out = _run("composer_realism.py", "--before", "HEAD", "--sessions", "3", "--rounds", "2", timeout=300)
    rows = _table_rows(out)
    names = [r[0] for r in rows]
    assert any(n.startswith("median main-ingredient share from the pantry") for n in names)
    assert any("before (HEAD)" in n for n in names)
    assert all(r[3] != "-" for r in rows if not r[0].startswith("before"))  # every figure has its same-run baseline


def test_evaluate_scale_bench_small():
    out = _run("evaluate_scale.py", "--sizes", "20", "--old-raters", "4", "--recipes", "80", "--embedder", "hash")
    rows = _table_rows(out)
    assert rows[0][0].startswith("leave one user out (the old protocol), 4 raters")
    assert rows[1][0].startswith("5 user folds, 20 raters x 45 votes") and rows[1][4].endswith("x")


@pytest.mark.slow
def test_learning_speed_bench_tiny(tmp_path):
    """One seed, a tiny world, one persona: the table has both conditions and the oracle."""
    out = _run("learning_speed.py", "--seeds", "1", "--rounds", "8", "--test", "25", "--raters", "vegetarian",
               "--out", str(tmp_path))
    names = [r[0] for r in _table_rows(out)]
    for cond in ("alone", "crowd"):
        for n in (10, 20, 50):
            assert any(x.startswith(f"{cond}, {n} votes: personal model") for x in names), names
    assert any("oracle" in x for x in names) and (tmp_path / "learning_speed.json").exists()


def test_learning_speed_bench_five_taste_world(tmp_path):
    """`--world five-tastes`: its own raters (no personas), and the oracle told the five tastes."""
    out = _run("learning_speed.py", "--seeds", "1", "--rounds", "8", "--test", "25", "--world", "five-tastes",
               "--out", str(tmp_path))
    assert "Learning speed (five-tastes)" in out
    names = [r[0] for r in _table_rows(out)]
    assert any(x.startswith("crowd, 20 votes: oracle on the facts the rater weighs") for x in names), names
    assert any(x.startswith("alone, 20 votes: the model's taste columns, told how people differ") for x in names)
    raters = {r["rater"] for r in json.loads((tmp_path / "learning_speed.json").read_text())["results"]}
    assert raters and all(r.startswith("tested-") for r in raters)


@pytest.mark.skipif(not (shared_data() / "giallozafferano-dev" / "votes.jsonl").exists(),
                    reason="needs ../shared/data/giallozafferano-dev")
def test_learning_curves_takes_personal_settings(tmp_path):
    """`--set item_var=...` reaches the personal fits (the README's item_var sweep), and a bad
    value is refused with the option's limits before any work."""
    data = str(shared_data() / "giallozafferano-dev")
    out = _run("learning_curves.py", "--data", data, "--out", str(tmp_path), "--protocols", "seen",
               "--labels", "10", "--active-labels", "--seeds", "1", "--set", "item_var=30")
    assert "| seen | 10 | random |" in out and (tmp_path / "learning_curves.json").exists()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    bad = subprocess.run([sys.executable, str(REPO / "bench" / "learning_curves.py"), "--data", data,
                          "--set", "item_var=-1"], env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "item_var must be between" in bad.stderr


def test_known_spread_reads_a_five_taste_rater_through_the_columns():
    """The reference prior's map from taste columns to the simulator's facts carries a rater's
    true taste onto the columns: on the world's own recipes the column score follows the rater's
    utility closely (diet and time are read exactly, richness and comfort less so)."""
    import numpy as np

    sys.path.insert(0, str(REPO))
    from bench.learning_speed import KnownSpread, build_world
    from pantry.evaluation.crowd import make_five_taste_crowd, taste_facts
    from pantry.model.embedding import Embedder

    rounds, _, _ = build_world(0, 12, 5, Embedder())
    known = KnownSpread(rounds, "five-tastes", 0)
    x = np.vstack([xr for _, _, xr in rounds])
    facts = np.stack([taste_facts(r) for _, rs, _ in rounds for r in rs])
    for rater in make_five_taste_crowd(5, seed=3):
        weights = np.asarray(rater.weights)
        column_score = known.z(x) @ (known.to_facts @ weights)
        assert np.corrcoef(column_score, facts @ weights)[0, 1] > 0.85
    assert known.mean.shape == (known.root.shape[0],) and np.all(np.diag(known.root) > 0)


def test_synthetic_raters_with_hidden_tastes():
    """`--latent` / `--content`: tastes no recipe field shows. Every rater ranks the same 6
    recipes (all 15 pairs); with hidden tastes and no visible one, raters side with the majority
    on a pair less often than when only the appeal everyone shares drives them."""
    from bench.synth_raters import make_recipes, make_votes

    _, factors = make_recipes(6, np.random.default_rng(0))

    def with_majority(latent: int) -> float:
        votes = make_votes(factors, 200, 15, np.random.default_rng(1), recipes_per_rater=6, latent=latent,
                           content=0.0)
        wins: dict[tuple[str, str], list[int]] = {}
        for v in votes:
            if v["outcome"] != "tie":
                pair = tuple(sorted((v["a"], v["b"])))
                wins.setdefault(pair, []).append(int((v["a"] if v["outcome"] == "a" else v["b"]) == pair[0]))
        return float(np.mean([max(np.mean(w), 1 - np.mean(w)) for w in wins.values()]))

    assert with_majority(3) < with_majority(0) - 0.05
