"""The warm `python -m pantry score` path imports no torch, transformers or sentence-transformers.

Scoring recipes whose embeddings are cached, with a saved reward model, needs only numpy
(issue 10: start-up <= 2 s; bench/startup.py measures it). Checked in a subprocess through
sys.modules, with a real store, real cached embeddings and a real saved population model.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

from tests.helpers import REPO

HEAVY = ("torch", "transformers", "sentence_transformers", "onnxruntime", "scipy.stats")

_SCORE_AND_REPORT = r"""
import json, sys
from pantry.cli import main
code = main(sys.argv[1:])
sys.stdout.flush()
print("MODULES " + json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in
      ("torch", "transformers", "sentence_transformers", "onnxruntime") or m.startswith("scipy.stats"))))
sys.exit(code)
"""


def _recipes(n: int) -> list[dict]:
    foods = ["egg", "rice", "onion", "garlic", "tomato", "spinach", "chicken", "beans", "cheese", "pasta"]
    return [{"id": f"r{k}", "title": f"Dish {k}", "ingredients": [foods[(k + j) % 10] for j in range(3 + k % 3)],
             "steps": ["Cook.", "Serve."], "minutes": 10 + k, "servings": 2, "cuisine": None, "tags": [],
             "source": "test"} for k in range(n)]


def _home_with_cache_and_model(tmp_path):
    """A home whose store has these recipes' embeddings cached and an active population model."""
    from pantry.domain.recipes import recipe_from_dict
    from pantry.lab import Lab
    from pantry.model.embedding import Embedder, text_hash
    from pantry.model.features import FEATURE_NAMES, FEATURE_SPEC
    from pantry.model.reward import RewardModel
    from pantry.settings import Settings
    from pantry.storage.store import Store

    home = tmp_path / "home"
    settings = Settings(**{**Settings.from_env().__dict__, "home": home})
    store = Store.open(settings)
    recipes = [recipe_from_dict(r) for r in _recipes(12)]
    key = Embedder("all-MiniLM-L6-v2", device="cpu", cache=store).cache_key  # lazy: nothing loads
    vecs = np.random.default_rng(0).normal(size=(len(recipes), 384)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    store.put_embeddings(key, {text_hash(r.text): v for r, v in zip(recipes, vecs)})
    dim = 384 + len(FEATURE_NAMES)
    arrays = [{"linear.weight": np.random.default_rng(k).normal(size=(1, dim)).astype(np.float32),
               "linear.bias": np.zeros(1, np.float32)} for k in range(3)]
    path = RewardModel(None, "all-MiniLM-L6-v2", FEATURE_SPEC, dim, arrays=arrays).save(settings.weights_dir / "pop.pt")
    store.add_model_version(None, path, "all-MiniLM-L6-v2", {"n_decisive": 0}, {}, activate=True)
    lab = Lab(settings, store)
    expected = [s.recipe.id for s in lab.score(recipes)]
    assert not lab.embedder.loaded
    f = tmp_path / "recipes.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in _recipes(12)))
    return home, f, expected


def test_warm_score_imports_no_torch(tmp_path):
    home, recipes_file, expected = _home_with_cache_and_model(tmp_path)
    env = {**os.environ, "PANTRY_HOME": str(home), "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    env.pop("PANTRY_ENCODER", None)
    run = subprocess.run([sys.executable, "-c", _SCORE_AND_REPORT, "score", "--recipes", str(recipes_file), "--json"],
                         env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    out, _, mods = run.stdout.rpartition("MODULES ")
    result = json.loads(out.strip().splitlines()[-1])
    assert result["model"].startswith("population v"), result["model"]
    assert [r["id"] for r in result["recipes"]] == expected  # the same ranking as in-process
    assert json.loads(mods) == [], f"the warm score path imported {mods.strip()}"


def test_a_cache_miss_still_loads_the_encoder(tmp_path):
    """The lazy path is lazy, not broken: a recipe not in the cache is embedded."""
    from pantry.model.embedding import Embedder, MemoryCache

    emb = Embedder("all-MiniLM-L6-v2", device="cpu", cache=MemoryCache())
    assert not emb.loaded
    v = emb.encode(["a text that no cache holds"])
    assert emb.loaded and v.shape == (1, 384) and abs(float(np.linalg.norm(v)) - 1) < 1e-4
