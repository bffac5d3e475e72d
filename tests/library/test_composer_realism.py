"""A realism checker for the offline composer: thousands of recipes over varied pantries.

The offline composer is what every new user rates first, so its recipes must be believable.
For every recipe of about 500 seeded rounds (one `generate` call each, > 2,000 recipes) over
pantries with quantities ("2 eggs", "half an onion", "200 g chicken"), cooked leftovers,
non-English names, diets and cuisines, this checks that:

- a line never asks for more of a pantry item than the pantry holds unless
  `kitchen.missing_ingredients` reports it missing (plus an independent count for eggs);
- a cooked leftover is used as cooked: its line says "cooked", it is not another variety,
  and no step cooks it again;
- every step mentions only ingredients of the recipe, staples, or a generic word
  (GENERIC_WORDS) for an ingredient the recipe lists;
- no two recipes of one round are near-duplicates, and diets hold;
- every listed ingredient is used by a step, nothing goes into a pan before one is heated,
  a cooked dish does not start "Add ...", and no mains clash (tuna with tofu)
  (`pantry.generators.realism`).

Then simulated Compare sessions (issue 18: food a person would cook from *this* pantry):
many pantries, a few rounds each, as the page does them (6 candidates with the session's
recent recipes, `drop_recently_shown`, a valid pair): recipes use mostly what the pantry
holds (against a random dish-book choice in the same run), every pantry item shows up
within three rounds, no pair of one dish family, no dish repeated, no family over its share.
"""

from __future__ import annotations

import random
import re
import time

import pytest

import statistics

from pantry.compare import Duplicates, drop_recently_shown, fit_for_pantry, valid_pairs
from pantry.generators.realism import (clashes, heat_order_problems, is_spoonful, main_ingredients, pantry_share,
                                       unused_lines)
from pantry.kitchen.dedupe import drop_near_duplicates, near_duplicate, same_dish, same_family, signature
from pantry.errors import GeneratorError
from pantry.generators.base import GenerationRequest
from pantry.generators.composer import OfflineComposer
from pantry.kitchen import amount_ratio, diet_violations, line_amount, load_kitchen, missing_ingredients, read_pantry

ROUNDS = 700
MIN_RECIPES = 2000

WITH_AMOUNTS = ["2 eggs", "1 egg", "3 eggs", "half an onion", "1 onion", "200 g chicken", "150g chicken breast",
                "3 tomatoes", "1 kg potatoes", "500 ml milk", "100 g cheddar", "2 carrots", "half a lemon",
                "250 g mushrooms", "a couple of peppers", "400 g minced beef", "1 zucchini", "50 g butter",
                "2 sweet potatoes", "120 g feta", "a bunch of spinach", "half a dozen eggs", "300 g pasta",
                "1 cup rice", "2 cloves garlic", "1/2 cucumber", "1 avocado", "200 g tofu"]
LEFTOVERS = ["leftover rice", "cooked rice", "leftover chicken", "cooked pasta", "leftover roast chicken",
             "day-old rice", "cooked quinoa"]
PLAIN = ["spinach", "soy sauce", "garlic", "rice", "pasta", "broccoli", "bell pepper", "chickpeas", "lentils",
         "canned tomatoes", "coconut milk", "ginger", "green onions", "tortillas", "black beans", "bacon", "ham",
         "parmesan", "mozzarella", "yogurt", "lemon", "lime", "cumin", "paprika", "basil", "parsley", "noodles",
         "peas", "carrot", "cabbage", "kale", "salmon", "prawns", "sausages", "bread", "milk", "flour", "honey",
         "peanut butter", "almond milk", "cashews", "feta", "eggplant", "cauliflower", "potato", "leek"]
FOREIGN = ["uova", "cipolla", "salsa di soia", "huevos", "cebolla", "arroz", "oignon", "riz", "Kartoffeln",
           "Zwiebel", "pomodori", "funghi", "pollo", "queso", "champignons", "spinaci", "aglio", "ajo", "Knoblauch",
           "lait", "Milch", "zanahorias", "carottes", "pâtes", "Reis", "pimiento", "poivron", "Käse", "burro"]
