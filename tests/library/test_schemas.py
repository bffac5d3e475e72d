"""One schema per format: the pydantic models are the validation and the JSON Schema, and
numbers that are not numbers (NaN, Infinity, 1e400, 5000-digit integers) get a message
naming the field instead of a crash."""

from __future__ import annotations

import json

import pytest

from pantry.domain.fields import loads_json, OutOfRange
from pantry.domain.recipes import (MAX_LINE_CHARS, MAX_LIST_ITEMS, MAX_TITLE_CHARS, RecipeAnswer, parse_recipe_json,
                                   recipe_from_answer, recipe_from_dict, recipe_json_schema)
from pantry.domain.votes import (MAX_META_CHARS, Vote, VoteRecord, check_vote, line_kind, pair_from_trl,
                                 vote_from_dict)
from pantry.errors import ImportFailed, InvalidInput, InvalidRecipe
from pantry.generators.dishbook import DishBookError, load_dish_book, read_dish_book, DEFAULT_DISHES_PATH
from pantry.storage.jsonl import import_jsonl, read_recipes_file, read_votes_file
from pantry.storage.store import Store

HUGE = "9" * 5000  # Python refuses to convert integers of more than 4300 digits
RECIPE = {"title": "Soup", "ingredients": ["water", "salt"], "steps": ["Boil."]}


def one_line(message: str) -> str:
    assert "\n" not in message and "Traceback" not in message and len(message) < 400, message
    return message


# --- numbers that are not numbers ----------------------------------------------------------

@pytest.mark.parametrize("value, needle", [
    (float("inf"), "Infinity"),
    (float("-inf"), "-Infinity"),
    (float("nan"), "NaN"),
    (10**5000, "out of range"),
    (-10**5000, "out of range"),
    (1e300, "out of range"),
    (100_001, "out of range"),
    (-1, "out of range"),
    (2.5, "whole number"),
    (True, "whole number"),
    ("30", "whole number"),
], ids=["inf", "-inf", "nan", "huge", "-huge", "1e300", "over", "negative", "2.5", "true", "text"])
def test_bad_numbers_in_a_recipe_name_the_field(value, needle):
    with pytest.raises(InvalidRecipe) as err:
        recipe_from_dict({**RECIPE, "minutes": value})
    message = one_line(str(err.value))
    assert message.startswith("field 'minutes' ") and needle in message


def test_whole_floats_still_count_as_whole_numbers():
    assert recipe_from_dict({**RECIPE, "minutes": 30.0, "servings": 2}).minutes == 30


@pytest.mark.parametrize("literal, needle", [
    ("1e400", "1e400"),
    ("-1e400", "-1e400"),
    ("Infinity", "Infinity"),
    ("NaN", "NaN"),
    (HUGE, "5000 digits"),
], ids=["1e400", "-1e400", "Infinity", "NaN", "5000-digits"])
def test_bad_numbers_in_json_text_name_the_field(literal, needle):
    text = json.dumps({**RECIPE, "servings": "X"}).replace('"X"', literal)
    with pytest.raises(InvalidRecipe) as err:
        parse_recipe_json(text)
    message = one_line(str(err.value))
    assert "field 'servings'" in message and needle in message


def test_loads_json_keeps_numbers_it_cannot_hold_as_out_of_range():
    doc = loads_json('{"a": %s, "b": 1e400, "c": 12, "d": 1.5}' % HUGE)
    assert isinstance(doc["a"], OutOfRange) and isinstance(doc["b"], OutOfRange)
    assert (doc["c"], doc["d"]) == (12, 1.5)


def test_a_huge_number_where_text_belongs_is_named_too():
    with pytest.raises(InvalidRecipe) as err:
        parse_recipe_json('{"title": %s, "ingredients": ["x"]}' % HUGE)
    assert one_line(str(err.value)) == "field 'title' must be a string, got a number"


def test_every_bad_line_of_an_import_is_reported_with_its_number_and_field(tmp_path):
    store = Store(tmp_path / "db.sqlite3")
    lines = [
        json.dumps({**RECIPE, "id": "r1"}),
        '{"title": "A", "ingredients": ["x"], "minutes": 1e400}',
        '{"title": "B", "ingredients": ["x"], "servings": NaN}',
        '{"user": "bo", "a": "r1", "b": {"title": "C", "ingredients": ["y"], "minutes": %s}, "outcome": "a"}' % HUGE,
        '{"prompt": "p", "chosen": "Soup", "rejected": "Stew", "margin": Infinity}',
        '{"title": %s, "ingredients": ["x"]}' % HUGE,
        '{"user": "bo", "a": "r1", "b": "r2", "outcome": "a", "model_version": -Infinity}',
    ]
    with pytest.raises(ImportFailed) as err:
        import_jsonl(store, lines, name="upload.jsonl")
    problems = dict(err.value.problems)
    assert sorted(problems) == [2, 3, 4, 5, 6, 7]
    assert "field 'minutes'" in problems[2] and "1e400" in problems[2]
    assert "field 'servings'" in problems[3] and "NaN" in problems[3]
    assert problems[4].startswith("field 'b': field 'minutes' is out of range") and "5000 digits" in problems[4]
    assert "field 'margin'" in problems[5] and "Infinity" in problems[5]
    assert "field 'title'" in problems[6]
    assert "field 'model_version'" in problems[7]
    for message in problems.values():
        one_line(message)
    one_line(str(err.value))
    assert "line 2: field 'minutes'" in str(err.value)
    assert store.count_recipes() == 0 and store.votes() == []


