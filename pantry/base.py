"""Small shared pieces that every package of the library may import (and nothing else).

- `ProgressFn`: the progress callback type of long work (`on_progress(done, total, message)`),
  so pages drive `st.progress` and the CLI a terminal line without the library knowing either.
- `redact(text, *sources)`: the one way credentials are taken out of a message (URL userinfo,
  libpq `password=`, the configured URLs' passwords) before it is printed, logged, answered or stored.
- `write_bytes_atomic` / `write_text_atomic`: the one way user files are written (a temp file
  in the same folder, fsync, `os.replace`), so a crash never leaves half a file. The temp file
  has a unique name (`.<name>.<random>.tmp`) and is removed on any failure; one left by a
  killed process is removed later by `sweep_stale_temp_files`.

This module imports only the standard library.
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Callable

ProgressFn = Callable[[int, int, str], None]


TEMP_SUFFIX = ".pantry-tmp"
# Our temp names only: "." + target name + "." + mkstemp's random part + TEMP_SUFFIX.
# Also the older ".<name>.<8 random>.tmp" form (saves before TEMP_SUFFIX).
_TEMP_NAME = re.compile(r"^\..+\.(?:[A-Za-z0-9_]{6,}" + re.escape(TEMP_SUFFIX) + r"|[a-z0-9_]{8}\.tmp)$")


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` atomically: a temp file in the same folder, fsync, os.replace.

    The temp file is unique (concurrent writers never share one) and is removed whatever
    goes wrong before the replace (an exception, KeyboardInterrupt).
    """
    path = Path(path)
    if path.is_dir():  # else os.replace would fail naming the temp file, not the path given
        raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    done = False
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        done = True
    finally:
        if not done:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return path


def is_temp_file_name(name: str) -> bool:
    """Whether `name` is a temp file name of `write_bytes_atomic`."""
    return bool(_TEMP_NAME.match(name))


def sweep_stale_temp_files(folder: str | os.PathLike, max_age_s: float = 3600.0) -> int:
    """Remove temp files of `write_bytes_atomic` older than `max_age_s` in `folder`.

    Only names of our pattern are touched (an interrupted save's leftovers, e.g. after a
    SIGKILL); a younger one may belong to a save in progress and is kept. Returns how many
    were removed; a missing folder or a file that cannot be removed is not an error.
    """
    folder = Path(folder)
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    cutoff = time.time() - max_age_s
    for entry in entries:
        if not is_temp_file_name(entry.name):
            continue
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                os.unlink(entry.path)
                removed += 1
        except OSError:
            continue
    return removed


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 text (newlines kept as written) to `path` atomically."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def lazy_exports(package: str, names: dict[str, str]):
    """`__getattr__` and `__dir__` for a package that exports `names` (name -> module) lazily.

    Why: `from pantry.model import train_reward_model` should work, but importing the
    package for a light module (features) must not import torch; each module loads on the
    first use of one of its names (PEP 562).
    """
    import importlib

    def __getattr__(name: str):
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(names[name]), name)

    def __dir__() -> list[str]:
        return sorted(names)

    return __getattr__, __dir__


def sha256_file(path) -> str:
    """The sha256 hex digest of a file, read in 1 MiB blocks (model weights, ONNX exports)."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --- credentials in messages -----------------------------------------------------------------

_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)([^/@\s:'\"]*):([^@\s/'\"]*)@")
_KV_SECRET = re.compile(r"(?i)\b(password|passwd|pwd|sslpassword)(\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s'\"]+)")
_URL_PASSWORD = re.compile(r"://[^/@\s:]*:([^@\s/]*)@")
REDACTED = "***"
_MIN_SECRET_CHARS = 4  # a shorter "secret" is removed by the patterns only (replacing "ab" everywhere mangles text)


def _secrets_in(source: str) -> set[str]:
    """The passwords written in a URL or libpq `key=value` string (raw and percent-decoded)."""
    from urllib.parse import unquote

    found = {m.group(1) for m in _URL_PASSWORD.finditer(source)}
    found |= {m.group(3).strip("'") for m in _KV_SECRET.finditer(source)}
    found |= {unquote(s) for s in found}
    return {s for s in found if len(s) >= _MIN_SECRET_CHARS}


def redact(text: str, *sources: str) -> str:
    """`text` with every credential removed, before it is printed, logged, answered or stored.

    Removes the password of any `scheme://user:password@` in the text, any `password=...`
    (libpq key=value), and every literal occurrence of the passwords and tokens written in
    `sources` (the configured PANTRY_DATABASE_URL, OLLAMA_HOST, an API token), so a library's
    message that quotes a piece of a malformed URL ("invalid percent-encoded token: ...") does
    not leak it either. Used by the CLI, the API, the PostgreSQL store and the vote log.
    """
    if not isinstance(text, str) or not text:
        return text
    out = text
    for source in sources:
        if not source:
            continue
        secrets_ = _secrets_in(source)
        if not ("://" in source or "=" in source) and len(source) >= _MIN_SECRET_CHARS:
            secrets_.add(source)  # a bare token
        for secret in sorted(secrets_, key=len, reverse=True):
            out = out.replace(secret, REDACTED)
    out = _USERINFO.sub(lambda m: f"{m.group(1)}{m.group(2)}:{REDACTED}@", out)
    out = _KV_SECRET.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", out)
    return out
