"""Storage: everything PantryPilot keeps between runs, behind one interface.

What the package is for, one module per job:
- `store`: the `Store`, one SQLite file (WAL) holding users, recipes, votes, import batches,
  model versions (with their weights bytes), the embedding cache and the change counters;
  its schema and in-place migrations, shared by both backends.
- `postgres`: `PostgresStore`, the same interface on a PostgreSQL database
  (`PANTRY_DATABASE_URL`), for several app servers sharing one database; `Store.open`
  picks it.
- `jsonl`: JSONL import (idempotent, one undoable batch per file) and export (votes, TRL
  pairs, CSV) through a `Store`.
Model versions point at weights files relative to the store's weights folder
(`Store.weights_dir`, the same rule as `Settings.weights_dir`); `ModelVersion.path` comes
back absolute, so a home folder (database + `weights/`) can be moved or copied as a whole.

What it may import: `pantry.domain`, `pantry.base`, `pantry.errors`, `pantry.settings` (and
`pantry.paths`, the standard-library-only module of project locations); never the kitchen,
the model, the generators or the UI. Outside code imports from here
(`from pantry.storage import Store`).
"""

from pantry.storage.jsonl import (ImportReport, export_csv, export_trl, export_votes, import_jsonl,
                                  read_recipes_file, read_votes_file, write_jsonl)
from pantry.storage.store import SCHEMA_VERSION, ImportBatch, ModelVersion, Store, StoreError, UnknownRecipe

__all__ = [
    "SCHEMA_VERSION", "ImportBatch", "ImportReport", "ModelVersion", "Store", "StoreError", "UnknownRecipe",
    "export_csv", "export_trl", "export_votes", "import_jsonl", "read_recipes_file", "read_votes_file",
    "write_jsonl",
]
