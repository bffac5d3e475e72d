"""Real browser (Chromium via Playwright): the Data page's consistency section and the
Household page, ranked and voted for the group. Screenshots go to test-artifacts/."""

from __future__ import annotations

import pytest

from tests.browser.test_browser import _idle, _no_exception, _shot, page, server, sync_api  # noqa: F401 - fixtures


def _seed(home) -> None:
    from pantry.household import set_member_limits
    from pantry.storage.store import Store
    from tests.helpers import store_flip_rater

    store = Store(home / "pantry.sqlite3")
    for name in ("ana", "ben", "cy"):
        store.ensure_user(name)
    set_member_limits(store, "ben", ["vegetarian"])
    store_flip_rater(store, "ana")


def test_consistency_and_household_in_a_real_browser(server, page, tmp_path):  # noqa: F811
    expect = sync_api.expect
    expect.set_options(timeout=60_000)
    _seed(tmp_path / "home")
    try:
        page.goto(f"{server}/votes?profile=ana")
        expect(page.get_by_role("heading", name="Your consistency")).to_be_visible()
        _idle(page)
        expect(page.get_by_text("Agreement on repeats")).to_be_visible()
        expect(page.get_by_text("Reachable accuracy")).to_be_visible()
        page.get_by_role("heading", name="Your consistency").scroll_into_view_if_needed()
        _no_exception(page)
        _shot(page, "22-1-data-consistency")

        page.goto(f"{server}/group?profile=ana")
        expect(page.get_by_role("heading", name="Household")).to_be_visible()
        _idle(page)
        members = page.locator('[data-testid="stMultiSelect"]').filter(has_text="Who is eating")
        for name in ("ben", "cy"):
            members.locator("input").click()
            page.keyboard.type(name)
            page.keyboard.press("Enter")
            _idle(page)
        page.get_by_label("The shared pantry").fill("eggs, rice, spinach, onion, bacon, tomato")
        page.keyboard.press("Control+Enter")
        _idle(page)
        page.get_by_role("button", name="Rank for the household").click()
        expect(page.get_by_role("heading", name="Best for everyone")).to_be_visible()
        _idle(page)
        expect(page.get_by_text(" likes it").first).to_be_visible()
        _no_exception(page)
        _shot(page, "22-2-household-ranking")
        page.get_by_role("button", name="Left is better").click()
        expect(page.get_by_text("Saved for the household (3 members).")).to_be_visible()
        _idle(page)
        _shot(page, "22-3-household-vote")
    except BaseException:
        _shot(page, "failure-22")
        raise
    from pantry.storage.store import Store

    votes = [v for v in Store(tmp_path / "home" / "pantry.sqlite3").votes() if v.group_id]
    assert sorted(v.user for v in votes) == ["ana", "ben", "cy"]
