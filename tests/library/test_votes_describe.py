"""describe_vote: what a person chose, in words, never the stored codes."""

from pantry.domain.votes import Vote, describe_vote

TITLES = {"x": "Zesty Grain Bowl", "y": "Smoky Shakshuka"}


def test_decisive_vote_names_side_and_winner():
    v = Vote("u", "x", "y", "b", left="b", strength="slightly")
    assert describe_vote(v, TITLES) == "left: Smoky Shakshuka beat Zesty Grain Bowl"
    v = Vote("u", "x", "y", "a", left="b", strength="much")
    assert describe_vote(v, TITLES) == "right: Zesty Grain Bowl clearly beat Smoky Shakshuka"


def test_vote_without_side_and_unknown_titles():
    v = Vote("u", "x", "zz", "a")
    assert describe_vote(v, TITLES) == "Zesty Grain Bowl beat zz"


def test_tie_and_both_bad_list_left_first():
    assert describe_vote(Vote("u", "x", "y", "tie", left="b"), TITLES) == \
        "tie: Smoky Shakshuka and Zesty Grain Bowl about equal"
    assert describe_vote(Vote("u", "x", "y", "both_bad", left="a"), TITLES) == \
        "both bad: Zesty Grain Bowl and Smoky Shakshuka"


def test_vote_counts_is_the_one_counts_type():
    from pantry.domain.votes import VoteCounts

    counts = VoteCounts.of({"a": 3, "b": 2, "tie": 1})
    assert (counts.decisive, counts.total, counts.both_bad) == (5, 6, 0)
    assert VoteCounts() == VoteCounts.of({})


def test_kinds_and_states_are_enums_equal_to_their_stored_strings():
    from pantry.compare import HintState, retrain_hint
    from pantry.model.kinds import ComparisonBasis, ModelKind

    assert [str(k) for k in ModelKind] == ["personal", "population", "heuristic"]
    assert [str(b) for b in ComparisonBasis] == ["settings", "fixed", "unknown"]
    assert ModelKind.PERSONAL == "personal" and f"{ModelKind.POPULATION} v2" == "population v2"
    hint = retrain_hint(3, 3, None, min_decisive=8)
    assert hint.state is HintState.FIRST_NEEDS_VOTES and hint.state == "first_needs_votes"
