"""The API under a third adversarial probe (stop 33): each finding as a test that failed
before its fix (the /rank profile lookup is in test_api.py, beside a trained profile)."""

from __future__ import annotations

import pytest

from tests.api.test_api_attack import _candidates, api  # noqa: F401 (fixture)


@pytest.mark.parametrize("field, value", [("activate", "no"), ("activate", 1), ("activate", "yes"),
                                          ("train_population", "off"), ("train_population", 0)])
def test_train_flags_are_true_or_false_only(api, field, value):
    """Before: "no" was read as false and 1 or "yes" as true (202, a job that trained)."""
    _, client, _ = api
    r = client.post("/train", json={"profile": "ana", field: value})
    assert r.status_code == 422 and field in r.text and "true or false" in r.text, r.text


@pytest.mark.parametrize("option, value, words", [
    ("l2", "0.5", "l2 must be a number, got '0.5'"),
    ("members", "5", "members must be an integer, got '5'"),
    ("l2", "inf", "l2 must be a number, got 'inf'"),
    ("refit", "true", "refit must be true or false, got 'true'"),
])
def test_train_options_in_a_body_are_json_values_not_text(api, option, value, words):
    """Before: a float option took "0.5" (and "inf" was worded "got Infinity") while an integer
    option refused "5": one rule for both now."""
    _, client, _ = api
    r = client.post("/train", json={"profile": "ana", "options": {option: value}})
    assert r.status_code == 400 and words in r.json()["detail"], r.text


def test_typed_text_still_sets_options_where_text_is_all_there_is():
    """The benches' NAME=VALUE (`config_from(..., text=True)`) read text as the option's type."""
    from pantry.model.training import config_from

    cfg = config_from({"l2": "0.5", "members": "3", "refit": "false", "prior_shape": "isotropic"}, text=True)
    assert (cfg.l2, cfg.members, cfg.refit, cfg.prior_shape) == (0.5, 3, False, "isotropic")
    with pytest.raises(ValueError, match="members must be an integer, got '3.5'"):
        config_from({"members": "3.5"}, text=True)
    with pytest.raises(ValueError, match="l2 must be a number"):
        config_from({"l2": "0.5"})


@pytest.mark.parametrize("since, words", [("", "is empty"), ("  ", "is empty"),
                                          ("1" * 1000, "must be an ISO 8601 date-time such as"),
                                          ("1" * 20, "must be an ISO 8601 date-time such as"),
                                          ("2026-12-07X", "must be an ISO 8601 date-time such as")])
def test_since_must_be_a_date_time_and_says_so(api, since, words):
    """Before: an empty `since` was "got text", and 1,000 ones were read as 1111-11-11T11:11:11."""
    _, client, _ = api
    r = client.get("/votes", params={"since": since})
    assert r.status_code == 400 and "since" in r.text and words in r.text, r.text


@pytest.mark.parametrize("since", ["2026-12-07", "2026-12-07T10:30:00Z", "2026-12-07 10:30",
                                   "2026-12-07T10:30:00.123456789+01:00", "20261207", "20261207T103000Z"])
def test_since_in_the_extended_or_basic_form_is_read(api, since):
    _, client, _ = api
    r = client.get("/votes", params={"since": since})
    assert r.status_code == 200, r.text


def test_an_unknown_recipe_id_names_its_field(api):
    """Before: "vote refers to recipe(s) not in the database" named neither a nor b."""
    _, client, _ = api
    c = _candidates(client)
    r = client.post("/votes", json={"profile": "ana", "a": c[0]["id"], "b": "r-nope", "outcome": "a"})
    assert r.status_code == 400 and r.json()["detail"].startswith("field 'b': no stored recipe with id 'r-nope'")
    r = client.post("/votes", json={"profile": "ana", "a": "r-x", "b": "r-y", "outcome": "a"})
    assert r.json()["detail"].startswith("field 'a' and field 'b': no stored recipe with id 'r-x', 'r-y'"), r.text
    client.post("/votes", json={"profile": "ben", "a": c[0]["id"], "b": c[1]["id"], "outcome": "tie"})
    r = client.post("/household/votes", json={"members": ["ana", "ben"], "a": "r-gone", "b": c[1]["id"],
                                              "outcome": "a"})
    assert r.status_code == 400 and r.json()["detail"].startswith("field 'a': no stored recipe"), r.text
    assert client.get("/votes", params={"profile": "ana"}).json()["total"] == 0  # nothing stored


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_json_without_a_json_content_type_says_which_header(api, content_type):
    """Before: 422 "must be a JSON object, got bytes"."""
    _, client, _ = api
    headers = {"Content-Type": content_type} if content_type else {}
    r = client.post("/votes", content=b'{"profile": "ana", "a": "x", "b": "y", "outcome": "a"}', headers=headers)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert "Content-Type: application/json" in detail and (content_type or "none") in detail, detail


def test_a_retry_is_the_same_request_by_meaning(api):
    """Before: a retry under the same Idempotency-Key was compared byte for byte: the profile in
    other case, the default strength spelled out, or the household's members in another order got
    409 "already used for another vote". A different vote under the key still does."""
    _, client, _ = api
    c = _candidates(client)
    body = {"profile": "ana", "a": c[0]["id"], "b": c[1]["id"], "outcome": "a"}
    first = client.post("/votes", json=body, headers={"Idempotency-Key": "k1"})
    assert first.status_code == 201, first.text
    for same in ({**body, "profile": "ANA"}, {**body, "strength": "slightly"}):
        again = client.post("/votes", json=same, headers={"Idempotency-Key": "k1"})
        assert again.status_code == 201 and again.json()["id"] == first.json()["id"], again.text
    other = client.post("/votes", json={**body, "strength": "much"}, headers={"Idempotency-Key": "k1"})
    assert other.status_code == 409, other.text
    assert client.get("/votes", params={"profile": "ana"}).json()["total"] == 1
    client.post("/votes", json={"profile": "ben", "a": c[2]["id"], "b": c[3]["id"], "outcome": "tie"})
    hh = {"members": ["ana", "ben"], "a": c[4]["id"], "b": c[5]["id"], "outcome": "b"}
    one = client.post("/household/votes", json=hh, headers={"Idempotency-Key": "h1"})
    assert one.status_code == 201, one.text
    two = client.post("/household/votes", json={**hh, "members": ["BEN", "ana"]}, headers={"Idempotency-Key": "h1"})
    assert two.status_code == 201 and two.json() == one.json(), two.text
    assert client.post("/household/votes", json={**hh, "outcome": "a"},
                       headers={"Idempotency-Key": "h1"}).status_code == 409
