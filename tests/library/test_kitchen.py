"""Tests for pantry.kitchen: the ingredient knowledge base, pantry parsing and recipe checks."""

from __future__ import annotations

import json
import time

import pytest

from pantry.errors import InvalidInput
from pantry.kitchen import (
    CATEGORIES,
    Ingredient,
    Kitchen,
    PantryItem,
    diet_violations,
    load_kitchen,
    missing_ingredients,
    pantry_coverage,
    pantry_names,
    parse_pantry,
)
from pantry.kitchen.words import tokens
from pantry.domain.recipes import Recipe


@pytest.fixture(scope="module")
def kitchen() -> Kitchen:
    return load_kitchen()


def recipe(*ingredients: str, title: str = "Test dish") -> Recipe:
    return Recipe(id="r-test", title=title, ingredients=tuple(ingredients), steps=("Cook.",))


# --- the knowledge base -----------------------------------------------------------------


def test_kb_size_categories_and_flags(kitchen: Kitchen) -> None:
    assert len(kitchen.all()) >= 150
    assert len(kitchen.names) == len(set(kitchen.names))
    for ing in kitchen.all():
        assert ing.category in CATEGORIES, ing
        assert ing.name == ing.name.strip().lower(), ing.name
        if ing.vegan:
            assert ing.vegetarian and ing.dairy_free, ing.name
    # every category the UI may offer is populated
    for cat in ("vegetable", "fruit", "grain", "pasta", "legume", "dairy", "egg", "meat",
                "poultry", "fish", "seafood", "nut", "seed", "herb", "spice", "condiment", "oil",
                "sweetener", "baking", "other"):
        assert kitchen.by_category(cat), cat
    with pytest.raises(ValueError):
        kitchen.by_category("snacks")


def test_kb_aliases_unique_across_entries(kitchen: Kitchen) -> None:
    owner: dict[tuple[str, ...], str] = {}
    for ing in kitchen.all():
        for phrase in (ing.name, *ing.aliases):
            key = tokens(phrase)
            assert owner.setdefault(key, ing.name) == ing.name, f"{phrase!r}: {owner[key]} and {ing.name}"


def test_kb_file_is_versioned_and_complete(kitchen: Kitchen) -> None:
    from pantry.kitchen import DEFAULT_KB_PATH

    doc = json.loads(DEFAULT_KB_PATH.read_text(encoding="utf-8"))
    assert doc["version"] == 1
    for entry in doc["ingredients"]:
        for field in ("name", "aliases", "category", "vegetarian", "vegan", "gluten_free",
                      "dairy_free", "nut_free", "staple"):
            assert field in entry, (entry.get("name"), field)


@pytest.mark.parametrize("name, flag, expected", [
    ("soy sauce", "gluten_free", False),
    ("tamari", "gluten_free", True),
    ("butter", "dairy_free", False),
    ("honey", "vegan", False),
    ("honey", "vegetarian", True),
    ("fish sauce", "vegetarian", False),
    ("parmesan", "vegetarian", True),
    ("egg", "dairy_free", True),
    ("egg", "vegan", False),
    ("almond", "nut_free", False),
    ("peanut butter", "nut_free", False),
    ("coconut milk", "dairy_free", True),
    ("rice", "gluten_free", True),
    ("pasta", "gluten_free", False),
    ("flour", "gluten_free", False),
    ("gelatin", "vegetarian", False),
    ("worcestershire sauce", "vegetarian", False),
    ("tofu", "vegan", True),
])
def test_diet_flags_are_accurate(kitchen: Kitchen, name: str, flag: str, expected: bool) -> None:
    ing = kitchen.get(name)
    assert ing is not None, name
    assert getattr(ing, flag) is expected


def test_staples_are_few_and_basic(kitchen: Kitchen) -> None:
    staples = {ing.name for ing in kitchen.staples}
    assert {"salt", "black pepper", "water", "olive oil"} <= staples
    assert 6 <= len(staples) <= 12
    assert "chicken" not in staples and "butter" not in staples


@pytest.mark.parametrize("text, name", [
    ("Tomatoes", "tomato"),
    ("tomato", "tomato"),
    ("berries", "mixed berry"),
    ("strawberries", "strawberry"),
    ("coriander leaves", "cilantro"),
    ("cilantro", "cilantro"),
    ("scallions", "green onion"),
    ("Spring Onion", "green onion"),
    ("garbanzo beans", "chickpea"),
    ("chickpeas", "chickpea"),
    ("aubergine", "eggplant"),
    ("courgettes", "zucchini"),
    ("bay leaves", "bay leaf"),
    ("potatoes", "potato"),
    ("prawns", "shrimp"),
    ("icing sugar", "powdered sugar"),
    ("jalapeño", "jalapeno"),
    ("EGGS", "egg"),
])
def test_lookup_names_aliases_and_plurals(kitchen: Kitchen, text: str, name: str) -> None:
    ing = kitchen.lookup(text)
    assert ing is not None and ing.name == name


