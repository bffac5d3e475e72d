"""The HTTP API (pantry.api) through FastAPI's TestClient, plus one real `python -m pantry serve`.

One app (one Lab, the real all-MiniLM-L6-v2 encoder, the offline composer) on a temporary
PANTRY_HOME is shared by the module; tests that need their own server build one on the same
home (the two-server test) or on another home (/health must not load the encoder).
"""

from __future__ import annotations

import base64
import json
import math
import os
import socket
import stat
import subprocess
import sys
import threading
import time
from dataclasses import replace

import httpx
import pytest
from fastapi.testclient import TestClient

from pantry.api import create_app
from pantry.api.jobs import JobConflict, JobRegistry
from pantry.api.tokens import KEY_FILE
from pantry.lab import Lab
from pantry.settings import Settings
from tests.helpers import REPO

PANTRY = "2 eggs, half an onion, spinach, leftover rice, tomato, garlic"
ENV = {"HF_HUB_OFFLINE": "1", "PANTRY_GENERATOR": "offline", "PANTRY_DEVICE": "cpu"}


def _settings(monkeypatch, home, **env) -> Settings:
    monkeypatch.delenv("PANTRY_API_TOKEN", raising=False)
    for k, v in {**ENV, **env, "PANTRY_HOME": str(home)}.items():
        monkeypatch.setenv(k, v)
    return Settings.from_env()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(app, client) on a fresh home, with profile "ana" holding 10 decisive votes."""
    with pytest.MonkeyPatch.context() as mp:
        settings = _settings(mp, tmp_path_factory.mktemp("api") / "home")
        app = create_app(settings)
        client = TestClient(app)
        r = client.post("/recipes", json={"profile": "ana", "pantry": PANTRY, "n": 20, "seed": 1})
        assert r.status_code == 200, r.text
        cands = [c["recipe"] for c in r.json()["candidates"]]
        for k in range(10):
            a, b = cands[2 * k], cands[2 * k + 1]
            outcome = "a" if (a["minutes"] or 0) <= (b["minutes"] or 0) else "b"
            r = client.post("/votes", json={"profile": "ana", "a": a["id"], "b": b["id"], "outcome": outcome,
                                            "left": "a" if k % 2 else "b"})
            assert r.status_code == 201, r.text
        yield app, client


@pytest.fixture(scope="module")
def trained(server):
    """Train ana through the API (activating); returns the finished job."""
    app, client = server
    r = client.post("/train", json={"profile": "ana", "cv_folds": 2})
    assert r.status_code == 202, r.text
    job = app.state.jobs.wait(r.json()["id"], timeout=120)
    assert job.state == "done", job.error
    return client.get(f"/train/{job.id}").json()


def _field_named(response, name: str) -> bool:
    """A 4xx whose body names the field: FastAPI's 422 `loc`, or our 400 message."""
    assert 400 <= response.status_code < 500, response.text
    detail = response.json()["detail"]
    if isinstance(detail, list):
        return any(name in [str(x) for x in d["loc"]] or f"'{name}'" in d["msg"] for d in detail)
    return name in detail


# ---------------------------------------------------------------------------- health, openapi

def test_health_does_not_load_the_encoder_and_openapi_lists_the_endpoints(tmp_path, monkeypatch):
    app = create_app(_settings(monkeypatch, tmp_path / "home"))
    client = TestClient(app)
    body = client.get("/health").json()
    assert body["ok"] and body["store"]["ok"] and body["store"]["schema_version"] >= 1
    assert body["store"]["journal_mode"] == "wal" and body["store"]["votes"] == 0
    assert body["embedder"] == {"name": "all-MiniLM-L6-v2", "loaded": False}
    assert body["generator"]["mode"] == "offline" and body["generator"]["name"] == "offline-composer"
    assert body["population_model"] is None and body["auth"] is False
    assert app.state.lab._embedder is None  # nothing loaded the encoder
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/health", "/recipes", "/rank", "/pairs", "/votes", "/votes/{vote_id}", "/models",
            "/models/{version_id}/activate", "/train", "/train/{job_id}"} <= set(paths)
    assert {"get", "post"} <= set(paths["/votes"]) and "delete" in paths["/votes/{vote_id}"]
    assert client.get("/docs").status_code == 200
    assert app.state.lab._embedder is None
    key = tmp_path / "home" / KEY_FILE
    assert key.is_file() and stat.S_IMODE(key.stat().st_mode) == 0o600


