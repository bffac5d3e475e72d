"""Change counters: `touch` (inside every write transaction) and `change_stamp` (one cheap read).

Why: UI caches must notice writes made by other processes or servers sharing the database, and
the store caches nothing itself. Scope '*' counts every write, '' the writes that are not one
user's (recipes, imports, batches, population models, new users), and a user name that user's
own writes (votes, prefs, pantry, personal models).
"""

from __future__ import annotations

from typing import Any

from pantry.domain.votes import validate_user_name
from pantry.storage.rows import CHUNK


def touch(conn: Any, *users: str | None) -> None:
    """Bump the change counters (inside the write's transaction): '*' always, and per
    user given its scope (None: '', the writes that are not one user's)."""
    scopes = sorted({"*", *("" if u is None else u for u in users)})
    for i in range(0, len(scopes), CHUNK):  # one statement (one round trip) per 500 scopes
        chunk = scopes[i:i + CHUNK]
        conn.execute("INSERT INTO changes (scope, n) VALUES " + ", ".join(["(?, 1)"] * len(chunk))
                     + " ON CONFLICT (scope) DO UPDATE SET n = changes.n + 1", chunk)


def change_stamp(db: Any, user: str | None = None) -> tuple[int, ...]:
    """A cheap stamp (one query) that changes whenever what `user`'s pages show may have
    changed, as seen from any process or server sharing this database.

    user None: changes on every write. A user: changes on that user's writes (votes
    cast/undone/deleted/restored, pantry, preferences, personal models saved, activated
    or deactivated, recipes generated for them) and on every write that is not one
    user's (recipes added, imports, batch delete/restore, population models, a new
    profile). Each write transaction bumps the counters it concerns (table `changes`).
    """
    scope = "*" if user is None else validate_user_name(user)
    with db.read() as conn:
        rows = dict(conn.execute("SELECT scope, n FROM changes WHERE scope IN (?, ?)",
                                 ("", scope)).fetchall())
    if user is None:
        return (int(rows.get("*", 0)),)
    return (int(rows.get("", 0)), int(rows.get(scope, 0)))