def test_lookup_unknown_and_blank(kitchen: Kitchen) -> None:
    assert kitchen.lookup("unobtainium") is None
    assert kitchen.lookup("") is None
    assert kitchen.lookup("   ") is None
    assert "eggs" in kitchen and "unobtainium" not in kitchen


@pytest.mark.parametrize("line, name", [
    ("200 g spaghetti", "pasta"),
    ("2 cloves garlic, minced", "garlic"),
    ("4 garlic cloves, peeled", "garlic"),
    ("1 (15-ounce) can chickpeas, drained", "chickpea"),
    ("Kosher salt and fresh cracked black pepper", "black pepper"),
    ("Salt", "salt"),
    ("Freshly ground pepper", "black pepper"),
    ("1 small green pepper finely chopped", "bell pepper"),
    ("1 red bell pepper, diced", "bell pepper"),
    ("1/2 teaspoon red pepper flakes", "chili flakes"),
    ("1/4 teaspoon cayenne pepper", "cayenne"),
    ("2 large eggs, lightly beaten", "egg"),
    ("1 medium eggplant, cubed", "eggplant"),
    ("8 ounces cream cheese, softened", "cream cheese"),
    ("1 cup heavy cream", "cream"),
    ("1/4 cup grated Parmigiano-Reggiano", "parmesan"),
    ("2 tablespoons extra-virgin olive oil", "olive oil"),
    ("1 tablespoon toasted sesame oil", "sesame oil"),
    ("3 cups low-sodium chicken broth", "chicken broth"),
    ("1 pound boneless, skinless chicken thighs", "chicken"),
    ("2 tablespoons fresh lemon juice", "lemon"),
    ("1/2 cup finely sliced green onions", "green onion"),
    ("1 (28-ounce) can crushed tomatoes", "canned tomato"),
    ("2 tablespoons tomato paste", "tomato paste"),
    ("Crusty bread, for serving", "bread"),
    ("1 cup packed light brown sugar", "brown sugar"),
    ("2 cups all-purpose flour", "flour"),
    ("1 teaspoon pure vanilla extract", "vanilla"),
    ("1 jalapeño, seeded and minced", "jalapeno"),
    ("Juice of 2 limes", "lime"),
    ("1/2 cup chopped fresh cilantro leaves", "cilantro"),
    ("1 pound large shrimp, peeled and deveined", "shrimp"),
    ("4 slices thick-cut bacon, diced", "bacon"),
    ("2 cups veal stock", "stock"),
    ("1 cup vegetable stock", "vegetable broth"),
    ("Dash hot sauce", "hot sauce"),
    ("1/4 cup soy sauce", "soy sauce"),
    ("2 cups cooked white rice", "rice"),
])
def test_match_line_real_world(kitchen: Kitchen, line: str, name: str) -> None:
    ing = kitchen.match_line(line)
    assert ing is not None, line
    assert ing.name == name, (line, ing.name)


def test_match_line_no_match_and_cache(kitchen: Kitchen) -> None:
    assert kitchen.match_line("Kitchen twine") is None
    assert kitchen.match_line("") is None
    first = kitchen.match_line("2 cups basmati rice")
    assert first is kitchen.match_line("2 cups basmati rice")


def test_match_line_is_fast() -> None:
    kb = Kitchen(load_kitchen().all())  # fresh instance, empty cache
    lines = [f"{i} cups chopped fresh ingredient number {i} with garlic, minced" for i in range(3000)]
    start = time.perf_counter()
    for line in lines:
        kb.match_line(line)
    assert time.perf_counter() - start < 2.0


# --- malformed knowledge files ----------------------------------------------------------


def _write(tmp_path, obj) -> str:
    path = tmp_path / "ingredients.json"
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj), encoding="utf-8")
    return str(path)


def _entry(**over) -> dict:
    e = {"name": "thing", "aliases": ["things"], "category": "vegetable", "vegetarian": True,
         "vegan": True, "gluten_free": True, "dairy_free": True, "nut_free": True, "staple": False}
    e.update(over)
    return e


