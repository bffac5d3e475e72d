"""Profiles: one per name under `user_key` (case, NFKC), with a saved pantry text and preferences.

Profiles are created only inside the write that stores something for them (`ensure_stored_user`
within that transaction, which serialises writers, so two servers never create "Maria" and
"maria"); new names must pass `validate_new_user_name`, older rows stay readable.
"""

from __future__ import annotations

from typing import Any, Mapping

from pantry.domain.votes import now_iso, user_key, validate_new_user_name, validate_user_name
from pantry.errors import InvalidInput
from pantry.storage.changes import touch
from pantry.storage.rows import json_dump, tolerant_dict


def find_stored_user(conn: Any, name: str) -> str | None:
    """The stored profile `name` means: itself, else the one equal to it under `user_key`
    (case, NFKC), else None. One indexed query when the name is stored as written."""
    row = conn.execute("SELECT name FROM users WHERE name = ?", (name,)).fetchone()
    if row:
        return str(row[0])
    key = user_key(name)
    same = sorted(str(r[0]) for r in conn.execute("SELECT name FROM users") if user_key(str(r[0])) == key)
    return same[0] if same else None


def ensure_stored_user(conn: Any, name: str) -> str:
    """The stored name of profile `name`, creating it (inside `conn`'s write transaction,
    which serialises writers, so two servers never create "Maria" and "maria") when no
    profile has that name under `user_key`. A new name must pass `validate_new_user_name`;
    names stored by older versions stay usable as they are."""
    found = find_stored_user(conn, name)
    if found is not None:
        return found
    name = validate_new_user_name(name)
    cur = conn.execute("INSERT INTO users (name, created_at, pantry_text, prefs_json) VALUES (?, ?, '', '{}') "
                       "ON CONFLICT (name) DO NOTHING", (name, now_iso()))
    if cur.rowcount:
        touch(conn, None)  # the list of profiles changed
    return name


class Users:
    """The profiles of one database (`db`: a `pantry.storage.backend.Backend`)."""

    def __init__(self, db: Any):
        self.db = db

    def ensure_user(self, name: str) -> str:
        """Create the user if needed; return the name it is stored under: an existing profile
        with the same name in another case ("Maria" for "maria") is that profile, not a new one."""
        name = validate_user_name(name)
        with self.db.write() as conn:
            return ensure_stored_user(conn, name)

    def find_user(self, name: str) -> str | None:
        """The stored profile that `name` means (exactly, or the same under case/NFKC folding:
        `pantry.domain.votes.user_key`), or None. Reads only; InvalidInput for a bad name."""
        name = validate_user_name(name)
        with self.db.read() as conn:
            return find_stored_user(conn, name)

    def list_users(self) -> list[str]:
        """All user names, sorted case-insensitively."""
        with self.db.read() as conn:
            names = [r[0] for r in conn.execute("SELECT name FROM users")]
        return sorted(names, key=lambda n: (n.lower(), n))

    def get_user_pantry(self, user: str) -> str:
        """The user's saved pantry text ("" if none or unknown user)."""
        user = validate_user_name(user)
        with self.db.read() as conn:
            row = conn.execute("SELECT pantry_text FROM users WHERE name = ?", (user,)).fetchone()
        return row[0] if row else ""

    def set_user_pantry(self, user: str, text: str) -> None:
        """Save the user's pantry text (creating the user if needed)."""
        user = validate_user_name(user)
        if not isinstance(text, str):
            raise InvalidInput(f"pantry text must be a string, got {type(text).__name__}")
        with self.db.write() as conn:
            user = ensure_stored_user(conn, user)
            conn.execute("UPDATE users SET pantry_text = ? WHERE name = ?", (text, user))
            touch(conn, user)

    def get_user_prefs(self, user: str) -> dict[str, Any]:
        """The user's saved preferences dict ({} if none or unknown user)."""
        user = validate_user_name(user)
        with self.db.read() as conn:
            row = conn.execute("SELECT prefs_json FROM users WHERE name = ?", (user,)).fetchone()
        return tolerant_dict(row[0], "preferences", []) if row else {}  # damaged prefs read as {}

    def set_user_prefs(self, user: str, prefs: Mapping[str, Any]) -> None:
        """Replace the user's preferences with `prefs` (a JSON-serialisable dict)."""
        user = validate_user_name(user)
        if not isinstance(prefs, Mapping):
            raise InvalidInput(f"preferences must be a dict, got {type(prefs).__name__}")
        payload = json_dump(dict(prefs), "preferences")
        with self.db.write() as conn:
            user = ensure_stored_user(conn, user)
            conn.execute("UPDATE users SET prefs_json = ? WHERE name = ?", (payload, user))
            touch(conn, user)
