"""Votes: casting (once-only per request key), soft delete and undo, and the queries pages and
training read (by profile, paged, judged pairs, counts), all counted by the database.

Why request keys: a vote may carry a spent pair token or an idempotency key, UNIQUE in the
votes table and checked in the vote's transaction, so it stores at most one vote
(`RepeatedRequest`) on any number of servers, whatever their clocks. Every row has a content
key (`vote_content_key`) so imports can skip the votes already held (`insert_votes`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Iterable, Sequence

from pantry.base import redact
from pantry.domain.recipes import Recipe
from pantry.domain.votes import (OUTCOMES, Vote, check_vote, normalize_timestamp, now_iso, validate_user_name,
                                 vote_content_key)
from pantry.errors import InvalidInput
from pantry.storage.changes import touch
from pantry.storage.errors import RepeatedRequest, UnknownRecipe
from pantry.storage.recipes import add_stored_recipes, existing_ids
from pantry.storage.rows import chunks, tolerant_strings
from pantry.storage.users import ensure_stored_user

_VOTE_COLUMNS = ("id, user_name, a, b, outcome, strength, left_side, reasons_json, pantry_json, "
                 "created_at, model_version, generator, generator_reason, deleted_at, repeat_of, group_id")


@dataclass
class _Inserted:
    """What `Votes.insert_votes` did: new row ids, and per input vote whether it was stored."""

    ids: list[int]
    added: list[bool]
    skipped: int = 0
    skipped_deleted: int = 0


def _vote_from_row(row: Sequence[Any]) -> Vote:
    (vid, user, a, b, outcome, strength, left, reasons, pantry, created, model_version,
     generator, generator_reason, deleted_at, repeat_of, group_id) = row
    return Vote(user=user, a=a, b=b, outcome=outcome, strength=strength, left=left,
                reasons=tolerant_strings(reasons), pantry=tolerant_strings(pantry),
                created_at=created, model_version=model_version, generator=generator,
                generator_reason=generator_reason, id=int(vid), deleted=deleted_at is not None,
                repeat_of=None if repeat_of is None else int(repeat_of), group_id=group_id)


class Votes:
    """The votes of one database (`db`: a `pantry.storage.backend.Backend`)."""

    def __init__(self, db: Any):
        self.db = db

    @staticmethod
    def _stored_copies_bulk(conn: Any, votes: Sequence[Vote]) -> dict[str, list[int]]:
        """{content key: [active, deleted]} stored votes that each checked vote is a copy of.

        A stored vote is a copy when it has the same content key (the same line imported
        before, or the same vote with its time), or, for a vote with a time, when it is that
        vote imported earlier without a time and stored under exactly this time (re-importing
        an export of an imported file). A few chunked queries for all the votes, not one or
        two per vote (what a 100,000-vote import needs).
        """
        keys = {vote_content_key(v): v for v in votes}
        bare: dict[str, str] = {}  # key with time -> key without time, for votes with a time
        for key, v in keys.items():
            if v.created_at is not None:
                bare[key] = vote_content_key(v, with_time=False)
        wanted = sorted(set(keys) | set(bare.values()))
        by_key: dict[str, list[int]] = {}  # key -> [total, active]
        by_key_time: dict[tuple[str, str], list[int]] = {}
        for chunk in chunks(wanted):
            marks = ", ".join("?" * len(chunk))
            for ck, created, live in conn.execute(
                    "SELECT content_key, created_at, CASE WHEN deleted_at IS NULL THEN 1 ELSE 0 END FROM votes "
                    f"WHERE content_key IN ({marks})", tuple(chunk)):
                for counts in (by_key.setdefault(ck, [0, 0]), by_key_time.setdefault((ck, created), [0, 0])):
                    counts[0] += 1
                    counts[1] += int(live)
        out: dict[str, list[int]] = {}
        for key, v in keys.items():
            total, active = by_key.get(key, (0, 0))
            if key in bare:
                more, more_active = by_key_time.get((bare[key], v.created_at), (0, 0))
                total, active = total + more, active + more_active
            out[key] = [active, total - active]
        return out

    def insert_votes(self, conn: Any, votes: Sequence[Vote], skip_duplicates: bool = False,
                      batch_id: int | None = None, request: tuple[str, str] | None = None) -> _Inserted:
        """Insert checked votes inside `conn`'s transaction (`request`: the request key and
        digest, stored on the first vote).

        With `skip_duplicates` (imports), a vote that is a copy of a stored vote (see
        `_stored_copies_bulk`) is not stored again. Copies are counted, not just looked up: a file
        that holds the same vote twice stores it twice the first time and nothing the
        second time. Votes cast in the app (no `skip_duplicates`) may repeat a pair freely.
        Votes without `created_at` get the current time; an imported one keeps the key of
        its line (without a time), an app vote is keyed with the time it gets.
        """
        checked = [check_vote(v) for v in votes]
        needed = {rid for v in checked for rid in (v.a, v.b)}
        missing = sorted(needed - existing_ids(conn, needed))
        if missing:
            shown = ", ".join(repr(m) for m in missing[:5]) + (f" (+{len(missing) - 5} more)" if len(missing) > 5 else "")
            raise UnknownRecipe(f"vote refers to recipe(s) not in the database: {shown}; add the recipes first",
                                tuple(missing))
        self._check_repeats(conn, checked)
        out = _Inserted(ids=[], added=[])
        rows: list[tuple[Any, ...]] = []
        now = now_iso()
        stored_as = {user: ensure_stored_user(conn, user) for user in sorted({v.user for v in checked})}
        checked = [v if stored_as[v.user] == v.user else replace(v, user=stored_as[v.user]) for v in checked]
        # content key -> [active, deleted] stored copies not yet matched
        copies_left = self._stored_copies_bulk(conn, checked) if skip_duplicates else {}
        for i, v in enumerate(checked):
            if skip_duplicates:
                key = vote_content_key(v)
                left = copies_left[key]
                if left[0] or left[1]:
                    kind = 0 if left[0] else 1
                    left[kind] -= 1
                    out.skipped += 1
                    out.skipped_deleted += kind
                    out.added.append(False)
                    continue
            else:
                key = vote_content_key(replace(v, created_at=v.created_at or now))
            rows.append((v.user, v.a, v.b, v.outcome, v.strength, v.left,
                         json.dumps(list(v.reasons), ensure_ascii=False),
                         json.dumps(list(v.pantry), ensure_ascii=False),
                         v.created_at or now, redact(v.model_version), redact(v.generator),
                         redact(v.generator_reason), None, key, batch_id,
                         *(request if request is not None and i == 0 else (None, None)),
                         v.repeat_of, v.group_id))
            out.added.append(True)
        insert = ("INSERT INTO votes (user_name, a, b, outcome, strength, left_side, reasons_json, pantry_json, "
                  "created_at, model_version, generator, generator_reason, deleted_at, content_key, batch_id, "
                  "request_key, request_digest, repeat_of, group_id) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        if len(rows) == 1:  # one vote cast in the app: one round trip
            out.ids = [int(conn.execute(insert + " RETURNING id", rows[0]).fetchone()[0])]
        elif rows:
            conn.executemany(insert, rows)
            self.db.after_bulk_write(conn, "votes", len(rows))
            # This transaction holds the write lock, so the newest ids are exactly these rows'
            # (ids only grow), in insertion order: one query instead of one per row.
            newest = conn.execute("SELECT id FROM votes ORDER BY id DESC LIMIT ?", (len(rows),)).fetchall()
            out.ids = [int(r[0]) for r in reversed(newest)]
        touch(conn, *{v.user for v in checked})
        return out

    @staticmethod
    def _check_repeats(conn: Any, votes: Sequence[Vote]) -> None:
        """A vote's `repeat_of` must name a stored vote by the same profile on the same pair."""
        wanted = {v.repeat_of for v in votes if v.repeat_of is not None}
        for v in votes:
            if v.repeat_of is not None and (isinstance(v.repeat_of, bool) or not isinstance(v.repeat_of, int)
                                            or v.repeat_of <= 0):
                raise InvalidInput(f"field 'repeat_of' must be a stored vote id, got {v.repeat_of!r}")
        found: dict[int, tuple[str, frozenset[str]]] = {}
        for chunk in chunks(sorted(wanted)):
            marks = ", ".join("?" * len(chunk))
            for vid, user, a, b in conn.execute(f"SELECT id, user_name, a, b FROM votes WHERE id IN ({marks})",
                                                tuple(chunk)):
                found[int(vid)] = (user, frozenset((a, b)))
        for v in votes:
            if v.repeat_of is not None and found.get(v.repeat_of) != (v.user, frozenset((v.a, v.b))):
                raise InvalidInput(f"field 'repeat_of': vote {v.repeat_of} is not a vote by {v.user!r} "
                                   "on the same two recipes")

    def add_vote(self, vote: Vote, request_key: str | None = None, request_digest: str | None = None,
                 recipes: Sequence[Recipe] = ()) -> int:
        """Save one vote (created_at defaults to now, UTC); return its id.

        Raises UnknownRecipe if `a` or `b` is not in the store, InvalidInput for a bad vote.
        A vote cast in the app is always stored, even when it repeats an earlier one.

        `request_key` (a spent pair token, an idempotency key) makes the vote once-only: when a
        vote with that key is stored already, nothing is saved and RepeatedRequest names it,
        saying whether it came from the same request (`request_digest` equal). The check and
        the insert are one transaction under the write lock, and the key is UNIQUE in the
        database, so concurrent servers cannot both store one. `recipes` (inline recipes of
        the vote) are stored in the same transaction (RecipeConflict for a changed one), so a
        refused vote stores nothing, its profile included.
        """
        with self.db.write() as conn:
            request = self._unspent(conn, request_key, request_digest)
            if recipes:
                add_stored_recipes(conn, recipes)
            return self.insert_votes(conn, [vote], request=request).ids[0]

    @staticmethod
    def _unspent(conn: Any, request_key: str | None, request_digest: str | None) -> tuple[str, str] | None:
        """(key, digest) to store with a vote, or None without a key; RepeatedRequest when a
        stored vote holds the key already (inside the writing transaction)."""
        if request_key is None:
            return None
        row = conn.execute("SELECT id, request_digest, group_id FROM votes WHERE request_key = ?",
                           (request_key,)).fetchone()
        if row is None:
            return request_key, request_digest
        first, same, group = int(row[0]), request_digest is not None and row[1] == request_digest, row[2]
        stored = (conn.execute("SELECT id, deleted_at FROM votes WHERE group_id = ? ORDER BY id", (group,)).fetchall()
                  if group else conn.execute("SELECT id, deleted_at FROM votes WHERE id = ?", (first,)).fetchall())
        raise RepeatedRequest(f"vote {first} was already stored for this request", first, same,
                              tuple(int(r[0]) for r in stored), any(r[1] is not None for r in stored))

    def add_votes(self, votes: Iterable[Vote], request_key: str | None = None,
                  request_digest: str | None = None, recipes: Sequence[Recipe] = ()) -> list[int]:
        """Save several votes in one transaction (all or none); return their ids in order.
        `request_key` makes the group once-only and `recipes` are stored with it, as for
        `add_vote` (the key kept on the first vote)."""
        votes = list(votes)
        with self.db.write() as conn:
            request = self._unspent(conn, request_key, request_digest)
            if recipes:
                add_stored_recipes(conn, recipes)
            return self.insert_votes(conn, votes, request=request).ids

    def get_vote(self, vote_id: int) -> Vote | None:
        with self.db.read() as conn:
            row = conn.execute(f"SELECT {_VOTE_COLUMNS} FROM votes WHERE id = ?", (int(vote_id),)).fetchone()
        return _vote_from_row(row) if row else None

    def _set_deleted(self, vote_id: int, deleted: bool) -> bool:
        with self.db.write() as conn:
            row = conn.execute("SELECT deleted_at, user_name FROM votes WHERE id = ?", (int(vote_id),)).fetchone()
            if row is None:
                raise InvalidInput(f"there is no vote with id {vote_id}")
            if (row[0] is not None) == deleted:
                return False
            conn.execute("UPDATE votes SET deleted_at = ? WHERE id = ?", (now_iso() if deleted else None, int(vote_id)))
            touch(conn, row[1])
            return True

    def delete_vote(self, vote_id: int) -> bool:
        """Soft-delete a vote (it is kept, marked deleted); False if it already was."""
        return self._set_deleted(vote_id, True)

    def restore_vote(self, vote_id: int) -> bool:
        """Undo a soft delete; False if the vote was not deleted."""
        return self._set_deleted(vote_id, False)

    def undo_last_vote(self, user: str) -> Vote | None:
        """Soft-delete the user's newest non-deleted vote and return it (None if there is none)."""
        user = validate_user_name(user)
        with self.db.write() as conn:
            row = conn.execute(f"SELECT {_VOTE_COLUMNS} FROM votes WHERE user_name = ? AND deleted_at IS NULL "
                               "ORDER BY id DESC LIMIT 1", (user,)).fetchone()
            if row is None:
                return None
            conn.execute("UPDATE votes SET deleted_at = ? WHERE id = ?", (now_iso(), row[0]))
            touch(conn, user)
        return replace(_vote_from_row(row), deleted=True)

    def _vote_filter(self, user: str | None, include_deleted: bool, since: str | datetime | None,
                     batch: int | None = None) -> tuple[str, list[Any]]:
        clauses, params = [], []
        if batch is not None:
            clauses.append("batch_id = ?")
            params.append(int(batch))
        if user is not None:
            clauses.append("user_name = ?")
            params.append(validate_user_name(user))
        if not include_deleted:
            clauses.append("deleted_at IS NULL")
        if since is not None:
            clauses.append("created_at >= ?")
            params.append(normalize_timestamp(since, "since"))
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    def votes(self, user: str | None = None, include_deleted: bool = False,
              since: str | datetime | None = None, batch: int | None = None) -> list[Vote]:
        """Votes ordered by id (oldest first); user None means every user; `batch`: only the
        votes stored by that import batch."""
        where, params = self._vote_filter(user, include_deleted, since, batch)
        with self.db.read() as conn:
            rows = conn.execute(f"SELECT {_VOTE_COLUMNS} FROM votes{where} ORDER BY id", params).fetchall()
        return [_vote_from_row(r) for r in rows]

    def votes_page(self, user: str | None = None, include_deleted: bool = False,
                   since: str | datetime | None = None, limit: int = 50, offset: int = 0) -> tuple[int, list[Vote]]:
        """(how many votes match, the `limit` of them from `offset`, oldest first): counted and
        paged by the database, so a page costs the same at 50 or 500,000 stored votes."""
        where, params = self._vote_filter(user, include_deleted, since)
        limit, offset = max(0, min(int(limit), 10_000)), max(0, min(int(offset), 2**62))
        with self.db.read() as conn:
            total = int(conn.execute(f"SELECT COUNT(*) FROM votes{where}", params).fetchone()[0])
            rows = conn.execute(f"SELECT {_VOTE_COLUMNS} FROM votes{where} ORDER BY id LIMIT ? OFFSET ?",
                                (*params, limit, offset)).fetchall() if limit and offset < total else []
        return total, [_vote_from_row(r) for r in rows]

    def judged_pairs(self, user: str, ids: Iterable[str]) -> set[frozenset[str]]:
        """The pairs among recipe `ids` that `user` has a (non-deleted) vote on, as frozensets.

        One indexed query (`votes_by_user_pair`) over the candidates only: its cost does not grow
        with the profile's votes (POST /pairs asks it for every round)."""
        user = validate_user_name(user)
        ids = sorted(set(ids))
        if len(ids) < 2:
            return set()
        out: set[frozenset[str]] = set()
        with self.db.read() as conn:
            for chunk in chunks(ids, 200):
                marks = ", ".join("?" * len(chunk))
                out.update(frozenset((a, b)) for a, b in conn.execute(
                    f"SELECT a, b FROM votes WHERE user_name = ? AND a IN ({marks}) AND b IN ({marks}) "
                    "AND deleted_at IS NULL", (user, *chunk, *chunk)))
            if len(ids) > 200:  # pairs across chunks: rare (at most 20 candidates a round)
                marks = ", ".join("?" * len(ids))
                out.update(frozenset((a, b)) for a, b in conn.execute(
                    f"SELECT a, b FROM votes WHERE user_name = ? AND a IN ({marks}) AND b IN ({marks}) "
                    "AND deleted_at IS NULL", (user, *ids, *ids)))
        return out

    def vote_counts(self, user: str | None = None) -> dict[str, int]:
        """Non-deleted votes per outcome: {"a": n, "b": n, "tie": n, "both_bad": n}."""
        where, params = self._vote_filter(user, False, None)
        with self.db.read() as conn:
            rows = conn.execute(f"SELECT outcome, COUNT(*) FROM votes{where} GROUP BY outcome", params).fetchall()
        counts = {o: 0 for o in OUTCOMES}
        counts.update({o: int(n) for o, n in rows})
        return counts

    def vote_tallies(self, user: str | None = None) -> list[tuple[str, str, bool, int]]:
        """(profile, outcome, deleted, count) for every combination present, counted by the
        database (no vote is read into Python: pages that summarise 100,000 votes stay fast);
        profiles in the order of their first vote."""
        where, params = self._vote_filter(user, True, None)
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT user_name, outcome, deleted_at IS NOT NULL, COUNT(*), MIN(id) FROM votes"
                f"{where} GROUP BY user_name, outcome, deleted_at IS NOT NULL", params).fetchall()
        first: dict[str, int] = {}
        for name, _o, _d, _n, low in rows:
            first[name] = min(first.get(name, low), low)
        rows.sort(key=lambda r: (first[r[0]], r[0], r[1], bool(r[2])))
        return [(str(name), str(outcome), bool(deleted), int(n)) for name, outcome, deleted, n, _ in rows]
