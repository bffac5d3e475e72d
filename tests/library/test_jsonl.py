"""JSONL import/export: all-or-nothing import, every bad line reported, round trips."""

from __future__ import annotations

import csv
import io
import json

import pytest

from pantry.errors import ImportFailed, InvalidInput
from pantry.storage.jsonl import (ImportReport, export_csv, export_trl, export_votes, import_jsonl, read_recipes_file,
                          write_jsonl)
from pantry.domain.recipes import recipe_from_dict, recipe_to_text
from pantry.storage.store import Store
from pantry.domain.votes import Vote


def make_recipe(i: int):
    return recipe_from_dict({"title": f"Dish {i}", "ingredients": [f"{i} eggs", "rice"],
                             "steps": ["Cook.", f"Serve {i}."], "minutes": 10 + i, "cuisine": "Thai"})


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "db" / "pantry.sqlite3")


def write_lines(path, objs):
    path.write_text("\n".join(o if isinstance(o, str) else json.dumps(o) for o in objs) + "\n", encoding="utf-8")
    return path


def test_import_mixed_file(store, tmp_path):
    r1, r2, r3 = make_recipe(1), make_recipe(2), make_recipe(3)
    store.add_recipes([r3])
    path = write_lines(tmp_path / "in.jsonl", [
        {"user": "bo", "a": r1.id, "b": r2.id, "outcome": "a"},  # refers to recipes defined later
        r1.to_dict(),
        "",
        {k: v for k, v in r2.to_dict().items() if k != "id"},  # id becomes the content hash
        {"a": r2.id, "b": r3.id, "outcome": "tie"},  # r3 only in the store; user defaults
        {"user": "bo", "a": make_recipe(4).to_dict(), "b": r1.id, "outcome": "b", "strength": "much"},
        {"prompt": "Suggest a recipe using: eggs", "chosen": recipe_to_text(make_recipe(5)),
         "rejected": recipe_to_text(r1), "margin": 2},
    ])
    report = import_jsonl(store, path, default_user="me")
    assert report == ImportReport(recipes=4, votes=3, pairs=1)
    assert store.count_recipes() == 5
    votes = store.votes()
    assert [(v.user, v.outcome) for v in votes] == [("bo", "a"), ("me", "tie"), ("bo", "b"), ("me", "a")]
    assert votes[3].a == make_recipe(5).id and votes[3].strength == "much" and votes[3].pantry == ("eggs",)


def test_malformed_file_reports_every_bad_line_and_imports_nothing(store, tmp_path):
    r1, r2 = make_recipe(1), make_recipe(2)
    path = write_lines(tmp_path / "bad.jsonl", [
        r1.to_dict(),
        r2.to_dict(),
        '{"title": "Broken", "ingredients": ["x"',
        {"user": "bo", "a": r1.id, "b": r2.id, "outcome": "a"},
        {"ingredients": ["salt"], "steps": ["Add salt."]},
    ])
    with pytest.raises(ImportFailed) as info:
        import_jsonl(store, path)
    err = info.value
    assert [n for n, _ in err.problems] == [3, 5]
    assert "not valid JSON" in err.problems[0][1] and "column" in err.problems[0][1]
    assert "field 'title' is missing" in err.problems[1][1]
    assert str(path) in str(err) and "line 3" in str(err) and "line 5" in str(err)
    assert store.count_recipes() == 0 and store.votes() == [] and store.list_users() == []


def test_all_kinds_of_bad_lines(store, tmp_path):
    r1 = make_recipe(1)
    lines = [
        r1.to_dict(),
        "[1, 2]",
        {"colour": "red"},
        {"user": "bo", "a": r1.id, "b": "r-unknown", "outcome": "a"},
        {"user": "bo", "a": r1.id, "b": make_recipe(2).to_dict(), "outcome": "perhaps"},
        {"prompt": "p", "chosen": "Only a title"},
    ]
    with pytest.raises(ImportFailed) as info:
        import_jsonl(store, [json.dumps(x) if not isinstance(x, str) else x for x in lines], name="upload.jsonl")
    problems = dict(info.value.problems)
    assert sorted(problems) == [2, 3, 4, 5, 6]
    assert "JSON object" in problems[2]
    assert "keys: colour" in problems[3]
    assert "field 'b'" in problems[4] and "r-unknown" in problems[4]
    assert "field 'outcome' must be one of a, b, tie, both_bad" in problems[5]
    assert "field 'rejected'" in problems[6]
    assert info.value.path == "upload.jsonl"
    assert store.count_recipes() == 0


