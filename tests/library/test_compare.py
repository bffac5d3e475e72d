"""pantry.compare: vote mapping, pair choice (never near-duplicates), retrain hints."""

from __future__ import annotations

import numpy as np
import pytest

from pantry.compare import Matchup, NoPairAvailable, Scored, pick_pair, rank, retrain_hint, vote_from_click
from pantry.model.features import FEATURE_NAMES, FEATURE_SPEC
from pantry.domain.recipes import Recipe
from pantry.model.reward import RewardModel


def _recipe(rid: str, title: str, ingredients: tuple[str, ...], minutes: int = 20) -> Recipe:
    return Recipe(id=rid, title=title, ingredients=ingredients, steps=("cook it",), minutes=minutes)


def _matchup(left: str) -> Matchup:
    a = Scored(_recipe("ra", "Egg Fried Rice", ("rice", "egg")), 0.5, 0.1)
    b = Scored(_recipe("rb", "Tomato Soup", ("tomato", "onion")), -0.2, 0.3)
    return Matchup(a, b, left, "informative", "heuristic", "heuristic", "offline-composer", ("egg", "rice"),
                   generator_reason="offline composer selected")


@pytest.mark.parametrize("left", ["a", "b"])
def test_clicks_map_to_outcomes_through_the_random_placement(left):
    m = _matchup(left)
    right = "b" if left == "a" else "a"
    assert m.outcome("left") == left and m.outcome("right") == right
    assert m.outcome("tie") == "tie" and m.outcome("both_bad") == "both_bad"
    assert m.left_item.recipe.id == "r" + left
    with pytest.raises(ValueError):
        m.outcome("skip")


def test_vote_from_click_records_everything():
    m = _matchup("b")
    v = vote_from_click("ana", m, "left", much=True, reasons=["bland"], note="  too  salty ")
    assert (v.user, v.a, v.b, v.outcome, v.left, v.strength) == ("ana", "ra", "rb", "b", "b", "much")
    assert v.reasons == ("bland", "note: too salty")
    assert v.pantry == ("egg", "rice") and v.generator == "offline-composer" and v.model_version == "heuristic"
    assert v.generator_reason == "offline composer selected"  # why this generator was used is saved
    tie = vote_from_click("ana", m, "tie", much=True)
    assert tie.strength is None and tie.outcome == "tie"


def _features(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8 + len(FEATURE_NAMES))).astype(np.float32)
    return x


def test_pick_pair_never_returns_near_duplicates():
    recipes = [
        _recipe("r1", "Egg Fried Rice", ("2 cups rice", "2 eggs", "1 onion")),
        _recipe("r2", "Egg Fried Rice", ("2 cups rice", "2 eggs", "1 onion")),  # same dish, other id
        _recipe("r3", "Tomato Soup", ("4 tomatoes", "1 onion", "stock")),
    ]
    model = RewardModel.new(8 + len(FEATURE_NAMES), 3, "test", FEATURE_SPEC, seed=0)
    rng = np.random.default_rng(0)
    for _ in range(30):
        i, j, why = pick_pair(recipes, _features(3), model, rng, random_share=0.5)
        assert {recipes[i].id, recipes[j].id} != {"r1", "r2"}
        assert why in ("informative", "random")
    with pytest.raises(NoPairAvailable):
        pick_pair(recipes[:2], _features(2), model, rng)


def test_pick_pair_prefers_unseen_pairs():
    recipes = [_recipe(f"r{k}", f"Dish {name}", (name, "salt")) for k, name in
               enumerate(["apple", "beef", "carrot"])]
    shown = {frozenset(("r0", "r1")), frozenset(("r0", "r2"))}
    i, j, _ = pick_pair(recipes, _features(3), None, np.random.default_rng(1), random_share=0.0, avoid=shown)
    assert {recipes[i].id, recipes[j].id} == {"r1", "r2"}


