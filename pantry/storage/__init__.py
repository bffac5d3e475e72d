"""Storage: everything PantryPilot keeps between runs, behind one interface.

What the package is for, one module per job:
- `store`: `Store` (one SQLite file) and `PostgresStore` (one PostgreSQL database shared by
  several servers, `PANTRY_DATABASE_URL`), a thin facade with the same methods on both;
  `Store.open(settings)` picks one;
- the backends, one per database kind: `backend` (the transactions both share),
  `sqlite_backend`, `postgres_backend` (`postgres` keeps the older `PostgresStore` import);
- `schema`: the tables of both backends and their migrations (`SCHEMA_VERSION`);
- what is kept, one module each: `users` (profiles), `recipes`, `votes`, `batches` (import
  batches), `models` (model versions and their weights bytes), `embeddings` (the cache),
  `changes` (the change stamps UI caches watch); `rows` and `errors` are shared by them;
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
from pantry.storage.store import (SCHEMA_VERSION, ImportBatch, ModelVersion, PostgresStore, Store, StoreError,
                                  UnknownRecipe)

__all__ = [
    "SCHEMA_VERSION", "ImportBatch", "ImportReport", "ModelVersion", "PostgresStore", "Store", "StoreError",
    "UnknownRecipe",
    "export_csv", "export_trl", "export_votes", "import_jsonl", "read_recipes_file", "read_votes_file",
    "write_jsonl",
]
