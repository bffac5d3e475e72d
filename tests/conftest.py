"""Shared fixtures for the app tests (AppTest pages and the real browser)."""

from __future__ import annotations

import copy
import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Tests never touch a deployment's database by accident: a PostgreSQL store is only what a test
# asks for (PANTRY_TEST_DATABASE_URL and the fixtures below).
os.environ.pop("PANTRY_DATABASE_URL", None)
REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


@pytest.fixture
def app_home(tmp_path, monkeypatch):
    """An empty PANTRY_HOME for one AppTest, the offline composer, a fresh st.cache_resource.

    The app builds its Lab through `st.cache_resource`; the real embedder model is shared
    with the other tests (`helpers.shared_embedder`) so each test does not reload it, while
    each Lab still caches embeddings in its own database.
    """
    import streamlit as st

    import pantry.model.embedding as embedding
    from tests.helpers import shared_embedder

    home = tmp_path / "home"
    monkeypatch.setenv("PANTRY_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("PANTRY_GENERATOR", "offline")
    monkeypatch.setenv("PANTRY_DEVICE", "cpu")
    shared = shared_embedder()

    def embedder(name=shared.name, device="cpu", cache=None, check_hash=True):
        if name != shared.name:
            raise AssertionError(f"tests use {shared.name}, not {name}")
        e = copy.copy(shared)
        e.cache = cache if cache is not None else embedding.MemoryCache()
        return e

    monkeypatch.setattr(embedding, "Embedder", embedder)
    st.cache_resource.clear()
    yield home
    st.cache_resource.clear()


from tests.helpers import seed_votes  # noqa: E402,F401 - shared by page tests


# --- the store's two backends (tests/store/) ---------------------------------------

@pytest.fixture(scope="session")
def pg_base_url():
    """A PostgreSQL server's database URL for the session (tests/pg_server.py): skipped when
    none can be had, failed instead when PANTRY_REQUIRE_POSTGRES is set."""
    from tests import pg_server

    try:
        url = pg_server.server_url()
    except pg_server.Unavailable as e:
        if os.environ.get("PANTRY_REQUIRE_POSTGRES", "").strip() not in ("", "0"):
            pytest.fail(f"PANTRY_REQUIRE_POSTGRES is set but no PostgreSQL server: {e}", pytrace=False)
        pytest.skip(f"no PostgreSQL server: {e}")
    yield url
    pg_server.stop()


@pytest.fixture
def pg_url(pg_base_url):
    """A URL of an empty PostgreSQL schema of this test's own (dropped afterwards)."""
    from tests import pg_server

    url, name = pg_server.fresh_schema_url(pg_base_url)
    yield url
    pg_server.drop_schema(pg_base_url, name)


class StoreMaker:
    """Opens this test's one database (SQLite file or PostgreSQL schema) as often as asked:
    each call is a new Store object on the same data, as another server would open it."""

    def __init__(self, backend: str, tmp_path: Path, url: str | None):
        self.backend, self.url = backend, url
        self.db_path = tmp_path / "sub" / "pantry.sqlite3"
        self.weights_dir = tmp_path / "sub" / "weights"

    def __call__(self, weights_dir=None):
        from pantry.storage.store import Store

        wd = Path(weights_dir) if weights_dir is not None else self.weights_dir
        if self.backend == "postgresql":
            from pantry.storage.postgres import PostgresStore

            return PostgresStore(self.url, wd)
        return Store(self.db_path, wd)

    @property
    def locator(self) -> str:
        """What a subprocess passes to `tests.pg_server.open_locator` to open the same database."""
        return f"pg:{self.url}" if self.backend == "postgresql" else f"sqlite:{self.db_path}"


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request):
    return request.param


@pytest.fixture
def make_store(backend, tmp_path, request):
    url = request.getfixturevalue("pg_url") if backend == "postgresql" else None
    return StoreMaker(backend, tmp_path, url)


@pytest.fixture
def round_lab(tmp_path):
    """A Lab on a fresh home with the shared real encoder (`tests.helpers.lab_at`)."""
    from tests.helpers import lab_at

    return lab_at(tmp_path)