DIET_CHOICES = [(), (), (), ("vegetarian",), ("vegan",), ("gluten-free",), ("dairy-free",), ("nut-free",),
                ("vegetarian", "gluten-free")]

# Step words that name a kind of ingredient rather than one ingredient ("the stock", "the cheese"):
# fine when the recipe lists an ingredient whose line contains the word.
GENERIC_WORDS = {"stock", "cheese", "oil", "noodle", "pasta", "rice", "sauce", "bean", "fish", "sausage",
                 "pepper", "chicken", "bread", "tortilla", "pita", "lentil", "egg", "cream", "tomato",
                 "onion", "seed", "milk", "nut", "sugar", "pastry"}
NOT_CHEESE = {"milk", "butter", "cream", "yogurt", "buttermilk", "sour cream", "creme fraiche", "ghee"}
# Words of a step that cook something (a leftover must not meet them).
COOKING = re.compile(r"\b(rinse|soak|boil|bake|roast|according to the packet|until tender|cook (?:it|the))\b")


def random_pantry(rng: random.Random) -> str:
    items = rng.sample(PLAIN, rng.randint(1, 6))
    items += rng.sample(WITH_AMOUNTS, rng.randint(0, 3))
    if rng.random() < 0.45:
        items.append(rng.choice(LEFTOVERS))
    if rng.random() < 0.3:
        items += rng.sample(FOREIGN, rng.randint(1, 4))
    rng.shuffle(items)
    return ", ".join(items)


def _rounds():
    """(reading, request, recipes) for every round that the constraints allow."""
    composer = OfflineComposer()
    cuisines = (None,) * 6 + composer.cuisines
    rng = random.Random(20240601)
    for i in range(ROUNDS):
        reading = read_pantry(random_pantry(rng))
        request = GenerationRequest(pantry=reading.pantry, amounts=reading.amounts, cooked=reading.cooked,
                                    n=rng.choice((2, 2, 4, 6)), diets=rng.choice(DIET_CHOICES),
                                    cuisine=rng.choice(cuisines), max_minutes=rng.choice((None, None, 30, 45)),
                                    servings=rng.choice((1, 2, 2, 4)), seed=i)
        try:
            recipes = composer.generate(request)
        except GeneratorError:
            continue  # e.g. a vegan korean dish in 30 minutes: the composer says so clearly
        yield reading, request, recipes


@pytest.fixture(scope="module")
def rounds():
    start = time.perf_counter()
    out = list(_rounds())
    return out, time.perf_counter() - start