def test_load_custom_file(tmp_path) -> None:
    kb = load_kitchen(_write(tmp_path, {"version": 1, "ingredients": [_entry()]}))
    assert kb.names == ("thing",)
    assert kb.lookup("Things").name == "thing"


@pytest.mark.parametrize("doc, needle", [
    ("{not json", "not valid JSON"),
    ({"version": 2, "ingredients": [_entry()]}, "version"),
    ({"version": 1, "ingredients": []}, "non-empty list"),
    ({"version": 1, "ingredients": [_entry(), _entry(name="okra", category="veg")]}, "entry 1 ('okra')"),
    ({"version": 1, "ingredients": [_entry(name="lard", vegan="no")]}, "'lard'"),
    ({"version": 1, "ingredients": [_entry(name="ghee", vegan=True, dairy_free=False)]}, "'ghee'"),
    ({"version": 1, "ingredients": [_entry(), _entry(name="stuff", aliases=["thing"])]}, "already used by 'thing'"),
    ({"version": 1, "ingredients": [{"aliases": []}]}, "entry 0"),
])
def test_malformed_file_names_the_problem(tmp_path, doc, needle: str) -> None:
    path = _write(tmp_path, doc)
    with pytest.raises(InvalidInput) as err:
        load_kitchen(path)
    assert needle in str(err.value)
    assert "ingredients.json" in str(err.value)


def test_missing_file(tmp_path) -> None:
    with pytest.raises(InvalidInput, match="not found"):
        load_kitchen(tmp_path / "nope.json")


# --- pantry parsing ----------------------------------------------------------------------


def test_parse_pantry_basic(kitchen: Kitchen) -> None:
    items = parse_pantry("2 eggs, half an onion, spinach, leftover rice", kitchen)
    assert pantry_names(items) == ("egg", "onion", "spinach", "rice")
    assert [i.quantity for i in items] == ["2", "half", None, None]
    assert all(i.known for i in items)
    assert items[0].raw == "2 eggs"


@pytest.mark.parametrize("text, name, quantity", [
    ("a bunch of spinach", "spinach", "a bunch"),
    ("some frozen peas", "pea", "some"),
    ("1/2 lb ground beef", "beef", "1/2 lb"),
    ("3 x tins of tomatoes", "canned tomato", "3 tins"),
    ("- milk", "milk", None),
    ("* 200g feta", "feta", "200 g"),
    ("1 cup basmati rice", "rice", "1 cup"),
    ("half a dozen eggs", "egg", "half a dozen"),
    ("eggs x2", "egg", "2"),
    ("flour 1kg", "flour", "1 kg"),
    ("2 large carrots", "carrot", "2"),
    ("a couple of lemons", "lemon", "a couple"),
])
def test_parse_pantry_quantities_and_qualifiers(kitchen: Kitchen, text: str, name: str, quantity) -> None:
    [item] = parse_pantry(text, kitchen)
    assert (item.name, item.quantity, item.known) == (name, quantity, True)


def test_parse_pantry_splits_and_dedupes(kitchen: Kitchen) -> None:
    items = parse_pantry("salt and pepper\n- milk; eggs\n• 2 eggs & Milk", kitchen)
    assert pantry_names(items) == ("salt", "black pepper", "milk", "egg")


def test_parse_pantry_keeps_unknown(kitchen: Kitchen) -> None:
    items = parse_pantry("eggs, Unobtainium Dust, 2 jars of mystery relish sauce", kitchen)
    assert items[0] == PantryItem(name="egg", known=True, quantity=None, raw="eggs")
    assert items[1].name == "unobtainium dust" and items[1].known is False


def test_parse_pantry_reads_past_pasted_markup(kitchen: Kitchen) -> None:
    """A list pasted from a web page: tags separate (line-like ones as new lines), scripts go
    whole, and what is not a tag ("a<b", "<3") stays text."""
    names = lambda t: [(i.name, i.known) for i in parse_pantry(t, kitchen)]  # noqa: E731
    assert names("<b>spinach</b>, <i>fresh basil</i>") == [("spinach", True), ("basil", True)]
    assert names("<ul><li>2 eggs</li><li>rice</li></ul>") == [("egg", True), ("rice", True)]
    assert names("eggs<br/>rice<BR>milk") == [("egg", True), ("rice", True), ("milk", True)]
    assert names("<script>alert('x')</script> rice") == [("rice", True)]
    assert names('<p class="note">tomatoes</p>') == [("tomato", True)]
    assert ("egg", True) in names("a<b, 2 eggs") and names("a<b, 2 eggs")[0][1] is False
    with pytest.raises(InvalidInput):
        parse_pantry("<b></b> <i> </i>", kitchen)


