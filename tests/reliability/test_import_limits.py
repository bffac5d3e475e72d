"""Imports at their limits: a 50 MB line, 100,000 lines, BOM + CRLF files, invalid UTF-8 deep
in a file, wrong types and unknown outcomes. Every import is all or nothing (a refused file
writes nothing, and what was stored before stays as it was), every bad line is named by its
number, and memory stays bounded: the file is streamed line by line, so tracemalloc's peak
is about twice the longest line (its bytes, then its text and the parsed value), never a
copy of the whole file on top. (Malformed JSON, missing fields and the size cap on small
files are tests/library/test_jsonl.py's; huge numbers are tests/library/test_schemas.py's.)
"""

from __future__ import annotations

import json
import time
import tracemalloc

import pytest

from pantry.errors import ImportFailed, InvalidInput
from pantry.storage.jsonl import MAX_IMPORT_BYTES, import_jsonl
from pantry.storage.store import Store

N_LINES = 100_000
N_RECIPES = 1_000


def _recipe(i: int) -> dict:
    return {"id": f"r{i}", "title": f"Dish {i}", "ingredients": ["egg", "rice"], "steps": ["Cook."], "minutes": 10}


@pytest.fixture
def store(tmp_path):
    """A store that already holds 3 recipes and 2 votes (they must survive every refusal)."""
    s = Store(tmp_path / "pantry.sqlite3")
    import_jsonl(s, [json.dumps(_recipe(i)) for i in range(3)] +
                 [json.dumps({"user": "old", "a": "r0", "b": "r1", "outcome": "a"}),
                  json.dumps({"user": "old", "a": "r1", "b": "r2", "outcome": "b"})], name="before.jsonl")
    return s


def _snapshot(store: Store) -> tuple:
    return (store.count_recipes(), sorted((v.user, v.a, v.b, v.outcome) for v in store.votes()),
            len(store.import_batches()))


def _traced(fn):
    """(result or exception, peak bytes traced, seconds)."""
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        out = fn()
    except (ImportFailed, InvalidInput) as e:
        out = e
    seconds = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return out, peak, seconds


def test_a_50_mb_line_is_refused_by_line_with_memory_about_twice_the_line(store, tmp_path):
    before = _snapshot(store)
    path = tmp_path / "huge-line.jsonl"
    head = json.dumps(_recipe(7)) + "\n"
    filler = "y" * (50_000_000 - 200)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(head)
        f.write(json.dumps({"title": "ok", "ingredients": ["egg"], "steps": [filler]}) + "\n")
        f.write(json.dumps({"user": "bo", "a": "r0", "b": "r7", "outcome": "a"}) + "\n")
    size = path.stat().st_size
    assert 49_000_000 < size <= MAX_IMPORT_BYTES
    err, peak, seconds = _traced(lambda: import_jsonl(store, path))
    assert isinstance(err, ImportFailed), err
    assert [n for n, _ in err.problems] == [2], err.problems
    assert err.problems[0][1].startswith("field 'steps[0]' is 49999800 characters (limit "), err.problems
    assert len(str(err)) < 2_000, "the message quotes no megabytes of the line"
    assert _snapshot(store) == before
    assert peak < 2.3 * size, f"peak {peak / 1e6:.0f} MB for a {size / 1e6:.0f} MB file"
    print(f"\n50 MB line: refused in {seconds:.2f} s, tracemalloc peak {peak / 1e6:.0f} MB "
          f"({peak / size:.2f}x the file)")


def test_a_file_over_the_cap_is_refused_before_reading_and_while_streaming(store, tmp_path):
    before = _snapshot(store)
    path = tmp_path / "over.jsonl"
    with open(path, "wb") as f:
        f.truncate(MAX_IMPORT_BYTES + 1)
    with pytest.raises(InvalidInput, match="over the import limit"):
        import_jsonl(store, path)
    # a stream counts as it reads (bytes and text sources alike)
    lines = (json.dumps(_recipe(i)) + "\n" for i in range(10_000))
    with pytest.raises(InvalidInput, match="over the import limit"):
        import_jsonl(store, lines, max_bytes=50_000)
    assert _snapshot(store) == before