def _problems(reading, request, recipe, kb) -> list[str]:
    problems: list[str] = []
    missing = set(missing_ingredients(recipe, reading.pantry, kb, amounts=reading.amounts))
    canon_lines = {}
    for line in recipe.ingredients:
        ing = kb.match_line(line)
        if ing is None:
            problems.append(f"line {line!r} names no known ingredient")
            continue
        canon_lines.setdefault(ing.name, []).append(line)
        # 1. quantities within the pantry, or missing
        have = reading.amounts.get(ing.name)
        if have is not None:
            from pantry.kitchen import parse_amount
            ratio = amount_ratio(parse_amount(have), line_amount(line), ing)
            if ratio is not None and ratio < 1 - 1e-9 and line not in missing:
                problems.append(f"{line!r} needs more than the pantry's {have} and is not marked missing")
            m = re.match(r"^(\d+) eggs?\b", line)
            n_have = {"2": 2, "1": 1, "3": 3, "half a dozen": 6}.get(have)
            if ing.name == "egg" and m and n_have is not None and int(m.group(1)) > n_have and line not in missing:
                problems.append(f"{line!r} with {have} eggs in the pantry is not missing")
        # 2. leftovers are used cooked, as what they are
        if ing.name in reading.cooked and not re.search(rf"\bcooked {re.escape(ing.name)}\b", line):
            problems.append(f"leftover {ing.name} is used raw or as another variety: {line!r}")
    names = set(canon_lines)
    text_of_lines = " ".join(recipe.ingredients).lower()
    staples = {s.name for s in kb.staples}
    for step in recipe.steps:
        for ing in kb.mentions(step):
            if ing.name in names or ing.name in staples:
                continue
            head = ing.name.split()[-1]  # "stock", "cheese", "pastry" (of "shortcrust pastry")
            if head in GENERIC_WORDS and re.search(rf"\b{head}", text_of_lines):
                continue  # "the stock" for "vegetable stock"
            if head == "cheese" and any(kb.get(n).category == "dairy" and n not in NOT_CHEESE for n in names):
                continue  # "the rest of the cheese" for cheddar
            problems.append(f"step mentions {ing.name}, which the recipe does not list: {step!r}")
        for c in reading.cooked:
            if f"cooked {c}" in step.lower() and COOKING.search(step.lower()):
                problems.append(f"a step cooks the leftover {c} again: {step!r}")
    if request.diets:
        problems += diet_violations(recipe, request.diets, kb)
    problems += [f"no step uses {line!r}" for line in unused_lines(recipe, kb)]
    problems += [f"food into a cold pan or 'Add' first: {step!r}" for step in heat_order_problems(recipe)]
    problems += [f"{a} with {b} in one dish" for a, b in clashes(recipe, kb)]
    return [f"{recipe.title}: {p}" for p in problems]


def test_composer_recipes_are_believable(rounds):
    data, elapsed = rounds
    kb = load_kitchen()
    total = sum(len(rs) for _, _, rs in data)
    assert total >= MIN_RECIPES, (total, len(data))
    assert elapsed < 60, f"{total} recipes took {elapsed:.1f}s"
    problems: list[str] = []
    for reading, request, recipes in data:
        for r in recipes:
            problems += _problems(reading, request, r, kb)
        for i, a in enumerate(recipes):
            for b in recipes[i + 1:]:
                if near_duplicate(a, b):
                    problems.append(f"near-duplicates in one round: {a.title!r} and {b.title!r}")
    assert not problems, f"{len(problems)} problems, e.g.:\n" + "\n".join(sorted(set(problems))[:40])


def test_checker_covers_what_it_claims(rounds):
    """The rounds really exercise amounts, leftovers, foreign names and diets."""
    data, _ = rounds
    assert len(data) >= 0.8 * ROUNDS
    assert sum(bool(rd.amounts) for rd, _, _ in data) > 150
    assert sum(bool(rd.cooked) for rd, _, _ in data) > 120
    used_cooked = sum(1 for rd, _, rs in data for r in rs for line in r.ingredients if "cooked " in line and rd.cooked)
    assert used_cooked > 150
    assert sum(bool(req.diets) for _, req, _ in data) > 120
    assert sum(1 for rd, _, _ in data if any(i.raw in FOREIGN for i in rd.items)) > 100


# ------------------------------------------------------------------ sessions (issue 18)

SESSION_PANTRIES = [
    "tofu, broccoli, rice noodles, peanut butter", "eggs, spinach, feta, onion", "chicken, rice, peppers, onion, garlic",
    "pasta, tomatoes, basil, mozzarella", "potatoes, leek, cheddar, milk", "salmon, lemon, asparagus, potatoes",
    "chickpeas, canned tomatoes, spinach, coconut milk", "minced beef, kidney beans, tortillas, cheddar",
    "bread, ham, cheese, eggs", "lentils, carrots, onion, cumin",
]
SESSION_ROUNDS = 6


def _session_pantries() -> list[str]:
    rng = random.Random(18)
    out = list(SESSION_PANTRIES)
    while len(out) < 30:
        out.append(", ".join(rng.sample(PLAIN, rng.randint(3, 6))))
    return out