def test_bad_utf8_and_bytes_input(store):
    data = json.dumps(make_recipe(1).to_dict()).encode() + b"\n\xff\xfe{}\n"
    with pytest.raises(ImportFailed) as info:
        import_jsonl(store, data)
    assert [n for n, _ in info.value.problems] == [2] and "UTF-8" in info.value.problems[0][1]
    report = import_jsonl(store, b"\xef\xbb\xbf" + json.dumps(make_recipe(1).to_dict()).encode() + b"\r\n")
    assert report.recipes == 1


def test_size_limit_and_missing_file(store, tmp_path):
    path = write_lines(tmp_path / "big.jsonl", [make_recipe(i).to_dict() for i in range(50)])
    with pytest.raises(InvalidInput, match="over the import limit"):
        import_jsonl(store, path, max_bytes=1000)
    with pytest.raises(InvalidInput, match="no such file"):
        import_jsonl(store, tmp_path / "nope.jsonl")
    with pytest.raises(InvalidInput, match="is a directory, not a file"):
        import_jsonl(store, tmp_path)
    with pytest.raises(InvalidInput, match="not a regular file"):
        import_jsonl(store, "/dev/null")
    assert store.count_recipes() == 0


def test_an_empty_file_is_refused_as_empty_not_as_already_stored(store, tmp_path):
    """A file of no records says so (it used to read "nothing new: all its records already
    stored") and records no import batch."""
    for text in ("", "\n\n   \n"):
        (tmp_path / "empty.jsonl").write_text(text)
        with pytest.raises(InvalidInput, match="the file is empty"):
            import_jsonl(store, tmp_path / "empty.jsonl")
    assert store.import_batches() == [] and store.count_recipes() == 0


def test_votes_export_round_trip(store, tmp_path):
    rs = [make_recipe(i) for i in range(4)]
    store.add_recipes(rs)
    store.add_votes([
        Vote(user="bo", a=rs[0].id, b=rs[1].id, outcome="a", strength="much", left="b", reasons=("quick",),
             pantry=("eggs",), model_version="2", generator="offline"),
        Vote(user="ana", a=rs[2].id, b=rs[3].id, outcome="both_bad"),
    ])
    deleted = store.add_vote(Vote(user="bo", a=rs[1].id, b=rs[2].id, outcome="tie"))
    store.delete_vote(deleted)
    lines = export_votes(store)
    assert len(lines) == 2 and isinstance(json.loads(lines[0])["a"], dict)
    out = write_jsonl(tmp_path / "exports" / "votes.jsonl", lines)
    assert out.read_text(encoding="utf-8").count("\n") == 2

    fresh = Store(tmp_path / "fresh.sqlite3")
    report = import_jsonl(fresh, out)
    assert (report.recipes, report.votes) == (4, 2)
    strip = lambda vs: [(v.user, v.a, v.b, v.outcome, v.strength, v.left, v.reasons, v.pantry, v.created_at,
                         v.model_version, v.generator) for v in vs]
    assert strip(fresh.votes()) == strip(store.votes())
    assert {r.id: r for r in fresh.all_recipes()} == {r.id: r for r in store.all_recipes()}
    # re-importing the same export adds nothing
    again = import_jsonl(fresh, out)
    assert (again.votes, again.skipped) == (0, 2) and len(fresh.votes()) == 2
    assert len(export_votes(store, user="bo")) == 1 and len(export_votes(store, include_deleted=True)) == 3


def test_trl_export_import_round_trip(store, tmp_path):
    rs = [make_recipe(i) for i in range(4)]
    store.add_recipes(rs)
    store.add_votes([
        Vote(user="bo", a=rs[0].id, b=rs[1].id, outcome="b", strength="much", pantry=("eggs", "rice")),
        Vote(user="bo", a=rs[2].id, b=rs[3].id, outcome="a", strength="slightly"),
        Vote(user="bo", a=rs[0].id, b=rs[3].id, outcome="tie"),
    ])
    lines = export_trl(store)
    rows = [json.loads(x) for x in lines]
    assert len(rows) == 2  # decisive only
    assert rows[0]["prompt"] == "Suggest a recipe using: eggs, rice"
    assert rows[0]["chosen"] == recipe_to_text(rs[1]) and rows[0]["rejected"] == recipe_to_text(rs[0])
    assert [r["margin"] for r in rows] == [1.0, 0.5] and rows[0]["user"] == "bo"
    assert rows[1]["prompt"] == "Suggest a recipe."

    fresh = Store(tmp_path / "fresh.sqlite3")
    report = import_jsonl(fresh, write_jsonl(tmp_path / "trl.jsonl", lines))
    assert (report.pairs, report.votes, report.recipes) == (2, 0, 4)
    got = [(v.user, v.winner, v.loser, v.strength, v.pantry) for v in fresh.votes()]
    want = [(v.user, v.winner, v.loser, v.strength, v.pantry) for v in store.votes() if v.decisive]
    assert got == want
    assert {r.id: r for r in fresh.all_recipes()} == {r.id: r for r in rs}


