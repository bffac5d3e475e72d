"""`PostgresStore` under its older import path (`pantry.storage.postgres`); the store is in
`pantry.storage.store`, the PostgreSQL backend in `pantry.storage.postgres_backend`."""

from pantry.storage.postgres_backend import describe_url
from pantry.storage.store import PostgresStore

__all__ = ["PostgresStore", "describe_url"]
