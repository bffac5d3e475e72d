"""Concurrency through real processes: API servers sharing one database, and a writer
that keeps recording votes while another process trains.

- Two `python -m pantry serve` processes on one PANTRY_HOME; 8 client threads (4 per server)
  post 25 votes each (200 in all, each with its own pair of inline recipes) over real sockets.
  Every vote must be acknowledged (201, never a 5xx or "database is locked"), stored exactly
  once, listed by both servers, and `PRAGMA integrity_check` must say ok.
- `python -m pantry train --user U` in a subprocess while this process records votes through
  its own Store: every acknowledged vote is stored, training exits 0 and activates a model.
(8 threads x 500 and 8 processes x 500 through the store are tests/store/test_store_reliability.py's.)
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter

import httpx
import pytest

from pantry.domain.votes import Vote
from tests.helpers import REPO

ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PANTRY_GENERATOR": "offline", "PANTRY_DEVICE": "cpu"}
CLIENTS, PER_CLIENT = 8, 25


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(home) -> dict:
    env = {**os.environ, **ENV, "PANTRY_HOME": str(home)}
    env.pop("PANTRY_API_TOKEN", None)
    return env


def _serve(home) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "pantry", "serve", "--port", str(port)], cwd=REPO,
                            env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return proc, f"http://127.0.0.1:{port}"


def _wait_healthy(proc, url: str, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(proc.stdout.read().decode(errors="replace"))
        try:
            return httpx.get(url + "/health", timeout=2).json()
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer /health in {timeout} s")


def _stop(proc) -> str:
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate(timeout=5)
    return out.decode(errors="replace")


def _recipe(tag: str) -> dict:
    return {"title": f"Dish {tag}", "ingredients": ["egg", f"spice {tag}"], "steps": [f"cook {tag}"],
            "minutes": 10 + hash(tag) % 40, "tags": []}


def test_eight_clients_on_two_servers_store_every_vote_exactly_once(tmp_path):
    home = tmp_path / "home"
    servers = [_serve(home)]
    try:
        _wait_healthy(*servers[0])  # the first one creates the database; the second opens it
        servers.append(_serve(home))
        _wait_healthy(*servers[1])
        results: list[tuple[int, int, int, str]] = []  # (client, k, status, body)
        lock = threading.Lock()
        barrier = threading.Barrier(CLIENTS)

        def client(c: int) -> None:
            url = servers[c % 2][1]
            with httpx.Client(base_url=url, timeout=60) as http:
                barrier.wait()
                for k in range(PER_CLIENT):
                    tag = f"c{c}-v{k}"
                    body = {"profile": f"user{c % 3}", "a": _recipe(tag + "a"), "b": _recipe(tag + "b"),
                            "outcome": "ab"[k % 2], "left": "a", "reasons": [tag]}
                    try:
                        r = http.post("/votes", json=body)
                        status, text = r.status_code, r.text
                    except httpx.HTTPError as e:
                        status, text = -1, repr(e)
                    with lock:
                        results.append((c, k, status, text))

        threads = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        elapsed = time.monotonic() - t0
        bad = [r for r in results if r[2] != 201]
        assert not bad, bad[:5]
        assert len(results) == CLIENTS * PER_CLIENT
        assert not any("locked" in r[3] for r in results)
        ids = [json.loads(r[3])["id"] for r in results]
        assert len(set(ids)) == len(ids) == CLIENTS * PER_CLIENT, "every acknowledged vote has its own id"

        for _, url in servers:  # both servers list every vote, each once
            page = httpx.get(url + "/votes", params={"limit": 500}, timeout=30).json()
            assert page["total"] == CLIENTS * PER_CLIENT
            tags = Counter(v["reasons"][0] for v in page["votes"])
            assert set(tags.values()) == {1} and len(tags) == CLIENTS * PER_CLIENT
            assert {v["id"] for v in page["votes"]} == set(ids)
        print(f"\nAPI: {CLIENTS} clients x {PER_CLIENT} votes on 2 servers in {elapsed:.1f} s")
    finally:
        logs = [_stop(p) for p, _ in servers]
    assert not any("Traceback" in log or "database is locked" in log for log in logs), logs
    conn = sqlite3.connect(home / "pantry.sqlite3")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*) FROM votes").fetchone()[0] == CLIENTS * PER_CLIENT
    finally:
        conn.close()


@pytest.fixture
def voted_home(tmp_path):
    """A home with two profiles' simulated votes and every recipe's embedding cached."""
    import copy

    from pantry.evaluation.synth import simulate_votes
    from pantry.lab import Lab
    from pantry.settings import Settings
    from pantry.storage.jsonl import import_jsonl
    from pantry.storage.store import Store
    from tests.helpers import shared_embedder

    home = tmp_path / "home"
    settings = Settings(**{**Settings.from_env().__dict__, "home": home})
    store = Store(settings.db_path)
    lines = [json.dumps(v) for persona, user in (("vegetarian", "veg"), ("quick-weeknight", "bo"))
             for v in simulate_votes(persona, 30, seed=5, user=user)]
    import_jsonl(store, lines)
    e = copy.copy(shared_embedder())
    e.cache = store
    lab = Lab(settings, store, e)
    lab.features(list(store.get_recipes(sorted({r for v in store.votes() for r in (v.a, v.b)})).values()))
    return home


def test_a_writer_keeps_recording_while_another_process_trains(voted_home):
    from pantry.storage.store import Store

    store = Store(voted_home / "pantry.sqlite3")
    before = sum(store.vote_counts().values())
    recipe_ids = sorted({r for v in store.votes() for r in (v.a, v.b)})
    proc = subprocess.Popen([sys.executable, "-m", "pantry", "train", "--user", "veg", "--members", "3",
                             "--cv-folds", "3", "--json"], cwd=REPO, env=_env(voted_home),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    acked, errors, k = [], [], 0
    t0 = time.monotonic()
    while proc.poll() is None and time.monotonic() - t0 < 240:
        a, b = recipe_ids[k % len(recipe_ids)], recipe_ids[(7 * k + 3) % len(recipe_ids)]
        if a != b:
            try:
                acked.append(store.add_vote(Vote(user="veg" if k % 2 else "bo", a=a, b=b, outcome="ab"[k % 2],
                                                 reasons=(f"w{k}",))))
            except Exception as e:  # noqa: BLE001 - any error reaching the caller fails the test
                errors.append(repr(e))
        k += 1
        time.sleep(0.01)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    assert not errors, errors[:3]
    assert len(acked) >= 20, f"only {len(acked)} votes were written while training ran"
    result = json.loads(out.decode().strip().splitlines()[-1])
    fresh = Store(voted_home / "pantry.sqlite3")
    assert sum(fresh.vote_counts().values()) == before + len(acked)
    live = {v.id for v in fresh.votes()}
    assert set(acked) <= live and len(set(acked)) == len(acked)
    active = fresh.active_model("veg")
    assert active is not None and active.id == result["personal_version"]
    assert fresh.active_model(None).id == result["population_version"]
    conn = sqlite3.connect(voted_home / "pantry.sqlite3")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    print(f"\nwriter during training: {len(acked)} votes in {time.monotonic() - t0:.1f} s, none lost")
