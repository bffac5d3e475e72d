"""POST /household and POST /household/votes (pantry/api/household.py)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from pantry.household import limit_violations, set_member_limits

PANTRY = "2 eggs, half an onion, spinach, leftover rice, tomato, garlic, bacon"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from pantry.api import create_app
    from pantry.lab import Lab
    from pantry.settings import Settings
    from pantry.storage.store import Store
    from tests.helpers import shared_embedder

    with pytest.MonkeyPatch.context() as mp:
        home = tmp_path_factory.mktemp("household") / "home"
        for k, v in {"HF_HUB_OFFLINE": "1", "PANTRY_GENERATOR": "offline", "PANTRY_DEVICE": "cpu",
                     "PANTRY_HOME": str(home)}.items():
            mp.setenv(k, v)
        mp.delenv("PANTRY_API_TOKEN", raising=False)
        settings = Settings.from_env()
        lab = Lab(settings, Store(settings.db_path), shared_embedder())
        for name in ("ana", "ben", "cy"):
            lab.store.ensure_user(name)
        set_member_limits(lab.store, "ben", ["vegetarian"])
        set_member_limits(lab.store, "cy", ["no pork"])
        yield TestClient(create_app(settings, lab))


def test_the_answer_lists_each_members_score_and_liking_within_every_limit(client):
    r = client.post("/household", json={"members": ["ana", "ben", "cy"], "pantry": PANTRY, "n": 8, "seed": 4})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["members"] == ["ana", "ben", "cy"]
    assert body["limits"] == {"ana": [], "ben": ["vegetarian"], "cy": ["pork-free"]}
    assert set(body["models"]) == {"ana", "ben", "cy"} and body["ranked"]
    from pantry.domain.recipes import recipe_from_dict

    for k, pick in enumerate(body["ranked"], 1):
        assert pick["rank"] == k
        assert [m["member"] for m in pick["members"]] == ["ana", "ben", "cy"]
        assert all(isinstance(m["score"], float) and m["liking"] in ("likes", "neutral", "would_rather_not")
                   for m in pick["members"])
        recipe = recipe_from_dict({k2: v for k2, v in pick["recipe"].items() if k2 != "source"})
        assert not limit_violations(recipe, ["vegetarian", "pork-free"])
    assert [p["min_z"] for p in body["ranked"]] == sorted((p["min_z"] for p in body["ranked"]), reverse=True)
    again = client.post("/household", json={"members": ["ana", "ben", "cy"], "pantry": PANTRY, "n": 8, "seed": 4})
    assert [p["recipe"]["id"] for p in again.json()["ranked"]] == [p["recipe"]["id"] for p in body["ranked"]]


@pytest.mark.parametrize("body, status, words", [
    ({"members": ["ana"], "pantry": PANTRY}, 422, "members"),
    ({"members": ["ana", "ana"], "pantry": PANTRY}, 400, "twice"),
    ({"members": ["ana", "zed"], "pantry": PANTRY}, 400, "no profile named"),
    ({"members": ["ana", "ben"], "pantry": "rice, " * 2000}, 400, "pantry"),
    ({"members": ["ana", "ben"], "pantry": PANTRY, "n": 1000}, 422, "n"),
])
def test_bad_requests_are_4xx_naming_the_problem(client, body, status, words):
    r = client.post("/household", json=body)
    assert r.status_code == status, r.text
    assert words in str(r.json()["detail"])


def test_a_household_vote_is_stored_for_each_member_as_one_group(client):
    ranked = client.post("/household", json={"members": ["ana", "cy"], "pantry": PANTRY, "n": 6, "seed": 1}).json()
    a, b = ranked["ranked"][0]["recipe"]["id"], ranked["ranked"][1]["recipe"]["id"]
    r = client.post("/household/votes", json={"members": ["ana", "cy"], "a": a, "b": b, "outcome": "a", "left": "b"})
    assert r.status_code == 201, r.text
    stored = r.json()
    assert len(stored["ids"]) == 2 and stored["group_id"]
    votes = {v["id"]: v for v in client.get("/votes", params={"limit": 500}).json()["votes"]}
    assert {votes[i]["profile"] for i in stored["ids"]} == {"ana", "cy"}
    assert all(votes[i]["strength"] == "slightly" for i in stored["ids"])
    bad = client.post("/household/votes", json={"members": ["ana", "cy"], "a": a, "b": "nope", "outcome": "a"})
    assert bad.status_code == 400 and bad.json()["detail"].startswith("field 'b': no stored recipe with id 'nope'")
    tie = client.post("/household/votes", json={"members": ["ana", "cy"], "a": a, "b": b, "outcome": "tie",
                                                "strength": "much"})
    assert tie.status_code == 400 and "strength" in tie.json()["detail"]


def test_a_refused_household_vote_stores_nothing_and_names_match_any_case(client):
    """Members are checked before an inline recipe is stored (a refused vote used to keep its
    two recipes), and "ANA" is ana, as for every other profile lookup."""
    recipes = lambda: client.get("/health").json()["store"]["recipes"]  # noqa: E731
    before = recipes()
    inline = {"a": {"title": "Fresh One", "ingredients": ["q1"]}, "b": {"title": "Fresh Two", "ingredients": ["q2"]},
              "outcome": "a"}
    for members, words in ((["ana", "ANA"], "twice"), (["ana", "ghost"], "no profile named")):
        r = client.post("/household/votes", json={"members": members, **inline})
        assert r.status_code == 400 and words in r.json()["detail"], r.text
    assert recipes() == before
    r = client.post("/household", json={"members": ["ANA", "Ben"], "pantry": PANTRY, "n": 4, "seed": 2})
    assert r.status_code == 200, r.text
    assert r.json()["members"] == ["ana", "ben"]