def _sessions(composer: OfflineComposer):
    """(pantry reading, [(round, shown pair)]) per pantry, as the Compare page makes rounds."""
    out = []
    for k, text in enumerate(_session_pantries()):
        reading = read_pantry(text)
        rng = random.Random(k)
        recent: list = []
        shown = []
        for r in range(SESSION_ROUNDS):
            request = GenerationRequest(pantry=reading.pantry, amounts=reading.amounts, n=6,
                                        seed=rng.randrange(1 << 31), recent=tuple(recent))
            distinct = drop_recently_shown(drop_near_duplicates(composer.generate(request)), recent)
            pairs = []
            if composer._family_choice == "pantry":  # as prepare_round; the baseline picks any valid pair
                distinct = fit_for_pantry(distinct, reading.pantry)
                pairs = valid_pairs(distinct, Duplicates(family=True))
            i, j = rng.choice(pairs or valid_pairs(distinct))
            pair = (distinct[i], distinct[j])
            shown.append((r, pair))
            recent = (recent + list(pair))[-12:]
        out.append((reading, shown))
    return out


@pytest.fixture(scope="module")
def sessions():
    start = time.perf_counter()
    after = _sessions(OfflineComposer())
    baseline = _sessions(OfflineComposer(family_choice="random"))
    return after, baseline, time.perf_counter() - start


def _median_share(data) -> float:
    kb = load_kitchen()
    shares = [pantry_share(x, rd.pantry, kb) for rd, shown in data for _, pair in shown for x in pair]
    return statistics.median(s for s in shares if s is not None)


def test_sessions_use_the_pantry_first(sessions):
    """Recipes are made mostly from the pantry: the median share of a shown recipe's main
    ingredients found in the pantry beats a random dish-book choice of the same run by far."""
    after, baseline, elapsed = sessions
    assert elapsed < 40, elapsed
    ours, rand = _median_share(after), _median_share(baseline)
    assert ours >= 0.55 and ours >= 2.5 * rand, (ours, rand)  # 0.60 against 0.20 measured (0.40 / 0.17 before)
    kb = load_kitchen()
    shares = [s for rd, shown in after for _, pair in shown for x in pair
              if (s := pantry_share(x, rd.pantry, kb)) is not None]
    most = sum(s >= 0.5 for s in shares) / len(shares)
    assert most >= 0.68, most  # 0.76 measured; the bench: 0.955 (0.50 in the first round of issue 18)


def test_every_pantry_item_is_used_within_three_rounds(sessions):
    kb = load_kitchen()
    after, _, _ = sessions
    shares = []
    for reading, shown in after:
        used = {m for r, pair in shown if r < 3 for x in pair for m in main_ingredients(x, kb)}
        used |= {i.name for r, pair in shown if r < 3 for x in pair for line in x.ingredients
                 if (i := kb.match_line(line)) is not None}
        known = [n for n in reading.pantry if kb.get(n) is not None]
        shares.append(sum(n in used for n in known) / len(known))
    assert statistics.mean(shares) >= 0.9, shares  # 0.97 measured here; 0.87 in the bench before issue 18
    pb = [shown for rd, shown in after if "peanut butter" in rd.pantry and "tofu" in rd.pantry][0]
    assert any("peanut butter" in line for r, pair in pb if r < 3 for x in pair for line in x.ingredients), \
        [x.title for _, pair in pb for x in pair]