def test_control_characters_and_over_long_ids_are_refused_by_field_and_line_breaks_kept(tmp_path):
    """Text holds no C0 control character but tab and line breaks (a NUL cannot be stored in
    PostgreSQL) and a recipe id is at most 200 characters: an import names the line and field."""
    store = Store(tmp_path / "db.sqlite3")
    lines = [
        json.dumps({**RECIPE, "id": "r1"}),
        json.dumps({**RECIPE, "title": "So\u0000up"}),
        json.dumps({**RECIPE, "id": "x" * 201}),
        json.dumps({"user": "bo", "a": "r1", "b": "r\u001b2", "outcome": "a"}),
        json.dumps({"user": "bo", "a": "r1", "b": "r2", "outcome": "a", "reasons": ["ok", "bell\u0007"]}),
    ]
    with pytest.raises(ImportFailed) as err:
        import_jsonl(store, lines, name="upload.jsonl")
    problems = dict(err.value.problems)
    assert sorted(problems) == [2, 3, 4, 5]
    assert "field 'title'" in problems[2] and "U+0000" in problems[2]
    assert "field 'id'" in problems[3] and "limit 200" in problems[3]
    assert "field 'b'" in problems[4] and "U+001B" in problems[4]
    assert "field 'reasons[1]'" in problems[5]
    assert store.count_recipes() == 0
    kept = recipe_from_dict({**RECIPE, "title": "Two\twords", "steps": ["Boil.\r\nServe."]})
    assert kept.title == "Two words" and "Serve." in kept.steps[0]  # accepted (a title's white space collapsed)


def test_file_readers_report_bad_numbers_by_line(tmp_path):
    recipes = tmp_path / "recipes.jsonl"
    recipes.write_text(json.dumps(RECIPE) + "\n" + '{"title": "A", "ingredients": ["x"], "minutes": %s}\n' % HUGE)
    with pytest.raises(ImportFailed) as err:
        read_recipes_file(recipes)
    assert [n for n, _ in err.value.problems] == [2] and "field 'minutes'" in err.value.problems[0][1]
    votes = tmp_path / "votes.jsonl"
    votes.write_text('{"user": "u", "a": "x", "b": "y", "outcome": "a", "left": NaN}\n')
    with pytest.raises(ImportFailed) as err:
        read_votes_file(votes)
    assert err.value.problems == [(1, "field 'left' must be one of a, b, got NaN")]


# --- one rule, one place ---------------------------------------------------------------------

def test_ollama_format_is_the_answer_models_json_schema():
    full = RecipeAnswer.model_json_schema(mode="serialization")
    props = full["properties"]
    assert props["title"]["maxLength"] == MAX_TITLE_CHARS  # the limits live in the model...
    for name in ("ingredients", "steps"):
        assert props[name]["maxItems"] == MAX_LIST_ITEMS and props[name]["items"]["maxLength"] == MAX_LINE_CHARS
    assert {"type": "integer", "minimum": 0, "maximum": 100_000} in props["minutes"]["anyOf"]

    schema = recipe_json_schema()  # ...and the format is the model's schema without bounds a grammar unrolls
    assert "maxLength" not in json.dumps(schema) and "maxItems" not in json.dumps(schema)
    assert set(schema["required"]) == {"title", "ingredients", "steps", "minutes", "servings", "cuisine", "tags"}
    assert schema["properties"]["title"] == {"minLength": 1, "title": "Title", "type": "string"}
    for name in ("ingredients", "steps"):
        assert schema["properties"][name]["type"] == "array" and schema["properties"][name]["minItems"] == 1
    assert {"type": "integer"} in schema["properties"]["minutes"]["anyOf"]
    assert "id" not in schema["properties"] and "source" not in schema["properties"]
    recipe_json_schema()["properties"].clear()  # callers get a copy
    assert recipe_json_schema() == schema


def test_answers_are_checked_against_the_schema_they_were_sent():
    good = recipe_from_answer({**RECIPE, "minutes": 10, "servings": 2, "cuisine": None, "tags": [],
                               "id": "mine", "source": "elsewhere"}, source="ollama:m")
    assert good.source == "ollama:m" and good.id.startswith("r-")
    for bad, field in [({**RECIPE, "steps": []}, "steps"), ({"title": "T", "ingredients": ["x"]}, "steps"),
                       ({**RECIPE, "ingredients": []}, "ingredients")]:
        with pytest.raises(InvalidRecipe, match=f"field '{field}'"):
            recipe_from_answer(bad)


