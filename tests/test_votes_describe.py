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