# ---------------------------------------------------------------------------- recipes, rank

def test_recipes_are_ranked_by_the_profiles_model(server):
    _, client = server
    r = client.post("/recipes", json={"profile": "bo", "pantry": "eggs, rice", "items": ["spinach"], "n": 5,
                                      "diet": ["vegetarian"], "max_minutes": 60, "seed": 7})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["generator"]["name"] == "offline-composer" and body["generator"]["fell_back"] is False
    assert body["model"]["label"] in ("heuristic", "population v1") and body["model"]["reason"]
    cands = body["candidates"]
    assert len(cands) == 5 and [c["rank"] for c in cands] == [1, 2, 3, 4, 5]
    assert [c["score"] for c in cands] == sorted((c["score"] for c in cands), reverse=True)
    assert all(c["uncertainty"] >= 0 and c["recipe"]["id"] and c["recipe"]["title"] for c in cands)
    assert all(c["explanation"]["score"] == c["score"] for c in cands)
    assert "spinach" in body["pantry"]["items"]
    assert client.get("/health").json()["embedder"]["loaded"] is True  # scoring loaded it


def test_rank_scores_given_recipes(server):
    _, client = server
    recipes = [{"title": "Plain Rice", "ingredients": ["rice", "water"], "steps": ["boil"], "minutes": 20},
               {"title": "Spinach Omelette", "ingredients": ["2 eggs", "spinach"], "steps": ["whisk", "fry"],
                "minutes": 10}]
    r = client.post("/rank", json={"profile": "ana", "recipes": recipes, "pantry": "eggs, spinach"})
    assert r.status_code == 200, r.text
    ranked = r.json()["ranked"]
    assert sorted(x["recipe"]["title"] for x in ranked) == ["Plain Rice", "Spinach Omelette"]
    assert ranked[0]["rank"] == 1 and ranked[0]["score"] >= ranked[1]["score"]
    assert r.json()["model"]["label"]
    for x in ranked:  # why this score: named contributions plus the remainder add up to it
        why = x["explanation"]
        assert why["score"] == x["score"] and why["remainder_label"]
        assert math.isclose(sum(c["contribution"] for c in why["contributions"]) + why["remainder"], x["score"],
                            rel_tol=1e-9, abs_tol=1e-9)
        assert all(c["name"] and c["label"] and c["contribution"] != 0 for c in why["contributions"])


def test_auto_mode_says_it_fell_back_when_ollama_is_not_there(server):
    app, _ = server
    settings = replace(app.state.settings, generator="auto", ollama_host=f"http://127.0.0.1:{_free_port()}")
    client = TestClient(create_app(settings, lab=app.state.lab))
    deadline = time.monotonic() + 20  # /health never waits for the probe: poll until its first check is done
    answer = client.get("/health").json()
    while answer["generator"] is None and time.monotonic() < deadline:  # the first check still running
        assert "being checked" in answer["generator_error"]
        time.sleep(0.05)
        answer = client.get("/health").json()
    health = answer["generator"]
    assert health["mode"] == "auto" and health["fell_back"] is True and "Ollama" in health["reason"]
    for path in ("/recipes", "/pairs"):
        r = client.post(path, json={"profile": "ana", "pantry": PANTRY, "n": 3, "seed": 2})
        assert r.status_code == 200, r.text
        gen = r.json()["generator"]
        assert gen["name"] == "offline-composer" and gen["backend"] == "offline" and gen["fell_back"] is True


