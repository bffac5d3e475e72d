"""pantry.model.like_you: what the raters who vote like a person say about recipes they have not rated."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from pantry.model.like_you import Crowd, LikeYou, Neighbours, neighbour_verdicts, scaled, with_like_you
from pantry.model.training import OPTIONS, TrainConfig, _crowd_trust, train_reward_model
from tests.helpers import crowd_pairs, newcomer_pairs

N_RECIPES, DIM = 36, 4


def _crowd(votes: list[tuple[str, str, str, float]]) -> Crowd:
    who, a, b, y = zip(*votes)
    return Crowd(list(a), list(b), np.array(y), list(who))


def test_a_rater_weighs_by_how_often_they_agreed_on_recipes_both_judged():
    crowd = _crowd([
        ("twin", "r1", "r2", 1.0), ("twin", "r3", "r4", 1.0), ("twin", "r2", "r4", 1.0),
        ("opposite", "r1", "r2", 0.0), ("opposite", "r3", "r4", 0.0),
        ("half", "r1", "r2", 1.0), ("half", "r3", "r4", 0.0),
        ("stranger", "r7", "r8", 1.0),
    ])
    index = crowd.where
    # my votes: r1 beats r2, r3 beats r4, and r1 beats r4 (the twin never compared r1 with r4,
    # but ranks r1 over r4 by their net wins: no identical pair is needed); a tie says nothing
    own_a = np.array([index["r1"], index["r3"], index["r1"], index["r3"]])
    own_b = np.array([index["r2"], index["r4"], index["r4"], index["r1"]])
    w = dict(zip(crowd.labels, crowd.weights(own_a, own_b, np.array([1.0, 1.0, 1.0, 0.5]))))
    assert w["twin"] == pytest.approx(np.log(4.0))  # 3 agreements, 0 disagreements
    assert w["opposite"] == 0.0 and w["stranger"] == 0.0
    assert w["half"] == 0.0  # agreed on r1 vs r2, disagreed on r3 vs r4, and ranks r1 and r4 level


def test_the_person_never_counts_as_their_own_neighbour():
    crowd = _crowd([("me", "r1", "r2", 1.0), ("me", "r5", "r6", 1.0), ("other", "r5", "r6", 0.0)])
    mine = (["r1"], ["r2"], np.array([1.0]))
    assert neighbour_verdicts(Neighbours(crowd), *mine, item_var=10.0) is not None  # "me" agrees with me
    assert neighbour_verdicts(Neighbours(crowd, exclude="me"), *mine, item_var=10.0) is None
    assert neighbour_verdicts(Neighbours(crowd), *mine, item_var=0.0) is None
    assert neighbour_verdicts(None, *mine, item_var=10.0) is None


def test_the_verdicts_follow_the_raters_who_agree_and_sit_on_top_of_the_prior():
    crowd = _crowd([("twin", "r1", "r2", 1.0), ("twin", "r5", "r6", 1.0),
                    ("opposite", "r1", "r2", 0.0), ("opposite", "r5", "r6", 0.0), ("opposite", "r7", "r8", 1.0)])
    out = neighbour_verdicts(Neighbours(crowd), ["r1"], ["r2"], np.array([1.0]), item_var=10.0)
    off = dict(zip(out.ids, out.offsets))
    assert off["r5"] > off["r6"]  # what my twin says about dishes I never rated
    assert "r7" not in off and "r8" not in off  # the one who disagrees with me weighs nothing: no offsets kept
    assert out.scale == 1.0 and out.raters == 1
    # a prior that already says r5 beats r6 by far leaves little for the neighbours to add
    d0 = np.array([0.0, 8.0, 0.0, 0.0, 0.0])
    on_top = neighbour_verdicts(Neighbours(crowd, d0), ["r1"], ["r2"], np.array([1.0]), item_var=10.0)
    top = dict(zip(on_top.ids, on_top.offsets))
    assert 0 <= top["r5"] - top["r6"] < off["r5"] - off["r6"]
    half = scaled(out, 0.5)
    np.testing.assert_allclose(half.offsets, out.offsets * 0.5)
    assert half.scale == 0.5 and scaled(out, 0.0) is None


def test_inherited_offsets_add_the_crowds_and_the_neighbours_over_both_sets_of_ids():
    crowd = (("r1", "r2"), [np.array([1.0, -1.0]), np.array([2.0, -2.0])])
    mine = LikeYou(("r2", "r3"), np.array([0.5, 0.25]), 0.5, 3)
    (ids, arrays), late = with_like_you(crowd, mine, ("r4",))
    assert ids == ("r1", "r2", "r3", "r4")
    np.testing.assert_allclose(arrays[0], [1.0, -0.5, 0.25, 0.0])
    np.testing.assert_allclose(arrays[1], [2.0, -1.5, 0.25, 0.0])
    np.testing.assert_allclose(late, [0.0, 0.5, 0.25, 0.0])
    assert with_like_you(crowd, None, ("r4",)) == (crowd, None)


def _camps(camps: bool, seed: int = 0, raters: int = 8, votes: int = 120):
    """Recipes with random features that no one cares about; with `camps`, raters r0, r2, ...
    love the dishes raters r1, r3, ... hate (each camp's own appeal per dish); without, every
    rater has a private appeal per dish. Returns (the crowd's Pairs, features, camp A's appeal)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N_RECIPES, DIM))
    camp = rng.normal(0, 2.0, N_RECIPES)
    rows = []
    for r in range(raters):
        appeal = (camp if r % 2 == 0 else -camp) if camps else rng.normal(0, 2.0, N_RECIPES)
        for _ in range(votes):
            a, b = rng.choice(N_RECIPES, 2, replace=False)
            rows.append((f"u{r}", a, b, float(rng.random() < 1 / (1 + np.exp(-(appeal[a] - appeal[b]))))))
    return crowd_pairs(rows, x), x, camp