def test_csv_export(store):
    rs = [make_recipe(i) for i in range(2)]
    store.add_recipes(rs)
    store.add_vote(Vote(user="bo", a=rs[0].id, b=rs[1].id, outcome="a", reasons=("quick", "cheap, tasty")))
    rows = list(csv.DictReader(io.StringIO(export_csv(store))))
    assert len(rows) == 1
    assert rows[0]["a_title"] == "Dish 0" and rows[0]["reasons"] == "quick; cheap, tasty"
    assert export_csv(store, user="nobody").strip().count("\n") == 0


def test_read_recipes_file(tmp_path):
    good = write_lines(tmp_path / "r.jsonl", [make_recipe(1).to_dict(), "", make_recipe(2).to_dict()])
    assert [r.title for r in read_recipes_file(good)] == ["Dish 1", "Dish 2"]
    bad = write_lines(tmp_path / "bad.jsonl", [make_recipe(1).to_dict(), "{nope", {"title": "x", "ingredients": 3}])
    with pytest.raises(ImportFailed) as info:
        read_recipes_file(bad)
    assert [n for n, _ in info.value.problems] == [2, 3]
    assert "field 'ingredients'" in info.value.problems[1][1]


def test_write_jsonl_is_atomic_replace(tmp_path):
    target = tmp_path / "out.jsonl"
    target.write_text("old\n")
    write_jsonl(target, ['{"x": 1}', '{"x": 2}\n'])
    assert target.read_text() == '{"x": 1}\n{"x": 2}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]  # no temp file left behind


def test_read_votes_file_reports_every_bad_line(tmp_path):
    import pytest
    from pantry.errors import ImportFailed
    from pantry.storage.jsonl import read_votes_file
    good = {"user": "u", "a": {"id": "x", "title": "X", "ingredients": ["a"]}, "b": "y", "outcome": "a"}
    path = tmp_path / "votes.jsonl"
    path.write_text(json.dumps(good) + "\n{oops\n" + json.dumps({**good, "outcome": "maybe"}) + "\n")
    with pytest.raises(ImportFailed) as e:
        read_votes_file(path)
    assert [n for n, _ in e.value.problems] == [2, 3]
    path.write_text(json.dumps(good) + "\n")
    votes, inline = read_votes_file(path)
    assert votes[0].outcome == "a" and [r.id for r in inline] == ["x"]


# --- idempotent import, import batches ------------------------------------------------------


def test_importing_the_same_file_twice_stores_each_vote_once(store, tmp_path):
    rs = [make_recipe(i) for i in range(4)]
    path = write_lines(tmp_path / "votes.jsonl", [
        *(r.to_dict() for r in rs),
        {"user": "bo", "a": rs[0].id, "b": rs[1].id, "outcome": "a"},  # no created_at
        {"user": "bo", "a": rs[1].id, "b": rs[2].id, "outcome": "b", "reasons": ["quick"]},
        {"a": rs[2].id, "b": rs[3].id, "outcome": "tie"},  # user from default_user
        {"user": "bo", "a": rs[0].id, "b": rs[3].id, "outcome": "b", "created_at": "2024-05-01T08:00:00Z"},
        {"prompt": "Suggest a recipe using: eggs", "chosen": recipe_to_text(make_recipe(7)),
         "rejected": recipe_to_text(rs[0])},
    ])
    first = import_jsonl(store, path, default_user="me")
    assert (first.votes, first.pairs, first.skipped) == (4, 1, 0)
    second = import_jsonl(store, path, default_user="me")
    assert (second.recipes, second.votes, second.pairs, second.skipped) == (5, 0, 0, 5)
    assert len(store.votes()) == 5
    assert "0 votes, 0 prompt/chosen/rejected pairs; 5 duplicate votes skipped (already stored)" in second.summary()
    assert second.nothing_new and second.batch_id is None and not first.nothing_new
    batches = store.import_batches()  # nothing new: no empty batch to list or to preselect for undo
    assert [(b.id, b.file_name, b.votes_added, b.votes_skipped) for b in batches] == [
        (first.batch_id, str(path), 5, 0)]
    assert batches[0].users == ("bo", "me") and (batches[0].recipes_added, batches[0].recipes_skipped) == (5, 0)
    # ... and a file that reformats the same votes (other key order, spacing, time zone)
    path2 = write_lines(tmp_path / "same.jsonl", [
        '{"outcome":"a","b":"%s","a":"%s","user":" bo "}' % (rs[1].id, rs[0].id),
        {"user": "bo", "a": rs[0].id, "b": rs[3].id, "outcome": "b", "created_at": "2024-05-01T10:00:00+02:00"},
    ])
    assert import_jsonl(store, path2).skipped == 2


