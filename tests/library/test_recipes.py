import json

import pytest

from pantry.errors import InvalidRecipe
from pantry.domain.recipes import content_id, embedding_text, parse_recipe_json, recipe_from_dict, recipe_json_schema

GOOD = {"id": "x1", "title": "Tomato Soup", "ingredients": ["4 tomatoes", "1 onion"],
        "steps": ["Chop.", "Simmer 20 minutes."], "minutes": 30, "servings": 2,
        "cuisine": "italian", "tags": ["quick"], "source": "test"}


def test_round_trip():
    r = recipe_from_dict(GOOD)
    assert recipe_from_dict(json.loads(r.to_json())) == r
    assert r.ingredients == ("4 tomatoes", "1 onion")


def test_missing_id_gets_stable_content_hash():
    obj = {k: v for k, v in GOOD.items() if k != "id"}
    a, b = recipe_from_dict(obj), recipe_from_dict(dict(obj, source="elsewhere"))
    assert a.id == b.id == content_id(a.title, a.ingredients, a.steps)
    assert a.id != recipe_from_dict(dict(obj, title="Tomato Stew")).id


@pytest.mark.parametrize("bad, field", [
    ({"ingredients": ["x"]}, "title"),
    ({"title": "  ", "ingredients": ["x"]}, "title"),
    ({"title": "T"}, "ingredients"),
    ({"title": "T", "ingredients": "eggs"}, "ingredients"),
    ({"title": "T", "ingredients": ["a", 3]}, "ingredients[1]"),
    ({"title": "T", "ingredients": ["a"], "minutes": "ten"}, "minutes"),
    ({"title": "T", "ingredients": ["a"], "minutes": 2.5}, "minutes"),
    ({"title": "T", "ingredients": ["a"], "tags": [None]}, "tags[0]"),
    ({"title": "T" * 400, "ingredients": ["a"]}, "title"),
])
def test_validation_names_the_bad_field(bad, field):
    with pytest.raises(InvalidRecipe) as e:
        recipe_from_dict(bad)
    assert f"'{field}'" in str(e.value)


def test_bad_json_is_reported_with_column():
    with pytest.raises(InvalidRecipe, match="not valid JSON"):
        parse_recipe_json('{"title": "x", ')


def test_embedding_text_puts_title_and_ingredients_before_steps():
    text = embedding_text(recipe_from_dict(GOOD))
    assert text.index("Tomato Soup") < text.index("4 tomatoes") < text.index("1. Chop.")
    assert "italian" not in text  # cuisine/tags are not part of the text


def test_schema_requires_core_fields():
    schema = recipe_json_schema()
    assert {"title", "ingredients", "steps"} <= set(schema["required"])
