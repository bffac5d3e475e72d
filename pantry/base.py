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
