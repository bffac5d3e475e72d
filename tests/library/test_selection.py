"""Tests for pantry.model.selection: the active pair chooser and best-of-N ranking."""

import numpy as np
import pytest

from pantry.errors import InvalidInput
from pantry.model.selection import (all_pairs, best_of_n, choose_from_pairs, choose_pair, pair_probabilities,
                              pair_utility, rank)


class FakeModel:
    """Anything with member_scores(features) -> (members, n) works as a model."""

    def __init__(self, member_scores):
        self.s = np.asarray(member_scores, dtype=np.float64)

    def member_scores(self, features):
        assert len(features) == self.s.shape[1]
        return self.s


def _orthogonal(n, dim=16):
    """n orthogonal rows laid out as [9-dim embedding | 7 explicit features]."""
    return np.eye(dim, dtype=np.float32)[:n]


def test_pair_probabilities_is_bradley_terry():
    p = pair_probabilities(np.array([[0.0, np.log(3.0)]]), np.array([[1, 0]]))
    assert p.shape == (1, 1) and p[0, 0] == pytest.approx(0.75)


@pytest.mark.parametrize("method", ["uncertainty", "information", "bald", "disagreement"])
def test_picks_the_most_uncertain_pair(method):
    # two members agree on 0 >> 1 >> 2 >> 3 except recipes 1 and 3, which they cannot order
    scores = np.array([[9.0, 3.0, 0.0, 3.5], [9.0, 3.0, 0.0, 2.5]])
    model = FakeModel(scores)
    i, j = choose_pair(_orthogonal(4), model, np.random.default_rng(0), random_share=0.0, method=method)
    assert (i, j) == (1, 3)


def test_uncertainty_prefers_closest_to_half():
    util = pair_utility(np.array([0.0, 0.1, 5.0]), np.array([[0, 1], [0, 2]]), "uncertainty")
    assert util[0] > util[1]


def test_information_uses_given_variance():
    # same probability; the pair the model knows least about wins
    pairs = np.array([[0, 1], [2, 3]])
    k = choose_from_pairs(np.zeros(4), pairs, np.random.default_rng(0), random_share=0.0,
                          pair_variance=np.array([0.1, 2.0]))
    assert k == 1


def test_random_share_is_respected():
    scores = np.array([[0.0, 0.0, 5.0, 10.0, 15.0, 20.0]])  # (0, 1) is by far the most uncertain
    rng = np.random.default_rng(1)
    picks = [choose_pair(_orthogonal(6), FakeModel(scores), rng, random_share=0.2, method="uncertainty")
             for _ in range(2000)]
    other = np.mean([p != (0, 1) for p in picks])
    n_pairs = 15
    assert other == pytest.approx(0.2 * (n_pairs - 1) / n_pairs, abs=0.03)
    assert len(set(picks)) == n_pairs  # the random share reaches every pair
    picks0 = {choose_pair(_orthogonal(6), FakeModel(scores), rng, random_share=0.0, method="uncertainty")
              for _ in range(50)}
    assert picks0 == {(0, 1)}


def test_never_returns_a_near_duplicate():
    x = _orthogonal(5)
    x[1] = x[0] * 2.0  # same direction: cosine similarity 1 (scale does not matter)
    x[3] = x[2] + 0.01 * x[4]
    scores = np.zeros((2, 5))  # every pair equally uncertain
    rng = np.random.default_rng(0)
    for share in (0.0, 1.0):
        for _ in range(200):
            i, j = choose_pair(x, FakeModel(scores), rng, random_share=share)
            assert {i, j} not in ({0, 1}, {2, 3})


def test_predicate_and_exclude_are_respected():
    scores = np.array([[0.0, 0.0, 0.1, 5.0]])
    rng = np.random.default_rng(0)
    i, j = choose_pair(_orthogonal(4), FakeModel(scores), rng, random_share=0.0, method="uncertainty",
                       exclude={(1, 0)})
    assert (i, j) != (0, 1)
    for _ in range(100):
        i, j = choose_pair(_orthogonal(4), None, rng, near_duplicate=lambda a, b: 3 not in (a, b))
        assert 3 in (i, j)
    with pytest.raises(InvalidInput):
        choose_pair(_orthogonal(2), None, rng, exclude={(0, 1)})


def test_embedding_columns_default_and_override():
    # [embedding | 7 explicit] rows: explicit features alike must not make recipes duplicates
    emb = np.eye(16, dtype=np.float32)[:3]
    feats = np.concatenate([emb, np.ones((3, 7), np.float32)], axis=1)
    pairs = {choose_pair(feats, None, np.random.default_rng(s)) for s in range(60)}
    assert pairs == {(0, 1), (0, 2), (1, 2)}
    same = np.ones((3, 4))
    with pytest.raises(InvalidInput):
        choose_pair(feats, None, np.random.default_rng(0), embeddings=same)


