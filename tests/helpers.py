"""Shared test helpers (plain functions, importable from any test module)."""

from __future__ import annotations

import functools
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]


def shared_data() -> Path:
    """../shared/data (or $PANTRY_SHARED_DATA); tests that need it skip when it is absent."""
    return Path(os.environ.get("PANTRY_SHARED_DATA") or REPO.parent / "shared" / "data")


@functools.lru_cache(maxsize=1)
def shared_embedder():
    """One real all-MiniLM-L6-v2 per test process, with an in-memory cache shared by tests."""
    from pantry.embedding import Embedder
    return Embedder("all-MiniLM-L6-v2", device="cpu")
