"""The command line a researcher scripts: `pair` chooses what POST /pairs chooses, every `--json`
is one JSON object on stdout, `generate --n` above one request's 50, `train --no-population`,
and a light parser (`--help` imports no numpy)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from pantry.api import create_app
from pantry.cli import main
from pantry.evaluation.synth import simulate_votes
from pantry.lab import Lab
from pantry.settings import Settings
from pantry.storage.jsonl import read_recipes_file
from pantry.storage.store import Store
from tests.helpers import REPO, shared_embedder

PANTRY = "2 eggs, half an onion, spinach, leftover rice, tomato, garlic, cheddar"


@pytest.fixture
def lab(tmp_path, monkeypatch):
    """A home with the offline composer; the CLI's Lab shares the test process's encoder."""
    monkeypatch.delenv("PANTRY_API_TOKEN", raising=False)
    for k, v in {"PANTRY_HOME": str(tmp_path), "PANTRY_GENERATOR": "offline", "HF_HUB_OFFLINE": "1",
                 "PANTRY_DEVICE": "cpu"}.items():
        monkeypatch.setenv(k, v)
    settings = Settings.from_env()
    lab = Lab(settings, Store.open(settings), shared_embedder())
    monkeypatch.setattr("pantry.cli._lab", lambda: lab)
    return lab


def _json(capsys) -> dict:
    out = capsys.readouterr().out
    assert out.count("\n") == 1, "one JSON object on one line"
    value = json.loads(out)
    assert isinstance(value, dict)
    return value


def _pair(capsys, seed: int) -> dict:
    assert main(["pair", "--user", "ana", "--pantry", PANTRY, "--n", "8", "--seed", str(seed), "--json"]) == 0
    return _json(capsys)


def test_pair_is_the_pair_that_post_pairs_chooses_for_the_same_seed(lab, capsys):
    with TestClient(create_app(lab=lab)) as client:
        def api(seed: int) -> dict:
            r = client.post("/pairs", json={"profile": "ana", "pantry": PANTRY, "n": 8, "seed": seed})
            assert r.status_code == 200, r.text
            return r.json()

        for seed in (1, 2):
            cli, web = _pair(capsys, seed), api(seed)
            assert (cli["a"]["recipe"]["id"], cli["b"]["recipe"]["id"], cli["left"], cli["why"]) == \
                   (web["a"]["recipe"]["id"], web["b"]["recipe"]["id"], web["left"], web["why"])
            assert cli["a"]["score"] == pytest.approx(web["a"]["score"]) and cli["model"]["label"] == web["model"]["label"]
        # a judged pair is avoided by both, alike
        first = _pair(capsys, 3)
        r = client.post("/votes", json={"profile": "ana", "a": first["a"]["recipe"]["id"],
                                        "b": first["b"]["recipe"]["id"], "outcome": "a"})
        assert r.status_code == 201
        cli, web = _pair(capsys, 3), api(3)
        assert {cli["a"]["recipe"]["id"], cli["b"]["recipe"]["id"]} == {web["a"]["recipe"]["id"], web["b"]["recipe"]["id"]}
        assert {cli["a"]["recipe"]["id"], cli["b"]["recipe"]["id"]} != {first["a"]["recipe"]["id"],
                                                                      first["b"]["recipe"]["id"]}
    # the candidates are stored, so a vote can name them
    assert lab.store.get_recipe(cli["a"]["recipe"]["id"]) is not None


def test_pair_refuses_bad_input_in_one_line(lab, capsys):
    assert main(["pair", "--user", "ana", "--pantry", PANTRY, "--n", "21"]) == 2
    assert capsys.readouterr().err.strip() == "error: --n must be from 2 to 20 candidates, got 21"
    assert main(["pair", "--user", "..", "--pantry", PANTRY]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert lab.store.list_users() == []


def test_every_json_output_is_one_object(lab, tmp_path, capsys):
    recipes = tmp_path / "recipes.jsonl"
    assert main(["generate", "--pantry", PANTRY, "--n", "4", "--seed", "1", "--json"]) == 0
    made = _json(capsys)
    assert made["n"] == 4 and len(made["recipes"]) == 4 and made["generator"]["name"]
    recipes.write_text("".join(json.dumps(r) + "\n" for r in made["recipes"]))
    assert main(["score", "--recipes", str(recipes), "--json"]) == 0
    assert len(_json(capsys)["recipes"]) == 4
    assert main(["diagnose", "--recipes", str(recipes), "--json"]) == 0
    assert "alerts" in _json(capsys)
    ids = [r["id"] for r in made["recipes"]]
    votes = tmp_path / "votes.jsonl"
    votes.write_text("".join(json.dumps({"user": "ana", "a": a, "b": b, "outcome": "a"}) + "\n"
                             for a, b in zip(ids, ids[1:])))
    assert main(["import", str(recipes), "--json"]) == 0
    assert _json(capsys)["recipes"] == 4
    assert main(["import", str(votes), "--json"]) == 0
    report = _json(capsys)
    assert report["votes"] == 3 and report["skipped"] == 0 and report["batch_id"]
    assert main(["import", str(votes), "--json"]) == 0
    assert (_json(capsys)["votes"], lab.store.vote_counts("ana")["a"]) == (0, 3)  # imported once
    assert main(["models", "--json"]) == 0
    assert _json(capsys) == {"profile": None, "models": []}
    assert _pair(capsys, 0)["profile"] == "ana"


def test_generate_n_above_one_request_loops_requests(lab, tmp_path, capsys):
    out = tmp_path / "bulk.jsonl"
    assert main(["generate", "--pantry", PANTRY, "--n", "70", "--out", str(out), "--json"]) == 0
    summary = _json(capsys)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert summary["n"] == len(lines) == len({r["id"] for r in lines}) == 70 and summary["recipes"] == []
    assert len(read_recipes_file(out)) == 70  # the file is what score --recipes reads
    assert main(["generate", "--pantry", PANTRY, "--n", "10001"]) == 2
    assert capsys.readouterr().err.strip() == "error: --n must be a whole number from 1 to 10000 (made in requests of at most 50), got 10001"


def test_train_no_population_trains_only_the_personal_model(lab, capsys):
    votes = simulate_votes("vegetarian", 16, seed=0, user="veg") + simulate_votes("comfort-food", 16, seed=1,
                                                                                   user="comfy")
    lab.import_file([json.dumps(v) for v in votes])
    assert main(["train", "--no-population", "--members", "1", "--cv-folds", "0"]) == 2
    assert "give --user" in capsys.readouterr().err
    assert main(["train", "--user", "veg", "--no-population", "--members", "1", "--cv-folds", "0", "--json"]) == 0
    out = _json(capsys)
    assert out["population_version"] is None and out["personal_version"] and out["activated"]
    versions = lab.store.model_versions(None)
    assert [v.user for v in versions] == ["veg"] and lab.store.active_model(None) is None
    assert "population model without veg" in versions[0].metrics["prior"]  # the prior still uses the others


def test_help_and_every_parser_but_train_import_no_numpy():
    code = ("import sys, pantry.cli as c; c.build_parser(None); c.build_parser('score'); "
            "assert 'numpy' not in sys.modules, 'the parser imported numpy'; "
            "p = c.build_parser('train'); a = p.parse_args(['train', '--user', 'u', '--no-population']); "
            "assert a.no_population and a.members >= 1")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=120)
    run = subprocess.run([sys.executable, "-X", "importtime", "-m", "pantry", "--help"], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and " pair " in run.stdout
    loaded = {line.rsplit("|", 1)[1].strip() for line in run.stderr.splitlines() if line.startswith("import time:")}
    assert "pantry.cli" in loaded and "numpy" not in loaded