def test_all_pairs():
    assert all_pairs(4).tolist() == [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]


def test_best_of_n_and_rank():
    assert best_of_n([0.1, 3.0, -2.0]) == 1
    assert rank([0.1, 3.0, -2.0]).tolist() == [1, 0, 2]
    assert rank([1.0, 1.0, 0.0]).tolist() == [0, 1, 2]  # stable on ties
    assert best_of_n([1.0, 0.9], uncertainty=[2.0, 0.0], risk=0.5) == 1
    assert rank([np.nan, 0.0]).tolist() == [1, 0]
    with pytest.raises(InvalidInput):
        best_of_n([])


# --- design: which pair teaches the most about a taste ------------------------------------------

def test_design_variance_is_largest_where_past_votes_have_not_looked():
    from pantry.model.selection import design_variance

    # columns: meat, minutes; candidates 0/1 differ in meat only, 2/3 in minutes only
    x = np.array([[1.0, 0.2], [0.0, 0.2], [0.5, 0.9], [0.5, 0.1]])
    pairs = np.array([[0, 1], [2, 3]])
    fresh = design_variance(x, pairs)
    assert fresh[0] > 0 and fresh[1] > 0
    meat_votes = np.array([[[1.0, 0.5], [0.0, 0.5]]] * 6)  # six votes on meat-or-not pairs
    after = design_variance(x, pairs, meat_votes)
    assert after[0] < fresh[0] / 2  # meat is known now ...
    assert after[1] > after[0]  # ... the time of a dish is not: that pair is the one to ask
    # a unit change of a column (minutes -> hours) does not change which pair wins
    scaled = x * np.array([1.0, 60.0])
    again = design_variance(scaled, pairs, meat_votes * np.array([1.0, 60.0]))
    assert np.argmax(again) == np.argmax(after)


def test_choose_pair_with_history_asks_the_pair_that_differs_in_taste():
    from pantry.model.features import FEATURE_NAMES
    from pantry.model.selection import design_columns

    n_exp = len(FEATURE_NAMES)
    emb = np.eye(4, 8, dtype=np.float32)  # four distinct dishes
    explicit = np.zeros((4, n_exp), np.float32)
    veg, minutes = FEATURE_NAMES.index("vegetarian"), FEATURE_NAMES.index("log_minutes")
    explicit[:, minutes] = [0.5, 0.52, 0.5, 0.9]
    explicit[:, veg] = [1, 1, 0, 1]
    x = np.concatenate([emb, explicit], axis=1)
    assert veg in design_columns() and FEATURE_NAMES.index("pantry_coverage") not in design_columns()
    rng = np.random.default_rng(0)
    # with no votes yet: the pair apart in both taste and time (2: meat, 3: slow), not a near tie
    assert choose_pair(x, None, rng, random_share=0.0, history=np.zeros((0, 2, n_exp))) == (2, 3)
    # after many votes on meat-or-not and slow-or-quick pairs alike, the unseen combination is asked
    seen = np.zeros((8, 2, n_exp))
    seen[:, 0, veg], seen[:, 0, minutes], seen[:, 1, minutes] = 1, 0.9, 0.5
    i, j = choose_pair(x, None, rng, random_share=0.0, history=seen)
    assert (i, j) != (2, 3)


def test_the_pair_is_chosen_on_the_scores_the_cards_show():
    """With recipe ids the model scores candidates with their per-recipe offsets (a recipe this
    profile or its crowd rated), as the Compare cards show them, not by content alone."""
    from pantry.model.reward import RewardModel

    x = _orthogonal(3)
    arrays = {"linear.weight": np.array([[0.0, 1.0, 2.0] + [0.0] * 13], np.float32),
              "linear.bias": np.zeros(1, np.float32), "offsets": np.array([-2.0], np.float32)}
    model = RewardModel(None, "test", "test-spec", 16, item_ids=("c",), arrays=[arrays])
    # content alone: 0, 1, 2 (the closest pairs differ by 1); with c's offset: 0, 1, 0
    assert choose_pair(x, model, np.random.default_rng(0), random_share=0.0, method="uncertainty") == (0, 1)
    assert choose_pair(x, model, np.random.default_rng(0), random_share=0.0, method="uncertainty",
                       ids=["a", "b", "c"]) == (0, 2)