# ---------------------------------------------------------------------------- limits

def test_422_messages_are_in_the_projects_words(server):
    """A blank title, a word for a count, an unknown outcome: each 422 says what the field
    must be, as the CLI and the importers do (not pydantic's "Value should have at least 1
    item after validation"), and never echoes a huge input."""
    _, client = server
    blank = {"title": "   ", "ingredients": ["1 egg"], "steps": ["Cook."]}
    r = client.post("/rank", json={"profile": "ana", "recipes": [blank]})
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == [{"loc": ["body", "recipes", 0, "title"], "msg": "must be a non-empty string",
                                   "type": "too_short"}]
    r = client.post("/recipes", json={"profile": "ana", "pantry": PANTRY, "n": "ten"})
    assert r.status_code == 422 and "whole number" in r.json()["detail"][0]["msg"], r.text
    r = client.post("/votes", json={"profile": "ana", "a": "r-1", "b": "r-2", "outcome": "left" * 5000})
    msg = r.json()["detail"][0]["msg"]
    assert r.status_code == 422 and "must be one of" in msg and len(msg) < 600, msg


def test_a_pantry_of_separators_reads_as_no_pantry(server):
    """"  ,,, " names nothing: it gets the empty pantry's answer (staples), not an error."""
    _, client = server
    got = [client.post("/recipes", json={"profile": "ana", "pantry": text, "n": 2, "seed": 4}) for text in ("", "  ,,, ")]
    assert all(r.status_code == 200 for r in got), got[1].text
    assert got[0].json()["pantry"] == got[1].json()["pantry"]


