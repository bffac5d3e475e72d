"""One settings object, read from environment variables (documented in the README).

Settings are read when `Settings.from_env()` is called, never cached at import time, so
tests and separate Streamlit sessions can use different values.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"
DEFAULT_OLLAMA_HOST = "http://localhost:11434"
DEFAULT_OLLAMA_MODEL = "llama3.2:3b"


def ollama_base_url(host: str | None) -> str:
    """The URL the ollama client talks to (`localhost:11434` -> `http://localhost:11434`)."""
    host = (host or "").strip().rstrip("/") or DEFAULT_OLLAMA_HOST
    if "://" not in host:
        host = "http://" + host
    return host


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"environment variable {name}={raw!r} is not an integer") from None


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"environment variable {name}={raw!r} is not a number") from None


@dataclass(frozen=True)
class Settings:
    home: Path  # PANTRY_HOME: database, weights and embedding cache live here
    embedder: str  # PANTRY_EMBEDDER: sentence-transformers name or path
    device: str  # PANTRY_DEVICE: "auto", "cpu" or "cuda"
    ollama_host: str  # OLLAMA_HOST
    ollama_model: str  # PANTRY_OLLAMA_MODEL
    ollama_timeout: float  # PANTRY_OLLAMA_TIMEOUT seconds per request
    generator: str  # PANTRY_GENERATOR: auto | ollama | offline
    max_pantry_chars: int  # PANTRY_MAX_PANTRY_CHARS

    @property
    def db_path(self) -> Path:
        return self.home / "pantry.sqlite3"

    @property
    def weights_dir(self) -> Path:
        return self.home / "weights"

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            home=Path(os.environ.get("PANTRY_HOME", "").strip() or "data").expanduser(),
            embedder=os.environ.get("PANTRY_EMBEDDER", "").strip() or DEFAULT_EMBEDDER,
            device=os.environ.get("PANTRY_DEVICE", "").strip() or "auto",
            ollama_host=ollama_base_url(os.environ.get("OLLAMA_HOST")),
            ollama_model=os.environ.get("PANTRY_OLLAMA_MODEL", "").strip() or DEFAULT_OLLAMA_MODEL,
            ollama_timeout=_float("PANTRY_OLLAMA_TIMEOUT", 60.0),
            generator=(os.environ.get("PANTRY_GENERATOR", "").strip() or "auto").lower(),
            max_pantry_chars=_int("PANTRY_MAX_PANTRY_CHARS", 5000),
        )