def test_rank_is_best_first():
    recipes = [_recipe(f"r{k}", f"Dish {k}", ("x",)) for k in range(3)]
    ranked = rank(recipes, np.array([0.1, 0.9, 0.5]), np.zeros(3))
    assert [s.recipe.id for s in ranked] == ["r1", "r2", "r0"]


def test_retrain_hint():
    first = retrain_hint(votes=5, decisive=3, trained_on=None, min_decisive=8)
    assert first.more_needed == 5 and first.state == "first_needs_votes"
    ready = retrain_hint(12, 9, None, 8)
    assert ready.more_needed == 0 and ready.state == "first_ready"
    later = retrain_hint(30, 22, trained_on=20, min_decisive=8)
    assert later.more_needed == 3 and later.state == "retrain_needs_votes"  # max(5, 25% of 20) = 5 new
    now = retrain_hint(40, 25, 20)
    assert now.more_needed == 0 and now.state == "retrain_worthwhile" and now.new_since_training == 5


# ------------------------------------------------------------------- the round made ahead

class _CountingComposer:
    """The offline composer, counting its calls."""

    def __init__(self):
        from pantry.generators import OfflineComposer

        self.inner, self.calls, self.name = OfflineComposer(), 0, "offline-composer"

    def generate(self, request, on_progress=None):
        self.calls += 1
        return self.inner.generate(request, on_progress)


def _choice(gen):
    from pantry.generators import GeneratorChoice

    return GeneratorChoice(gen, "offline-composer", "offline", "offline composer selected", None, "offline")


def _request(pantry=("egg", "rice", "spinach", "onion", "tomato"), seed=1, max_minutes=None):
    from pantry.generators import GenerationRequest

    return GenerationRequest(pantry=pantry, n=6, seed=seed, max_minutes=max_minutes)