def _newcomer(x, camp, seed: int = 1, votes: int = 30):
    """A camp-A newcomer's decisive votes among two thirds of the recipes; the rest are never rated."""
    return newcomer_pairs(x, camp, votes, np.random.default_rng(seed))


def _unrated_accuracy(model, x, camp, unrated) -> float:
    s = model.score(x[unrated].astype(np.float32), [f"r{k}" for k in unrated])[0]
    i, j = np.triu_indices(len(unrated), 1)
    truth = camp[unrated][i] - camp[unrated][j]
    return float(np.mean(np.sign(s[i] - s[j]) == np.sign(truth)))


def _camp_newcomer_fits(members: int):
    """(features, camp A's appeal, the newcomer's votes, the recipes they never rated, their
    model without neighbours, the TrainResult with the crowd as neighbours)."""
    crowd, x, camp = _camps(camps=True)
    mine, unrated = _newcomer(x, camp)
    cfg = TrainConfig(members=members, val_split=0.0, min_decisive=0)
    neighbours = Neighbours(Crowd(crowd.ids_a, crowd.ids_b, crowd.y, crowd.rater))
    alone = train_reward_model(mine, "test", "test-spec", cfg).model
    return x, camp, mine, unrated, alone, train_reward_model(mine, "test", "test-spec", cfg, neighbours=neighbours)


def test_a_newcomer_gets_their_camps_verdicts_on_dishes_they_never_rated():
    x, camp, mine, unrated, alone, liked = _camp_newcomer_fits(members=1)
    info = liked.metrics["like_you"]
    assert info is not None and info["scale"] > 0 and info["raters"] >= 2
    assert info["recipes"] == len(unrated)  # the camp rated every dish the newcomer did not
    # the features say nothing about the camps' taste; the newcomer's own camp does
    alone_acc, liked_acc = _unrated_accuracy(alone, x, camp, unrated), _unrated_accuracy(liked.model, x, camp, unrated)
    assert liked_acc > 0.8 and liked_acc > alone_acc + 0.15
    assert alone.meta["metrics"]["like_you"] is None


