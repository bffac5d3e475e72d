"""AppTest tests for the Data page: votes in words, idempotent import, import batches
(undo/restore), export choices, and outside text shown as text (docs/ARCHITECTURE.md, Testing layers, 2)."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from ui.text import md
from helpers import assert_ok as _ok, open_app, store_at as _store, texts as _texts
from tests.helpers import REPO

TIMEOUT = 120


def _data_page(profile: str | None) -> AppTest:
    return open_app(profile, "views/data.py", TIMEOUT)


_TABLE_COLUMN = {"votes_table": "choice", "batches_table": "file"}  # a column only that table has


def _frame(at: AppTest, key: str):
    """The table drawn with this key (found by its columns: AppTest does not report a
    dataframe's key in every Streamlit version)."""
    [table] = [d.value for d in at.dataframe if d.key == key or _TABLE_COLUMN[key] in d.value.columns]
    return table


def _labels(at: AppTest) -> list[str]:
    """Every option and label of the page's choice widgets, as the person sees them."""
    out = []
    for widgets in (at.radio, at.selectbox, at.multiselect):
        for w in widgets:
            out.append(str(w.label))
            out.extend(str(o) for o in w.options)
    return out


def _recipes(store):
    from pantry.domain.recipes import recipe_from_dict

    rs = [recipe_from_dict({"id": rid, "title": title, "ingredients": ["eggs"], "steps": ["cook"]})
          for rid, title in (("r1", "Smoky Shakshuka"), ("r2", "Zesty Grain Bowl"), ("r3", "*Bold* [Toast](x)"))]
    store.add_recipes(rs)
    return rs


def test_votes_table_says_what_was_chosen_without_codes(app_home):
    from pantry.domain.votes import Vote

    store = _store(app_home)
    store.ensure_user("ana")
    _recipes(store)
    store.add_vote(Vote(user="ana", a="r1", b="r2", outcome="b", left="b", reasons=("quick", "cheap")))
    store.add_vote(Vote(user="ana", a="r3", b="r1", outcome="tie"))
    at = _data_page("ana")
    table = _frame(at, "votes_table")
    assert {"outcome", "left", "a", "b"}.isdisjoint(table.columns)
    assert list(table["choice"]) == ["left: Zesty Grain Bowl beat Smoky Shakshuka",
                                     "tie: *Bold* [Toast](x) and Smoky Shakshuka about equal"]
    assert list(table["reasons"]) == ["quick, cheap", ""]
    assert list(table["source"]) == ["voted here", "voted here"]
    assert at.multiselect(key="filter_outcomes").options == ["One recipe won", "About equal", "Both bad"]
    pick = at.multiselect(key="vote_pick")
    assert pick.options == ["#1 left: Zesty Grain Bowl beat Smoky Shakshuka",
                            "#2 tie: *Bold* [Toast](x) and Smoky Shakshuka about equal"]
    at.multiselect(key="filter_outcomes").set_value(["tie"])
    at.run()
    _ok(at)
    assert list(_frame(at, "votes_table")["id"]) == [2]


def test_import_twice_skips_duplicates_and_a_batch_can_be_undone_and_restored(app_home):
    store = _store(app_home)
    store.ensure_user("ana")
    at = _data_page("ana")
    assert any("No imports yet" in t for t in _texts(at.caption))

    bad = b'{"title": "Toast"}\nnot json\n'
    bad_name = "![x](http://127.0.0.1:9/x.png) *bad*_file.jsonl"  # a file name is outside text
    at.file_uploader(key="import_file").set_value((bad_name, bad, "application/jsonl"))
    at.run()
    at.button(key="import_button").click()
    at.run()
    assert not at.exception
    [error] = _texts(at.error)
    assert error.startswith(md(bad_name) + ": 2 bad lines; nothing was imported"), error
    assert "](http" not in error and "![" not in error, "the file name is shown literally, never as an image"

    recipes = [{"id": "r1", "title": "Smoky Shakshuka", "ingredients": ["eggs"]},
               {"id": "r2", "title": "Zesty Grain Bowl", "ingredients": ["rice"]}]
    votes = [{"user": "ana", "a": "r1", "b": "r2", "outcome": "a"}, {"user": "bo", "a": "r2", "b": "r1", "outcome": "tie"}]
    good = "\n".join(json.dumps(o) for o in recipes + votes).encode()
    name = "my_*votes*.jsonl"
    at.file_uploader(key="import_file").set_value((name, good, "application/jsonl"))
    at.run()
    at.button(key="import_button").click()
    at.run()
    _ok(at)
    assert any(t.startswith(f"Imported {md(name)}: 2 recipes, 2 votes") and
               "0 duplicate votes skipped" in t for t in _texts(at.success)), _texts(at.success)
    at.button(key="import_button").click()  # the same file again
    at.run()
    _ok(at)
    assert any(f"Nothing new in {md(name)}: all 2 votes and 2 recipes already stored" in t
               for t in _texts(at.info)), _texts(at.info)
    assert not any("Imported" in t for t in _texts(at.success)), "nothing was imported: never say so"
    assert len(store.votes()) == 2

    batches = _frame(at, "batches_table")  # no empty batch listed, none preselected for Undo
    assert list(batches["file"]) == [name]  # shown as typed
    assert list(batches["votes added"]) == [2] and list(batches["skipped"]) == [0]
    assert list(batches["status"]) == ["active"]
    assert list(batches["profiles"]) == ["ana, bo"]
    assert set(_frame(at, "votes_table")["source"]) == {f"import #1: {name}"}

    first = store.import_batches()[-1]
    at.selectbox(key="batch_pick").set_value(first.id)
    at.run()
    assert at.button(key="restore_batch").disabled
    at.button(key="delete_batch").click()
    at.run()
    _ok(at)
    assert store.votes() == []
    assert any(f"Undid import #1 ({md(name)}): 2 vote(s) deleted" in t for t in _texts(at.success))
    assert _frame(at, "batches_table")["status"].iloc[0].startswith("undone ")
    # the profile filter (ana) hides ana's deleted vote and says so; the total counts both deleted
    assert any(t.startswith("0 votes shown; 1 deleted vote matching these filters is hidden (turn on **Deleted** "
                            "to see it). 2 stored in all, for every profile") for t in _texts(at.caption)), \
        _texts(at.caption)
    assert at.button(key="delete_batch").disabled
    at.button(key="restore_batch").click()
    at.run()
    _ok(at)
    assert len(store.votes()) == 2
    assert any("Restored import #1" in t and "2 vote(s) back" in t for t in _texts(at.success))
    assert all("*active*" not in t and "`" not in t for t in _labels(at))


def test_export_choice_names_everyone_once(app_home):
    store = _store(app_home)
    store.ensure_user("ana_b")
    at = _data_page("ana_b")
    scope = at.radio(key="export_scope")
    assert scope.options == ["ana\\_b's votes", "everyone's votes"]  # '_' escaped: radio labels are Markdown
    assert sum("everyone" in o for o in scope.options) == 1
    assert at.get("download_button"), "export buttons"


def test_export_choice_without_a_profile(app_home):
    _store(app_home).ensure_user("ana")
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT)
    at.run()
    at.switch_page("views/data.py")
    at.run()
    assert not at.exception
    for scope in (r for r in at.radio if r.key == "export_scope"):  # absent where the app asks for a profile
        assert scope.options == ["everyone's votes"]