def test_export_of_imported_votes_imports_back_as_duplicates(store, tmp_path):
    rs = [make_recipe(i) for i in range(3)]
    path = write_lines(tmp_path / "in.jsonl", [*(r.to_dict() for r in rs),
                                                {"user": "bo", "a": rs[0].id, "b": rs[1].id, "outcome": "a"},
                                                {"user": "bo", "a": rs[1].id, "b": rs[2].id, "outcome": "a"}])
    import_jsonl(store, path)
    out = write_jsonl(tmp_path / "export.jsonl", export_votes(store))  # now with created_at
    again = import_jsonl(store, out)
    assert (again.votes, again.skipped) == (0, 2) and len(store.votes()) == 2


def test_a_file_may_hold_the_same_vote_twice(store, tmp_path):
    """Two equal lines in one file are two votes (a person may vote a pair twice); the
    second import of that file still adds nothing."""
    r1, r2 = make_recipe(1), make_recipe(2)
    line = {"user": "bo", "a": r1.id, "b": r2.id, "outcome": "a"}
    path = write_lines(tmp_path / "twice.jsonl", [r1.to_dict(), r2.to_dict(), line, line])
    assert import_jsonl(store, path).votes == 2
    again = import_jsonl(store, path)
    assert (again.votes, again.skipped) == (0, 2) and len(store.votes()) == 2


def test_undone_import_is_reported_when_imported_again(store, tmp_path):
    r1, r2 = make_recipe(1), make_recipe(2)
    path = write_lines(tmp_path / "f.jsonl", [r1.to_dict(), r2.to_dict(),
                                               {"user": "bo", "a": r1.id, "b": r2.id, "outcome": "a"}])
    first = import_jsonl(store, path)
    assert store.delete_batch(first.batch_id) == 1 and store.votes() == []
    again = import_jsonl(store, path)
    assert (again.votes, again.skipped, again.skipped_deleted) == (0, 1, 1)
    assert "1 of them match deleted votes" in again.summary()
    assert store.restore_batch(first.batch_id) == 1 and len(store.votes()) == 1


def test_failed_import_records_no_batch(store, tmp_path):
    path = write_lines(tmp_path / "bad.jsonl", [make_recipe(1).to_dict(), "{nope"])
    with pytest.raises(ImportFailed):
        import_jsonl(store, path)
    assert store.import_batches() == [] and store.count_recipes() == 0


def test_cli_import_says_how_many_were_skipped(tmp_path, monkeypatch, capsys):
    from pantry.cli import main

    monkeypatch.setenv("PANTRY_HOME", str(tmp_path / "home"))
    r1, r2 = make_recipe(1), make_recipe(2)
    path = write_lines(tmp_path / "f.jsonl", [r1.to_dict(), r2.to_dict(),
                                               {"user": "bo", "a": r1.id, "b": r2.id, "outcome": "a"}])
    assert main(["import", str(path)]) == 0
    assert "2 recipes, 1 votes, 0 prompt/chosen/rejected pairs; 0 duplicate votes skipped" in capsys.readouterr().out
    assert main(["import", str(path)]) == 0
    out = capsys.readouterr().out
    assert "nothing new" in out and "1 duplicate vote skipped (already stored)" in out and "batch #" not in out


