"""Where the project's files are, found from this package's location (never the working directory).

- `PROJECT_ROOT`: the checkout (the folder holding `pantry/`, `data/`, `weights/`);
- `DATA_DIR`: `data/`, the shipped knowledge (`ingredients.json`, `dishes.json`) and, by
  default, the local database `data/pantry.sqlite3`;
- `WEIGHTS_DIR`: `weights/`, the saved reward-model versions by default;
- `weights_dir_for(db_path)`: the one rule that pairs a database with its weights folder.
  The project's default database (`data/pantry.sqlite3`) uses the top-level `weights/`; any
  other database (a `PANTRY_HOME`) uses the `weights/` folder beside it, so a home folder
  moves as a whole.

Imports only the standard library, so every package of the library may import it (like
`pantry.base`). `pip install -e .` keeps these paths inside the checkout.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = PROJECT_ROOT / "data"
WEIGHTS_DIR = PROJECT_ROOT / "weights"
DB_NAME = "pantry.sqlite3"
WEIGHTS_NAME = "weights"
DEFAULT_DB_PATH = DATA_DIR / DB_NAME


def absolute(path: str | os.PathLike) -> Path:
    """`path` with `~` expanded, made absolute (against the current directory when relative,
    once, now) with symbolic links resolved; it need not exist."""
    return Path(path).expanduser().resolve()


def weights_dir_for(db_path: str | os.PathLike) -> Path:
    """The weights folder that goes with the database file `db_path` (see the module docstring)."""
    db = absolute(db_path)
    if db == DEFAULT_DB_PATH:
        return WEIGHTS_DIR
    return db.parent / WEIGHTS_NAME
