"""One settings object, read from environment variables (documented in the README).

Settings are read when `Settings.from_env()` is called, never cached at import time, so
tests and separate Streamlit sessions can use different values. A value that is set but
makes no sense (`PANTRY_DEVICE=gpu`, `PANTRY_GENERATOR=olama`, a timeout of "soon") raises
`SettingsError` naming the variable and what it accepts, instead of silently meaning the
default.

Where things live (`pantry.paths`): without `PANTRY_HOME`, the database is the project's
`data/pantry.sqlite3` and the weights are in the project's top-level `weights/`, both found
from the package, whatever the current directory. `PANTRY_HOME=DIR` moves both together:
`DIR/pantry.sqlite3` and `DIR/weights/` (a relative DIR is taken from the current directory
when the settings are read). `PANTRY_DATABASE_URL=postgresql://user@host:port/db` replaces the
SQLite file with a PostgreSQL database that several servers share; the weights folder stays
local (`home/weights/`), filled from the database's copy of each model's bytes on demand.

Imports only the standard library, `pantry.errors` and `pantry.paths`.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from pantry.base import redact
from pantry.errors import PantryError
from pantry.paths import DATA_DIR, DB_NAME, absolute, weights_dir_for

DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"
DEFAULT_OLLAMA_HOST = "http://localhost:11434"
DEFAULT_OLLAMA_MODEL = "llama3.2:3b"
# PANTRY_GENERATOR values: which recipe generator runs (auto: Ollama when reachable, else offline).
GENERATOR_MODES = ("auto", "ollama", "offline")
# PANTRY_DEVICE values (plus "cuda:N", one GPU by index): where the sentence encoder runs.
DEVICES = ("auto", "cpu", "cuda", "mps")
_CUDA_INDEX_RE = re.compile(r"cuda:\d+")


class SettingsError(PantryError, ValueError):
    """An environment variable (or a setting passed in code) has a value that means nothing."""


def ollama_base_url(host: str | None) -> str:
    """The URL the ollama client talks to (`localhost:11434` -> `http://localhost:11434`)."""
    host = (host or "").strip().rstrip("/") or DEFAULT_OLLAMA_HOST
    if "://" not in host:
        host = "http://" + host
    return host


def check_device(value: str, name: str = "PANTRY_DEVICE") -> str:
    """`value` as a device name ("auto", "cpu", "cuda", "cuda:N", "mps"), lowercased, or
    `SettingsError` naming `name` and the accepted values."""
    device = value.strip().lower() if isinstance(value, str) else ""
    if device in DEVICES or _CUDA_INDEX_RE.fullmatch(device):
        return device
    raise SettingsError(f"{name}={value!r} is not a device: use one of {', '.join(DEVICES[:3])}, "
                        f"cuda:N (one GPU by index, e.g. cuda:0) or mps")


def check_generator(value: str, name: str = "PANTRY_GENERATOR") -> str:
    """`value` as a generator mode (`GENERATOR_MODES`), lowercased, or `SettingsError`."""
    mode = value.strip().lower() if isinstance(value, str) else ""
    if mode in GENERATOR_MODES:
        return mode
    raise SettingsError(f"{name}={value!r} is not a generator: use one of {', '.join(GENERATOR_MODES)}")


def _env(name: str) -> str:
    return os.environ.get(name, "").strip()


def _int(name: str, default: int, minimum: int = 1) -> int:
    raw = _env(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"environment variable {name}={raw!r} is not an integer") from None
    if value < minimum:
        raise SettingsError(f"environment variable {name}={raw!r} must be at least {minimum}")
    return value


def _float(name: str, default: float) -> float:
    raw = _env(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"environment variable {name}={raw!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise SettingsError(f"environment variable {name}={raw!r} must be a positive number of seconds")
    return value


def _ollama_host() -> str:
    url = ollama_base_url(os.environ.get("OLLAMA_HOST"))
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"OLLAMA_HOST={redact(os.environ.get('OLLAMA_HOST') or '', url)!r} is not a host: "
                            "use host:port or http://host:port (e.g. localhost:11434)")
    return url


def _home() -> Path:
    raw = _env("PANTRY_HOME")
    if not raw:
        return DATA_DIR
    home = absolute(raw)
    if home.exists() and not home.is_dir():
        raise SettingsError(f"PANTRY_HOME={raw!r} is a file, not a folder")
    return home


def _database_url() -> str:
    raw = _env("PANTRY_DATABASE_URL")
    if not raw:
        return ""
    scheme = raw.split("://", 1)[0].lower() if "://" in raw else ""
    if scheme in ("postgresql", "postgres") or (not scheme and "=" in raw):
        return raw
    shown = raw.split("://", 1)[0] + "://..." if "://" in raw else "a value without '=' or '://'"
    raise SettingsError(f"PANTRY_DATABASE_URL ({shown}) is not a PostgreSQL URL: use "
                        "postgresql://user[:password]@host[:port]/database, or leave it unset for the SQLite file")


@dataclass(frozen=True)
class Settings:
    home: Path  # PANTRY_HOME (default: the project's data/): the database lives here; see weights_dir
    embedder: str  # PANTRY_EMBEDDER: sentence-transformers name or local path
    device: str  # PANTRY_DEVICE: "auto", "cpu", "cuda", "cuda:N" or "mps"
    ollama_host: str = field(repr=False)  # OLLAMA_HOST (not in repr: it may hold user:password@)
    ollama_model: str  # PANTRY_OLLAMA_MODEL
    ollama_timeout: float  # PANTRY_OLLAMA_TIMEOUT seconds per request
    generator: str  # PANTRY_GENERATOR: auto | ollama | offline
    max_pantry_chars: int  # PANTRY_MAX_PANTRY_CHARS
    api_token: str = field(default="", repr=False)  # PANTRY_API_TOKEN: bearer token of the HTTP API ("": none)
    # PANTRY_DATABASE_URL: a PostgreSQL database shared by several servers ("": the SQLite file
    # db_path). Not in repr: it may hold a password.
    database_url: str = field(default="", repr=False)

    def redact(self, text: str) -> str:
        """`text` without any credential of these settings (`pantry.base.redact` with the
        database URL, OLLAMA_HOST and the API token): for anything printed, logged or answered."""
        return redact(text, self.database_url, self.ollama_host, self.api_token)

    @property
    def db_path(self) -> Path:
        """The SQLite database: `home/pantry.sqlite3`."""
        return Path(self.home) / DB_NAME

    @property
    def weights_dir(self) -> Path:
        """Saved reward models: `home/weights/`, except for the project's own `data/` home,
        whose weights are the top-level `weights/` (`pantry.paths.weights_dir_for`)."""
        return weights_dir_for(self.db_path)

    @classmethod
    def from_env(cls) -> "Settings":
        """The settings the environment asks for; `SettingsError` names a variable whose
        value makes no sense."""
        return cls(
            home=_home(),
            embedder=_env("PANTRY_EMBEDDER") or DEFAULT_EMBEDDER,
            device=check_device(_env("PANTRY_DEVICE") or "auto"),
            ollama_host=_ollama_host(),
            ollama_model=_env("PANTRY_OLLAMA_MODEL") or DEFAULT_OLLAMA_MODEL,
            ollama_timeout=_float("PANTRY_OLLAMA_TIMEOUT", 60.0),
            generator=check_generator(_env("PANTRY_GENERATOR") or "auto"),
            max_pantry_chars=_int("PANTRY_MAX_PANTRY_CHARS", 5000),
            api_token=_env("PANTRY_API_TOKEN"),
            database_url=_database_url(),
        )
