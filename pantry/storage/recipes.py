"""Recipes: stored by id, immutable, and the log of what was generated for whom.

Why immutable: votes, training and the app depend on what an id means, so an id already
stored with other content is refused (`RecipeConflict`) or, for generated recipes (content
ids), the stored one is kept. A damaged stored row is a StoreError naming it.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Sequence

from pantry.domain.recipes import Recipe
from pantry.domain.votes import now_iso, validate_user_name
from pantry.errors import InvalidInput
from pantry.storage.changes import touch
from pantry.storage.errors import RecipeConflict, StoreError
from pantry.storage.rows import chunks, opt_user
from pantry.storage.users import ensure_stored_user


def _recipe_from_json(text: str, recipe_id: str | None = None) -> Recipe:
    """The Recipe stored as `text` (row id `recipe_id`); a damaged row raises StoreError naming it."""
    try:
        d = json.loads(text)
        if not isinstance(d, dict):
            raise ValueError(f"expected a JSON object, got {type(d).__name__}")
        for key in ("id", "title"):
            if not isinstance(d.get(key), str) or not d[key].strip():
                raise ValueError(f"missing or empty {key!r}")
        ingredients = d.get("ingredients") or ()
        if not isinstance(ingredients, (list, tuple)):
            raise ValueError("'ingredients' is not a list")
        return Recipe(
            id=d["id"], title=d["title"], ingredients=tuple(ingredients),
            steps=tuple(d.get("steps") or ()), minutes=d.get("minutes"), servings=d.get("servings"),
            cuisine=d.get("cuisine"), tags=tuple(d.get("tags") or ()), source=d.get("source"),
        )
    except (ValueError, TypeError, KeyError) as e:  # json.JSONDecodeError is a ValueError
        raise StoreError(f"stored recipe {recipe_id!r} is damaged ({e}); re-import it from its recipes "
                         "file or delete it") from None


_RECIPE_MEANING = ("title", "ingredients", "steps", "minutes", "servings", "cuisine", "tags")


def _same_recipe(stored_json: str, new: Recipe) -> bool:
    """Whether a stored recipe and `new` (same id) are the same recipe: every field but where
    it came from (`source`). A damaged stored row is never "the same"."""
    try:
        old = json.loads(stored_json)
    except ValueError:
        return False
    mine = new.to_dict()
    norm = lambda v: list(v) if isinstance(v, (list, tuple)) else v  # noqa: E731
    return isinstance(old, dict) and all(norm(old.get(k)) == norm(mine.get(k)) for k in _RECIPE_MEANING)

def add_stored_recipes(conn: Any, recipes: Iterable[Recipe], clash: str = "refuse") -> int:
    """Store new recipes; a stored id is never rewritten. An id already stored with other
    content (`_same_recipe`) raises RecipeConflict (`clash="refuse"`) or keeps the stored
    recipe (`clash="keep"`: generated recipes, whose ids are content ids)."""
    unique: dict[str, Recipe] = {}
    for r in recipes:
        if not isinstance(r, Recipe):
            raise InvalidInput(f"expected a Recipe, got {type(r).__name__}")
        unique[r.id] = r
    if clash == "refuse":
        stored = recipe_json(conn, list(unique))
        for rid, text in stored.items():
            if not _same_recipe(text, unique[rid]):
                raise RecipeConflict(
                    f"recipe {rid!r} is already stored with other content; stored recipes cannot be "
                    "changed (give the new recipe no id, or a new one)")
    now = now_iso()
    conn.executemany(
        "INSERT INTO recipes (id, json, source, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
        [(r.id, r.to_json(), r.source, now) for r in unique.values()])
    if unique:
        touch(conn, None)
    return len(unique)


def recipe_json(conn: Any, ids: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for chunk in chunks(list(dict.fromkeys(ids))):
        marks = ", ".join("?" * len(chunk))
        for rid, text in conn.execute(f"SELECT id, json FROM recipes WHERE id IN ({marks})", tuple(chunk)):
            out[rid] = text
    return out


def existing_ids(conn: Any, ids: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for chunk in chunks(sorted(set(ids))):
        marks = ", ".join("?" * len(chunk))
        found.update(r[0] for r in conn.execute(f"SELECT id FROM recipes WHERE id IN ({marks})", tuple(chunk)))
    return found


class Recipes:
    """The recipes of one database (`db`: a `pantry.storage.backend.Backend`)."""

    def __init__(self, db: Any):
        self.db = db

    def add_recipes(self, recipes: Iterable[Recipe]) -> int:
        """Insert new recipes by id, in one transaction; return how many distinct ids.

        Stored recipes are immutable: a recipe already stored with the same content is left as
        it is, one whose id is stored with other content raises RecipeConflict (nothing saved).
        """
        recipes = list(recipes)
        with self.db.write() as conn:
            return add_stored_recipes(conn, recipes)

    def get_recipe(self, recipe_id: str) -> Recipe | None:
        with self.db.read() as conn:
            row = conn.execute("SELECT json FROM recipes WHERE id = ?", (recipe_id,)).fetchone()
        return _recipe_from_json(row[0], recipe_id) if row else None

    def get_recipes(self, ids: Iterable[str]) -> dict[str, Recipe]:
        """The stored recipes among `ids`, by id (missing ids are simply absent)."""
        with self.db.read() as conn:
            found = recipe_json(conn, list(ids))
        return {rid: _recipe_from_json(text, rid) for rid, text in found.items()}

    def existing_recipe_ids(self, ids: Iterable[str]) -> set[str]:
        """Which of `ids` are in the store."""
        ids = list(dict.fromkeys(ids))
        found: set[str] = set()
        with self.db.read() as conn:
            for chunk in chunks(ids):
                marks = ", ".join("?" * len(chunk))
                found.update(r[0] for r in conn.execute(f"SELECT id FROM recipes WHERE id IN ({marks})", tuple(chunk)))
        return found

    def all_recipes(self) -> list[Recipe]:
        """Every stored recipe, oldest first."""
        with self.db.read() as conn:
            rows = conn.execute("SELECT id, json FROM recipes ORDER BY created_at, id").fetchall()
        return [_recipe_from_json(text, rid) for rid, text in rows]

    def count_recipes(self) -> int:
        with self.db.read() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM recipes").fetchone()[0])

    def log_generated(self, user: str | None, recipes: Iterable[str | Recipe]) -> str | None:
        """Record that these recipes were just generated (for `user`, or None for no user);
        return the name the user is stored under (created if new).

        Items may be recipe ids or Recipe objects; Recipe objects are also stored in the same
        transaction (a recipe already stored under that id is kept as it is).
        """
        user = opt_user(user)
        items = list(recipes)
        to_store = [r for r in items if isinstance(r, Recipe)]
        ids = [r.id if isinstance(r, Recipe) else str(r) for r in items]
        now = now_iso()
        with self.db.write() as conn:
            if user is not None:
                user = ensure_stored_user(conn, user)
            if to_store:
                add_stored_recipes(conn, to_store, clash="keep")
            conn.executemany("INSERT INTO generated (user_name, recipe_id, created_at) VALUES (?, ?, ?)",
                             [(user, rid, now) for rid in ids])
            touch(conn, user)
        return user

    def recent_generated(self, user: str | None = None, limit: int = 500) -> list[Recipe]:
        """Recently generated recipes, newest first, each once; user None means any user."""
        where, params = ("WHERE user_name = ? ", [validate_user_name(user)]) if user is not None else ("", [])
        with self.db.read() as conn:
            rows = conn.execute(
                f"SELECT recipe_id, MAX(id) AS last_id FROM generated {where}"
                "GROUP BY recipe_id ORDER BY last_id DESC LIMIT ?", (*params, int(limit))).fetchall()
            ids = [r[0] for r in rows]
            found = recipe_json(conn, ids)
        return [_recipe_from_json(found[rid], rid) for rid in ids if rid in found]
