"""Small shared pieces that every package of the library may import (and nothing else).

- `ProgressFn`: the progress callback type of long work (`on_progress(done, total, message)`),
  so pages drive `st.progress` and the CLI a terminal line without the library knowing either.
- `write_bytes_atomic` / `write_text_atomic`: the one way user files are written (a temp file
  in the same folder, fsync, `os.replace`), so a crash never leaves half a file.

This module imports only the standard library.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

ProgressFn = Callable[[int, int, str], None]


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` atomically: a temp file in the same folder, fsync, os.replace."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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
