"""The API under attack (issue 19): each item of the adversarial probe, as a test that failed
before its fix. Loopback only; concurrency bounded (8 clients, a few trials, seconds).

1 a pair token stores one vote (8 clients at once, 1 and 2 servers), future-dated tokens,
  idempotency keys; 2 stored recipes cannot be rewritten (API and import); 3 the body cap
  counts bytes as they arrive and auth comes before the body (raw sockets to a real uvicorn);
  4 no 5xx for NaN/Infinity/1e400, lone surrogates, ids past int64 (more in test_api_fuzz.py);
  5 no credential in any message; 6 /health answers fast with a hung Ollama; 7 scoped tokens
  and profile names; 8 reads flat in the number of votes; 9 the README's search_path URL.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from pantry.api import create_app
from pantry.api.tokens import profile_token, sign
from pantry.domain.votes import Vote
from pantry.lab import Lab
from pantry.settings import Settings
from pantry.storage.store import RecipeConflict, Store
from tests.helpers import REPO, HashEmbedder  # HashEmbedder: the HTTP layer is under test, not embeddings

PANTRY = "eggs, rice, spinach, onion, tomato, garlic"
ADMIN = "admin-secret-token-19"


def make_recipe(i: int):
    from pantry.domain.recipes import recipe_from_dict

    return recipe_from_dict({"title": f"Dish {i}", "ingredients": [f"{i} eggs", "rice"],
                             "steps": ["Cook.", f"Serve {i}."], "minutes": 10 + i})



def _settings(mp, home, **env) -> Settings:
    for k in ("PANTRY_API_TOKEN", "PANTRY_DATABASE_URL", "OLLAMA_HOST"):
        mp.delenv(k, raising=False)
    for k, v in {"HF_HUB_OFFLINE": "1", "PANTRY_GENERATOR": "offline", "PANTRY_DEVICE": "cpu",
                 "PANTRY_HOME": str(home), **env}.items():
        mp.setenv(k, v)
    return Settings.from_env()


def _app(settings, store=None):
    store = store or Store(settings.db_path)
    return create_app(settings, Lab(settings, store, HashEmbedder(settings.embedder)))


@pytest.fixture
def api(tmp_path, monkeypatch):
    """(app, client, settings) on a fresh home with admin token ADMIN."""
    settings = _settings(monkeypatch, tmp_path / "home", PANTRY_API_TOKEN=ADMIN)
    app = _app(settings)
    client = TestClient(app, headers={"Authorization": f"Bearer {ADMIN}"})
    return app, client, settings


def _pair(client, profile="ana", seed=1, headers=None) -> dict:
    r = client.post("/pairs", json={"profile": profile, "pantry": PANTRY, "n": 4, "seed": seed}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def _candidates(client, profile="ana", n=8) -> list[dict]:
    r = client.post("/recipes", json={"profile": profile, "pantry": PANTRY, "n": n, "seed": 5})
    assert r.status_code == 200, r.text
    return [c["recipe"] for c in r.json()["candidates"]]


class Uvicorn:
    """A real uvicorn server for `app` on a free loopback port, in a thread (bounded: stopped at exit)."""

    def __init__(self, app):
        import uvicorn

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    limit_concurrency=64))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)


# --- 1. a pair token stores one vote ------------------------------------------------------------

def _race(urls, bodies, headers, clients=8) -> list[tuple[int, int | None]]:
    """`clients` threads send at once (a barrier), spread over `urls`, client k body k % len(bodies):
    [(status, vote id)]."""
    barrier = threading.Barrier(clients)

    def one(k):
        with httpx.Client(timeout=30) as c:
            barrier.wait(10)
            r = c.post(urls[k % len(urls)] + "/votes", json=bodies[k % len(bodies)], headers=headers)
            return r.status_code, r.json().get("id")

    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(one, range(clients)))


@pytest.mark.parametrize("servers, backend", [(1, "sqlite"), (2, "sqlite"), (2, "postgresql")])
def test_one_pair_token_sent_by_eight_clients_at_once_stores_one_vote(tmp_path, monkeypatch, servers, backend,
                                                                       request):
    """Before: the "already voted" check and the insert were two transactions: 11-20 of 20 trials
    stored the vote more than once. Now the spend is a UNIQUE key: 1 x 201, the others 409."""
    settings = _settings(monkeypatch, tmp_path / "home", PANTRY_API_TOKEN=ADMIN)
    if backend == "postgresql":
        from pantry.storage.postgres import PostgresStore

        url = request.getfixturevalue("pg_url")
        apps = [_app(settings, PostgresStore(url, tmp_path / f"w{k}")) for k in range(servers)]
    else:
        apps = [_app(settings) for _ in range(servers)]  # each its own Store on one SQLite file
    headers = {"Authorization": f"Bearer {ADMIN}"}
    client = TestClient(apps[0], headers=headers)
    with contextlib.ExitStack() as stack:
        urls = [stack.enter_context(Uvicorn(a)).url for a in apps]
        for trial in range(4):
            token = _pair(client, seed=100 + trial)["pair_token"]
            got = _race(urls, [{"pair_token": token, "outcome": o} for o in ("a", "b", "tie", "both_bad")], headers)
            won = {k % 4 for k, (code, _) in enumerate(got) if code == 201}
            assert len(won) == 1, got  # one body won; its repeats are answered the same vote, others 409
            assert len({vid for code, vid in got if code == 201}) == 1, got
            assert sorted(code for code, _ in got) == [201, 201] + [409] * 6, got
    assert len(apps[-1].state.lab.store.votes("ana", include_deleted=True)) == 4


def test_a_future_dated_token_is_refused_and_a_spent_one_stays_spent(api):
    app, client, _ = api
    pair = _pair(client)
    payload = json.loads(__import__("base64").urlsafe_b64decode(pair["pair_token"].split(".")[0] + "=="))
    payload["iat"] = int(time.time()) + 3600  # signed with a time an hour ahead (5 of 5 accepted before)
    future = sign(app.state.token_key, {k: v for k, v in payload.items() if k != "n"})
    r = client.post("/votes", json={"pair_token": future, "outcome": "a"})
    assert r.status_code == 400 and "future" in r.json()["detail"], r.text
    assert client.post("/votes", json={"pair_token": pair["pair_token"], "outcome": "a"}).status_code == 201
    again = client.post("/votes", json={"pair_token": pair["pair_token"], "outcome": "b"})
    assert again.status_code == 409 and "already voted" in again.json()["detail"]
    retry = client.post("/votes", json={"pair_token": pair["pair_token"], "outcome": "a"})  # a lost answer, retried
    assert retry.status_code == 201 and retry.json()["id"] == client.get("/votes").json()["votes"][0]["id"]
    assert client.get("/votes", params={"profile": "ana"}).json()["total"] == 1


def test_an_idempotency_key_stores_a_direct_vote_once(api):
    _, client, settings = api
    c = _candidates(client)
    body = {"profile": "ana", "a": c[0]["id"], "b": c[1]["id"], "outcome": "a"}
    first = client.post("/votes", json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 201
    again = client.post("/votes", json=body, headers={"Idempotency-Key": "k-1"})
    assert again.status_code == 201 and again.json() == first.json()
    other = client.post("/votes", json={**body, "outcome": "b"}, headers={"Idempotency-Key": "k-1"})
    assert other.status_code == 409 and "Idempotency-Key" in other.json()["detail"]
    with Uvicorn(client.app) as server:  # 8 retries racing: still one vote
        got = _race([server.url], [{**body, "outcome": "tie"}],
                    {"Authorization": f"Bearer {ADMIN}", "Idempotency-Key": "k-2"})
    assert [code for code, _ in got] == [201] * 8 and len({vid for _, vid in got}) == 1
    assert client.get("/votes", params={"profile": "ana"}).json()["total"] == 2
    bad = client.post("/votes", json=body, headers={"Idempotency-Key": "x" * 300})
    assert bad.status_code == 400 and "Idempotency-Key" in bad.json()["detail"]


# --- 2. stored recipes cannot be rewritten ------------------------------------------------------

def test_a_vote_cannot_rewrite_a_stored_recipe(api):
    """Before: an inline recipe with an existing id and other content got 201 and replaced it."""
    _, client, settings = api
    c = _candidates(client)
    forged = {**c[0], "title": "Bleach Surprise", "ingredients": ["bleach"], "steps": ["drink"]}
    r = client.post("/votes", json={"profile": "mallory", "a": forged, "b": c[1]["id"], "outcome": "a"})
    assert r.status_code == 409 and c[0]["id"] in r.json()["detail"], r.text
    store = Store(settings.db_path)
    assert store.get_recipe(c[0]["id"]).title == c[0]["title"]
    assert store.find_user("mallory") is None  # the refused vote created no profile
    same = client.post("/votes", json={"profile": "bo", "a": c[0], "b": c[1]["id"], "outcome": "a"})
    assert same.status_code == 201, same.text  # the same recipe again is fine


def test_an_import_cannot_rewrite_a_stored_recipe(tmp_path):
    from pantry.domain.recipes import recipe_from_dict
    from pantry.storage.jsonl import import_jsonl

    store = Store(tmp_path / "db.sqlite3")
    original = make_recipe(1)
    store.add_recipes([original])
    changed = {**original.to_dict(), "title": "Something else entirely"}
    path = tmp_path / "evil.jsonl"
    path.write_text(json.dumps(changed) + "\n" + json.dumps({**make_recipe(2).to_dict()}) + "\n")
    with pytest.raises(RecipeConflict, match=original.id):
        import_jsonl(store, path)
    assert store.get_recipe(original.id) == original and store.count_recipes() == 1
    assert recipe_from_dict(changed).id == original.id


# --- 3. the body cap counts bytes as they arrive; auth before the body -------------------------

def _raw_request(port: int, head: str, chunks, read_after: float = 5.0) -> tuple[str, int]:
    """Send `head` then chunked `chunks` (a generator of bytes) until the server answers or
    they run out; return (the answer's first line, bytes of body sent)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=read_after)
    sent = 0
    try:
        sock.sendall(head.encode("latin-1"))
        sock.setblocking(False)
        answer = b""
        for chunk in chunks:
            try:
                answer += sock.recv(65536)
            except BlockingIOError:
                pass
            if answer:
                break
            try:
                sock.setblocking(True)
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            finally:
                sock.setblocking(False)
        sock.setblocking(True)
        sock.settimeout(read_after)
        while b"\r\n" not in answer:
            more = sock.recv(65536)
            if not more:
                break
            answer += more
        return answer.split(b"\r\n", 1)[0].decode("latin-1"), sent
    finally:
        sock.close()


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def test_a_chunked_body_is_refused_as_it_arrives_and_auth_comes_first(api):
    """Before: only Content-Length was checked, and the token after the whole body was read
    (1 GiB chunked: 280 -> 4,366 MiB). Now: 401 before any body byte, 413 once past 8 MiB."""
    from pantry.api.app import MAX_BODY_BYTES

    app, _, _ = api
    mib = b"x" * (1 << 20)
    peak = [_rss_mib()]
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            peak.append(_rss_mib())
            time.sleep(0.005)

    head = "POST /votes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
    with Uvicorn(app) as server:
        before = _rss_mib()
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            line, sent = _raw_request(server.port, head + "\r\n", (mib for _ in range(20)))
            assert " 401 " in line, line
            assert sent < 20 << 20, "the server read the whole body before refusing the token"
            line, sent = _raw_request(server.port, head + f"Authorization: Bearer {ADMIN}\r\n\r\n",
                                      (mib for _ in range(20)))
            assert " 413 " in line, line
            assert MAX_BODY_BYTES < sent < 20 << 20
        finally:
            stop.set()
            watcher.join()
    assert max(peak) - before < 40, f"RSS grew {max(peak) - before:.0f} MiB for a 20 MiB body"


# --- 4. no 500 for what a client can send ---------------------------------------------------------

@pytest.mark.parametrize("raw", [
    '{"profile": "ana", "pantry": "eggs", "n": NaN}',
    '{"profile": "ana", "pantry": "eggs", "n": Infinity}',
    '{"profile": "ana", "pantry": "eggs", "n": 1e400}',
    '{"profile": "ana", "pantry": "eggs", "max_minutes": -Infinity}',
    '{"profile": "ana", "pantry": "eggs", "n": true}',  # a yes/no is not a count (was read as 1)
    '{"profile": "ana", "pantry": "eggs", "n": "3"}',
    '{"profile": "ana", "pantry": "eggs", "n": 2.5}',
])
def test_nan_and_huge_numbers_get_a_422_not_a_500(api, raw):
    _, client, _ = api
    r = client.post("/recipes", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"]


@pytest.mark.parametrize("field, body", [
    ("reasons", {"profile": "ana", "a": "x", "b": "y", "outcome": "a", "reasons": ["\ud800"]}),
    ("profile", {"profile": "an\udfffa", "a": "x", "b": "y", "outcome": "a"}),
    ("pantry", {"profile": "ana", "pantry": "eggs \ud800", "items": []}),
    ("items", {"profile": "ana", "items": ["eggs", "\ud800"]}),
    ("cuisine", {"profile": "ana", "pantry": "eggs", "cuisine": "\udc00"}),
    ("title", {"recipes": [{"title": "\ud800", "ingredients": ["x"], "steps": ["y"]}]}),
])
def test_a_lone_surrogate_is_a_422_naming_the_field(api, field, body):
    _, client, _ = api
    path = ("/votes" if "outcome" in body else "/rank" if "recipes" in body else "/recipes")
    raw = json.dumps(body)  # ensure_ascii: the surrogate travels as the escape "\ud800"
    r = client.post(path, content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert field in r.text and "surrogate" in r.text, r.text


@pytest.mark.parametrize("method, path", [("DELETE", "/votes/9223372036854775808"),
                                          ("POST", "/models/9223372036854775808/activate"),
                                          ("GET", "/votes?offset=9223372036854775808")])
def test_ids_beyond_int64_are_a_4xx_not_an_overflow(api, method, path):
    _, client, _ = api
    r = client.request(method, path)
    assert r.status_code in (404, 422), r.text


# --- 5. no credential in any message ---------------------------------------------------------------

@pytest.mark.parametrize("url", ["postgresql://bob:s3cr%zzet@127.0.0.1:1/db",
                                 "postgresql://bob:hunter22secret@127.0.0.1:1/db?bogus=1",
                                 "host=127.0.0.1 port=1 password=hunter22secret bogus"])
def test_a_bad_database_url_is_never_echoed_with_its_password(tmp_path, url, capsys, monkeypatch):
    """Before: libpq's message ("invalid percent-encoded token: "s3cr%zzet"") was passed on."""
    from pantry import cli

    monkeypatch.setenv("PANTRY_DATABASE_URL", url)
    monkeypatch.setenv("PANTRY_HOME", str(tmp_path))
    for argv in (["models"], ["serve", "--port", "1"]):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and "s3cr" not in err and "hunter22" not in err, err


def test_ollama_credentials_never_reach_health_answers_tokens_or_stored_votes(tmp_path, monkeypatch):
    from tests.ollama_server import closed_port_url

    host = closed_port_url().replace("http://", "http://olly:pa55word99@")
    settings = _settings(monkeypatch, tmp_path / "home", PANTRY_GENERATOR="auto", OLLAMA_HOST=host)
    app = _app(settings)
    client = TestClient(app)
    deadline = time.monotonic() + 10
    while client.get("/health").json()["generator"] is None and time.monotonic() < deadline:
        time.sleep(0.05)
    seen = [client.get("/health").text, client.post("/recipes", json={"profile": "ana", "pantry": PANTRY,
                                                                       "n": 2}).text]
    pair = _pair(client)
    seen.append(json.dumps(pair))
    seen.append(__import__("base64").urlsafe_b64decode(pair["pair_token"].split(".")[0] + "==").decode())
    assert client.post("/votes", json={"pair_token": pair["pair_token"], "outcome": "a"}).status_code == 201
    vote = Store(settings.db_path).votes("ana")[0]
    seen.append(json.dumps([vote.generator, vote.generator_reason, vote.model_version]))
    assert "olly" in seen[0] or "offline" in seen[0]
    for text in seen:
        assert "pa55word99" not in text, text


def test_redact_removes_every_form_of_a_password():
    from pantry.base import redact

    assert redact("at http://u:pw1234@h:1/x") == "at http://u:***@h:1/x"
    assert redact("host=h password='a b c' x") == "host=h password=*** x"
    assert redact('token: "s3cr%zzet"', "postgresql://u:s3cr%zzet@h/db") == 'token: "***"'
    assert redact("Bearer abcdef123", "abcdef123") == "Bearer ***"
    assert redact("nothing secret here") == "nothing secret here"


def test_serve_logs_are_redacted_messages_and_tracebacks():
    import io
    import logging

    from pantry.cli import install_log_redaction
    from pantry.settings import Settings

    settings = Settings(home=REPO, embedder="e", device="cpu", ollama_host="http://o:pa55word99@h:1",
                        ollama_model="m", ollama_timeout=1.0, generator="offline", max_pantry_chars=10,
                        api_token="tok-secret-19", database_url="postgresql://u:hunter22secret@h/db")
    out = io.StringIO()
    logger = logging.getLogger("pantry-test-redaction")
    logger.propagate = False
    handler = logging.StreamHandler(out)
    logger.addHandler(handler)
    try:
        install_log_redaction(settings.redact, "pantry-test-redaction")
        try:
            raise RuntimeError("cannot reach postgresql://u:hunter22secret@h/db")
        except RuntimeError:
            logger.exception("failed with %s and %s", settings.ollama_host, "tok-secret-19")
    finally:
        logger.removeHandler(handler)
    text = out.getvalue()
    assert "RuntimeError" in text and "failed with" in text
    for secret in ("pa55word99", "hunter22secret", "tok-secret-19"):
        assert secret not in text, text


# --- 6. /health with a hung Ollama -------------------------------------------------------------------

def test_health_answers_fast_while_ollama_hangs(tmp_path, monkeypatch):
    """Before: every /health re-checked Ollama under one lock: 8 calls took 2.4-16.7 s."""
    from tests.ollama_server import FakeOllama

    with FakeOllama(hang_seconds=6) as fake:
        fake.hang_discovery = True
        settings = _settings(monkeypatch, tmp_path / "home", PANTRY_GENERATOR="ollama", OLLAMA_HOST=fake.url,
                             PANTRY_OLLAMA_TIMEOUT="30")
        app = _app(settings)
        with Uvicorn(app) as server:
            def timed(_):
                with httpx.Client(timeout=10) as c:
                    t0 = time.monotonic()
                    r = c.get(server.url + "/health")
                    return time.monotonic() - t0, r.status_code

            with ThreadPoolExecutor(8) as pool:
                results = list(pool.map(timed, range(16)))
            assert all(code == 200 for _, code in results)
            times = sorted(t for t, _ in results)
            alone = sorted(timed(k)[0] for k in range(9))
            # a 2-core box shared with other work: bounds well above the figures, far below the
            # Ollama hang (6 s) that every call used to wait for
            assert times[-1] < 1.5 and statistics.median(alone) < 0.25, (times, alone)
            print(f" [/health with a hung Ollama: one at a time median {statistics.median(alone) * 1000:.0f} ms; "
                  f"8 at once median {statistics.median(times) * 1000:.0f} ms, max {times[-1] * 1000:.0f} ms]", end="")
            fake.stop()


# --- 7. scoped tokens, profile names ------------------------------------------------------------------

def test_a_profile_token_reaches_only_its_profile(api):
    app, admin, settings = api
    c = _candidates(admin, "bo")
    bo_vote = admin.post("/votes", json={"profile": "bo", "a": c[0]["id"], "b": c[1]["id"], "outcome": "a"}).json()
    ana = TestClient(app, headers={"Authorization": f"Bearer {profile_token(ADMIN, 'ana')}"})
    pair = _pair(ana)
    assert ana.post("/votes", json={"pair_token": pair["pair_token"], "outcome": "a"}).status_code == 201
    listed = ana.get("/votes").json()
    assert listed["profile"] == "ana" and listed["total"] == 1
    assert ana.get("/votes", params={"profile": "bo"}).status_code == 403
    assert ana.post("/votes", json={"profile": "bo", "a": c[0]["id"], "b": c[1]["id"],
                                    "outcome": "a"}).status_code == 403
    assert ana.post("/pairs", json={"profile": "bo", "pantry": PANTRY}).status_code == 403
    assert ana.delete(f"/votes/{bo_vote['id']}").status_code == 404  # another's vote looks absent
    assert ana.post("/train", json={"profile": "bo"}).status_code == 403
    assert ana.post("/train", json={"profile": "ana"}).status_code == 403  # train_population is admin-only
    # a household names other profiles: their scores and votes are theirs (the probe stored bo's vote)
    hh = ana.post("/household", json={"members": ["ana", "bo"], "pantry": PANTRY})
    assert hh.status_code == 403 and "'bo'" in hh.json()["detail"]
    before = admin.get("/votes", params={"profile": "bo"}).json()["total"]
    for members in (["ana", "bo"], ["bo", "cy"]):
        r = ana.post("/household/votes", json={"members": members, "a": c[0]["id"], "b": c[1]["id"], "outcome": "b"})
        assert r.status_code in (400, 403), r.text
    assert admin.get("/votes", params={"profile": "bo"}).json()["total"] == before
    forged = profile_token("another-admin-secret", "ana")
    assert TestClient(app).get("/votes", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    bo_pair = _pair(admin, "bo", seed=9)  # a pair token of bo's, spent with ana's token
    assert ana.post("/votes", json={"pair_token": bo_pair["pair_token"], "outcome": "a"}).status_code == 403
    store = Store(settings.db_path)
    vid = store.add_model_version("bo", store.weights_dir / "bo.pt", "emb")
    pop = store.add_model_version(None, store.weights_dir / "pop.pt", "emb")
    assert ana.post(f"/models/{vid}/activate").status_code == 404
    assert ana.post(f"/models/{pop}/activate").status_code == 403
    assert admin.get("/votes", params={"profile": "bo"}).json()["total"] == 1  # the admin token: everything


def test_the_cli_prints_a_profile_token_the_api_accepts(api, monkeypatch):
    app, _, _ = api
    out = subprocess.run([sys.executable, "-m", "pantry", "token", "--profile", "ana"], cwd=REPO, text=True,
                         capture_output=True, timeout=60, env={**__import__("os").environ,
                                                               "PANTRY_API_TOKEN": ADMIN})
    assert out.returncode == 0, out.stderr
    token = out.stdout.strip()
    assert TestClient(app).get("/votes", headers={"Authorization": f"Bearer {token}"}).status_code in (200, 404)
    assert TestClient(app).get("/votes", params={"profile": "bo"},
                               headers={"Authorization": f"Bearer {token}"}).status_code == 403


@pytest.mark.parametrize("name, words", [(".", "only dots"), ("..", "only dots"), ("m\u0430ria", "alphabets"),
                                         ("a" * 200, "limit 40"), (" " * 200, "limit 40")])
def test_bad_new_profile_names_are_refused_and_nothing_is_created(api, name, words):
    _, client, settings = api
    c = _candidates(client)
    r = client.post("/votes", json={"profile": name, "a": c[0]["id"], "b": c[1]["id"], "outcome": "a"})
    assert r.status_code in (400, 422) and words in r.text and "profile" in r.text, r.text
    assert Store(settings.db_path).list_users() == ["ana"]


def test_profile_names_are_one_profile_whatever_their_case_and_old_names_stay_readable(api):
    _, client, settings = api
    c = _candidates(client, "maria")
    r = client.post("/votes", json={"profile": "MARIA", "a": c[0]["id"], "b": c[1]["id"], "outcome": "a"})
    assert r.status_code == 201 and r.json()["vote"]["profile"] == "maria"
    assert client.post("/pairs", json={"profile": "\uff2daria", "pantry": PANTRY}).json()["profile"] == "maria"
    store = Store(settings.db_path)
    assert store.list_users() == ["maria"] and store.ensure_user("Maria") == "maria"
    ghost = client.post("/votes", json={"profile": "ghost", "a": "r-nope", "b": c[1]["id"], "outcome": "a"})
    assert ghost.status_code == 400 and store.find_user("ghost") is None  # a failed vote creates nothing
    import sqlite3
    with sqlite3.connect(settings.db_path) as conn:  # a name an older version accepted
        conn.execute("INSERT INTO users (name, created_at) VALUES ('.', '2026-01-01')")
    assert client.get("/votes", params={"profile": "."}).status_code == 200
    assert client.post("/votes", json={"profile": ".", "a": c[0]["id"], "b": c[1]["id"],
                                       "outcome": "a"}).status_code == 201


def test_the_sidebar_offers_the_existing_profile_instead_of_a_second_one(app_home):
    from helpers import open_app, store_at

    store_at(app_home).ensure_user("maria")
    at = open_app(None, timeout=120)
    at.text_input(key="new_profile_name").input("Maria")
    at.button(key="create_profile").click()
    at.run()
    assert not at.exception
    assert store_at(app_home).list_users() == ["maria"]
    assert any("already exists" in i.value for i in at.info)
    at.button(key="open_existing_profile").click()
    at.run()
    assert not at.exception and at.session_state["profile"] == "maria"


# --- 8. reads that grow with the store ------------------------------------------------------------------

def _fill(store: Store, user: str, n: int) -> list[str]:

    recipes = [make_recipe(i) for i in range(200)]
    store.add_recipes(recipes)
    rng = np.random.default_rng(n)
    votes = []
    for _ in range(n):
        i, j = rng.choice(200, 2, replace=False)
        votes.append(Vote(user=user, a=recipes[i].id, b=recipes[j].id, outcome="a"))
    store.add_votes(votes)
    return [r.id for r in recipes]


def _median_s(fn, runs=7) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def test_a_page_of_votes_and_a_rounds_judged_pairs_cost_the_same_at_ten_times_the_votes(tmp_path):
    """Before: GET /votes?limit=1 read every vote (1.17 s at 49,500) and /pairs all of the
    profile's votes. Now both are answered by the database from an index."""
    cost = {}
    for n in (800, 8000):
        store = Store(tmp_path / f"{n}.sqlite3")
        ids = _fill(store, "ana", n)
        some = ids[:20]
        cost[n] = (_median_s(lambda: store.votes_page("ana", limit=1)),
                   _median_s(lambda: store.judged_pairs("ana", some)),
                   _median_s(lambda: store.votes("ana"), runs=3))  # what both did before: read every vote
        assert store.votes_page("ana", limit=3, offset=1)[0] == n
        assert [v.id for v in store.votes_page("ana", limit=3, offset=1)[1]] == [2, 3, 4]
        all_pairs = {frozenset((v.a, v.b)) for v in store.votes("ana")}
        assert store.judged_pairs("ana", some) == {p for p in all_pairs if p <= set(some)}
    print(" [page / judged pairs / every vote: " + "; ".join(
        f"{n:,} votes {c[0] * 1e3:.2f} / {c[1] * 1e3:.2f} / {c[2] * 1e3:.0f} ms" for n, c in cost.items()) + "]", end="")
    assert cost[8000][1] < 3 * cost[800][1] + 0.002  # the judged pairs of a round: flat
    # the page: one COUNT(*) over the profile's index entries (C speed) + one row, far below reading them all
    assert cost[8000][0] < cost[8000][2] / 10


def test_pairs_and_the_votes_page_never_read_every_vote(api, monkeypatch):
    _, client, _ = api
    _pair(client)

    def refuse(*a, **k):
        raise AssertionError("Store.votes read every vote")

    monkeypatch.setattr(Store, "votes", refuse)
    _pair(client, seed=2)
    assert client.get("/votes", params={"limit": 1}).status_code == 200


# --- schema 7 on both backends ---------------------------------------------------------------------------

def test_schema_6_is_upgraded_to_7_and_old_votes_and_names_stay(make_store):
    from pantry.storage.store import SCHEMA_VERSION

    store = make_store()
    store.add_recipes([make_recipe(1), make_recipe(2)])
    vid = store.add_vote(Vote(user="ana", a=make_recipe(1).id, b=make_recipe(2).id, outcome="a"), request_key="k",
                         request_digest="d")
    conn = store.db.connect()  # back to what schema 6 wrote
    store.db.begin(conn)
    for sql in ("DROP INDEX votes_by_request", "DROP INDEX votes_by_user_pair", "ALTER TABLE votes DROP COLUMN "
                "request_key", "ALTER TABLE votes DROP COLUMN request_digest",
                "UPDATE meta SET value = '6' WHERE key = 'schema_version'",
                "INSERT INTO users (name, created_at) VALUES ('..', '2026-01-01')"):
        conn.execute(sql)
    store.db.commit(conn)
    store.db.release(conn, True)
    again = make_store()
    assert again.schema_version() == SCHEMA_VERSION >= 7
    assert [v.id for v in again.votes("ana")] == [vid] and again.votes("..") == []
    new = again.add_vote(Vote(user="ana", a=make_recipe(1).id, b=make_recipe(2).id, outcome="b"), request_key="k2")
    from pantry.storage.store import RepeatedRequest
    with pytest.raises(RepeatedRequest) as info:
        again.add_vote(Vote(user="ana", a=make_recipe(1).id, b=make_recipe(2).id, outcome="b"), request_key="k2")
    assert info.value.vote_id == new and not info.value.same
    assert make_store().schema_version() == SCHEMA_VERSION  # opening again changes nothing


# --- 9. the README's search_path example is a URL libpq takes -------------------------------------------

def test_the_readme_search_path_example_parses():
    import re

    from psycopg import conninfo

    readme = (REPO / "README.md").read_text()
    example = re.search(r"`\?options=([^`]+)`", readme).group(1)
    parsed = conninfo.conninfo_to_dict(f"postgresql://u@h/db?options={example}")
    assert parsed["options"] == "-csearch_path=myschema"
