"""pantry.kitchen.dedupe: the near-duplicate rule for one dish under different titles."""

from __future__ import annotations

import inspect

import pytest

from pantry.kitchen import Kitchen, dedupe
from pantry.kitchen.dedupe import drop_near_duplicates, near_duplicate
from pantry.domain.recipes import recipe_from_dict

FRITTATA_STEPS = [
    "Heat the grill to high. Beat the egg with a pinch of salt and pepper.",
    "Heat the olive oil in an ovenproof frying pan and cook the spinach and red onion for 8 minutes until soft.",
    "Pour in the eggs and cook gently for 6 minutes until the base is set.",
    "Slide under the grill for 4 minutes until puffed and golden, then cut into wedges.",
]


def frittata(title: str, extra: list[str] | None = None, steps=FRITTATA_STEPS):
    lines = ["4 eggs", "120 g spinach", "1 red onion, sliced", "2 tbsp olive oil"] + (extra or [])
    return recipe_from_dict({"title": title, "ingredients": lines, "steps": list(steps)})


def test_same_ingredients_under_unrelated_titles_are_one_dish():
    a = frittata("Spinach and Red Onion Frittata")
    b = frittata("Sunday Brunch Bake")
    assert a.id != b.id
    assert near_duplicate(a, b)
    assert drop_near_duplicates([a, b]) == [a]


def test_an_extra_topping_does_not_make_another_dish():
    a = frittata("Spinach and Red Onion Frittata")
    b = frittata("Fluffy Goat Cheese Frittata", ["50 g goat cheese, crumbled"])
    assert near_duplicate(a, b)


def test_same_ingredients_with_another_method_are_different_dishes():
    a = frittata("Grilled Frittata")
    omelette = frittata("Folded Omelette", steps=[
        "Cook the spinach and red onion in half the olive oil for 5 minutes; tip out.",
        "Beat the eggs with salt and pepper.",
        "Melt the rest of the fat in a small pan, pour in the eggs and stir for 3 minutes, drawing the edges in.",
        "Scatter the filling over one half, fold and slide onto a plate.",
    ])
    assert not near_duplicate(a, omelette)


def test_signatures_are_kept():
    assert list(inspect.signature(near_duplicate).parameters)[:2] == ["a", "b"]
    assert list(inspect.signature(drop_near_duplicates).parameters)[:1] == ["recipes"]


def test_errors_are_not_swallowed(tmp_path, monkeypatch):
    """A knowledge base that cannot be loaded is an error naming the file, not a silent fallback
    to word matching (the real loader runs on a real broken file)."""
    from pantry.errors import InvalidInput
    from pantry.kitchen import knowledge

    broken = tmp_path / "ingredients.json"
    broken.write_text('{"version": 1, "ingredients": [', encoding="utf-8")
    monkeypatch.setattr(knowledge, "DEFAULT_KB_PATH", broken)
    with pytest.raises(InvalidInput, match="ingredients.json: not valid JSON"):
        dedupe.canonical_line("2 eggs, beaten, for a test of a broken file")
    with pytest.raises(InvalidInput, match="ingredients.json"):
        near_duplicate(frittata("Broken A"), frittata("Broken B"))
    assert "except Exception" not in inspect.getsource(dedupe)


def test_the_kitchen_is_injected():
    """Every dedupe function matches lines with the kitchen it is given (default: the shared one)."""
    tiny = Kitchen.from_dict({"version": 1, "ingredients": [
        {"name": "hen fruit", "aliases": ["egg"], "category": "egg", "vegetarian": True, "vegan": False,
         "gluten_free": True, "dairy_free": True, "nut_free": True, "staple": False},
    ]}, source="tiny")
    assert dedupe.canonical_line("4 eggs, beaten", kitchen=tiny) == "hen fruit"
    assert dedupe.canonical_line("4 eggs, beaten") == "egg"
    assert dedupe.canonical_line("120 g spinach", kitchen=tiny) == "spinach"  # unknown there: its words
    sig = dedupe.signature(frittata("Spinach Frittata"), kitchen=tiny)
    assert "hen fruit" in sig.ingredients and "egg" not in sig.ingredients
    a, b = frittata("Spinach and Red Onion Frittata"), frittata("Sunday Brunch Bake")
    assert near_duplicate(a, b, kitchen=tiny) and drop_near_duplicates([a, b], kitchen=tiny) == [a]


# --- one session: the same dish again, a family over its share (issue 18) -----------------------

def _fried_rice(title: str, veg: str, protein: str = "tofu") -> object:
    return recipe_from_dict({
        "title": title,
        "ingredients": ["300 g cooked rice", f"200 g {protein}", f"150 g {veg}", "2 tbsp soy sauce",
                        "2 cloves garlic", "1 tbsp vegetable oil"],
        "steps": ["Heat the vegetable oil in a wok over a high heat.",
                  f"Stir-fry the {protein} for 4 minutes until golden.",
                  f"Add the garlic and {veg} and stir-fry for 3 minutes.",
                  "Add the rice and toss over a high heat for 4 minutes until hot and slightly crisp, "
                  "then season with the soy sauce."]})


def _omelette(title: str, veg: str) -> object:
    return recipe_from_dict({
        "title": title,
        "ingredients": ["3 eggs", f"60 g {veg}", "20 g cheddar", "1 tbsp butter"],
        "steps": ["Beat the eggs with a pinch of salt and pepper.",
                  "Melt the butter in a small non-stick frying pan over a medium heat.",
                  f"Cook the {veg} for 3 minutes, then pour in the eggs and swirl.",
                  "When almost set, scatter over the cheddar, fold in half and slide onto a plate."]})


def test_the_same_dish_under_another_title_is_not_shown_again():
    """"Savoury Tofu Fried Rice" and "Savoury Broccoli Fried Rice with Tofu": one dish (the
    issue saw them as one pair); a fried rice of prawns and peas is another dish of the family."""
    from pantry.kitchen.dedupe import fresh_for_session, same_dish, same_family, signature

    a = _fried_rice("Savoury Tofu Fried Rice", "broccoli")
    b = _fried_rice("Savoury Broccoli Fried Rice with Tofu", "carrot")
    c = _fried_rice("Prawn and Pea Fried Rice", "pea", protein="prawns")
    sa, sb, sc = signature(a), signature(b), signature(c)
    assert same_family(sa, sb) and same_dish(sa, sb)
    assert same_family(sa, sc) and not same_dish(sa, sc)
    omelette = _omelette("Spinach Omelette", "spinach")
    assert not same_family(sa, signature(omelette))
    # recent (oldest first): the fried rice four recipes ago; b is the same dish, c only the same family
    recent = [a, _omelette("Mushroom Omelette", "mushroom"), _omelette("Pepper Omelette", "pepper"),
              _omelette("Leek Omelette", "leek"), _omelette("Kale Omelette", "kale")]
    kept = fresh_for_session([b, c, omelette], recent, gap=2)
    assert [r.title for r in kept] == ["Prawn and Pea Fried Rice"]  # omelettes: 4 already (cap 2)