def _content_newcomer(x, seed: int, votes: int = 30):
    """A newcomer whose taste is the recipes' feature 0 (and a little noise), with votes among
    two thirds of the recipes; returns (their Pairs, the recipes they never rated, their utility)."""
    rng = np.random.default_rng(seed)
    util = 1.5 * x[:, 0] + rng.normal(0, 0.5, N_RECIPES)
    return (*newcomer_pairs(x, util, votes, rng, drawn=True), util)


def test_verdicts_that_do_not_predict_the_person_are_not_trusted():
    """Every rater has a private view of each dish, so whoever agreed with the newcomer did so
    by chance: the trust chosen on half of the newcomer's recipes stays 0, and the dishes they
    never rated are scored as without a crowd (trusting those verdicts cost up to 0.11 in these
    draws when any gain on the held half counted)."""
    cfg = TrainConfig(members=1, val_split=0.0, min_decisive=0)
    for seed in range(8):
        crowd, x, _ = _camps(camps=False, seed=seed)
        mine, unrated, util = _content_newcomer(x, seed + 100)
        neighbours = Neighbours(Crowd(crowd.ids_a, crowd.ids_b, crowd.y, crowd.rater))
        res = train_reward_model(mine, "test", "test-spec", cfg, neighbours=neighbours)
        assert res.metrics["like_you"] is None, seed
        alone = train_reward_model(mine, "test", "test-spec", cfg).model
        assert _unrated_accuracy(res.model, x, util, unrated) == _unrated_accuracy(alone, x, util, unrated)


def test_too_few_votes_to_judge_the_trust_take_the_one_measured_on_the_crowd():
    """With 5 votes no half of a newcomer's recipes holds enough to judge the trust; the crowd's
    raters, each playing a person with 4 of their votes (5 rounded down to a power of 2), measure
    it: a camp's verdicts carry
    (trust above 0, the dishes the newcomer never rated ordered far better than alone). A crowd
    that cannot play a person (no `votes`) gives none."""
    crowd, x, camp = _camps(camps=True)
    mine, unrated = _newcomer(x, camp, votes=5)
    cfg = TrainConfig(members=1, val_split=0.0, min_decisive=0)
    silent = Neighbours(Crowd(crowd.ids_a, crowd.ids_b, crowd.y, crowd.rater))
    assert train_reward_model(mine, "test", "test-spec", cfg, neighbours=silent).metrics["like_you"] is None
    measured = Crowd(crowd.ids_a, crowd.ids_b, crowd.y, crowd.rater)
    res = train_reward_model(mine, "test", "test-spec", cfg, neighbours=Neighbours(measured, votes=crowd.subset))
    assert res.metrics["like_you"]["scale"] > 0
    measures = [(key[0], OPTIONS[_crowd_trust(gains)[1]][0]) for key, gains in measured.trust_memo.items()]
    assert measures == [(4, res.metrics["like_you"]["scale"])] and res.metrics["like_you"]["judged"] == "crowd"
    alone = train_reward_model(mine, "test", "test-spec", cfg).model
    assert _unrated_accuracy(res.model, x, camp, unrated) > _unrated_accuracy(alone, x, camp, unrated) + 0.15