def test_a_round_made_ahead_is_used_and_scored_at_the_click(round_lab, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from pantry.compare import RoundPrefetch, prepare_round

    gen = _CountingComposer()
    choice = _choice(gen)
    with ThreadPoolExecutor(1) as pool:
        ahead = RoundPrefetch(round_lab, choice, _request(seed=7), pool)
        made = ahead.future.result()
    assert gen.calls == 1
    texts = [r.text for r in made[0]]
    encoded = []
    real_encode = round_lab.embedder._model.encode
    monkeypatch.setattr(round_lab.embedder, "_model", type("M", (), {
        "encode": lambda self, t, **kw: (encoded.append(list(t)), real_encode(t, **kw))[1],
        "tokenizer": None})())
    model_for = round_lab.model_for
    asked = []
    monkeypatch.setattr(round_lab, "model_for", lambda user: (asked.append(user), model_for(user))[1])
    rnd = prepare_round(round_lab, choice, _request(seed=99), "ana", np.random.default_rng(0), prefetch=ahead)
    assert gen.calls == 1, "the click generated again although the same request was made ahead"
    assert encoded == [], "the candidates made ahead were embedded again"
    assert {rnd.matchup.a.recipe.text, rnd.matchup.b.recipe.text} <= set(texts)
    assert asked == ["ana"], "the model is chosen at the click, not ahead"
    assert {r.id for r in round_lab.store.recent_generated("ana")} >= {rnd.matchup.a.recipe.id}


def test_a_round_made_ahead_for_other_inputs_or_that_failed_is_not_used(round_lab, caplog):
    from concurrent.futures import ThreadPoolExecutor

    from pantry.compare import RoundPrefetch, prepare_round

    gen = _CountingComposer()
    choice = _choice(gen)
    with ThreadPoolExecutor(1) as pool:
        ahead = RoundPrefetch(round_lab, choice, _request(seed=7), pool)
        ahead.future.result()
        other = _request(pantry=("chickpea", "garlic", "lemon", "tomato"), seed=3)
        assert not ahead.matches(choice, other)
        rnd = prepare_round(round_lab, choice, other, "ana", np.random.default_rng(0), prefetch=ahead)
        assert gen.calls == 2, "a request with another pantry must be generated afresh"
        assert "chickpea" in rnd.matchup.pantry

        class Broken:
            name = "offline-composer"

            def generate(self, request, on_progress=None):
                raise RuntimeError("boom")

        failed = RoundPrefetch(round_lab, _choice(Broken()), _request(seed=7), pool)
        failed.future.exception()
        with caplog.at_level("WARNING", logger="pantry.compare"):
            assert failed.take() is None
        assert "making the next round ahead failed" in caplog.text and "boom" in caplog.text
        rnd = prepare_round(round_lab, choice, _request(seed=7), "ana", np.random.default_rng(0), prefetch=failed)
        assert gen.calls == 3 and rnd.matchup.a.recipe.id != rnd.matchup.b.recipe.id


def test_a_round_made_ahead_with_an_equal_generator_choice_shows_no_fallback_note(round_lab):
    """The app's generator choice is rebuilt every 30 s: a prefetch made with the previous
    (equal) object must not read as a fallback, which would show a warning above the pair."""
    from concurrent.futures import ThreadPoolExecutor

    from pantry.compare import RoundPrefetch, prepare_round

    gen = _CountingComposer()
    with ThreadPoolExecutor(1) as pool:
        ahead = RoundPrefetch(round_lab, _choice(gen), _request(seed=7), pool)
        ahead.future.result()
    fresh = _choice(gen)  # another object, same generator
    rnd = prepare_round(round_lab, fresh, _request(seed=8), "ana", np.random.default_rng(0), prefetch=ahead)
    assert gen.calls == 1 and rnd.notes == []


def test_fit_for_pantry_leaves_out_candidates_far_below_the_best_share():
    """Issue 18: the pair shown is two dishes of this pantry. A candidate whose share of main
    ingredients from the pantry is more than 0.25 below the best candidate's is left out
    (whatever generator made it); nothing is left out without a pantry, or when fewer than
    two would remain."""
    from pantry.compare import fit_for_pantry
    from pantry.domain.recipes import recipe_from_dict

    def dish(title, lines):
        return recipe_from_dict({"title": title, "ingredients": lines, "steps": ["Cook everything and serve."]})

    pantry = ("tofu", "broccoli", "rice noodle")
    full = dish("Tofu Noodles", ["200 g tofu", "150 g broccoli", "160 g rice noodles", "2 cloves garlic"])
    most = dish("Tofu Stir-Fry", ["200 g tofu", "150 g broccoli", "160 g rice noodles", "100 g carrot"])  # 0.75
    none = dish("Salmon Frittata", ["150 g smoked salmon", "4 eggs", "100 g peas"])
    half = dish("Tofu Curry", ["200 g tofu", "400 ml coconut milk"])  # 0.5: out
    assert fit_for_pantry([full, none, most, half], pantry) == [full, most]
    assert fit_for_pantry([full, none, most, half], ()) == [full, none, most, half]
    assert fit_for_pantry([full, none, half], pantry) == [full, none, half]  # fewer than two would remain
    assert fit_for_pantry([full, none], pantry) == [full, none]


def test_prepare_round_shows_a_pair_of_this_pantry_and_still_logs_every_candidate(round_lab):
    """Two candidates made from the pantry and two that use almost nothing of it: every round's
    pair is the first two (fit_for_pantry), whatever the model or the random draw; all four
    are still stored as generated and ranked."""
    from pantry.compare import prepare_round
    from pantry.domain.recipes import recipe_from_dict

    def dish(title, lines, step):
        return recipe_from_dict({"title": title, "ingredients": lines, "steps": [step]})

    good = [dish("Tofu Noodles", ["200 g tofu", "150 g broccoli", "160 g rice noodles"],
                 "Fry the tofu and broccoli, toss with the noodles."),
            dish("Broccoli Tofu Bake", ["250 g tofu", "200 g broccoli", "2 tbsp soy sauce"],
                 "Bake the tofu and broccoli with the soy sauce for 25 minutes.")]
    far = [dish("Salmon Frittata", ["150 g smoked salmon", "4 eggs", "100 g peas"],
                "Whisk the eggs, add the salmon and peas, and cook in a pan."),
           dish("Lamb Pilaf", ["300 g lamb", "160 g basmati rice", "1 carrot"],
                "Brown the lamb, then simmer with the rice and carrot.")]

    class Fixed:
        name = "fixed"

        def generate(self, request, on_progress=None):
            return [far[0], good[0], far[1], good[1]]

    for seed in range(6):
        rnd = prepare_round(round_lab, _choice(Fixed()), _request(pantry=("tofu", "broccoli", "rice noodle"), seed=seed),
                            "ana", np.random.default_rng(seed), random_share=0.5)
        assert {rnd.matchup.a.recipe.id, rnd.matchup.b.recipe.id} == {r.id for r in good}
        assert len(rnd.matchup.ranking) == 4


def test_prepare_round_never_pairs_two_dishes_of_one_family_while_another_pair_is_left(round_lab):
    """An omelette and a frittata (one method, other fillings: not near-duplicates) and a
    stir-fry: every pair shown has the stir-fry; with only the two egg dishes, they are still a pair."""
    from pantry.compare import Duplicates, prepare_round
    from pantry.domain.recipes import recipe_from_dict
    from pantry.kitchen.dedupe import near_duplicate

    method = ["Whisk the eggs with a pinch of salt.", "Melt the butter in a frying pan over a medium heat.",
              "Pour in the eggs, scatter over the filling, cook until just set, fold and serve."]
    om1 = recipe_from_dict({"title": "Spinach Omelette", "ingredients": ["3 eggs", "80 g spinach", "10 g butter"],
                            "steps": method})
    om2 = recipe_from_dict({"title": "Mushroom and Feta Frittata",
                            "ingredients": ["4 eggs", "100 g mushrooms", "40 g feta", "10 g butter"],
                            "steps": ["Whisk the eggs with the feta.",
                                      "Melt the butter in a frying pan over a medium heat and soften the mushrooms.",
                                      "Pour in the eggs, cook until just set, fold and serve."]})
    fry = recipe_from_dict({"title": "Egg Fried Spinach with Mushrooms",
                            "ingredients": ["2 eggs", "150 g spinach", "150 g mushrooms", "1 tbsp vegetable oil"],
                            "steps": ["Heat the oil in a wok until smoking.",
                                      "Stir-fry the mushrooms for 4 minutes, then the spinach until wilted.",
                                      "Push aside, scramble the eggs in the wok and toss everything with soy."]})
    assert not near_duplicate(om1, om2) and Duplicates(family=True)(om1, om2) and not Duplicates()(om1, om2)

    class Fixed:
        name = "fixed"

        def __init__(self, recipes):
            self.recipes = recipes

        def generate(self, request, on_progress=None):
            return list(self.recipes)

    pantry = ("egg", "spinach", "mushroom", "feta")
    for seed in range(8):
        rnd = prepare_round(round_lab, _choice(Fixed([om1, om2, fry])), _request(pantry=pantry, seed=seed),
                            "ana", np.random.default_rng(seed), random_share=0.5)
        assert fry.id in {rnd.matchup.a.recipe.id, rnd.matchup.b.recipe.id}
    rnd = prepare_round(round_lab, _choice(Fixed([om1, om2])), _request(pantry=pantry), "ana",
                        np.random.default_rng(0))
    assert {rnd.matchup.a.recipe.id, rnd.matchup.b.recipe.id} == {om1.id, om2.id}


def test_vote_history_reads_the_latest_votes_recipes(tmp_path):
    from pantry.compare import vote_history
    from pantry.model.features import explicit_matrix
    from tests.helpers import lab_at, seed_votes

    lab = lab_at(tmp_path)
    assert vote_history(lab, "ana").shape == (0, 2, len(FEATURE_NAMES))
    seed_votes(lab.store, "ana", n=7)
    votes = lab.store.votes("ana")
    h = vote_history(lab, "ana", limit=5)
    assert h.shape == (5, 2, len(FEATURE_NAMES))
    last = votes[-1]
    want = explicit_matrix([lab.store.get_recipe(last.a), lab.store.get_recipe(last.b)])
    np.testing.assert_allclose(h[-1], want, atol=1e-6)


def test_prepare_round_asks_with_the_profiles_own_votes(tmp_path, monkeypatch):
    """The round's pair is chosen knowing the votes already cast (`vote_history`), for a profile
    without a model of its own too: the design is not the heuristic's closest pair."""
    import pantry.compare as compare
    from pantry.generators import GenerationRequest, GeneratorChoice, OfflineComposer
    from tests.helpers import lab_at, seed_votes

    lab = lab_at(tmp_path)
    seed_votes(lab.store, "ana", n=5)
    seen = []
    real = compare.pick_pair

    def spy(*args, **kwargs):
        seen.append(kwargs.get("history"))
        return real(*args, **kwargs)

    monkeypatch.setattr(compare, "pick_pair", spy)
    choice = GeneratorChoice(OfflineComposer(), "offline-composer", "offline", "offline composer selected", None,
                             "offline")
    request = GenerationRequest(pantry=("egg", "rice", "spinach", "chicken"), n=6, seed=3)
    compare.prepare_round(lab, choice, request, "ana", np.random.default_rng(0), repeat_share=0.0)
    assert seen and seen[-1] is not None and seen[-1].shape == (5, 2, len(FEATURE_NAMES))


def test_restore_pair_brings_back_the_pair_on_screen_until_it_is_judged(round_lab):
    """After a reload the page address names the pair on screen; it comes back, scored now,
    with its sides and why, unless a recipe is gone, the address is mangled, or the latest
    vote is on this pair."""
    from pantry.compare import prepare_round, restore_pair, vote_from_click

    pantry = ("egg", "rice", "spinach", "onion", "tomato")
    rnd = prepare_round(round_lab, _choice(_CountingComposer()), _request(pantry=pantry, seed=5), "ana",
                        np.random.default_rng(0))
    m = rnd.matchup
    a, b = m.a.recipe.id, m.b.recipe.id
    back = restore_pair(round_lab, "ana", a, b, m.left, m.why, pantry)
    assert back is not None and (back.a.recipe, back.b.recipe, back.left, back.why) == (m.a.recipe, m.b.recipe,
                                                                                        m.left, m.why)
    assert (back.a.score, back.b.score) == pytest.approx((m.a.score, m.b.score))  # same model, same pantry
    assert back.a.explanation is not None and [s.recipe.id for s in back.ranking] == sorted(
        [a, b], key=lambda rid: -(back.a.score if rid == a else back.b.score))
    for bad in ((a, a, "a", "random"), (a, b, "x", "random"), (a, b, "a", "why"), (a, "gone", "a", "random")):
        assert restore_pair(round_lab, "ana", *bad, pantry) is None
    round_lab.cast_vote(vote_from_click("ana", back, "left"))
    assert restore_pair(round_lab, "ana", a, b, m.left, m.why, pantry) is None  # judged: a new round is due
    assert restore_pair(round_lab, "bo", a, b, m.left, m.why, pantry) is not None  # another profile's latest vote


def test_a_round_ahead_refused_as_asked_logs_one_line_not_a_traceback(round_lab, caplog):
    """Found in real Chromium: Max minutes 5 (no dish is that quick) showed its reason on screen,
    as it should, but the round made ahead logged a whole GeneratorError traceback; an unexpected
    failure still logs one."""
    from concurrent.futures import ThreadPoolExecutor

    from pantry.compare import RoundPrefetch
    from pantry.generators import OfflineComposer

    with ThreadPoolExecutor(1) as pool:
        ahead = RoundPrefetch(round_lab, _choice(OfflineComposer()), _request(seed=7, max_minutes=5), pool)
        ahead.future.exception()
        with caplog.at_level("INFO", logger="pantry.compare"):
            assert ahead.take() is None
    assert "making the next round ahead failed (no offline dish" in caplog.text
    assert "Traceback" not in caplog.text and all(r.exc_info is None for r in caplog.records)