def test_real_votes_file_imported_twice_adds_nothing_the_second_time(tmp_path):
    from tests.helpers import shared_data

    folder = shared_data() / "giallozafferano-dev"
    if not (folder / "recipes.jsonl").is_file() or not (folder / "votes.jsonl").is_file():
        pytest.skip(f"shared data {folder} is not here")
    store = Store(tmp_path / "real.sqlite3")
    recipes = import_jsonl(store, folder / "recipes.jsonl")
    assert recipes.recipes > 0 and recipes.votes == 0
    first = import_jsonl(store, folder / "votes.jsonl")
    n = sum(1 for line in (folder / "votes.jsonl").read_text(encoding="utf-8").splitlines() if line.strip())
    assert (first.votes + first.pairs, first.skipped) == (n, 0)
    second = import_jsonl(store, folder / "votes.jsonl")
    assert (second.votes, second.pairs, second.skipped) == (0, 0, n)
    assert len(store.votes()) == n
    assert [b.votes_added for b in store.import_batches()] == [n, 0]  # the second import kept no batch


# --- what an import says: nothing new, not a text file, JSON arrays (issue 18) ----------------


def test_a_reimport_with_nothing_new_records_no_batch_but_a_new_vote_does(store, tmp_path):
    r1, r2, r3 = make_recipe(1), make_recipe(2), make_recipe(3)
    lines = [r1.to_dict(), r2.to_dict(), {"user": "bo", "a": r1.id, "b": r2.id, "outcome": "a"}]
    path = write_lines(tmp_path / "f.jsonl", lines)
    first = import_jsonl(store, path)
    again = import_jsonl(store, path)
    assert again.nothing_new and again.batch_id is None and (again.recipes, again.skipped) == (2, 1)
    assert [b.id for b in store.import_batches()] == [first.batch_id]
    recipes_only = write_lines(tmp_path / "r.jsonl", [r1.to_dict()])
    assert import_jsonl(store, recipes_only).nothing_new
    more = write_lines(tmp_path / "more.jsonl", [*lines, r3.to_dict()])  # one new recipe: a batch
    third = import_jsonl(store, more)
    assert not third.nothing_new and third.batch_id is not None and third.recipes_new == 1
    assert len(store.import_batches()) == 2


def test_a_binary_file_is_not_a_text_file(store, tmp_path):
    png = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" + bytes(range(256)) * 40)
    for source in (png, write_bytes(tmp_path / "picture.jsonl", png)):
        with pytest.raises(InvalidInput, match="this is not a text file") as e:
            import_jsonl(store, source, name="picture.jsonl")
        assert "picture.jsonl" in str(e.value) and not isinstance(e.value, ImportFailed)
    assert store.import_batches() == [] and store.count_recipes() == 0


def test_a_json_array_of_records_is_imported_like_json_lines(store, tmp_path):
    r1, r2 = make_recipe(1), make_recipe(2)
    records = [r1.to_dict(), r2.to_dict(), {"user": "bo", "a": r1.id, "b": r2.id, "outcome": "a"}]
    pretty = tmp_path / "records.json"
    pretty.write_text(json.dumps(records, indent=2), encoding="utf-8")
    report = import_jsonl(store, pretty)
    assert (report.recipes, report.votes) == (2, 1) and len(store.votes()) == 1
    one_line = import_jsonl(store, json.dumps(records).encode(), name="one-line.json")
    assert one_line.nothing_new  # the same records again
    assert read_recipes_file(write_bytes(tmp_path / "r.json", json.dumps([r1.to_dict()]).encode()))[0].id == r1.id


def test_bad_records_in_a_json_array_are_named_by_the_line_they_start_on(store, tmp_path):
    r1 = make_recipe(1)
    text = "[\n" + json.dumps(r1.to_dict()) + ",\n" + '{"user": "bo", "outcome": "a"},\n  42\n]\n'
    with pytest.raises(ImportFailed) as e:
        import_jsonl(store, text.encode(), name="arr.json")
    assert [n for n, _ in e.value.problems] == [3, 4]
    assert "got a number" in e.value.problems[1][1] or "number" in e.value.problems[1][1]
    with pytest.raises(ImportFailed) as e:
        import_jsonl(store, b'[\n{"title": "x"},\n{"title": \n', name="cut.json")
    assert e.value.problems[-1][0] >= 2 and "not valid JSON" in e.value.problems[-1][1]
    assert store.import_batches() == [] and store.count_recipes() == 0


def write_bytes(path, data: bytes):
    path.write_bytes(data)
    return path
