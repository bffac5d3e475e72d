"""`python -m pantry diagnose --user U` (a profile's consistency with itself), `household` and `diet`."""

from __future__ import annotations

import json

import pytest

from pantry.cli import main
from tests.helpers import store_flip_rater
from pantry.storage.store import Store


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("PANTRY_HOME", str(tmp_path))
    monkeypatch.setenv("PANTRY_GENERATOR", "offline")
    return tmp_path


def _simulated_profile(home, user="sim", flip=0.1, n=300):
    """A rater with 10% flips stored as a store would hold it (repeats point at stored ids)."""
    store = Store(home / "pantry.sqlite3")
    ids = store_flip_rater(store, user, n, flip, n_recipes=40, share=None)
    assert ids == list(range(1, n + 1))  # a fresh store numbers them 1.. as the simulation did
    return store


def test_diagnose_user_prints_the_consistency_figures(home, capsys):
    _simulated_profile(home)
    assert main(["diagnose", "--user", "sim", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)["consistency"]
    assert figures["user"] == "sim" and figures["repeats"] > 10 and figures["triads"] > 10
    assert 0 < figures["flip_low"] <= 0.1 <= figures["flip_high"]
    assert figures["agreement_low"] <= figures["agreement"] <= figures["agreement_high"]
    assert figures["model_cv_accuracy"] is None  # no personal model yet
    assert main(["diagnose", "--user", "sim"]) == 0
    out = capsys.readouterr().out
    assert "agreement on repeats" in out and "intransitive triads" in out and "reachable accuracy" in out


def test_diagnose_without_votes_gives_no_numbers_it_does_not_have(home, capsys):
    Store(home / "pantry.sqlite3").ensure_user("new")
    assert main(["diagnose", "--user", "new", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)["consistency"]  # valid JSON: no NaN
    assert figures["agreement"] is None and figures["flip"] is None and figures["weight"] == 1.0


@pytest.mark.parametrize("argv, message", [
    (["diagnose"], "give --recipes"),
    (["diagnose", "--user", "nobody"], "no profile named"),
    (["household", "--members", "ana", "--pantry", "rice"], "2 to 6"),
    (["household", "--members", "ana,zed", "--pantry", "rice"], "no profile named"),
    (["diet", "--user", "ana", "--set", "paleo"], "unknown diet limit"),
    (["diet", "--user", "nobody", "--set", "vegan"], "no profile named 'nobody'"),  # before: created it
    (["diet", "--user", "nobody"], "no profile named 'nobody'"),  # before: "nobody: no limits"
    (["models", "--user", "nobody"], "no profile named 'nobody'"),
    (["persona-check", "--persona", "vegetarian", "--user", "nobody"], "no profile named 'nobody'"),
    (["score", "--recipes", "/dev/null"], "not a regular file"),
    (["export", "--format", "csv", "--out", "/"], "Is a directory: /"),
])
def test_bad_input_is_one_line(home, capsys, argv, message):
    store = Store(home / "pantry.sqlite3")
    store.ensure_user("ana")
    assert main(argv) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert err[0].startswith("error: ") and message in err[0]
    assert store.list_users() == ["ana"]  # a refused command creates no profile


def test_a_port_out_of_range_and_an_empty_import_are_usage_errors(home, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--port", "99999"])
    assert exit_.value.code == 2 and "a port is 0..65535, got 99999" in capsys.readouterr().err
    (tmp_path / "empty.jsonl").write_text("\n")
    assert main(["import", str(tmp_path / "empty.jsonl")]) == 2
    assert "the file is empty" in capsys.readouterr().err


def test_household_ranks_for_everyone_within_their_limits(home, capsys):
    from pantry.household import limit_violations

    store = Store(home / "pantry.sqlite3")
    for name in ("ana", "ben"):
        store.ensure_user(name)
    assert main(["diet", "--user", "ben", "--set", "vegetarian, no pork"]) == 0
    assert "vegetarian, pork-free" in capsys.readouterr().out
    assert main(["household", "--members", "ana,ben", "--pantry", "eggs, rice, spinach, onion, bacon",
                 "--n", "6", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["members"] == ["ana", "ben"] and answer["limits"]["ben"] == ["vegetarian", "pork-free"]
    assert answer["ranked"] and [p["rank"] for p in answer["ranked"]] == list(range(1, len(answer["ranked"]) + 1))
    recipes = store.get_recipes([p["id"] for p in answer["ranked"]])
    for p in answer["ranked"]:
        assert [m["member"] for m in p["members"]] == ["ana", "ben"]
        assert all(m["liking"] in ("likes", "neutral", "would_rather_not") for m in p["members"])
        assert not limit_violations(recipes[p["id"]], ["vegetarian", "pork-free"])
    assert main(["household", "--members", "ana,ben", "--pantry", "eggs, rice, spinach, onion", "--n", "6"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# ana:") and "1. " in out and ("likes it" in out or "neutral" in out)


def test_diagnose_recipes_and_user_gives_both_reports(home, tmp_path, capsys):
    Store(home / "pantry.sqlite3").ensure_user("ana")
    path = tmp_path / "recipes.jsonl"
    path.write_text("".join(json.dumps({"title": f"Dish {k}", "ingredients": [f"{k + 1} eggs", "rice", "onion"],
                                        "steps": ["Cook.", f"Serve {k}."]}) + "\n" for k in range(6)))
    assert main(["diagnose", "--recipes", str(path), "--user", "ana", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert "distinct_ratio" in report or "alerts" in report
    assert report["consistency"]["user"] == "ana" and report["consistency"]["repeats"] == 0