def _many_lines(bad: dict[int, str] | None = None) -> list[str]:
    """N_LINES lines: N_RECIPES recipes, then votes among them; `bad` replaces lines by number."""
    lines = [json.dumps(_recipe(i)) for i in range(N_RECIPES)]
    for k in range(N_LINES - N_RECIPES):
        lines.append(json.dumps({"user": f"u{k % 7}", "a": f"r{k % N_RECIPES}", "b": f"r{(7 * k + 1) % N_RECIPES}",
                                 "outcome": "ab"[k % 2], "created_at": f"2026-01-{1 + k % 28:02d}T10:00:00+00:00",
                                 "reasons": [f"line {N_RECIPES + k + 1}"]}))
    for n, text in (bad or {}).items():
        lines[n - 1] = text
    return lines


def test_100000_lines_with_two_bad_ones_import_nothing_and_name_both(store, tmp_path):
    before = _snapshot(store)
    path = tmp_path / "many.jsonl"
    path.write_text("\n".join(_many_lines({
        50_001: json.dumps({"user": "bo", "a": "r1", "b": "r2", "outcome": "a", "strength": 3}),
        N_LINES: json.dumps({"user": "bo", "a": "r1", "b": "r2", "outcome": "maybe"}),
    })) + "\n", encoding="utf-8")
    size = path.stat().st_size
    t0 = time.perf_counter()
    with pytest.raises(ImportFailed) as info:
        import_jsonl(store, path)
    seconds = time.perf_counter() - t0
    err = info.value
    assert [n for n, _ in err.problems] == [50_001, N_LINES], err.problems
    assert "field 'strength'" in err.problems[0][1] and "field 'outcome'" in err.problems[1][1]
    assert "line 50001" in str(err) and f"line {N_LINES}" in str(err)
    assert _snapshot(store) == before
    print(f"\n100,000 lines ({size / 1e6:.1f} MB), 2 bad: refused in {seconds:.1f} s")


def test_memory_of_many_lines_is_the_parsed_records_not_copies_of_the_file(store, tmp_path):
    """20,000 lines traced (tracemalloc slows parsing several times over): what stays in memory
    is the parsed records (held for the one all-or-nothing transaction), not the file's text."""
    path = tmp_path / "some.jsonl"
    lines = _many_lines()[:20_000]
    lines[-1] = json.dumps({"user": "bo", "a": "r1", "b": "r2", "outcome": "maybe"})
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    size = path.stat().st_size
    err, peak, seconds = _traced(lambda: import_jsonl(store, path))
    assert isinstance(err, ImportFailed) and [n for n, _ in err.problems] == [20_000]
    per_line = peak / len(lines)
    assert per_line < 4_000, f"{per_line:.0f} bytes per line"
    print(f"\n20,000 lines ({size / 1e6:.1f} MB): peak {peak / 1e6:.0f} MB traced ({peak / size:.1f}x, "
          f"{per_line:.0f} B/line)")


@pytest.mark.slow
def test_100000_good_lines_import_in_one_transaction(store, tmp_path):
    before = _snapshot(store)
    path = tmp_path / "many.jsonl"
    path.write_text("\n".join(_many_lines()) + "\n", encoding="utf-8")
    t0 = time.perf_counter()
    report = import_jsonl(store, path)
    seconds = time.perf_counter() - t0
    assert report.votes == N_LINES - N_RECIPES and report.skipped == 0
    assert store.count_recipes() == before[0] + N_RECIPES - 3  # r0..r2 were there already
    assert len(store.votes()) == len(before[1]) + N_LINES - N_RECIPES
    assert len(store.import_batches()) == before[2] + 1
    print(f"\n100,000 good lines imported in {seconds:.1f} s")