def test_limits_give_4xx_naming_the_field(server):
    app, client = server
    huge = "egg, " * (app.state.settings.max_pantry_chars // 5 + 10)
    r = client.post("/recipes", json={"profile": "ana", "pantry": huge, "n": 2})
    assert r.status_code == 400 and _field_named(r, "pantry") and "limit" in r.json()["detail"]
    assert _field_named(client.post("/recipes", json={"profile": "ana", "pantry": PANTRY, "n": 21}), "n")
    assert _field_named(client.post("/recipes", json={"profile": "ana", "pantry": PANTRY, "n": 0}), "n")
    assert _field_named(client.post("/recipes", json={"profile": "no/such", "pantry": PANTRY}), "profile")
    assert _field_named(client.post("/recipes", json={"profile": "x" * 41, "pantry": PANTRY}), "profile")
    assert _field_named(client.post("/recipes", json={"profile": "ana", "items": ["egg"] * 201}), "items")
    assert _field_named(client.post("/recipes", json={"profile": "ana", "diets": ["carnivore"]}), "diets")
    assert _field_named(client.post("/pairs", json={"profile": "ana", "pantry": PANTRY, "n": 1}), "n")
    assert _field_named(client.post("/rank", json={"recipes": [{"ingredients": ["x"]}]}), "title")
    assert _field_named(client.post("/rank", json={"recipes": []}), "recipes")
    r = client.delete("/votes/999999")
    assert r.status_code == 404 and "999999" in r.json()["detail"]
    r = client.post("/votes", json={"profile": "ana", "a": "r-1", "b": "r-2", "outcome": "left"})
    assert r.status_code == 422 and _field_named(r, "outcome")
    assert _field_named(client.post("/votes", json={"outcome": "a"}), "pair_token")
    r = client.post("/votes", json={"profile": "ana", "a": "r-missing1", "b": "r-missing2", "outcome": "a"})
    assert r.status_code == 400 and "r-missing1" in r.json()["detail"]
    assert _field_named(client.get("/votes", params={"limit": 10_000}), "limit")
    assert _field_named(client.get("/votes", params={"since": "yesterday"}), "since")
    assert client.get("/votes", params={"profile": "nobody"}).status_code == 404
    assert client.post("/models/999999/activate").status_code == 404
    assert client.get("/train/nope").status_code == 404
    assert _field_named(client.post("/train", json={"profile": "ana", "options": {"l2": -1}}), "options")
    assert _field_named(client.post("/train", json={"profile": "ana", "options": {"epochs": 3}}), "epochs")
    r = client.post("/train", json={"profile": "bo"})
    assert r.status_code == 400 and "decisive votes" in r.json()["detail"]
    big = client.post("/rank", content=b"x", headers={"content-length": str(9 * 1024 * 1024),
                                                     "content-type": "application/json"})
    assert big.status_code == 413


# ---------------------------------------------------------------------------- pairs and votes

def test_a_pair_token_casts_one_vote_and_tampering_is_refused(server):
    app, client = server
    r = client.post("/pairs", json={"profile": "cy", "pantry": PANTRY, "n": 6, "seed": 11})
    assert r.status_code == 200, r.text
    pair = r.json()
    assert pair["a"]["recipe"]["id"] != pair["b"]["recipe"]["id"] and pair["left"] in ("a", "b")
    assert pair["why"] in ("informative", "random") and pair["candidates"] == 6
    store = app.state.lab.store
    assert store.get_recipe(pair["a"]["recipe"]["id"]) is not None  # stored, so the vote can refer to it
    body, sig = pair["pair_token"].split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    forged = base64.urlsafe_b64encode(json.dumps({**payload, "p": "ana"}).encode()).rstrip(b"=").decode()
    for bad in (f"{forged}.{sig}", pair["pair_token"][:-3] + "AAA", "garbage"):
        r = client.post("/votes", json={"pair_token": bad, "outcome": "a"})
        assert r.status_code == 400 and _field_named(r, "pair_token"), r.text
    r = client.post("/votes", json={"pair_token": pair["pair_token"], "outcome": "b", "strength": "much",
                                    "reasons": ["right: looks delicious"]})
    assert r.status_code == 201, r.text
    vote = r.json()["vote"]
    assert vote["profile"] == "cy" and vote["outcome"] == "b" and vote["strength"] == "much"
    assert vote["a"] == pair["a"]["recipe"]["id"] and vote["left"] == pair["left"]
    assert vote["model_version"] == pair["model"]["label"] and vote["generator"] == "offline-composer"
    assert "egg" in vote["pantry"]
    again = client.post("/votes", json={"pair_token": pair["pair_token"], "outcome": "a"})
    assert again.status_code == 409
    skip = client.post("/votes", json={"pair_token": client.post("/pairs", json={
        "profile": "cy", "pantry": PANTRY, "seed": 12}).json()["pair_token"], "outcome": "skip"})
    assert skip.status_code == 200 and skip.json() == {"id": None, "stored": False, "vote": None}


def test_votes_with_inline_recipes_paging_and_soft_delete(server):
    _, client = server
    a = {"title": "Tomato Soup", "ingredients": ["tomato", "onion"], "steps": ["simmer"]}
    b = {"title": "Garlic Rice", "ingredients": ["rice", "garlic"], "steps": ["fry"]}
    r = client.post("/votes", json={"profile": "dee", "a": a, "b": b, "outcome": "tie", "pantry": ["tomato"]})
    assert r.status_code == 201, r.text
    first = r.json()["id"]
    assert r.json()["vote"]["strength"] is None
    assert client.post("/votes", json={"profile": "dee", "a": a, "b": b, "outcome": "tie",
                                       "strength": "much"}).status_code == 400
    for outcome in ("a", "b", "both_bad"):
        assert client.post("/votes", json={"profile": "dee", "a": a, "b": b, "outcome": outcome}).status_code == 201
    page = client.get("/votes", params={"profile": "dee", "limit": 2, "offset": 1}).json()
    assert page["total"] == 4 and [v["outcome"] for v in page["votes"]] == ["a", "b"]
    since = page["votes"][0]["created_at"]
    assert client.get("/votes", params={"profile": "dee", "since": since}).json()["total"] == 3
    gone = client.delete(f"/votes/{first}")
    assert gone.status_code == 200 and gone.json() == {"id": first, "deleted": True, "changed": True}
    assert client.delete(f"/votes/{first}").json()["changed"] is False
    assert client.get("/votes", params={"profile": "dee"}).json()["total"] == 3
    kept = client.get("/votes", params={"profile": "dee", "include_deleted": True}).json()
    assert kept["total"] == 4 and kept["votes"][0]["deleted"] is True


# ---------------------------------------------------------------------------- models and training

def test_training_runs_in_the_background_and_the_model_appears(server, trained):
    _, client = server
    result = trained["result"]
    assert trained["state"] == "done" and trained["error"] is None and result["activated"] is True
    assert trained["progress"]["total"] > 0 and trained["progress"]["done"] == trained["progress"]["total"]
    personal = result["personal_version"]
    assert personal and result["metrics"]["n_decisive"] == 10
    models = client.get("/models", params={"profile": "ana"}).json()
    assert models["in_use"]["label"] == f"personal v{personal}"
    listed = {m["id"]: m for m in models["models"]}
    assert listed[personal]["active"] and listed[personal]["profile"] == "ana"
    assert listed[result["population_version"]]["kind"] == "population"
    assert client.get("/health").json()["population_model"]["id"] == result["population_version"]


def test_one_training_per_profile_at_a_time():
    jobs = JobRegistry()
    release = threading.Event()
    first = jobs.submit("ana", lambda progress: (progress(1, 2, "half"), release.wait(10), {"ok": 1})[-1])
    with pytest.raises(JobConflict):
        jobs.submit("ana", lambda progress: {})
    other = jobs.submit("bo", lambda progress: {"ok": 2})  # another profile may train meanwhile
    release.set()
    assert jobs.wait(first.id).state == "done" and jobs.wait(other.id).result == {"ok": 2}
    failing = jobs.submit("ana", lambda progress: 1 / 0)
    assert jobs.wait(failing.id).state == "failed" and "ZeroDivisionError" in jobs.get(failing.id).error


def test_a_running_training_answers_409(server, trained):
    app, client = server
    release = threading.Event()
    app.state.jobs.submit("ana", lambda progress: (release.wait(10), {})[-1])
    try:
        r = client.post("/train", json={"profile": "ana"})
        assert r.status_code == 409 and "already" in r.json()["detail"]
    finally:
        release.set()


def test_two_servers_on_one_database_see_the_same_active_model(server, trained):
    app1, client1 = server
    settings = app1.state.settings
    # a second "server": its own Lab and Store on the same PANTRY_HOME (the encoder weights are shared
    # only to save loading them twice)
    app2 = create_app(settings, lab=Lab(settings, embedder=app1.state.lab.embedder))
    assert app2.state.lab.store is not app1.state.lab.store
    client2 = TestClient(app2)
    recipes = [{"title": "Egg Fried Rice", "ingredients": ["rice", "egg"], "steps": ["fry"]},
               {"title": "Onion Tart", "ingredients": ["onion", "flour"], "steps": ["bake"]}]
    old = trained["result"]["personal_version"]
    assert client2.post("/rank", json={"profile": "ana", "recipes": recipes}).json()["model"]["label"] == f"personal v{old}"
    r = client1.post("/train", json={"profile": "ana", "activate": False, "cv_folds": 0})
    job = app1.state.jobs.wait(r.json()["id"], timeout=120)
    new = job.result["personal_version"]
    assert job.state == "done" and new != old
    assert client2.post("/rank", json={"profile": "ana", "recipes": recipes}).json()["model"]["label"] == f"personal v{old}"
    assert client1.post(f"/models/{new}/activate").json()["active"] is True
    ranked = client2.post("/rank", json={"profile": "ana", "recipes": recipes}).json()
    assert ranked["model"]["label"] == f"personal v{new}"
    # a pair shown by server 1 can be voted on through server 2 (same key file in the home)
    pair = client1.post("/pairs", json={"profile": "ana", "pantry": PANTRY, "seed": 5}).json()
    assert pair["model"]["label"] == f"personal v{new}"
    assert client2.post("/votes", json={"pair_token": pair["pair_token"], "outcome": "a"}).status_code == 201


# ---------------------------------------------------------------------------- auth

def test_bearer_token_when_set(server):
    app, client = server
    secured = replace(app.state.settings, api_token="s3cret-token")
    c = TestClient(create_app(secured, lab=app.state.lab))
    assert c.get("/health").status_code == 200 and c.get("/health").json()["auth"] is True
    for path in ("/models", "/votes", "/openapi.json"):
        assert c.get(path).status_code == 401
        assert c.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get(path, headers={"Authorization": "Basic s3cret-token"}).status_code == 401
        assert c.get(path, headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
    assert c.post("/rank", json={"recipes": []}).status_code == 401  # auth before validation
    r = c.get("/models")
    assert r.headers["www-authenticate"] == "Bearer"
    # a pair token signed by a server without the API token is not accepted by one with it
    pair = client.post("/pairs", json={"profile": "ana", "pantry": PANTRY, "seed": 21}).json()
    r = c.post("/votes", json={"pair_token": pair["pair_token"], "outcome": "a"},
               headers={"Authorization": "Bearer s3cret-token"})
    assert r.status_code == 400 and "signature" in r.json()["detail"]
    assert client.get("/models").status_code == 200  # the server without a token stays open


# ---------------------------------------------------------------------------- a real server

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_python_m_pantry_serve_answers_health_over_a_socket(tmp_path):
    port = _free_port()
    env = {**os.environ, **ENV, "PANTRY_HOME": str(tmp_path / "home")}
    env.pop("PANTRY_API_TOKEN", None)
    proc = subprocess.Popen([sys.executable, "-m", "pantry", "serve", "--port", str(port)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline, body = time.monotonic() + 60, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                body = r.json()
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert body is not None, proc.stdout.read().decode() if proc.poll() is not None else "no answer in 60 s"
        assert body["ok"] and body["embedder"]["loaded"] is False and body["generator"]["mode"] == "offline"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def test_rank_finds_the_profile_as_every_lookup_does(server, trained):
    """A third probe's finding: /rank passed the name as given, so "ANA" ranked with the
    population model while "ana" had a personal one. A name not stored yet ranks as that new
    profile would (no model of its own); a name no profile may have is a 400 naming the field."""
    _, client = server
    recipes = [{"title": "Egg Fried Rice", "ingredients": ["rice", "egg"], "steps": ["fry"]},
               {"title": "Onion Tart", "ingredients": ["onion", "flour"], "steps": ["bake"]}]
    own = client.post("/rank", json={"profile": "ana", "recipes": recipes}).json()
    assert own["model"]["kind"] == "personal", own["model"]  # (other tests may have activated a newer one)
    for name in ("ANA", " Ana ", "\uff21na"):  # case, spaces, a full-width letter: the same profile
        r = client.post("/rank", json={"profile": name, "recipes": recipes})
        assert r.status_code == 200, r.text
        assert r.json()["profile"] == "ana" and r.json()["model"] == own["model"], name
        assert [x["score"] for x in r.json()["ranked"]] == [x["score"] for x in own["ranked"]]
    ghost = client.post("/rank", json={"profile": "ghost", "recipes": recipes})
    assert ghost.status_code == 200 and ghost.json()["model"]["kind"] != "personal"
    before = client.get("/health").json()["store"]["users"]
    for bad in ("..", "m\u0430ria"):  # dots only; a Cyrillic a beside Latin letters
        r = client.post("/rank", json={"profile": bad, "recipes": recipes})
        assert r.status_code == 400 and "profile" in r.json()["detail"], (bad, r.text)
    assert client.get("/health").json()["store"]["users"] == before  # a read creates no profile