def test_parse_pantry_ignores_control_characters(kitchen: Kitchen) -> None:
    items = parse_pantry("eg\x00gs,\x07 rice\u200b\r\nspinach\t", kitchen)
    assert pantry_names(items) == ("egg", "rice", "spinach")


@pytest.mark.parametrize("text", ["", "   \n\t ", ",,, ;\n", "\x00\x01"])
def test_parse_pantry_empty(kitchen: Kitchen, text: str) -> None:
    with pytest.raises(InvalidInput, match="pantry is empty"):
        parse_pantry(text, kitchen)


@pytest.mark.parametrize("text", [",,, ;\n", "- \n- ", "<br><br>", "\x00\x01 ,"])
def test_read_pantry_reads_separators_only_as_no_pantry(kitchen: Kitchen, text: str) -> None:
    """Text that names nothing is read as an empty pantry box (staples), as blank text is,
    not refused; the extra items still count."""
    from pantry.kitchen import read_pantry

    assert read_pantry(text, (), kitchen) == read_pantry("", (), kitchen)
    assert read_pantry(text, ["tofu"], kitchen).names == ("tofu",)


def test_parse_pantry_too_long(kitchen: Kitchen) -> None:
    text = "eggs, " * (102400 // 6) + "rice"
    with pytest.raises(InvalidInput) as err:
        parse_pantry(text, kitchen)
    assert str(len(text)) in str(err.value) and "5000" in str(err.value)


def test_parse_pantry_too_many_items(kitchen: Kitchen) -> None:
    text = ",".join(f"x{i}" for i in range(201))
    with pytest.raises(InvalidInput, match="201 items"):
        parse_pantry(text, kitchen, max_chars=100_000)


def test_parse_pantry_uses_default_kitchen() -> None:
    assert pantry_names(parse_pantry("Tomatoes")) == ("tomato",)


# --- recipe checks ---------------------------------------------------------------------------


def test_diet_violations(kitchen: Kitchen) -> None:
    r = recipe("4 slices bacon", "2 tablespoons butter", "1/4 cup soy sauce", "1/2 cup sliced almonds",
               "2 cups spinach", "For the sauce:")
    assert diet_violations(r, ["vegetarian"], kitchen) == ["bacon is not vegetarian"]
    assert "butter is not vegan" in diet_violations(r, ["vegan"], kitchen)
    assert diet_violations(r, ["dairy-free"], kitchen) == ["butter is not dairy-free"]
    assert diet_violations(r, ["gluten-free"], kitchen) == ["soy sauce is not gluten-free"]
    assert diet_violations(r, ["nut-free"], kitchen) == ["almond is not nut-free"]
    assert diet_violations(r, [], kitchen) == []
    assert diet_violations(recipe("2 cups spinach", "1 cup rice"), ["vegan", "nut-free"], kitchen) == []


def test_diet_violations_unknown_lines_and_exemptions(kitchen: Kitchen) -> None:
    r = recipe("200 g 'nduja", "1 cup kefir", "1 block vegan butter", "gluten-free pasta")
    assert len(diet_violations(r, ["vegetarian"], kitchen)) == 1
    assert any("kefir" in m for m in diet_violations(r, ["dairy-free"], kitchen))
    assert diet_violations(recipe("gluten-free pasta"), ["gluten-free"], kitchen) == []
    assert diet_violations(recipe("2 tbsp vegan butter"), ["vegan", "dairy-free"], kitchen) == []


def test_diet_violations_unknown_diet(kitchen: Kitchen) -> None:
    with pytest.raises(ValueError, match="keto"):
        diet_violations(recipe("1 egg"), ["keto"], kitchen)


def test_missing_and_coverage(kitchen: Kitchen) -> None:
    r = recipe("2 cups cooked rice", "3 eggs", "1 bunch scallions, sliced", "2 tablespoons soy sauce",
               "1 tablespoon vegetable oil", "Salt and pepper", "1 tablespoon gochujang-ish paste")
    pantry = ["rice", "egg", "gochujang-ish"]
    assert missing_ingredients(r, pantry, kitchen) == ["1 bunch scallions, sliced", "2 tablespoons soy sauce"]
    assert pantry_coverage(r, pantry, kitchen) == pytest.approx(3 / 5)
    assert pantry_coverage(r, [], kitchen) == 0.0
    assert pantry_coverage(r, ["rice", "eggs", "spring onions", "soy sauce", "gochujang-ish"], kitchen) == 1.0
    assert missing_ingredients(r, ["rice", "eggs", "spring onions", "soy sauce", "gochujang-ish"], kitchen) == []
    # only staples: nothing to buy, even with an empty pantry
    assert pantry_coverage(recipe("Salt", "1 cup water", "olive oil"), [], kitchen) == 1.0


def test_missing_accepts_parsed_names(kitchen: Kitchen) -> None:
    items = parse_pantry("2 eggs, half an onion, leftover rice", kitchen)
    r = recipe("1 onion, diced", "2 large eggs", "1 cup rice", "1 cup frozen peas")
    assert missing_ingredients(r, pantry_names(items), kitchen) == ["1 cup frozen peas"]
    assert isinstance(kitchen.get("onion"), Ingredient)


@pytest.mark.parametrize("text, name", [
    ("naan", "naan"), ("flatbread", "flatbread"), ("pitta bread", "pita"), ("chapatis", "chapati"),
    ("shortcrust pastry", "shortcrust pastry"), ("puff pastry", "puff pastry"), ("filo", "filo pastry"),
    ("za'atar", "za'atar"), ("sumac", "sumac"), ("old bay", "cajun seasoning"),
    ("red curry paste", "red curry paste"), ("thai green curry paste", "green curry paste"),
    ("madras curry powder", "curry powder"), ("kimchi", "kimchi"), ("gochujang", "gochujang"),
    ("vegetarian sausages", "vegetarian sausage"), ("merguez", "merguez sausage"),
    ("coleslaw mix", "cabbage"), ("coleslaw", "coleslaw"),
])
def test_kb_distinct_products_are_not_lumped(kitchen: Kitchen, text: str, name: str) -> None:
    ing = kitchen.lookup(text)
    assert ing is not None and ing.name == name, (text, ing)


@pytest.mark.parametrize("name, flag, expected", [
    ("red curry paste", "vegetarian", False),   # shrimp paste in many brands
    ("green curry paste", "vegetarian", False),
    ("kimchi", "vegetarian", False),
    ("gochujang", "gluten_free", False),
    ("chinese sausage", "gluten_free", False),
    ("vegetarian sausage", "vegetarian", True),
    ("vegetarian sausage", "vegan", False),
    ("tzatziki", "dairy_free", False),
    ("falafel", "vegan", True),
    ("naan", "vegan", False),
    ("bamboo shoot", "vegan", True),
])
def test_kb_new_entry_flags(kitchen: Kitchen, name: str, flag: str, expected: bool) -> None:
    assert getattr(kitchen.get(name), flag) is expected


def test_dish_book_ingredients_all_known() -> None:
    from pantry.generators.dishbook import load_dish_book

    assert load_dish_book().unknown_ingredients == ()


# --- pantry amounts, leftovers, foreign names (issue: believable offline recipes) -------------


def test_amounts_parse_to_comparable_numbers() -> None:
    from pantry.kitchen import Amount, line_amount, parse_amount

    assert parse_amount("2") == Amount(2, "")
    assert parse_amount("half") == Amount(0.5, "")
    assert parse_amount("200 g") == Amount(200, "g")
    assert parse_amount("1 kg") == Amount(1000, "g")
    assert parse_amount("half a dozen") == Amount(6, "")
    assert parse_amount("3 tins") == Amount(3, "can")
    assert parse_amount("some") is None and parse_amount(None) is None
    assert line_amount("6 eggs") == Amount(6, "")
    assert line_amount("1/2 onion, chopped") == Amount(0.5, "")
    assert line_amount("2 cloves garlic, minced") == Amount(2, "clove")


def test_missing_counts_pantry_quantities(kitchen: Kitchen) -> None:
    amounts = {"egg": "2", "onion": "half", "chicken": "200 g"}
    pantry = ["egg", "onion", "chicken"]
    assert missing_ingredients(recipe("6 eggs"), pantry, kitchen, amounts=amounts) == ["6 eggs"]
    assert missing_ingredients(recipe("2 eggs", "1/2 onion, chopped"), pantry, kitchen, amounts=amounts) == []
    assert missing_ingredients(recipe("1 onion"), pantry, kitchen, amounts=amounts) == ["1 onion"]
    assert missing_ingredients(recipe("300 g chicken thighs"), pantry, kitchen, amounts=amounts) == ["300 g chicken thighs"]
    assert missing_ingredients(recipe("150 g chicken breast"), pantry, kitchen, amounts=amounts) == []
    # pieces and grams compare through the piece weight: 2 eggs are about 100 g
    assert missing_ingredients(recipe("150 g eggs, beaten"), pantry, kitchen, amounts=amounts) == ["150 g eggs, beaten"]
    # two lines share the pantry's eggs
    assert missing_ingredients(recipe("1 egg", "2 eggs, to glaze"), pantry, kitchen, amounts=amounts) == ["2 eggs, to glaze"]
    # without amounts (old callers) nothing changes; incomparable units count as enough
    assert missing_ingredients(recipe("6 eggs"), pantry, kitchen) == []
    assert missing_ingredients(recipe("1 cup chicken"), pantry, kitchen, amounts=amounts) == []
    assert pantry_coverage(recipe("6 eggs", "1/2 onion"), pantry, kitchen, amounts=amounts) == 0.5


def test_read_pantry_for_the_ui(kitchen: Kitchen) -> None:
    from pantry.kitchen import PantryReading, read_pantry

    r = read_pantry("2 eggs, half an onion, spinach, leftover rice, soy sauce, garlic", ["tofu"], kitchen)
    assert isinstance(r, PantryReading)
    assert r.names == ("egg", "onion", "spinach", "rice", "soy sauce", "garlic", "tofu")
    assert r.amounts == {"egg": "2", "onion": "half"}
    assert r.cooked == ("rice",)
    assert r.unknown == () and r.recognised == 7 and r.note == ""
    assert r.pantry == r.names
    empty = read_pantry("", (), kitchen)
    assert empty.names == () and "staples" in empty.note


def test_italian_pantry_is_understood(kitchen: Kitchen) -> None:
    from pantry.kitchen import read_pantry

    r = read_pantry("uova, cipolla, salsa di soia", (), kitchen)
    assert r.names == ("egg", "onion", "soy sauce") and r.unknown == ()
    for text, name in [("huevos", "egg"), ("oignons", "onion"), ("œufs", "egg"), ("Zwiebeln", "onion"),
                       ("Sojasoße", "soy sauce"), ("salsa de soja", "soy sauce"), ("Knoblauch", "garlic"),
                       ("arroz", "rice"), ("pomodori", "tomato"), ("Kartoffeln", "potato"), ("riz", "rice")]:
        assert kitchen.lookup(text).name == name, text


def test_nothing_recognised_says_so(kitchen: Kitchen) -> None:
    from pantry.kitchen import read_pantry

    r = read_pantry("zorblax, quibble paste", (), kitchen)
    assert r.names == () and r.unknown == ("zorblax", "quibble paste") and r.recognised == 0
    assert r.note == ("None of these were recognised as ingredients: zorblax, quibble paste. "
                      "Recipes are made from common staples.")
    little = read_pantry("zorblax, quibble, flurp, eggs", (), kitchen)
    assert little.names == ("egg",) and "not recognised" in little.note and "egg" in little.note
    essay = read_pantry("spinach" * 700, (), kitchen)  # one long word pasted: quoted clipped, not whole
    assert essay.unknown == ("spinach" * 700,) and len(essay.note) < 150 and "ingredients: spinachspinach" in essay.note
    assert "…. Recipes are made" in essay.note


@pytest.mark.parametrize("text", ["salsa di nonna", "almond cream", "oat cream", "chicken flavoured crisps",
                                  "butter chicken sauce mix"])
def test_longer_unknown_phrases_do_not_match_a_shorter_food(kitchen: Kitchen, text: str) -> None:
    [item] = parse_pantry(text, kitchen)
    assert item.known is False, (text, item)


@pytest.mark.parametrize("text, name", [("peanut butter", "peanut butter"), ("coconut milk", "coconut milk"),
                                        ("salsa di soia", "soy sauce"), ("baby spinach", "spinach"),
                                        ("free range eggs", "egg"), ("smoked paprika", "paprika")])
def test_compound_foods_keep_their_identity(kitchen: Kitchen, text: str, name: str) -> None:
    [item] = parse_pantry(text, kitchen)
    assert item.name == name and item.known


def test_plant_words_before_dairy_name_another_food(kitchen: Kitchen) -> None:
    assert kitchen.match_line("2 tbsp cashew cream").name == "cashew"
    assert kitchen.match_line("200 ml cream").name == "cream"


def test_leftovers_are_marked_cooked(kitchen: Kitchen) -> None:
    items = parse_pantry("leftover rice, cooked chicken, cooked pasta, rice noodles, 2 eggs", kitchen)
    assert [(i.name, i.cooked) for i in items] == [("rice", True), ("chicken", True), ("pasta", True),
                                                   ("rice noodle", False), ("egg", False)]


def test_mentions_finds_ingredients_in_steps(kitchen: Kitchen) -> None:
    names = [i.name for i in kitchen.mentions("Fry the red onion and garlic in the olive oil until crisp, then toast.")]
    assert names == ["onion", "garlic", "olive oil"]


# --- fish, seafood and meat by their common names; longer names never read as shorter foods ---------

ANIMAL_NAMES = {  # text -> (canonical name, category)
    "2 sea bream fillets": ("sea bream", "fish"), "orata": ("sea bream", "fish"),
    "yellowtail sashimi": ("yellowtail", "fish"), "hamachi": ("yellowtail", "fish"), "ricciola": ("yellowtail", "fish"),
    "1 lb eel": ("eel", "fish"), "unagi": ("eel", "fish"), "anguilla": ("eel", "fish"),
    "salmon roe": ("roe", "fish"), "ikura": ("roe", "fish"), "bottarga": ("roe", "fish"), "caviar": ("roe", "fish"),
    "anchovies in oil": ("anchovy", "fish"), "alici": ("anchovy", "fish"), "acciughe": ("anchovy", "fish"),
    "mackerel": ("mackerel", "fish"), "sgombro": ("mackerel", "fish"), "herring": ("herring", "fish"),
    "branzino": ("white fish", "fish"), "spigola": ("white fish", "fish"), "baccalà": ("cod", "fish"),
    "smoked eel": ("eel", "fish"), "crab sticks": ("surimi", "fish"), "trota": ("trout", "fish"),
    "sea urchin": ("sea urchin", "seafood"), "uni": ("sea urchin", "seafood"), "ricci di mare": ("sea urchin", "seafood"),
    "raw sea cucumber": ("sea cucumber", "seafood"), "octopus": ("octopus", "seafood"), "polpo": ("octopus", "seafood"),
    "squid": ("squid", "seafood"), "calamari rings": ("squid", "seafood"), "seppia": ("cuttlefish", "seafood"),
    "1 kg clams": ("clam", "seafood"), "vongole": ("clam", "seafood"), "cockles": ("clam", "seafood"),
    "mussels": ("mussel", "seafood"), "cozze": ("mussel", "seafood"), "capesante": ("scallop", "seafood"),
    "scampi": ("lobster", "seafood"), "astice": ("lobster", "seafood"), "granchio": ("crab", "seafood"),
    "abalone": ("abalone", "seafood"), "frutti di mare": ("mixed seafood", "seafood"),
    "whale meat": ("whale", "meat"), "venison": ("venison", "meat"), "cervo": ("venison", "meat"),
    "rabbit": ("rabbit", "meat"), "coniglio": ("rabbit", "meat"), "hare": ("rabbit", "meat"),
    "veal": ("veal", "meat"), "vitello": ("veal", "meat"), "wild boar": ("wild boar", "meat"),
    "cinghiale": ("wild boar", "meat"), "lamb offal": ("offal", "meat"), "coratella": ("offal", "meat"),
    "lamb kidneys": ("kidney", "meat"), "calf's liver": ("liver", "meat"), "fegato": ("liver", "meat"),
    "ox tongue": ("tongue", "meat"), "trippa": ("tripe", "meat"), "sweetbreads": ("sweetbreads", "meat"),
    "black pudding": ("blood sausage", "meat"), "pig's trotters": ("trotters", "meat"), "bresaola": ("beef", "meat"),
    "duck breast": ("duck", "poultry"), "anatra": ("duck", "poultry"), "goose": ("goose", "poultry"),
    "oca": ("goose", "poultry"), "quail": ("quail", "poultry"), "pheasant": ("pheasant", "poultry"),
    "guinea fowl": ("guinea fowl", "poultry"), "squab": ("pigeon", "poultry"), "foie gras": ("foie gras", "poultry"),
}


@pytest.mark.parametrize("text", sorted(ANIMAL_NAMES))
def test_fish_seafood_and_meat_have_their_group_and_diet_flags(kitchen: Kitchen, text: str) -> None:
    name, category = ANIMAL_NAMES[text]
    ing = kitchen.match_line(text)
    assert ing is not None and (ing.name, ing.category) == (name, category), (text, ing)
    assert not ing.vegetarian and not ing.vegan and ing.dairy_free and ing.nut_free
    assert recipe(text).ingredients and diet_violations(recipe(text), ["vegetarian"], kitchen)


@pytest.mark.parametrize("text, name", [
    ("raw sea cucumber", "sea cucumber"),  # not cucumber
    ("daikon radish sprouts", "microgreens"),  # not Brussels sprouts
    ("alfalfa sprouts", "microgreens"), ("pea shoots", "microgreens"),
    ("sea beans", "samphire"),  # not a bean
    ("duck sauce", "duck sauce"),  # a plum sauce, not duck
    ("rabbit", "rabbit"), ("goose", "goose"),  # no longer venison and duck
    ("horse radish", "horseradish"), ("oyster mushrooms", "mushroom"), ("hen of the woods", "mushroom"),
    ("brussels sprouts", "brussels sprout"), ("sprouts", "brussels sprout"), ("cucumber", "cucumber"),
])
def test_former_false_matches_are_fixed(kitchen: Kitchen, text: str, name: str) -> None:
    ing = kitchen.match_line(text)
    assert ing is not None and ing.name == name, (text, ing)


def test_nori_is_seaweed_and_neither_a_vegetable_nor_seafood(kitchen: Kitchen) -> None:
    nori = kitchen.match_line("2 sheets nori")
    assert nori.name == "seaweed" and nori.category == "other" and nori.vegan


# modifier + head compounds whose head alone is another food: the compound is never read as it
COMPOUNDS = ["sea cucumber", "raw sea cucumber", "daikon radish sprouts", "radish sprouts", "alfalfa sprouts",
             "sea urchin", "sea bream", "sea beans", "crab apples", "ground cherries", "tiger nuts", "monk fruit",
             "duck sauce", "oyster sauce", "oyster mushrooms", "fish sauce", "hearts of palm", "salmon roe",
             "hot dog buns", "kidney beans", "peanut butter", "coconut milk", "butter beans", "chicken of the woods",
             "horse radish", "fish mint", "lamb's quarters", "foie gras", "fegato d'oca", "sea salt", "bean curd"]


def _names_inside(kitchen: Kitchen, toks: tuple[str, ...]) -> dict[tuple[int, int], Ingredient | None]:
    """Every span of `toks` that names a food: an ingredient, or None for an unlisted food."""
    unlisted = {tokens(u) for u in kitchen.unlisted_foods}
    out = {}
    for i in range(len(toks)):
        for j in range(i + 1, len(toks) + 1):
            ing = kitchen.lookup(" ".join(toks[i:j]))
            if ing is not None or toks[i:j] in unlisted:
                out[(i, j)] = ing
    return out


@pytest.mark.parametrize("compound", COMPOUNDS)
def test_a_longer_name_is_never_read_as_a_shorter_different_food(kitchen: Kitchen, compound: str) -> None:
    """The rule: a compound is read as one of the longest food names in it (None for an unlisted
    food), never as a shorter name that lies inside a longer one ("sea cucumber" > "cucumber")."""
    spans = _names_inside(kitchen, tokens(compound))
    longest = {s: ing for s, ing in spans.items()
               if not any(o != s and o[0] <= s[0] and s[1] <= o[1] for o in spans)}
    shorter_only = {ing for s, ing in spans.items() if s not in longest and ing is not None} - set(longest.values())
    assert longest, compound  # every compound of the list contains a food name
    whole = kitchen.match_line(compound)
    assert whole not in shorter_only, (compound, whole)
    assert whole in longest.values(), (compound, whole)


def test_unlisted_foods_block_the_shorter_name_everywhere(kitchen: Kitchen) -> None:
    assert kitchen.match_line("1 lb crab apples, halved") is None and kitchen.lookup("crab apple") is None
    assert kitchen.match_line("crab apples and crab meat").name == "crab"  # the other, real crab still counts
    assert [i.name for i in kitchen.mentions("Poach the crab apples with the apples.")] == ["apple"]
    assert kitchen.match_at(tokens("crab apple"), 0) is None and kitchen.match_at(tokens("crab meat"), 0)[1].name == "crab"
    [item] = parse_pantry("ground cherries", kitchen)
    assert item.known is False


def test_unlisted_foods_are_validated(tmp_path) -> None:
    entry = {"name": "apple", "aliases": ["apples"], "category": "fruit", "vegetarian": True, "vegan": True,
             "gluten_free": True, "dairy_free": True, "nut_free": True, "staple": False}
    doc = {"version": 1, "ingredients": [entry], "unlisted_foods": ["crab apple"]}
    k = Kitchen.from_dict(doc)
    assert k.unlisted_foods == ("crab apple",) and k.match_line("crab apple") is None and k.match_line("apple")
    with pytest.raises(InvalidInput, match="alias of 'apple'"):
        Kitchen.from_dict({**doc, "unlisted_foods": ["apples"]})
    with pytest.raises(InvalidInput, match="unlisted_foods"):
        Kitchen.from_dict({**doc, "unlisted_foods": "crab apple"})