def test_one_dish_one_name_and_no_family_over_its_share(sessions):
    after, _, _ = sessions
    problems = []
    for reading, shown in after:
        sigs = []
        for r, (a, b) in shown:
            sa, sb = signature(a), signature(b)
            if same_family(sa, sb):
                problems.append(f"one family in a pair: {a.title!r} / {b.title!r}")
            for x, sx in ((a, sa), (b, sb)):
                if any(same_dish(sx, o) or near_duplicate(x, y) for o, y in sigs[-12:]):
                    problems.append(f"{x.title!r} repeats a dish of the last rounds ({reading.pantry})")
                sigs.append((sx, x))
        flat = [s for s, _ in sigs]
        worst = max(sum(same_family(x, y) for y in flat) for x in flat)
        if worst > 3:  # 3 of 12 shown recipes at most
            problems.append(f"one family {worst} times in {len(flat)} recipes for {reading.pantry}")
    # A pantry that allows only a few dishes (green onion, salmon, cashews, ginger) gets a dish
    # again rather than none (the rule is relaxed step by step): at most 2% of shown recipes.
    # The composer at e09c924 repeated 8% and paired one family in 1.6% of rounds (bench).
    shown_n = sum(2 * len(shown) for _, shown in after)
    assert len(problems) <= 0.02 * shown_n, "\n".join(problems[:20])


def test_the_issue_pantry_gets_no_pancakes_or_fish_and_uses_its_items():
    """"tofu, broccoli, rice noodles, peanut butter": no blueberry pancakes, no smoked-salmon
    frittata using nothing from the pantry, no grilled cheese with tuna and tofu (a clash);
    most recipes made half from the pantry; peanut butter in several recipes."""
    kb = load_kitchen()
    reading = read_pantry("tofu, broccoli, rice noodles, peanut butter")
    recipes = [r for seed in range(8) for r in OfflineComposer().generate(
        GenerationRequest(pantry=reading.pantry, n=6, seed=seed))]
    titles = " | ".join(r.title for r in recipes)
    assert not re.search(r"blueberr|smoked salmon", titles + " ".join(line for r in recipes for line in r.ingredients),
                         re.I), titles
    assert all(set(main_ingredients(r, kb)) & set(reading.pantry) for r in recipes), titles  # nothing from the pantry
    assert not [c for r in recipes for c in clashes(r, kb)]
    shares = [pantry_share(r, reading.pantry, kb) for r in recipes]
    assert sum(s >= 0.5 for s in shares) >= 0.9 * len(shares), list(zip(shares, titles.split(" | ")))  # 1.0 measured
    # Flexible slots: a chow mein's vegetables (bean sprouts, cabbage...) take the pantry's broccoli.
    assert sum("broccoli" in " ".join(r.ingredients) for r in recipes) >= 0.8 * len(recipes), titles
    assert sum(any("peanut butter" in line for line in r.ingredients) for r in recipes) >= 4, titles


def test_cups_and_grams_compare_through_the_ingredients_density():
    """"1 cup" of rice in the pantry against "160 g rice" in a recipe: 240 ml x 0.78 g/ml =
    187 g, enough; before, cups and grams did not compare (and counted as enough whatever
    the numbers). "1/2 cup" (94 g) is not enough for 300 g, and the composer scales or reports it."""
    kb = load_kitchen()
    from pantry.kitchen import parse_amount
    rice = kb.get("rice")
    assert amount_ratio(parse_amount("1 cup"), line_amount("160 g rice"), rice) == pytest.approx(187.2 / 160)
    assert amount_ratio(parse_amount("1/2 cup"), line_amount("300 g rice"), rice) == pytest.approx(93.6 / 300)
    assert amount_ratio(parse_amount("250 g"), line_amount("1 cup milk"), kb.get("milk")) == pytest.approx(250 / 247.2)
    assert amount_ratio(parse_amount("1 cup"), line_amount("160 g tofu"), kb.get("tofu")) is None  # no density known
    reading = read_pantry("1/2 cup rice, chicken, peas, carrots, soy sauce")
    made = [r for seed in range(10) for r in OfflineComposer().generate(GenerationRequest(
        pantry=reading.pantry, amounts=reading.amounts, n=4, servings=4, seed=seed))]
    rice_lines = [(r, line) for r in made for line in r.ingredients if kb.match_line(line) is rice
                  and "cooked" not in line]
    assert rice_lines
    for r, line in rice_lines:
        ratio = amount_ratio(parse_amount("1/2 cup"), line_amount(line), rice)
        assert ratio >= 1 - 1e-9 or line in missing_ingredients(r, reading.pantry, kb, amounts=reading.amounts), line


