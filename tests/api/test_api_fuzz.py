"""Fuzz the HTTP API from its own OpenAPI document (schemathesis over the ASGI app).

Every operation in /openapi.json gets schema-valid and schema-breaking requests (bodies,
query strings, path parameters; bounded: FUZZ_EXAMPLES per operation and mode, no database
of past failures). None may answer 5xx or raise out of the app; a 4xx must carry a JSON
`detail`. The app runs on a temporary PANTRY_HOME that already holds a profile with votes
and a trained model, so the requests reach real code paths (pairs, votes, ranking with a
personal model), not only "unknown profile". The encoder is a fast deterministic stand-in
of the same width (the fuzz is about the HTTP layer, not about embeddings).

The random search is bounded (FUZZ_EXAMPLES, derandomized, so CI runs the same requests each
time); `test_values_the_fuzz_found_late_never_get_a_5xx` sends the values that used to be 500s
(NaN, Infinity, 1e400 in any 422; lone surrogates in every text field; path ids >= 2**63;
issue 19) to every operation explicitly, so finding them does not depend on luck or on 200+
examples per operation.
"""

from __future__ import annotations

import hashlib
import json
import time

import numpy as np
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

FUZZ_EXAMPLES = 60  # per operation and mode; the explicit cases below cover what a random search finds late
from tests.helpers import HashEmbedder

SEEN: dict[str, int] = {}


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory):
    from fastapi.testclient import TestClient

    from pantry.api import create_app
    from pantry.lab import Lab
    from pantry.model.training import TrainConfig
    from pantry.settings import Settings
    from pantry.storage.store import Store

    with pytest.MonkeyPatch.context() as mp:
        home = tmp_path_factory.mktemp("fuzz") / "home"
        for k, v in {"HF_HUB_OFFLINE": "1", "PANTRY_GENERATOR": "offline", "PANTRY_DEVICE": "cpu",
                     "PANTRY_HOME": str(home)}.items():
            mp.setenv(k, v)
        mp.delenv("PANTRY_API_TOKEN", raising=False)
        settings = Settings.from_env()
        store = Store(settings.db_path)
        lab = Lab(settings, store, HashEmbedder(settings.embedder))
        app = create_app(settings, lab)
        client = TestClient(app)
        r = client.post("/recipes", json={"profile": "ana", "pantry": "eggs, rice, spinach, onion", "n": 20,
                                          "seed": 3})
        assert r.status_code == 200, r.text
        cands = [c["recipe"] for c in r.json()["candidates"]]
        for k in range(10):
            a, b = cands[2 * k], cands[2 * k + 1]
            r = client.post("/votes", json={"profile": "ana", "a": a["id"], "b": b["id"], "outcome": "ab"[k % 2]})
            assert r.status_code == 201, r.text
        lab.train("ana", TrainConfig(members=2), cv_folds=0)
        yield app
        for job in list(getattr(app.state.jobs, "_jobs", {}).values()):
            app.state.jobs.wait(job.id, timeout=60)


@pytest.fixture(scope="module")
def api_schema(fuzz_app):
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    schema.config.generation.update(modes=[schemathesis.GenerationMode.POSITIVE,
                                           schemathesis.GenerationMode.NEGATIVE],
                                    max_examples=FUZZ_EXAMPLES, database="none")
    return schema


OPERATIONS = ["GET /health", "POST /recipes", "POST /rank", "POST /pairs", "POST /votes", "GET /votes",
              "DELETE /votes/{vote_id}", "GET /models", "POST /models/{version_id}/activate", "POST /train",
              "GET /train/{job_id}", "POST /household", "POST /household/votes"]


def test_the_schema_lists_exactly_the_fuzzed_operations(api_schema):
    ops = {f"{op.method.upper()} {op.path}" for op in (r.ok() for r in api_schema.get_all_operations())}
    assert ops == set(OPERATIONS), "a new endpoint must join OPERATIONS (and so the fuzz)"


@pytest.mark.slow
@pytest.mark.parametrize("operation, mode", [(o, m) for o in OPERATIONS for m in ("positive", "negative")
                                              if o != "GET /health" or m == "positive"])  # /health takes no input
def test_no_request_from_the_schema_gets_a_server_error(api_schema, operation, mode):
    method, path = operation.split(" ", 1)
    op = next(r.ok() for r in api_schema.get_all_operations()
              if r.ok().method.upper() == method and r.ok().path == path)
    seen: list[int] = []

    @given(case=op.as_strategy(generation_mode=schemathesis.GenerationMode(mode)))
    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case):
        started = time.monotonic()
        response = case.call()
        seen.append(response.status_code)
        assert response.status_code < 500, (f"{case.method} {case.formatted_path} -> {response.status_code}: "
                                            f"{response.text[:500]}\nbody: {str(case.body)[:500]}")
        if 400 <= response.status_code < 500:
            assert json.loads(response.text)["detail"], response.text
        assert time.monotonic() - started < 30, f"{operation} took {time.monotonic() - started:.1f} s"

    run()
    assert len(seen) >= (1 if operation == "GET /health" else min(5, FUZZ_EXAMPLES)), seen
    SEEN[f"{operation} {mode}"] = len(seen)
    if mode == "positive" and method == "GET":
        assert any(c < 400 for c in seen) or "{" in path, seen
    print(f" [{operation} {mode}: {len(seen)} requests, codes {sorted(set(seen))}]", end="")


