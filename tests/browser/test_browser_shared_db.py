"""Two Streamlit servers, one PostgreSQL database (issue 13), driven in real Chromium.

Each server has its own PANTRY_HOME (its own weights folder, nothing shared on disk) and the
same PANTRY_DATABASE_URL, as two app servers behind a load balancer would. A vote cast on
one is counted on the other on its next action; a model trained and activated on one is the
model the other scores with, loaded from the weights bytes in the database.

Runs wherever the PostgreSQL fixture has a server (`.ci/run` starts one and sets
PANTRY_REQUIRE_POSTGRES=1, so there it cannot skip).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import seed_votes
from tests.browser.test_browser import _no_exception, _pair_on_screen, _shot, page, start_server, sync_api  # noqa: F401


@pytest.fixture
def two_servers(tmp_path, pg_url):
    homes = (tmp_path / "home-a", tmp_path / "home-b")
    with start_server(tmp_path / "a", homes[0], {"PANTRY_DATABASE_URL": pg_url}) as a, \
            start_server(tmp_path / "b", homes[1], {"PANTRY_DATABASE_URL": pg_url}) as b:
        yield (a, homes[0]), (b, homes[1])


def test_two_servers_share_votes_and_the_active_model(two_servers, page, pg_url):
    from pantry.storage.postgres import PostgresStore

    (url_a, home_a), (url_b, home_b) = two_servers
    expect = sync_api.expect
    expect.set_options(timeout=60_000)
    store = PostgresStore(pg_url, Path(home_a).parent / "seed-weights")
    seed_votes(store, "sam", n=12)  # enough decisive votes for a personal model
    a = page
    b = page.context.browser.new_context(viewport={"width": 1400, "height": 1600}).new_page()
    b.set_default_timeout(60_000)
    try:
        b.goto(url_b + "/?profile=sam")
        expect(b.get_by_role("heading", name="Compare recipes")).to_be_visible()
        expect(b.get_by_text(re.compile(r"\b12 votes by sam"))).to_be_visible()
        sidebar_b = b.locator('[data-testid="stSidebar"]')
        expect(sidebar_b.get_by_text("Heuristic", exact=True)).to_be_visible()

        # a vote on server A ...
        a.goto(url_a + "/?profile=sam")
        expect(a.get_by_role("heading", name="Compare recipes")).to_be_visible()
        _pair_on_screen(a, expect, "4 eggs, spinach, feta, rice, an onion, tomatoes")
        a.locator("body").press("1")
        expect(a.get_by_text(re.compile(r"Saved vote #\d+\b"))).to_be_visible()
        expect(a.get_by_text(re.compile(r"\b13 votes by sam"))).to_be_visible()

        # ... is counted on server B at its next action (here: opening a page)
        b.get_by_role("link", name="Data").click()
        expect(b.get_by_role("heading", name="Data", exact=True)).to_be_visible()
        b.get_by_role("link", name="Compare").click()
        expect(b.get_by_role("heading", name="Compare recipes")).to_be_visible()
        expect(b.get_by_text(re.compile(r"\b13 votes by sam"))).to_be_visible()

        # a model trained and activated on server A ...
        a.get_by_role("link", name="Retrain").click()
        expect(a.get_by_role("heading", name="Retrain")).to_be_visible()
        a.get_by_role("button", name="Retrain", exact=True).click()
        expect(a.get_by_text(re.compile(r"New v\d+ vs the current model"))).to_be_visible(timeout=120_000)
        activate = a.get_by_role("button", name=re.compile(r"^Activate v\d+"))
        version = re.search(r"v(\d+)", activate.inner_text()).group(1)
        activate.click()
        expect(a.get_by_text(re.compile(r"Activated .*v\d+"))).to_be_visible()
        _no_exception(a)

        # ... scores on server B, which never had its weights file
        weights_b = Path(home_b) / "weights"
        assert not any(weights_b.glob("*.npz")) and not any(weights_b.glob("*.pt")), "B trained nothing"
        b.get_by_role("link", name="Data").click()
        expect(b.get_by_role("heading", name="Data", exact=True)).to_be_visible()
        b.get_by_role("link", name="Compare").click()
        expect(b.get_by_role("heading", name="Compare recipes")).to_be_visible()
        expect(sidebar_b.get_by_text(f"Personal v{version}", exact=True)).to_be_visible()
        _pair_on_screen(b, expect, "2 eggs, half an onion, spinach, leftover rice, soy sauce, garlic")
        b.locator("body").press("2")
        expect(b.get_by_text(re.compile(r"Saved vote #\d+\b.*\(scores: .+ -?\d+\.\d\d, .+ -?\d+\.\d\d\)"))).to_be_visible()  # scored by B
        expect(b.get_by_text(re.compile(r"\b14 votes by sam"))).to_be_visible()
        _no_exception(b)
        _shot(b, "8-second-server-personal-model")
        assert any(weights_b.iterdir()), "server B wrote the weights it loaded from the database"
        assert len(store.votes(user="sam")) == 14
    except BaseException:
        _shot(a, "failure-shared-a")
        _shot(b, "failure-shared-b")
        raise
