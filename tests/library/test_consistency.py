"""Rater self-consistency (pantry.evaluation.consistency): repeat rounds, agreement, triads,
the noise estimate on simulated raters of known noise, and the model it tempers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pantry.domain.votes import Vote
from pantry.evaluation.consistency import (DEFAULT_REPEAT_SHARE, MIN_GAP, choose_repeat, consistency, estimate_noise,
                                           flip_rater_votes, likelihood_weight, repeat_pairs, repeat_share,
                                           simulated_model_accuracy, swapped_left, tempered_config, triad_counts)

UTILITY = np.random.default_rng(1).normal(size=60)


def _v(k, a, b, outcome="a", **kw):
    return Vote(user="ana", a=a, b=b, outcome=outcome, id=k, **kw)


# --- repeat rounds ---------------------------------------------------------------------------

def test_repeats_come_about_one_round_in_15_never_twice_in_a_row_and_never_of_the_newest():
    votes = flip_rater_votes(np.random.default_rng(2).normal(size=400), 1500, 0.0, seed=3)  # few chance re-draws
    flags = [v.repeat_of is not None for v in votes]
    assert not any(a and b for a, b in zip(flags, flags[1:]))
    share = sum(flags) / len(flags)
    assert 0.045 < share < 0.08, share  # 1/15 of the rounds that may repeat (not after a repeat): 1/16
    by_id = {v.id: v for v in votes}
    for k, v in enumerate(votes):
        if v.repeat_of is not None:
            before = by_id[v.repeat_of]
            assert {before.a, before.b} == {v.a, v.b} and before.repeat_of is None
            assert v.left != before.left  # sides swapped
            assert k - votes.index(before) > MIN_GAP
    repeated = [v.repeat_of for v in votes if v.repeat_of is not None]
    assert len(repeated) == len(set(repeated))  # a judgement is repeated once


def test_choose_repeat_does_not_draw_when_nothing_can_repeat():
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    assert choose_repeat([], rng) is None
    assert choose_repeat([_v(1, "x", "y")], rng, share=1.0) is None  # too recent
    assert rng.bit_generator.state == state
    ties = [_v(k, f"x{k}", f"y{k}", "tie") for k in range(1, 10)]
    assert choose_repeat(ties, rng, share=1.0) is None  # only decisive votes are repeated
    assert choose_repeat([_v(k, f"x{k}", f"y{k}") for k in range(1, 10)], rng, share=0.0) is None
    again = [_v(k, f"x{k}", f"y{k}") for k in range(1, 10)] + [_v(10, "y1", "x1")]  # x1/y1 judged again
    assert choose_repeat(again, rng, share=1.0) is None
    assert choose_repeat(again + [_v(11, "p", "q")], rng, share=1.0) is not None


def test_swapped_left_and_the_repeat_share_setting():
    rng = np.random.default_rng(0)
    assert swapped_left(_v(1, "x", "y", left="a"), rng) == "b"
    assert swapped_left(_v(1, "x", "y", left="b"), rng) == "a"
    assert repeat_share({}) == DEFAULT_REPEAT_SHARE
    assert repeat_share({"repeat_share": 0}) == 0.0 and repeat_share({"repeat_share": 0.2}) == 0.2
    for bad in ("often", -1, 0.9, True, None):
        assert repeat_share({"repeat_share": bad}) == DEFAULT_REPEAT_SHARE


# --- the measures ----------------------------------------------------------------------------

def test_repeat_pairs_explicit_and_implicit_and_household_votes_left_out():
    votes = [_v(1, "x", "y", "a"), _v(2, "y", "z", "a"), _v(3, "x", "y", "b", repeat_of=1),  # disagrees
             _v(4, "z", "y", "b"),  # the same pair again, written the other way round: agrees
             _v(5, "x", "y", "tie"),  # not decisive: not compared
             _v(6, "y", "z", "b", group_id="g"),  # a household vote: not the person's own
             _v(7, "x", "z", "a", deleted=True)]
    pairs = repeat_pairs(votes)
    assert [(b.id, a.id) for b, a in pairs] == [(1, 3), (2, 4)]
    c = consistency(votes, "ana")
    assert (c.repeats, c.agreements, c.explicit_repeats, c.decisive) == (2, 1, 1, 4)
    assert c.agreement == 0.5 and c.agreement_low < 0.5 < c.agreement_high


def test_triads_cyclic_and_transitive_counted_over_the_judged_pairs():
    cyc = [_v(1, "a", "b"), _v(2, "b", "c"), _v(3, "c", "a")]  # a>b, b>c, c>a
    trans = [_v(4, "p", "q"), _v(5, "q", "r"), _v(6, "p", "r")]
    assert triad_counts(cyc) == (1, 1, 3)
    assert triad_counts(trans) == (1, 0, 3)
    assert triad_counts(cyc + trans) == (2, 1, 6)
    # a pair judged both ways as often has no direction: its triads are not counted
    assert triad_counts(cyc + [_v(7, "a", "b", "b")]) == (0, 0, 0)
    # the majority of a pair's votes gives its direction
    assert triad_counts(cyc + [_v(7, "a", "b", "b"), _v(8, "b", "a")]) == (1, 0, 3)
    # four recipes, every pair judged: C(4,3) = 4 triads, counted once each
    every = [_v(k, x, y) for k, (x, y) in enumerate([("a", "b"), ("a", "c"), ("a", "d"), ("b", "c"),
                                                      ("b", "d"), ("c", "d")])]
    assert triad_counts(every) == (4, 0, 6)


def test_triads_match_brute_force_on_a_random_graph():
    import itertools

    votes = flip_rater_votes(UTILITY[:15], 60, 0.3, seed=5, share=0.0)
    net = {}
    for v in votes:
        key = tuple(sorted((v.winner, v.loser)))
        net[key] = net.get(key, 0) + (1 if v.winner == key[0] else -1)
    beats = {(k if n > 0 else k[::-1]) for k, n in net.items() if n}
    nodes = sorted({x for e in beats for x in e})
    judged = lambda x, y: (x, y) in beats or (y, x) in beats  # noqa: E731
    tri = [t for t in itertools.combinations(nodes, 3) if all(judged(x, y) for x, y in itertools.combinations(t, 2))]
    cyc = [t for t in tri if sum((x, y) in beats for x, y in itertools.permutations(t, 2)
                                 if (x, y) in {(t[0], t[1]), (t[1], t[2]), (t[2], t[0])}) in (0, 3)]
    assert triad_counts(votes)[:2] == (len(tri), len(cyc))
    assert len(tri) > 5


def test_noise_estimate_edges():
    none = estimate_noise(0, 0)
    assert math.isnan(none.flip) and (none.low, none.high) == (0.0, 0.5)
    clean = estimate_noise(0, 40)
    assert clean.flip == 0.0 and clean.low == 0.0 and clean.high < 0.05
    coin = estimate_noise(20, 40)
    assert coin.flip > 0.3 and coin.high == 0.5
    with pytest.raises(ValueError):
        estimate_noise(3, 2)
    assert likelihood_weight(float("nan")) == 1.0 and likelihood_weight(0.0) == 1.0
    assert likelihood_weight(0.5) == 0.1  # the floor
    # 60% self-agreement (2e(1-e) = 0.4) moves the model less per vote than 95%
    e60, e95 = (1 - math.sqrt(0.2)) / 2, (1 - math.sqrt(0.9)) / 2
    assert likelihood_weight(e60) == pytest.approx(0.2) and likelihood_weight(e95) == pytest.approx(0.9)


@pytest.mark.parametrize("flip", [0.0, 0.1, 0.3])
def test_the_estimate_recovers_a_simulated_raters_noise_within_its_interval(flip):
    """Ten raters per noise level, 600 votes over 60 recipes each, every answer flipped with
    probability `flip` (README figures): a 95% interval may miss now and then, not often."""
    runs = [consistency(flip_rater_votes(UTILITY, 600, flip, seed=seed), "sim") for seed in range(10)]
    assert all(c.repeats >= 30 and c.explicit_repeats >= 15 and c.triads >= 100 for c in runs)
    covered = sum(c.flip_low <= flip <= c.flip_high for c in runs)
    assert covered >= 8, [(c.flip_low, c.flip_high) for c in runs]
    assert abs(np.mean([c.flip for c in runs]) - flip) < 0.05
    assert all(c.flip_high - c.flip_low < 0.3 for c in runs)
    if flip == 0:
        assert all(c.agreement == 1.0 and c.cyclic == 0 and c.weight == 1.0 and c.ceiling == 1.0 for c in runs)
    else:
        assert all(c.weight < 0.95 for c in runs)


def test_a_noisier_rater_gets_a_smaller_weight():
    weights = [consistency(flip_rater_votes(UTILITY, 600, f, seed=4)).weight for f in (0.0, 0.1, 0.3)]
    assert weights[0] == 1.0 > weights[1] > weights[2]


# --- the model ---------------------------------------------------------------------------------

@pytest.mark.parametrize("flip", [0.0, 0.3])
def test_the_noisy_raters_model_is_no_worse_with_the_weight(flip):
    runs = [simulated_model_accuracy(flip, seed) for seed in range(4)]
    without, with_weight = np.mean([r[1] for r in runs]), np.mean([r[2] for r in runs])
    if flip == 0:
        assert all(r[0] == 1.0 and r[1] == r[2] for r in runs)  # a consistent rater: the same model
    else:
        assert with_weight >= without, (with_weight, without)
        assert all(r[2] >= r[1] - 0.01 for r in runs)


def test_tempered_config_is_the_weighted_fit():
    """Weighting every vote by w equals dividing the L2 pull and offset precision by w."""
    from pantry.model.training import TrainConfig, fit_bradley_terry

    rng = np.random.default_rng(0)
    rows = rng.normal(size=(20, 5))
    ia, ib = rng.integers(0, 20, 60), rng.integers(0, 20, 60)
    y = (rng.random(60) < 0.5).astype(float)
    cfg = TrainConfig()
    weighted = fit_bradley_terry(rows, ia, ib, y, cfg.l2, weight=np.full(60, 0.3)).coef
    tempered = fit_bradley_terry(rows, ia, ib, y, tempered_config(cfg, 0.3).l2).coef
    np.testing.assert_allclose(weighted, tempered, atol=1e-6)
    assert tempered_config(cfg, 0.3).item_var == pytest.approx(cfg.item_var * 0.3)
    assert tempered_config(cfg, 1.0) is cfg
    assert tempered_config(TrainConfig(l2=50.0), 0.1).l2 == 100.0  # capped at the option's maximum
    with pytest.raises(ValueError):
        tempered_config(cfg, 0.0)


# --- the Compare round hook ---------------------------------------------------------------------

def test_a_repeat_round_shows_a_judged_pair_swapped_and_its_vote_is_stored_as_a_repeat(round_lab):
    from pantry.compare import prepare_round, vote_from_click
    from pantry.generators import GenerationRequest, GeneratorChoice, OfflineComposer
    from tests.helpers import seed_votes

    store = round_lab.store
    seed_votes(store, "ana", n=8)
    earlier = {v.id: v for v in store.votes("ana")}
    choice = GeneratorChoice(OfflineComposer(), "offline-composer", "offline", "offline composer selected", None,
                             "offline")
    request = GenerationRequest(pantry=("egg", "rice", "spinach"), n=6, seed=3)
    plain = prepare_round(round_lab, choice, request, "ana", np.random.default_rng(5), repeat_share=0.0).matchup
    assert plain.repeat_of is None
    rnd = prepare_round(round_lab, choice, request, "ana", np.random.default_rng(5), repeat_share=1.0)
    m = rnd.matchup
    assert m.repeat_of in earlier and m.why == "random"  # an ordinary-looking round
    before = earlier[m.repeat_of]
    assert (m.a.recipe.id, m.b.recipe.id) == (before.a, before.b) and m.left != before.left
    assert np.isfinite([m.a.score, m.b.score]).all()
    assert m.a.explanation is not None and m.b.explanation is not None  # "Why this score" on its cards too
    vote_id = store.add_vote(vote_from_click("ana", m, "left"))
    assert store.get_vote(vote_id).repeat_of == before.id
    # never two repeats in a row, whatever the share
    again = prepare_round(round_lab, choice, request, "ana", np.random.default_rng(5), repeat_share=1.0).matchup
    assert again.repeat_of is None
    # the profile's setting turns repeats off (None: read from the profile)
    store.add_vote(vote_from_click("ana", again, "left"))
    store.set_user_prefs("ana", {"repeat_share": 0})
    off = prepare_round(round_lab, choice, request, "ana", np.random.default_rng(5)).matchup
    never = prepare_round(round_lab, choice, request, "ana", np.random.default_rng(5), repeat_share=0.0).matchup
    assert off.repeat_of is None and (off.a.recipe.id, off.b.recipe.id) == (never.a.recipe.id, never.b.recipe.id)


def test_profile_consistency_reads_the_stored_profile(tmp_path):
    from dataclasses import replace

    from pantry.domain.recipes import recipe_from_dict
    from pantry.storage.store import Store
    from pantry.evaluation.consistency import profile_consistency

    store = Store(tmp_path / "db.sqlite3")
    store.add_recipes([recipe_from_dict({"id": f"r{k}", "title": f"Dish {k}", "ingredients": ["rice"]})
                       for k in range(60)])
    store.ensure_user("sim")
    assert profile_consistency(store, "sim").weight == 1.0  # nothing known: every vote counts fully
    store.add_votes([replace(v, id=None, repeat_of=None) for v in flip_rater_votes(UTILITY, 600, 0.3, seed=1)])
    assert profile_consistency(store, "sim").weight < 0.8


# --- through Lab.train: the personal fit uses the rater's weight ---------------------------------

class _HashEmbedder:
    """Deterministic 16-wide features from each text's hash (the taste, not the encoder, is under test)."""

    def __init__(self, name: str = "hash", dim: int = 16):
        self.name, self.dim, self.cache = name, dim, None

    def encode(self, texts, on_progress=None, **_):
        import hashlib

        return np.array([np.random.default_rng(int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little"))
                         .standard_normal(self.dim) for t in texts], dtype=np.float32)


def _lab_rater_accuracy(tmp_path, flip: float, seed: int, monkeypatch) -> tuple[dict, float, float]:
    """(metrics of the personal version, held-out accuracy with the weight, without it) of a
    simulated rater trained through `Lab.train` (one profile: the heuristic prior)."""
    from dataclasses import replace

    import pantry.evaluation.consistency as consistency_module
    from pantry.domain.recipes import recipe_from_dict
    from pantry.model.training import TrainConfig

    from tests.helpers import lab_at

    lab = lab_at(tmp_path, _HashEmbedder(), db=tmp_path / "db.sqlite3")
    recipes = [recipe_from_dict({"id": f"r{k}", "title": f"Dish {k}", "ingredients": ["rice"]}) for k in range(120)]
    lab.store.add_recipes(recipes)
    lab.store.ensure_user("sim")
    x = lab.features(recipes)
    utility = x @ np.random.default_rng(seed).normal(size=x.shape[1])
    lab.store.add_votes([replace(v, id=None, repeat_of=None)
                         for v in flip_rater_votes(utility[:60], 300, flip, seed=seed)])
    cfg = TrainConfig(members=1, val_split=0.0, seed=0)
    i, j = np.triu_indices(60, 1)
    truth = utility[60:]
    accuracy = []
    for feature in (True, False):
        with monkeypatch.context() as m:
            if not feature:
                m.setattr(consistency_module, "tempered_config", lambda c, w: c)
            out = lab.train("sim", cfg, train_population=False, cv_folds=0)
        by_id = {r.recipe.id: r.score for r in lab.score(recipes[60:], "sim")}
        s = np.array([by_id[r.id] for r in recipes[60:]])
        accuracy.append(float(np.mean(np.sign(s[i] - s[j]) == np.sign(truth[i] - truth[j]))))
        if feature:
            metrics = lab.store.get_model_version(out.personal_version).metrics
    return metrics, accuracy[0], accuracy[1]


def test_lab_trains_a_noisy_rater_with_the_weight_and_records_it(tmp_path, monkeypatch):
    runs = [_lab_rater_accuracy(tmp_path / f"s{seed}", 0.3, seed, monkeypatch) for seed in range(6)]
    for metrics, _, _ in runs:
        assert 0.1 <= metrics["rater_weight"] < 0.6 and 0.5 < metrics["rater_ceiling"] < 0.9
        assert metrics["config"]["l2"] == 1.0  # the user's own settings, not the tempered ones
    with_weight, without = np.mean([r[1] for r in runs]), np.mean([r[2] for r in runs])
    assert with_weight >= without - 0.005, (with_weight, without)


def test_lab_leaves_a_consistent_raters_fit_unchanged(tmp_path, monkeypatch):
    metrics, with_weight, without = _lab_rater_accuracy(tmp_path, 0.0, 0, monkeypatch)
    assert metrics["rater_weight"] == 1.0 and metrics["rater_ceiling"] == 1.0 and with_weight == without


def test_a_repeat_round_keeps_the_rounds_diet_and_time_limits(round_lab):
    """Found in real Chromium: a vegetarian, 20-minute round repeated an earlier pair with bacon
    in it (38 min). A repeat now only shows a pair whose two dishes keep the round's limits, and
    none when no judged pair does."""
    from dataclasses import replace

    from pantry.compare import fits_request, prepare_round, repeat_round
    from pantry.domain.votes import Vote
    from pantry.generators import GenerationRequest, GeneratorChoice, OfflineComposer

    store = round_lab.store
    made = OfflineComposer().generate(GenerationRequest(pantry=("bacon", "chicken", "rice", "spinach", "egg",
                                                                "tomato", "onion", "chickpeas"), n=24, seed=2))
    store.add_recipes(made)
    veg = GenerationRequest(pantry=("egg", "rice", "spinach"), n=6, seed=3, diets=("vegetarian",), max_minutes=40)
    fit = [r for r in made if fits_request(r, veg)]
    unfit = [r for r in made if not fits_request(r, veg)]
    assert len(fit) >= 2 and len(unfit) >= 8
    # 8 judged pairs, one of which keeps the limits (and 6 newer votes, so that all may repeat)
    pairs = [(unfit[k], unfit[k + 1]) for k in range(0, 8, 2)] + [(fit[0], fit[1])] + \
            [(unfit[k], unfit[(k + 3) % len(unfit)]) for k in range(9)]
    store.add_votes([Vote(user="ana", a=a.id, b=b.id, outcome="a", left="a") for a, b in pairs])
    choice = GeneratorChoice(OfflineComposer(), "offline-composer", "offline", "offline composer selected", None,
                             "offline")
    shown = set()
    for seed in range(6):
        m = prepare_round(round_lab, choice, veg, "ana", np.random.default_rng(seed), repeat_share=1.0).matchup
        assert m.repeat_of is not None
        shown.add(frozenset((m.a.recipe.id, m.b.recipe.id)))
        assert fits_request(m.a.recipe, veg) and fits_request(m.b.recipe, veg), (m.a.recipe.title, m.b.recipe.title)
    assert shown == {frozenset((fit[0].id, fit[1].id))}
    # no judged pair keeps these limits: no repeat (the round stays an ordinary one)
    vegan_quick = replace(veg, diets=("vegan",), max_minutes=5)
    assert not any(fits_request(r, vegan_quick) for pair in pairs for r in pair)
    assert repeat_round(round_lab, "ana", m, np.random.default_rng(0), round_lab.model_for("ana"), 1.0,
                        vegan_quick) is None
    assert repeat_round(round_lab, "ana", m, np.random.default_rng(0), round_lab.model_for("ana"), 1.0,
                        veg) is not None
    # a pair shown in the session's last rounds (a repeat just skipped) is not drawn again at once
    assert repeat_round(round_lab, "ana", m, np.random.default_rng(0), round_lab.model_for("ana"), 1.0,
                        veg, recent=[fit[1], made[-1], fit[0]]) is None
