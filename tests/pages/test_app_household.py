"""AppTest: the Data page's consistency section and the Household page."""

from __future__ import annotations

from tests.helpers import REPO, store_flip_rater  # noqa: F401
from helpers import assert_ok, open_app, store_at

TIMEOUT = 120


def _simulated(store, user="ana", flip=0.1, n=150):
    store_flip_rater(store, user, n, flip)


def test_the_data_page_shows_the_profiles_consistency_and_its_repeat_setting(app_home):
    store = store_at(app_home)
    _simulated(store)
    at = open_app("ana", "views/data.py", TIMEOUT)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Agreement on repeats"].endswith("%") and metrics["Going round in circles"].endswith("%")
    assert metrics["Reachable accuracy"].endswith("%") and metrics["Model accuracy"] == "–"
    captions = " ".join(str(c.value) for c in at.caption)
    assert "repeats, 95% interval" in captions and "triads" in captions and "flip probability" in captions
    pick = at.selectbox(key="repeat_share_pick")
    assert pick.format_func(pick.value) == "about 1 round in 15 (default)"
    pick.set_value(0.0).run()
    assert_ok(at)
    assert store.get_user_prefs("ana")["repeat_share"] == 0.0


def test_the_household_page_ranks_for_the_group_and_votes_for_it_or_one_member(app_home):
    from pantry.household import limit_violations, set_member_limits

    store = store_at(app_home)
    for name in ("ana", "ben", "cy"):
        store.ensure_user(name)
    set_member_limits(store, "ben", ["vegetarian"])
    at = open_app("ana", "views/household.py", TIMEOUT)
    at.multiselect(key="household_members").set_value(["ana", "ben", "cy"]).run()
    assert at.multiselect(key="limits_ben").value == ["vegetarian"]
    at.multiselect(key="limits_cy").set_value(["pork-free"]).run()
    assert store.get_user_prefs("cy")["diets"] == ["pork-free"]
    at.text_area(key="household_pantry").set_value("eggs, rice, spinach, onion, bacon").run()
    at.button(key="household_rank").click().run()
    assert_ok(at)
    text = " ".join(str(m.value) for m in at.markdown)
    assert "ana" in text and ("likes it" in text or "is neutral" in text or "would rather not" in text)
    ranking = at.session_state["household_ranking"]
    for pick in ranking.ranked:
        assert not limit_violations(pick.recipe, ["vegetarian", "pork-free"])
    at.button(key="household_vote_left").click().run()  # the household, by default
    assert_ok(at)
    votes = store.votes()
    assert sorted(v.user for v in votes) == ["ana", "ben", "cy"] and len({v.group_id for v in votes}) == 1
    # a second click on the same pair saves nothing (found in real Chromium: each click saved a set)
    assert at.button(key="household_vote_left").disabled and at.button(key="household_vote_tie").disabled
    assert "Saved for this pair" in " ".join(str(c.value) for c in at.caption)
    assert len(store.votes()) == 3
    at.radio(key="household_voter").set_value("ben").run()
    at.button(key="household_vote_right").click().run()
    assert_ok(at)
    mine = store.votes("ben")
    assert len(mine) == 2 and mine[-1].group_id is None and mine[-1].outcome == "b"


def test_compare_offers_the_household_choice(app_home):
    """Issue 22: the Household choice is reachable from Compare (a link to the household page)."""
    from tests.helpers import open_app, store_at

    store_at(app_home).ensure_user("ana")
    at = open_app("ana")
    links = [e.proto for e in at.get("page_link")]
    assert any(link.page == "group" or "household" in link.label.lower() for link in links), links