def test_bom_and_crlf_file_imports_and_reports_lines_by_number(store, tmp_path):
    before = _snapshot(store)
    rows = [json.dumps(_recipe(10)), json.dumps(_recipe(11)), "",
            json.dumps({"user": "bo", "a": "r10", "b": "r11", "outcome": "tie"})]
    good = tmp_path / "windows.jsonl"
    good.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(rows).encode() + b"\r\n")
    report = import_jsonl(store, good)
    assert (report.recipes, report.votes) == (2, 1)
    assert [(v.a, v.b, v.outcome) for v in store.votes("bo")] == [("r10", "r11", "tie")]
    bad = tmp_path / "windows-bad.jsonl"
    bad.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(rows + ['{"title": 5, "ingredients": "egg", "steps": []}'])
                    .encode() + b"\r\n")
    with pytest.raises(ImportFailed) as info:
        import_jsonl(store, bad)
    assert [n for n, _ in info.value.problems] == [5]
    assert "field 'title'" in info.value.problems[0][1]
    assert _snapshot(store) == (before[0] + 2, sorted(before[1] + [("bo", "r10", "r11", "tie")]), before[2] + 1)


def test_invalid_utf8_deep_in_a_file_is_named_by_line_and_byte(store, tmp_path):
    before = _snapshot(store)
    good = [json.dumps(_recipe(100 + i)).encode() for i in range(5_000)]
    good[3_210] = b'{"title": "caf\xe9", "ingredients": ["egg"], "steps": ["x"]}'  # Latin-1, not UTF-8
    good[4_999] = b'{"title": "ok", "ingredients": ["\xf0\x9f\x8d"], "steps": ["x"]}'  # truncated emoji
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b"\n".join(good))  # no final newline
    with pytest.raises(ImportFailed) as info:
        import_jsonl(store, path)
    problems = dict(info.value.problems)
    assert sorted(problems) == [3_211, 5_000]
    assert problems[3_211] == "not valid UTF-8 text (byte 15)" and "UTF-8" in problems[5_000]
    assert _snapshot(store) == before


@pytest.mark.parametrize("line, field", [
    ({"title": ["a list"], "ingredients": ["egg"], "steps": ["x"]}, "title"),
    ({"title": "t", "ingredients": "egg, rice", "steps": ["x"]}, "ingredients"),
    ({"title": "t", "ingredients": ["egg"], "steps": ["x"], "minutes": "ten"}, "minutes"),
    ({"title": "t", "ingredients": ["egg"], "steps": ["x"], "servings": True}, "servings"),
    ({"title": "t", "ingredients": [1, 2], "steps": ["x"]}, "ingredients"),
    ({"user": 5, "a": "r0", "b": "r1", "outcome": "a"}, "user"),
    ({"user": "bo", "a": "r0", "b": "r1", "outcome": "A"}, "outcome"),
    ({"user": "bo", "a": "r0", "b": "r1", "outcome": None}, "outcome"),
    ({"user": "bo", "a": "r0", "b": "r1", "outcome": "a", "strength": "very"}, "strength"),
    ({"user": "bo", "a": "r0", "b": "r1", "outcome": "a", "left": "c"}, "left"),
    ({"user": "bo", "a": "r0", "b": "r1", "outcome": "a", "reasons": "tasty"}, "reasons"),
    ({"user": "bo", "a": "r0", "b": "r1", "outcome": "a", "created_at": "yesterday"}, "created_at"),
    ({"user": "bo", "a": ["r0"], "b": "r1", "outcome": "a"}, "a"),
    ({"prompt": "p", "chosen": 1, "rejected": "r"}, "chosen"),
])
def test_a_wrong_type_or_unknown_value_names_line_and_field_and_imports_nothing(store, line, field):
    before = _snapshot(store)
    lines = [json.dumps(_recipe(20)), json.dumps({"user": "bo", "a": "r0", "b": "r20", "outcome": "b"}),
             json.dumps(line)]
    with pytest.raises(ImportFailed) as info:
        import_jsonl(store, "\n".join(lines).encode(), name="typed.jsonl")
    assert [n for n, _ in info.value.problems] == [3], info.value.problems
    msg = info.value.problems[0][1]
    assert (f"'{field}'" in msg or f"'{field}[" in msg) and "\n" not in msg, msg
    assert "Traceback" not in str(info.value) and "typed.jsonl" in str(info.value)
    assert _snapshot(store) == before