def test_dishes_the_pantry_amounts_can_make_come_first():
    """With "1 egg" in the pantry, dishes needing several eggs (omelette, frittata, shakshuka)
    come less often than when the pantry just says "eggs"."""
    kb = load_kitchen()

    def egg_short(text: str) -> float:
        reading = read_pantry(text)
        made = [r for seed in range(15) for r in OfflineComposer().generate(GenerationRequest(
            pantry=reading.pantry, amounts=reading.amounts, n=4, seed=seed))]
        from pantry.kitchen import parse_amount
        return sum(any(kb.match_line(line) is kb.get("egg")
                       and (amount_ratio(parse_amount("1"), line_amount(line), kb.get("egg")) or 1) < 1
                       for line in r.ingredients) for r in made) / len(made)

    with_amount = egg_short("1 egg, spinach, feta, onion, tomatoes, bread")
    without = egg_short("eggs, spinach, feta, onion, tomatoes, bread")
    assert with_amount <= 0.5 * without, (with_amount, without)


def test_a_narrow_pantry_band_still_gives_a_full_batch():
    """Pantry first once left a single family able to make a dish for this pantry (the other,
    yaki udon, found no title for a single vegetable): one recipe, then an error. Now a family
    whose drafts come back empty is set aside and titles fall back to the main pick."""
    reading = read_pantry("black beans, quinoa, sweet potato, cabbage, eggplant, noodles")
    for seed in range(6):
        recipes = OfflineComposer().generate(GenerationRequest(pantry=reading.pantry, n=6, seed=seed))
        assert len(recipes) >= 4, [r.title for r in recipes]
        assert all(len(r.title.split()) >= 2 for r in recipes), [r.title for r in recipes]


def test_the_checks_catch_what_the_issue_saw():
    """Each check of pantry.generators.realism on a recipe that has the fault and one that does not."""
    from pantry.domain.recipes import recipe_from_dict
    kb = load_kitchen()
    cold = recipe_from_dict({"title": "Minestrone", "ingredients": ["1 onion", "1 carrot", "1 tbsp olive oil",
                                                                    "400 g canned tomatoes"],
                             "steps": ["Add the onion and carrot to the pot and cook gently for 8 minutes.",
                                       "Add the canned tomatoes and simmer for 20 minutes."]})
    assert heat_order_problems(cold) and unused_lines(cold, kb) == ["1 tbsp olive oil"]
    warm = recipe_from_dict({"title": "Minestrone", "ingredients": list(cold.ingredients),
                             "steps": ["Heat the olive oil in a large pot over a medium heat.", *cold.steps]})
    assert not heat_order_problems(warm) and not unused_lines(warm, kb)
    salad = recipe_from_dict({"title": "Salad", "ingredients": ["1 cucumber", "1 tomato"],
                              "steps": ["Add the cucumber and tomato to a bowl, mix and season."]})
    assert not heat_order_problems(salad)  # nothing cooks: "Add" first is fine
    melt = recipe_from_dict({"title": "Grilled Cheese", "ingredients": ["2 slices bread", "120 g tuna",
                                                                       "120 g tofu", "40 g cheddar"],
                             "steps": ["Fill the bread with the tuna, tofu and cheddar and toast it."]})
    assert ("tuna", "tofu") in clashes(melt, kb)
    pancakes = recipe_from_dict({"title": "Pancakes", "ingredients": ["100 g flour", "1 egg", "100 g blueberries"],
                                 "steps": ["Whisk, cook and serve."]})
    assert not clashes(pancakes, kb)
    assert pantry_share(pancakes, ("tofu", "broccoli", "rice noodle", "peanut butter"), kb) == 0
    assert main_ingredients(pancakes, kb) == ["egg", "blueberry"]  # flour is a staple


