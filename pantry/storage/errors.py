"""The storage errors: what a caller of `Store` may catch, in one place for every storage module.

`StoreError` is the database itself failing (not a database, newer schema, locked, disk full,
server gone); the `InvalidInput` ones are a caller's data the store refuses to save.
"""

from __future__ import annotations

from pantry.errors import InvalidInput, PantryError


class StoreError(PantryError):
    """The database file cannot be used (not a database, newer schema, locked, disk full...)."""


class _ReadOnlyDatabase(StoreError):
    """SQLite refused to write while opening (the file turned out to be read-only)."""


class UnknownRecipe(InvalidInput):
    """A vote refers to a recipe id that is not in the store (`missing`: those ids)."""

    def __init__(self, message: str, missing: tuple[str, ...] = ()):
        super().__init__(message)
        self.missing = tuple(missing)


class RecipeConflict(InvalidInput):
    """A recipe whose id is already stored with other content: stored recipes never change
    (other votes, training and the app depend on what an id means)."""


class RepeatedRequest(PantryError):
    """A vote whose request key (pair token, idempotency key) already stored a vote.

    `vote_id`: that vote; `same`: whether it was stored from the same request body (a retry,
    answered with the first answer) or from another (a second vote on one token: refused);
    `ids`: every vote the request stored (a household group: one per member); `undone`:
    whether any of them was deleted since (a retry must not be answered "stored")."""

    def __init__(self, message: str, vote_id: int, same: bool, ids: tuple[int, ...] = (), undone: bool = False):
        super().__init__(message)
        self.vote_id, self.same, self.ids, self.undone = vote_id, same, ids or (vote_id,), undone