def test_a_crowd_of_private_views_measures_no_trust_for_a_person_with_few_votes(monkeypatch):
    """Where every rater has a private view of each dish, the crowd's raters playing a person
    with few votes find that the raters who agreed with them predict nothing: trust 0, for
    every draw; the measure runs once per crowd, number of votes (6 rounded down to 4) and the
    settings a single fit reads (`TrainConfig.fit_settings`)."""
    import pantry.model.training as training

    calls: list[int] = []
    real = training._trust_losses

    def spy(sub, *a, **kw):
        calls.append(len(sub))
        return real(sub, *a, **kw)

    monkeypatch.setattr(training, "_trust_losses", spy)
    cfg = TrainConfig(members=1, val_split=0.0, min_decisive=0)
    for seed in range(4):
        crowd, x, _ = _camps(camps=False, seed=seed)
        mine, _, _ = _content_newcomer(x, seed + 100, votes=6)
        measured = Crowd(crowd.ids_a, crowd.ids_b, crowd.y, crowd.rater)
        neighbours = Neighbours(measured, votes=crowd.subset)
        calls.clear()
        # the second fit as a Retrain's final one after its cross-validation's: other ensemble settings
        for c in (cfg, TrainConfig(members=3, val_split=0.0, min_decisive=3, refit=False)):
            assert train_reward_model(mine, "test", "test-spec", c, neighbours=neighbours).metrics["like_you"] is None
        assert calls == [4] * 8, seed  # 8 played once, not twice
        # a setting a single fit reads (the L2 pull) is measured again
        train_reward_model(mine, "test", "test-spec", replace(cfg, l2=2.0), neighbours=neighbours)
        assert [_crowd_trust(g) for g in measured.trust_memo.values()] == [(0, 0)] * 2, seed
        assert calls == [4] * 16, seed


def test_the_validation_run_chooses_its_neighbours_on_its_training_votes_only(monkeypatch):
    """The validation figures are not flattered by neighbours picked for agreeing with the
    validation votes: the validation run's neighbours and trust are chosen on its training
    votes, the final members' on every vote."""
    import pantry.model.training as training

    seen: list[int] = []
    real = training._trusted_like_you

    def spy(votes, *a, **kw):
        seen.append(len(votes))
        return real(votes, *a, **kw)

    monkeypatch.setattr(training, "_trusted_like_you", spy)
    crowd, x, camp = _camps(camps=True)
    mine, _ = _newcomer(x, camp)
    neighbours = Neighbours(Crowd(crowd.ids_a, crowd.ids_b, crowd.y, crowd.rater))
    res = train_reward_model(mine, "test", "test-spec", TrainConfig(members=2, val_split=0.2, min_decisive=0),
                             neighbours=neighbours)
    assert res.metrics["n_val"] > 0 and seen == [len(mine) - res.metrics["n_val"], len(mine)]
    every = neighbour_verdicts(neighbours, mine.ids_a, mine.ids_b, mine.y, TrainConfig().item_var)
    trust = res.metrics["like_you"]["scale"]
    assert trust > 0 and res.metrics["like_you"]["raters"] == every.raters
    rid = next(r for r, off in zip(every.ids, every.offsets) if off and r not in set(mine.ids_a) | set(mine.ids_b))
    k = int(rid[1:])
    inherited = res.model.score(x[k:k + 1].astype(np.float32), [rid])[0][0] - \
        res.model.score(x[k:k + 1].astype(np.float32), ["unknown"])[0][0]
    assert inherited == pytest.approx(trust * every.offsets[every.ids.index(rid)], abs=1e-5)


def test_the_content_head_learns_the_same_with_or_without_the_neighbours():
    """The neighbours were picked for agreeing with these votes: the content head is fitted
    without them (every member, bootstrap ones included), and only the offsets and the score
    of recipes the person never rated carry them."""
    x, _, _, unrated, alone, liked = _camp_newcomer_fits(members=3)
    assert liked.metrics["like_you"] is not None
    for a, b in zip(alone.member_arrays(), liked.model.member_arrays()):
        np.testing.assert_array_equal(a["linear.weight"], b["linear.weight"])
        np.testing.assert_array_equal(a["linear.bias"], b["linear.bias"])
    k = int(unrated[0])
    assert liked.model.score(x[k:k + 1].astype(np.float32), [f"r{k}"])[0][0] != \
        alone.score(x[k:k + 1].astype(np.float32), [f"r{k}"])[0][0]