def test_a_spoonful_seasons_a_dish_and_does_not_make_it():
    """Garlic cloves, a tablespoon of soy sauce or a pinch of chili are not what a dish is made
    of: a stir-fry of the pantry's tofu and broccoli is made from the pantry whether or not it
    holds garlic. An onion, 500 ml of stock or 200 g of tofu are."""
    from pantry.domain.recipes import recipe_from_dict
    kb = load_kitchen()
    for line in ("2 cloves garlic, minced", "1 tbsp soy sauce", "2 tbsp peanut butter", "a pinch of chili flakes",
                 "1 tsp ginger, grated", "20 g parmesan", "salt, to taste"):
        assert is_spoonful(line, kb.match_line(line)), line
    for line in ("1 onion, chopped", "500 ml chicken stock", "200 g tofu", "3 tbsp miso", "2 eggs", "1 lime"):
        assert not is_spoonful(line, kb.match_line(line)), line
    stir_fry = recipe_from_dict({"title": "Tofu and Broccoli Stir-Fry",
                                 "ingredients": ["200 g tofu", "150 g broccoli", "2 cloves garlic, minced",
                                                 "1 tbsp soy sauce", "1 tbsp vegetable oil"],
                                 "steps": ["Heat the oil in a wok.", "Fry the tofu, broccoli and garlic.",
                                           "Add the soy sauce and serve."]})
    assert main_ingredients(stir_fry, kb) == ["tofu", "broccoli"]
    assert pantry_share(stir_fry, ("tofu", "broccoli"), kb) == 1.0
    assert main_ingredients(stir_fry, kb, spoonfuls=True) == ["tofu", "broccoli", "garlic", "soy sauce"]
    assert pantry_share(stir_fry, ("tofu", "broccoli"), kb, spoonfuls=True) == 0.5


def test_flexible_slots_take_the_pantrys_versatile_items_only():
    """A vegetable slot takes the pantry's broccoli when the family does not list it; a slot of
    another kind (a base, an aromatic) and a random-choice composer (the bench's baseline) do not."""
    composer = OfflineComposer()
    book = composer.book
    chow = next(f for f in book.families if f.id == "chow-mein")
    veg = next(s for s in chow.slots if s.role == "veg")
    base = next(s for s in chow.slots if s.role == "base")
    assert "broccoli" not in veg.options
    assert "broccoli" in composer._options(chow, veg, frozenset({"broccoli", "potato"}))
    assert "potato" not in composer._options(chow, veg, frozenset({"broccoli", "potato"}))  # a base elsewhere
    assert composer._options(chow, base, frozenset({"broccoli", "quinoa"})) == base.options
    assert OfflineComposer(family_choice="random")._options(chow, veg, frozenset({"broccoli"})) == veg.options
    ratatouille = next(f for f in book.families if f.id == "ratatouille")  # its vegetables are the dish
    rveg = next(s for s in ratatouille.slots if s.role == "veg")
    assert not rveg.substitute and composer._options(ratatouille, rveg, frozenset({"kale", "carrot"})) == rveg.options


def test_a_title_never_hides_meat_or_fish():
    """A recipe with meat or fish names one of them in its title ("... Frittata with Bacon"):
    someone choosing the vegetarian dish by its title must not get bacon (the taste walk
    found "Sunday Potato and Feta Frittata" with bacon in it)."""
    from pantry.generators import GenerationRequest, OfflineComposer
    from pantry.kitchen import load_kitchen

    kitchen, composer, checked = load_kitchen(), OfflineComposer(), 0
    pantry = ("egg", "potato", "feta", "mushroom", "bacon", "chicken breast", "onion", "salmon", "rice")
    for seed in range(50):
        for r in composer.generate(GenerationRequest(pantry=pantry, n=4, seed=seed)):
            meat = [kitchen.match_line(line) for line in r.ingredients]
            meat = [m for m in meat if m is not None and not m.allows("vegetarian")]
            if not meat:
                continue
            checked += 1
            title = r.title.lower()
            assert any(w in title for m in meat for w in m.name.lower().split() if len(w) > 3), (r.title, meat)
    assert checked > 30
