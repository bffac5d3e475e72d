"""JSON Lines import and export: recipes, votes and TRL prompt/chosen/rejected pairs.

Import is all-or-nothing: every line is validated first and every bad line is reported
(`ImportFailed` with `(line_number, message)` pairs); only a fully valid file is written,
in one transaction. What a line may hold is defined once, by the domain's formats
(`RecipeRecord`, `VoteRecord`, `TrlPair`; `line_kind` tells them apart): this module reads
files and reports line numbers, it writes no field rules of its own. A file may also be one
JSON array of such records; a binary file (an image renamed .jsonl) is refused as a whole.
An import that adds nothing (every record already stored) records no import batch.

Exports are lists of JSON lines (or CSV text) that callers write with `write_jsonl` /
`write_text_atomic`, which replace the target file atomically.

Imports: `pantry.base`, `pantry.errors`, `pantry.domain` (and the store, for type hints only).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, TYPE_CHECKING, Any, Iterable

from pantry.base import write_text_atomic
from pantry.errors import ImportFailed, InvalidInput, PantryError
from pantry.domain.fields import kind as kind_of
from pantry.domain.fields import loads_json
from pantry.domain.recipes import Recipe, recipe_from_dict, recipe_to_text
from pantry.domain.votes import Vote, line_kind, pair_from_trl, trl_prompt, vote_from_dict

if TYPE_CHECKING:  # pragma: no cover
    from pantry.storage.store import Store

MAX_IMPORT_BYTES = 50 * 1024 * 1024  # 50 MiB per imported file
TRL_MARGIN_MUCH = 1.0  # exported margin for strength "much"
TRL_MARGIN_OTHER = 0.5  # exported margin for "slightly" or no strength (reads back as "slightly")


@dataclass(frozen=True)
class ImportReport:
    """What an import wrote: recipes (distinct ids written, inline and pair recipes
    included), votes (added from vote lines), pairs (votes added from prompt/chosen/rejected
    lines), and skipped (vote and pair lines the store already held, e.g. the same file
    imported again or an export imported back; they are not added twice).

    Bookkeeping, not compared: batch_id (the import batch that can be undone as a whole),
    recipes_new (recipes that were not stored before), skipped_deleted (skipped lines that
    match deleted votes: restore those to get them back).
    """

    recipes: int
    votes: int
    pairs: int
    skipped: int = 0
    batch_id: int | None = field(default=None, compare=False)
    recipes_new: int = field(default=0, compare=False)
    skipped_deleted: int = field(default=0, compare=False)

    @property
    def total_votes(self) -> int:
        return self.votes + self.pairs

    @property
    def nothing_new(self) -> bool:
        """True when the file added nothing (every vote and recipe in it was already stored):
        then no import batch was recorded (`batch_id` is None)."""
        return self.total_votes == 0 and self.recipes_new == 0

    def summary(self) -> str:
        """One line for people: "2 recipes, 3 votes, 0 prompt/chosen/rejected pairs; 5 duplicate votes skipped"."""
        text = (f"{self.recipes} recipes, {self.votes} votes, {self.pairs} prompt/chosen/rejected pairs; "
                f"{self.skipped} duplicate vote{'' if self.skipped == 1 else 's'} skipped")
        if self.skipped:
            text += " (already stored)"
        if self.skipped_deleted:
            text += (f"; {self.skipped_deleted} of them match deleted votes: restore those (or their import) "
                     "to use them again")
        return text


Source = str | os.PathLike | bytes | Iterable[str]


def _too_big(name: str, size: int, max_bytes: int) -> InvalidInput:
    return InvalidInput(f"{name}: file is {size / 1e6:.1f} MB, over the import limit of "
                        f"{max_bytes / 1e6:.0f} MB; split it into smaller files")


Line = tuple[int, str | None, str | None]  # (line number, text or None, decode problem or None)


def _decode_line(n: int, raw: bytes) -> Line:
    """Line `n` as text, without its line end (and a UTF-8 BOM on line 1); the bytes are
    decoded in place (a memoryview: no copy of a long line)."""
    end = len(raw)
    if end and raw[end - 1] == 0x0A:
        end -= 1
    while end and raw[end - 1] == 0x0D:
        end -= 1
    start = 3 if n == 1 and raw.startswith(b"\xef\xbb\xbf") else 0
    with memoryview(raw) as view:
        try:
            return n, codecs.utf_8_decode(view[start:end], "strict", True)[0], None
        except UnicodeDecodeError as e:
            return n, None, f"not valid UTF-8 text (byte {start + e.start + 1})"


READ_CHUNK = 1 << 20  # bytes read at a time while splitting a file into lines


def _raw_lines(f) -> Iterator[bytes]:
    """The lines of a binary file, each with its b"\\n", read in READ_CHUNK pieces. A long
    line is joined once from its pieces (readline's growing buffer would cost three times
    the line's size at its peak, this costs two)."""
    parts: list[bytes] = []
    while True:
        chunk = f.read(READ_CHUNK)
        if not chunk:
            break
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            if end < 0:
                break
            if parts:
                parts.append(chunk[start:end + 1])
                parts[:] = [b"".join(parts)]
                yield parts.pop()  # this frame keeps no reference to the line
            else:
                yield chunk[start:end + 1]
            start = end + 1
        if start < len(chunk):
            parts.append(chunk[start:] if start else chunk)
        del chunk
    if parts:
        parts[:] = [b"".join(parts)]
        yield parts.pop()


BINARY_SNIFF = 8192  # bytes looked at to tell a text file from a binary one


def _refuse_binary(f, display: str) -> None:
    """InvalidInput when the file starts like a binary file (a NUL byte in its first 8 KiB, as
    in images, archives and office documents; UTF-8, and so JSON text, never holds one). A
    picture renamed .jsonl is one clear message, not hundreds of "bad line" reports."""
    head = f.read(BINARY_SNIFF)
    f.seek(0)
    if b"\x00" in head:
        raise InvalidInput(f"{display}: this is not a text file (it holds binary data, like an image or an "
                           "archive); choose a JSON Lines file (.jsonl) or a JSON array of records")


def _stream_lines(stream, display: str, max_bytes: int) -> Iterator[Line]:
    """Decoded lines of a binary stream, one at a time: the file is never held whole (a
    50 MB line costs the line's bytes and its text once), and `max_bytes` is enforced as it
    is read (a file that grows after its size was checked is still refused)."""
    total = 0
    try:
        with stream as f:
            _refuse_binary(f, display)
            n = 0
            for raw in _raw_lines(f):  # not enumerate(): its reused result tuple would keep `raw` alive
                n += 1
                total += len(raw)
                if total > max_bytes:
                    raise _too_big(display, total, max_bytes)
                line = _decode_line(n, raw)
                del raw  # only the text stays alive while the line is parsed
                yield line
    except OSError as e:
        raise InvalidInput(f"{display}: cannot read ({e.strerror or e})") from None


def _read_lines(source: Source, name: str | None, max_bytes: int) -> tuple[str, Iterable[Line]]:
    """(display name, the lines: [(line number, text or None, decode problem or None)]), read lazily."""
    if isinstance(source, str) and ("\n" in source or source.lstrip().startswith(("{", "["))):
        source = source.encode("utf-8")  # JSONL text given directly, not a path
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        display = name or str(path)
        if not path.is_file():
            raise InvalidInput(f"{display}: " + ("is a directory, not a file" if path.is_dir() else
                                                "not a regular file (a device or a pipe)" if path.exists() else
                                                "no such file"))
        size = path.stat().st_size
        if size > max_bytes:
            raise _too_big(display, size, max_bytes)
        try:
            stream = open(path, "rb")
        except OSError as e:
            raise InvalidInput(f"{display}: cannot read ({e.strerror or e})") from None
        return display, _stream_lines(stream, display, max_bytes)
    display = name or "<upload>"
    if isinstance(source, (bytes, bytearray)):
        if len(source) > max_bytes:
            raise _too_big(display, len(source), max_bytes)
        return display, _stream_lines(io.BytesIO(bytes(source)), display, max_bytes)
    lines: list[Line] = []
    total = 0
    for n, line in enumerate(source, 1):
        if isinstance(line, (bytes, bytearray)):
            total += len(line)
            try:
                line = bytes(line).decode("utf-8")
            except UnicodeDecodeError as e:
                lines.append((n, None, f"not valid UTF-8 text (byte {e.start + 1})"))
                continue
        elif not isinstance(line, str):
            raise InvalidInput(f"{display}: line {n} is {type(line).__name__}, not text")
        else:
            total += len(line.encode("utf-8", "replace"))
        if total > max_bytes:
            raise _too_big(display, total, max_bytes)
        line = line.rstrip("\r\n")
        lines.append((n, line.lstrip("\ufeff") if n == 1 else line, None))
    return display, lines


def _parse_json(text: str) -> Any:
    try:
        return loads_json(text)
    except json.JSONDecodeError as e:
        raise InvalidInput(f"not valid JSON: {e.msg} (column {e.colno})") from None
    except RecursionError:
        raise InvalidInput("not valid JSON: nested too deeply") from None
    except ValueError as e:  # anything else json refuses: one line, never a traceback
        raise InvalidInput(f"not valid JSON: {str(e)[:200]}") from None


def _json_records(lines: Iterable[Line],
                  problems: list[tuple[int, str]]) -> Iterator[tuple[int, Any]]:
    """(line number, decoded JSON) for each non-blank line; undecodable lines go to `problems`.

    A file whose first non-blank character is "[" is one JSON array of records (what many
    tools write as "JSON"): each element is a record, numbered by the line it starts on."""
    lines = iter(lines)
    first = True
    for n, text, decode_problem in lines:
        if decode_problem:
            problems.append((n, decode_problem))
            continue
        if not text.strip():
            continue
        if first and text.lstrip().startswith("["):
            yield from _array_records(n, text, lines, problems)
            return
        first = False
        try:
            yield n, _parse_json(text)
        except PantryError as e:
            problems.append((n, str(e)))


_SPACE = " \t\r\n"


def _array_records(first: int, text: str, rest: Iterable[Line],
                   problems: list[tuple[int, str]]) -> Iterator[tuple[int, Any]]:
    """The elements of a JSON array spread over lines `first`... as (line number, value).

    Each element is checked like a JSONL line (`loads_json`: numbers too large to hold are
    refused by field); a syntax error is reported once, at its line, and ends the reading."""
    parts = [text]
    for n, line, decode_problem in rest:
        if decode_problem:
            problems.append((n, decode_problem))
            return
        parts.append(line)
    doc = "\n".join(parts)
    del parts
    decoder = json.JSONDecoder()
    line, seen = first, 0

    def line_at(pos: int) -> int:
        nonlocal line, seen
        line += doc.count("\n", seen, pos)
        seen = pos
        return line

    pos = doc.index("[") + 1
    expect_value = True
    while True:
        while pos < len(doc) and doc[pos] in _SPACE:
            pos += 1
        if pos >= len(doc):
            problems.append((line_at(len(doc)), "not valid JSON: the array is not closed with ']'"))
            return
        if doc[pos] == "]":
            if doc[pos + 1:].strip(_SPACE):
                problems.append((line_at(pos), "not valid JSON: text after the array's closing ']'"))
            return
        if not expect_value:
            if doc[pos] != ",":
                problems.append((line_at(pos), "not valid JSON: expected ',' or ']' between records"))
                return
            pos += 1
            expect_value = True
            continue
        at = line_at(pos)
        try:
            _, end = decoder.raw_decode(doc, pos)
        except json.JSONDecodeError as e:
            problems.append((line_at(e.pos), f"not valid JSON: {e.msg}"))
            return
        except RecursionError:
            problems.append((at, "not valid JSON: nested too deeply"))
            return
        try:
            yield at, _parse_json(doc[pos:end])
        except PantryError as e:
            problems.append((at, str(e)))
        pos, expect_value = end, False


def _keys(obj: dict) -> str:
    keys = sorted(str(k) for k in obj)
    return ", ".join(keys[:8]) + (", ..." if len(keys) > 8 else "") if keys else "none"


def import_jsonl(store: "Store", source: Source, default_user: str = "me", *, name: str | None = None,
                 max_bytes: int = MAX_IMPORT_BYTES) -> ImportReport:
    """Import a JSONL file of recipes, votes and prompt/chosen/rejected pairs, all or nothing.

    `source` is a path, the file's bytes, JSONL text, or an iterable of lines. Each
    non-blank line is a recipe object (has title/ingredients/steps), a vote object (has
    outcome or a and b; `user` defaults to `default_user`), or a TRL pair (has chosen/
    rejected; see `pantry.domain.votes.pair_from_trl`). A vote may refer to a recipe by id when
    that recipe is in the same file (any line) or already in the store.

    Raises ImportFailed(name, [(line, message), ...]) listing every bad line and writes
    nothing; InvalidInput when the file is missing, empty (blank lines only) or over `max_bytes`. Otherwise writes
    everything in one transaction, recorded as one import batch (`Store.import_batches`,
    undone with `Store.delete_batch`). Importing is idempotent: a vote line the store
    already holds, with or without `created_at`, is skipped and counted in `skipped`.
    """
    display, lines = _read_lines(source, name, max_bytes)
    problems: list[tuple[int, str]] = []
    recipes: dict[str, Recipe] = {}
    votes: list[tuple[int, Vote]] = []
    pairs: list[tuple[int, Vote]] = []
    for n, obj in _json_records(lines, problems):
        try:
            if not isinstance(obj, dict):
                raise InvalidInput("expected a JSON object (a recipe, a vote or a prompt/chosen/rejected pair), "
                                   f"got {kind_of(obj)}")
            kind = line_kind(obj)
            if kind == "pair":
                vote, found = pair_from_trl(obj, default_user=default_user)
                pairs.append((n, vote))
            elif kind == "vote":
                if "user" not in obj:
                    obj = {**obj, "user": default_user}
                vote, found = vote_from_dict(obj)
                votes.append((n, vote))
            elif kind == "recipe":
                found = [recipe_from_dict(obj)]
            else:
                raise InvalidInput("not a recipe, a vote or a prompt/chosen/rejected pair "
                                   f"(keys: {_keys(obj)})")
        except PantryError as e:
            problems.append((n, str(e)))
            continue
        for r in found:
            recipes[r.id] = r

    if not problems and not recipes and not votes and not pairs:
        raise InvalidInput(f"{display}: the file is empty (no recipe, vote or pair lines); nothing was imported")
    referenced = {rid for _, v in votes for rid in (v.a, v.b)} - set(recipes)
    in_store = store.existing_recipe_ids(referenced) if referenced else set()
    for n, v in votes:
        for side in ("a", "b"):
            rid = getattr(v, side)
            if rid not in recipes and rid not in in_store:
                problems.append((n, f"field '{side}' refers to recipe {rid!r}, which is neither in this file "
                                    "nor in the database"))
    if problems:
        problems.sort(key=lambda p: p[0])
        raise ImportFailed(display, problems)

    all_votes = [v for _, v in votes] + [v for _, v in pairs]
    batch, added = store.import_records(recipes.values(), all_votes, file_name=display, skip_duplicates=True)
    return ImportReport(recipes=batch.recipes_added + batch.recipes_skipped, votes=sum(added[:len(votes)]),
                        pairs=sum(added[len(votes):]), skipped=batch.votes_skipped, batch_id=batch.id,
                        recipes_new=batch.recipes_added, skipped_deleted=batch.votes_skipped_deleted)


def read_votes_file(path: str | os.PathLike, max_bytes: int = MAX_IMPORT_BYTES) -> tuple[list[Vote], list[Recipe]]:
    """Votes and any inline recipes from a votes JSONL file, without a store (evaluation).

    Raises ImportFailed listing every bad line by number, InvalidInput when the file is
    missing or too large.
    """
    display, lines = _read_lines(Path(path), None, max_bytes)
    problems: list[tuple[int, str]] = []
    votes: list[Vote] = []
    inline: list[Recipe] = []
    for n, obj in _json_records(lines, problems):
        try:
            vote, recipes = vote_from_dict(obj)
        except PantryError as e:
            problems.append((n, str(e)))
            continue
        votes.append(vote)
        inline.extend(recipes)
    if problems:
        raise ImportFailed(display, problems)
    return votes, inline


def read_recipes_file(path: str | os.PathLike, max_bytes: int = MAX_IMPORT_BYTES) -> list[Recipe]:
    """Read a recipes JSONL file (one recipe object per non-blank line), in file order.

    Raises ImportFailed listing every bad line by number, InvalidInput when the file is
    missing or too large. Recipes with the same id appear once (the last one wins,
    at the position of the first).
    """
    display, lines = _read_lines(Path(path), None, max_bytes)
    problems: list[tuple[int, str]] = []
    out: dict[str, Recipe] = {}
    for n, obj in _json_records(lines, problems):
        try:
            recipe = recipe_from_dict(obj)
        except PantryError as e:
            problems.append((n, str(e)))
            continue
        out[recipe.id] = recipe
    if problems:
        raise ImportFailed(display, problems)
    return list(out.values())


# --- export ------------------------------------------------------------------------------

def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def export_votes(store: "Store", user: str | None = None, include_deleted: bool = False) -> list[str]:
    """Votes as JSON lines with `a`/`b` as inline recipe objects (self-contained; re-importable)."""
    votes = store.votes(user=user, include_deleted=include_deleted)
    recipes = store.get_recipes({rid for v in votes for rid in (v.a, v.b)})
    lines = []
    for v in votes:
        d = v.to_dict()
        for side in ("a", "b"):
            r = recipes.get(d[side])
            if r is not None:
                d[side] = r.to_dict()
        lines.append(_dumps(d))
    return lines


def export_trl(store: "Store", user: str | None = None) -> list[str]:
    """Decisive votes as TRL preference rows `{"prompt", "chosen", "rejected", "user", "margin"}`.

    prompt: "Suggest a recipe using: <the vote's pantry>" ("Suggest a recipe." without one);
    chosen/rejected: `recipe_to_text` of the winner/loser; margin: 1.0 for strength "much",
    0.5 otherwise (so a vote without strength reads back as "slightly"). Ties and
    both_bad votes are left out: they carry no chosen/rejected order.
    """
    votes = [v for v in store.votes(user=user) if v.decisive]
    recipes = store.get_recipes({rid for v in votes for rid in (v.a, v.b)})
    lines = []
    for v in votes:
        chosen, rejected = recipes.get(v.winner), recipes.get(v.loser)
        if chosen is None or rejected is None:
            continue
        lines.append(_dumps({
            "prompt": trl_prompt(v.pantry),
            "chosen": recipe_to_text(chosen),
            "rejected": recipe_to_text(rejected),
            "user": v.user,
            "margin": TRL_MARGIN_MUCH if v.strength == "much" else TRL_MARGIN_OTHER,
        }))
    return lines


CSV_COLUMNS = ("id", "user", "created_at", "outcome", "strength", "left", "a", "a_title", "b", "b_title",
               "reasons", "pantry", "model_version", "generator", "generator_reason")


def export_csv(store: "Store", user: str | None = None) -> str:
    """Non-deleted votes as CSV text (one row per vote, recipe titles included;
    reasons and pantry joined with "; ")."""
    votes = store.votes(user=user)
    recipes = store.get_recipes({rid for v in votes for rid in (v.a, v.b)})
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for v in votes:
        a, b = recipes.get(v.a), recipes.get(v.b)
        writer.writerow([v.id, v.user, v.created_at, v.outcome, v.strength or "", v.left or "",
                         v.a, a.title if a else "", v.b, b.title if b else "",
                         "; ".join(v.reasons), "; ".join(v.pantry), v.model_version or "", v.generator or "",
                         v.generator_reason or ""])
    return buf.getvalue()


def write_jsonl(path: str | os.PathLike, lines: Iterable[str]) -> Path:
    """Write JSON lines (one per line, newline-terminated) to `path` atomically."""
    text = "".join(line.rstrip("\n") + "\n" for line in lines)
    return write_text_atomic(path, text)