def test_votes_built_in_code_follow_the_file_rules():
    too_long = "x" * (MAX_META_CHARS + 1)
    with pytest.raises(InvalidInput, match="field 'generator' is 301 characters"):
        vote_from_dict({"user": "bo", "a": "r1", "b": "r2", "outcome": "a", "generator": too_long})
    with pytest.raises(InvalidInput, match="field 'generator' is 301 characters"):
        check_vote(Vote(user="bo", a="r1", b="r2", outcome="a", generator=too_long))
    assert set(VoteRecord.model_fields) <= set(Vote.__dataclass_fields__)


def test_several_bad_fields_are_named_in_one_line():
    with pytest.raises(InvalidInput) as err:
        vote_from_dict({"user": "a/b", "a": "", "b": 7, "outcome": "maybe", "left": "c"})
    message = one_line(str(err.value))
    assert message.startswith("field 'user' may only contain") and "field 'a'" in message
    assert "field 'b' must be a recipe id or a recipe object, got a number" in message
    assert message.endswith("(+2 more)")


def test_pair_margins_must_be_finite():
    with pytest.raises(InvalidInput, match="field 'margin' must be a number, got NaN"):
        pair_from_trl({"prompt": "p", "chosen": "Soup", "rejected": "Stew", "margin": float("nan")})
    vote, _ = pair_from_trl({"prompt": "p", "chosen": "Soup", "rejected": "Stew", "margin": 3})
    assert vote.strength == "much"


@pytest.mark.parametrize("obj, kind", [
    ({"chosen": "x"}, "pair"), ({"outcome": "a"}, "vote"), ({"a": 1, "b": 2}, "vote"),
    ({"title": "x"}, "recipe"), ({"id": "x"}, None), ({"colour": "red"}, None), ([1], None),
])
def test_line_kind(obj, kind):
    assert line_kind(obj) == kind


# --- the dish book ---------------------------------------------------------------------------

def test_the_shipped_dish_book_validates():
    book = read_dish_book()
    assert len(book.families) >= 28 and all(f.slots and f.steps and f.titles for f in book.families)


@pytest.mark.parametrize("literal, needle", [
    ("1e400", "1e400"), ("NaN", "NaN"), ("Infinity", "Infinity"), (HUGE, "5000 digits"), ('"ten"', "'ten'"),
], ids=["1e400", "NaN", "Infinity", "5000-digits", "text"])
def test_bad_numbers_in_the_dish_book_name_family_and_field(tmp_path, literal, needle):
    doc = json.loads(DEFAULT_DISHES_PATH.read_text(encoding="utf-8"))
    first = doc["families"][0]
    first["prep_minutes"] = "X"
    path = tmp_path / "dishes.json"
    path.write_text(json.dumps(doc).replace('"X"', literal), encoding="utf-8")
    with pytest.raises(DishBookError) as err:
        load_dish_book(path)
    message = one_line(str(err.value))
    assert message.startswith(f"{path}: family '{first['id']}': field 'prep_minutes' ") and needle in message


def test_dish_book_problems_say_where(tmp_path):
    doc = json.loads(DEFAULT_DISHES_PATH.read_text(encoding="utf-8"))
    first = doc["families"][0]
    first["slots"][0]["qty"] = float("nan")
    first["steps"][1]["quick"] = first["steps"][1]["minutes"] + 5
    doc["measures"]["garlic"]["grams"] = 0
    path = tmp_path / "dishes.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(DishBookError) as err:
        load_dish_book(path)
    message = one_line(str(err.value))
    role = first["slots"][0]["role"]
    assert f"family '{first['id']}' slot '{role}': field 'qty' must be a number >= 0" in message
    assert f"family '{first['id']}' steps[1]: 'quick'" in message
    assert "measures.garlic: field 'grams' must be a number > 0" in message


# --- layers ------------------------------------------------------------------------------------

@pytest.mark.parametrize("package, allowed", [
    ("domain", ("pantry.domain", "pantry.errors", "pantry.base")),
    ("generators", ("pantry.generators", "pantry.domain", "pantry.kitchen", "pantry.settings", "pantry.base",
                    "pantry.paths", "pantry.errors")),
])
def test_domain_and_generators_import_only_what_their_docstring_allows(package, allowed):
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "pantry" / package
    bad = {}
    for path in sorted(root.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            for name in names:
                if name.startswith("pantry") and not any(name == p or name.startswith(p + ".") for p in allowed):
                    bad.setdefault(path.name, []).append(name)
    assert not bad, f"pantry.{package} imports outside its layer"
    doc = ast.get_docstring(ast.parse((root / "__init__.py").read_text(encoding="utf-8")))
    assert doc and "What the package is for" in doc and "What it may import" in doc


def test_every_format_has_a_json_schema():
    from pantry.domain import RecipeRecord, TrlPair
    from pantry.generators.dishbook import DishBookFile

    for model in (RecipeRecord, RecipeAnswer, VoteRecord, TrlPair, DishBookFile):
        assert model.model_json_schema()["properties"], model.__name__
    vote = VoteRecord.model_json_schema()
    assert vote["properties"]["outcome"]["enum"] == ["a", "b", "tie", "both_bad"]
    assert {"$ref": "#/$defs/RecipeRecord"} in vote["properties"]["a"]["anyOf"]