def test_a_picture_is_not_a_text_file_and_a_json_array_is_imported(app_home):
    store = _store(app_home)
    store.ensure_user("ana")
    at = _data_page("ana")
    at.file_uploader(key="import_file").set_value(("bad.jsonl", b'{"title": "Toast"}\n', "application/jsonl"))
    at.run()
    at.button(key="import_button").click()
    at.run()
    assert any(f"{md('bad.jsonl')}: 1 bad line" in t for t in _texts(at.error))
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 64  # a PNG renamed .jsonl
    at.file_uploader(key="import_file").set_value(("photo.jsonl", png, "application/jsonl"))
    at.run()
    at.button(key="import_button").click()
    at.run()
    assert not at.exception
    [error] = _texts(at.error)  # the new file's reason alone: bad.jsonl's report went with the new attempt
    assert "this is not a text file" in error and "photo" in error, error
    assert "bad line" not in error and not any("problem" in d.value.columns for d in at.dataframe)

    records = [{"id": "r1", "title": "Smoky Shakshuka", "ingredients": ["eggs"]},
               {"id": "r2", "title": "Zesty Grain Bowl", "ingredients": ["rice"]},
               {"user": "ana", "a": "r1", "b": "r2", "outcome": "a"}]
    at.file_uploader(key="import_file").set_value(("export.json", json.dumps(records, indent=2).encode(),
                                                   "application/json"))
    at.run()
    at.button(key="import_button").click()
    at.run()
    _ok(at)
    assert any("Imported export" in t and "2 recipes, 1 votes" in t for t in _texts(at.success)), _texts(at.success)
    assert len(store.votes("ana")) == 1


def test_a_failed_import_says_nothing_was_imported_once_and_goes_when_the_person_moves_on(app_home):
    """Found in real Chromium: "Import failed, nothing was imported: ...; nothing was imported",
    still on screen after a Delete, as if it were about that."""
    from helpers import seed_votes

    store = _store(app_home)
    seed_votes(store, "ana", n=2)
    at = _data_page("ana")
    at.file_uploader(key="import_file").set_value(("empty.jsonl", b"\n\n", "application/jsonl"))
    at.run()
    at.button(key="import_button").click()
    at.run()
    [error] = _texts(at.error)
    assert error.count("nothing was imported") == 1 and "empty" in error, error
    at.multiselect(key="vote_pick").set_value([store.votes("ana")[0].id]).run()
    assert _texts(at.error) == [error]  # choosing is not yet moving on
    at.button(key="delete_votes").click().run()
    _ok(at)
    assert _texts(at.error) == [] and any("Deleted 1 vote" in t for t in _texts(at.success))

def test_the_votes_table_is_worded_by_the_ui_from_the_votes_own_columns(tmp_path):
    """ui.wording.votes_in_words says what was chosen from a votes frame's data columns (no
    worded column from the store needed), titles where known, ids otherwise."""
    from pantry.domain.recipes import Recipe
    from pantry.domain.votes import Vote
    from pantry.storage.store import Store
    from ui.wording import votes_in_words

    store = Store(tmp_path / "p.sqlite3")
    dishes = [Recipe(id=f"r{i}", title=f"Dish {i}", ingredients=["egg"], steps=["cook"]) for i in range(4)]
    store.add_recipes(dishes)
    store.add_vote(Vote(user="me", a="r0", b="r1", outcome="b", left="b", strength="much"))
    store.add_vote(Vote(user="me", a="r2", b="r3", outcome="tie"))
    from pantry.evaluation.reports import votes_frame
    frame = votes_frame(store).drop(columns="choice", errors="ignore")
    assert list(votes_in_words(frame)) == ["left: Dish 1 clearly beat Dish 0", "tie: Dish 2 and Dish 3 about equal"]