@pytest.mark.parametrize("field, body", [
    ("cuisine", {"cuisine": "martian"}),
    ("max_minutes", {"max_minutes": 1}),
])
@pytest.mark.parametrize("endpoint", ["/recipes", "/pairs"])
def test_a_request_the_composer_cannot_meet_is_a_400_naming_the_field(fuzz_app, endpoint, field, body):
    """Found by the fuzz: an unknown cuisine was a 502 (as if a server upstream had failed)."""
    from fastapi.testclient import TestClient

    r = TestClient(fuzz_app).post(endpoint, json={"profile": "ana", "pantry": "eggs, rice", "n": 4, **body})
    assert r.status_code == 400, r.text
    assert r.json()["detail"].startswith(f"field '{field}': "), r.text


# --- the values that used to be 5xx (issue 19), sent to every operation -------------------------

_BAD_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e400", "9223372036854775808", "-1e400"]
_SURROGATES = ['"\\ud800"', '"x\\udfff"', '"\\udc00abc"']
_BODIES = {  # (path, a valid body as JSON text with {} where a bad value goes, fields to try)
    "POST /recipes": ('{"profile": "ana", "pantry": "eggs", "n": 2, "FIELD": VALUE}',
                      ["n", "max_minutes", "seed", "pantry", "cuisine", "profile", "items", "diets"]),
    "POST /pairs": ('{"profile": "ana", "pantry": "eggs", "n": 2, "FIELD": VALUE}',
                    ["n", "max_minutes", "seed", "pantry", "cuisine", "profile"]),
    "POST /rank": ('{"recipes": [{"title": "t", "ingredients": ["x"], "steps": ["y"], "FIELD": VALUE}]}',
                   ["title", "minutes", "servings", "cuisine", "tags", "ingredients", "id"]),
    "POST /votes": ('{"profile": "ana", "a": "r-1", "b": "r-2", "outcome": "a", "FIELD": VALUE}',
                    ["reasons", "outcome", "strength", "left", "pantry", "profile", "a", "pair_token"]),
    "POST /train": ('{"profile": "ana", "cv_folds": 0, "activate": false, "FIELD": VALUE}',
                    ["cv_folds", "options", "activate", "profile"]),
}


def _cases():
    for op, (template, fields) in _BODIES.items():
        for field in fields:
            for value in _BAD_NUMBERS + _SURROGATES:
                body = template.replace('"FIELD": VALUE', f'"{field}": {value}')
                if field in ("items", "diets", "reasons", "tags", "ingredients", "pantry") and value.startswith('"'):
                    body = template.replace('"FIELD": VALUE', f'"{field}": [{value}]')
                if field == "options":
                    body = template.replace('"FIELD": VALUE', f'"options": {{"l2": {value}, {value}: 1}}'
                                            if value.startswith('"') else f'"options": {{"l2": {value}}}')
                yield op, body


def test_values_the_fuzz_found_late_never_get_a_5xx(fuzz_app):
    """NaN / Infinity / 1e400 / 2**63 and lone surrogates in every field of every body, and
    path and query ids past int64: each a 4xx with a JSON `detail` (before: 13 + 5 + 2 kinds
    of 500, and the keep-alive connection reset)."""
    from fastapi.testclient import TestClient

    client = TestClient(fuzz_app, raise_server_exceptions=False)
    seen = 0
    for op, body in _cases():
        method, path = op.split(" ", 1)
        r = client.request(method, path, content=body.encode("utf-8"), headers={"Content-Type": "application/json"})
        assert r.status_code < 500, f"{op} {body} -> {r.status_code}: {r.text[:300]}"
        if r.status_code >= 400:
            assert json.loads(r.text)["detail"], r.text
        seen += 1
    for method, path in [("DELETE", "/votes/9223372036854775808"), ("DELETE", "/votes/-9223372036854775809"),
                         ("POST", "/models/9223372036854775808/activate"), ("POST", "/models/99999999999/activate"),
                         ("GET", "/votes?offset=9223372036854775808"), ("GET", "/votes?limit=1e400"),
                         ("GET", "/votes?profile=%ED%A0%80"), ("GET", "/models?profile=%ED%A0%80"),
                         ("GET", "/train/%ED%A0%80"), ("GET", "/votes?since=NaN")]:
        r = client.request(method, path)
        assert 400 <= r.status_code < 500, f"{method} {path} -> {r.status_code}: {r.text[:300]}"
        seen += 1
    print(f" [{seen} explicit requests]", end="")