def test_a_player_without_verdicts_scores_every_trust_as_none():
    """A crowd rater playing a person may find nobody who judged their recipes (a sparse crowd):
    trusting nothing changes nothing, so every trust scores as none (an infinite loss there once
    ruled the whole source out of the crowd's measure)."""
    import pantry.model.training as training

    crowd, x, camp = _camps(camps=True)
    mine, _ = _newcomer(x, camp, votes=6)
    far = np.vstack([x, np.zeros((104 - len(x), DIM))])
    stranger = crowd_pairs([("s", 100, 101, 1.0), ("s", 102, 103, 0.0)], far)  # recipes nobody else rated
    cfg = TrainConfig(members=1, val_split=0.0, min_decisive=0)
    nobody = Neighbours(Crowd(stranger.ids_a, stranger.ids_b, stranger.y, stranger.rater))
    loss = training._trust_losses(mine.subset(np.arange(4)), mine.subset(np.arange(4, 6)), cfg, None, nobody, None,
                                  DIM, 0, None, {}, 10.0, None, correct=True)
    assert loss.shape == (1, len(OPTIONS)) and np.all(loss == loss[0, 0])


def test_on_a_dish_people_like_you_judged_their_verdict_stands_in_for_the_content_heads_lesson():
    """The verdicts were chosen on the same votes the content head learnt from: on a dish they
    speak for, the score is the prior's content plus the verdict (the head's lesson from those
    votes is not counted twice), and a brand-new dish still gets the head. Features come from the
    crowd's own votes (`Neighbours.votes`); without them nothing is folded."""
    crowd, x, camp = _camps(camps=True)
    mine, unrated = _newcomer(x, camp)
    cfg = TrainConfig(members=1, val_split=0.0, min_decisive=0)
    index = Crowd(crowd.ids_a, crowd.ids_b, crowd.y, crowd.rater)
    spec = "explicit-test:f1,f2,pantry_coverage"  # the last column is about the request, not the dish
    plain = train_reward_model(mine, "test", spec, cfg, neighbours=Neighbours(index)).model
    folded = train_reward_model(mine, "test", spec, cfg, neighbours=Neighbours(index, votes=crowd.subset)).model
    near = folded.meta["metrics"]["like_you"]
    assert near["stands_in"] and not plain.meta["metrics"]["like_you"]["stands_in"]
    assert near["scale"] == plain.meta["metrics"]["like_you"]["scale"] > 0
    xs = x[unrated].astype(np.float32)
    head = folded.score(xs, None)[0]  # the content head alone (no ids: no offsets); no prior: its lesson
    np.testing.assert_array_equal(head, plain.score(xs, None)[0])
    assert np.abs(head).max() > 0.05  # the head did learn something from the votes
    dish = xs.copy()
    dish[:, -1] = 0.0
    ids = [f"r{k}" for k in unrated]
    # taken back: the head's lesson about the dish; kept: its lesson about the request's column
    np.testing.assert_allclose(plain.score(xs, ids)[0] - folded.score(xs, ids)[0], folded.score(dish, None)[0],
                               atol=1e-5)
    # the features say nothing about the camps: the head's lesson only added noise there
    assert _unrated_accuracy(folded, x, camp, unrated) >= _unrated_accuracy(plain, x, camp, unrated)


def test_the_verdicts_stand_in_where_the_crowds_players_order_more_votes_right_with_them():
    """`_stands_in` compares the two uses of one source at one trust, paired over the players,
    with no margin (neither has more to fit); trust 0 never stands in; no players, no."""
    from pantry.model.training import _stands_in

    plain = OPTIONS.index((1.0, False))
    fold = OPTIONS.index((1.0, True))
    gains = np.zeros((3, 2, len(OPTIONS)))
    gains[:, 1, plain] = [2, 3, 1]
    gains[:, 1, fold] = [3, 3, 1]  # one more vote ordered right in all
    assert _stands_in(gains, 1, plain)
    assert not _stands_in(gains, 0, plain)  # the other source: level, so the head stays
    gains[:, 1, fold] = [2, 3, 1]
    assert not _stands_in(gains, 1, plain)
    assert not _stands_in(gains, 1, 0) and not _stands_in(None, 1, plain)
