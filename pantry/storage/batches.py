"""Import batches: one file's recipes and votes stored as one batch, in one transaction, that can
be undone (`delete_batch`: its votes soft-deleted) and restored as a whole.

Imports are idempotent: a vote the store already holds (the same line imported before, an
exported vote imported back) is skipped and counted, so importing a file twice adds nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from pantry.domain.recipes import Recipe
from pantry.domain.votes import Vote, check_vote, now_iso
from pantry.errors import InvalidInput
from pantry.storage.changes import touch
from pantry.storage.recipes import add_stored_recipes, recipe_json
from pantry.storage.rows import chunks, tolerant_strings

_BATCH_COLUMNS = ("b.id, b.file_name, b.created_at, b.users_json, b.recipes_added, b.recipes_skipped, "
                  "b.votes_added, b.votes_skipped, b.votes_skipped_deleted, b.deleted_at, "
                  "(SELECT COUNT(*) FROM votes v WHERE v.batch_id = b.id AND v.deleted_at IS NULL)")


@dataclass(frozen=True)
class ImportBatch:
    """One import of one file: what it added and skipped, and whether it was undone.

    recipes_added: recipe ids new to the store; recipes_skipped: recipe ids that were
    already stored (their stored copy is updated from the file). votes_added: votes stored
    by this import (they carry its id); votes_skipped: vote lines the store already held
    (duplicates, e.g. the same file imported again), of which votes_skipped_deleted matched
    deleted votes. users: the users of the file's vote lines. deleted_at: when the batch
    was undone (its votes soft-deleted), None while it is active. votes_live: how many of
    its votes are not deleted now. id: None for an import that added nothing (not kept).
    """

    id: int | None
    file_name: str
    created_at: str
    users: tuple[str, ...] = ()
    recipes_added: int = 0
    recipes_skipped: int = 0
    votes_added: int = 0
    votes_skipped: int = 0
    votes_skipped_deleted: int = 0
    deleted_at: str | None = None
    votes_live: int = 0

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None


def _batch_from_row(row: Sequence[Any]) -> ImportBatch:
    (bid, name, created, users, r_added, r_skipped, v_added, v_skipped, v_skipped_deleted, deleted_at,
     live) = row
    return ImportBatch(id=int(bid), file_name=name, created_at=created, users=tolerant_strings(users),
                       recipes_added=int(r_added), recipes_skipped=int(r_skipped), votes_added=int(v_added),
                       votes_skipped=int(v_skipped), votes_skipped_deleted=int(v_skipped_deleted),
                       deleted_at=deleted_at, votes_live=int(live))


class Batches:
    """The import batches of one database (`db`: a `pantry.storage.backend.Backend`); votes are
    stored through `votes` (a `pantry.storage.votes.Votes`)."""

    def __init__(self, db: Any, votes: Any):
        self.db, self.votes = db, votes

    def import_records(self, recipes: Iterable[Recipe], votes: Iterable[Vote], file_name: str,
                       skip_duplicates: bool = True) -> tuple[ImportBatch, list[bool]]:
        """Store one file's recipes and votes as one import batch, in ONE transaction.

        Recipes are added by id: one already stored with the same content is kept, one stored
        with other content refuses the whole import (RecipeConflict: stored recipes never
        change). With `skip_duplicates`, a vote the store already holds
        (the same vote line imported before, with or without `created_at`; an exported vote
        imported back) is not added again, so importing a file twice adds nothing the
        second time. The stored votes carry the new batch's id. Returns the batch record and,
        per vote in order, whether it was added (False: skipped as a duplicate). When nothing
        was new, no batch is kept: the record's `id` is None.
        """
        recipes, votes = list(recipes), list(votes)
        if not isinstance(file_name, str) or not file_name.strip():
            raise InvalidInput("an import needs a file name")
        users = sorted({check_vote(v).user for v in votes})
        with self.db.write() as conn:
            ids = list(dict.fromkeys(r.id for r in recipes if isinstance(r, Recipe)))
            already = set(recipe_json(conn, ids))
            n_recipes = add_stored_recipes(conn, recipes)  # a changed stored recipe refuses the import
            created = now_iso()
            cur = conn.execute("INSERT INTO import_batches (file_name, created_at, users_json) VALUES (?, ?, ?) "
                               "RETURNING id",
                               (file_name.strip(), created, json.dumps(users, ensure_ascii=False)))
            batch_id = int(cur.fetchone()[0])
            done = self.votes.insert_votes(conn, votes, skip_duplicates=skip_duplicates, batch_id=batch_id)
            conn.execute("UPDATE import_batches SET recipes_added = ?, recipes_skipped = ?, votes_added = ?, "
                         "votes_skipped = ?, votes_skipped_deleted = ? WHERE id = ?",
                         (n_recipes - len(already), len(already), len(done.ids), done.skipped,
                          done.skipped_deleted, batch_id))
            if not done.ids and n_recipes == len(already):  # nothing new: no empty batch to list or undo
                conn.execute("DELETE FROM import_batches WHERE id = ?", (batch_id,))
                batch_id = None
            touch(conn, None)
        batch = ImportBatch(id=batch_id, file_name=file_name.strip(), created_at=created, users=tuple(users),
                            recipes_added=n_recipes - len(already), recipes_skipped=len(already),
                            votes_added=len(done.ids), votes_skipped=done.skipped,
                            votes_skipped_deleted=done.skipped_deleted, votes_live=len(done.ids))
        return batch, done.added

    # --- import batches ----------------------------------------------------------------

    def import_batches(self, include_deleted: bool = True) -> list[ImportBatch]:
        """Every import, newest first (undone ones too unless `include_deleted` is False)."""
        where = "" if include_deleted else " WHERE b.deleted_at IS NULL"
        with self.db.read() as conn:
            rows = conn.execute(f"SELECT {_BATCH_COLUMNS} FROM import_batches b{where} ORDER BY b.id DESC"
                                ).fetchall()
        return [_batch_from_row(r) for r in rows]

    def get_import_batch(self, batch_id: int) -> ImportBatch | None:
        with self.db.read() as conn:
            row = conn.execute(f"SELECT {_BATCH_COLUMNS} FROM import_batches b WHERE b.id = ?",
                               (int(batch_id),)).fetchone()
        return _batch_from_row(row) if row else None

    def delete_batch(self, batch_id: int) -> int:
        """Undo an import: soft-delete all of its votes that are not deleted yet, atomically.

        Returns how many votes were deleted (0 if the batch already was). Its recipes stay
        (other votes may use them). `restore_batch` brings exactly these votes back.
        """
        with self.db.write() as conn:
            row = conn.execute("SELECT deleted_at FROM import_batches WHERE id = ?", (int(batch_id),)).fetchone()
            if row is None:
                raise InvalidInput(f"there is no import batch with id {batch_id}")
            if row[0] is not None:
                return 0
            now = now_iso()
            cur = conn.execute("UPDATE votes SET deleted_at = ? WHERE batch_id = ? AND deleted_at IS NULL",
                               (now, int(batch_id)))
            conn.execute("UPDATE import_batches SET deleted_at = ? WHERE id = ?", (now, int(batch_id)))
            touch(conn, None)
            return int(cur.rowcount)

    def restore_batch(self, batch_id: int) -> int:
        """Undo `delete_batch`: restore the votes it deleted (not ones deleted one by one
        before), atomically. Returns how many votes came back (0 if the batch was active)."""
        with self.db.write() as conn:
            row = conn.execute("SELECT deleted_at FROM import_batches WHERE id = ?", (int(batch_id),)).fetchone()
            if row is None:
                raise InvalidInput(f"there is no import batch with id {batch_id}")
            if row[0] is None:
                return 0
            cur = conn.execute("UPDATE votes SET deleted_at = NULL WHERE batch_id = ? AND deleted_at = ?",
                               (int(batch_id), row[0]))
            conn.execute("UPDATE import_batches SET deleted_at = NULL WHERE id = ?", (int(batch_id),))
            touch(conn, None)
            return int(cur.rowcount)

    def vote_batches(self, vote_ids: Iterable[int] | None = None) -> dict[int, int]:
        """{vote id: import batch id} for imported votes (all, or among `vote_ids`)."""
        with self.db.read() as conn:
            if vote_ids is None:
                return {int(v): int(b) for v, b in conn.execute(
                    "SELECT id, batch_id FROM votes WHERE batch_id IS NOT NULL")}
            out: dict[int, int] = {}
            for chunk in chunks([int(i) for i in dict.fromkeys(vote_ids)]):
                marks = ", ".join("?" * len(chunk))
                out.update({int(v): int(b) for v, b in conn.execute(
                    f"SELECT id, batch_id FROM votes WHERE batch_id IS NOT NULL AND id IN ({marks})", tuple(chunk))})
            return out
