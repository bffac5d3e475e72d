"""pantry.evaluation.reports: vote summaries, held-out split, metrics and alerts, position bias, uploads."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pantry.errors import ImportFailed
from pantry.evaluation.reports import (held_out_votes, human_position_bias, metrics_table, recipes_from_jsonl, reliability,
                            retrain_comparison, versions_table, votes_summary)
from pantry.storage.store import Store
from pantry.domain.votes import Vote


def _vote(k: int, outcome: str = "a", left: str | None = "a", user: str = "ana") -> Vote:
    return Vote(user=user, a=f"r{k}", b=f"r{k + 1}", outcome=outcome, left=left, id=k)


def test_votes_summary_counts_per_profile(tmp_path):
    from pantry.domain.recipes import Recipe

    store = Store(tmp_path / "db.sqlite3")
    store.add_recipes([Recipe(id=f"r{k}", title=f"R{k}", ingredients=("x",)) for k in range(4)])
    ids = store.add_votes([Vote("ana", "r0", "r1", "a"), Vote("ana", "r1", "r2", "tie"),
                           Vote("bo", "r2", "r3", "b"), Vote("bo", "r0", "r3", "both_bad")])
    store.delete_vote(ids[3])
    table = votes_summary(store).set_index("profile")
    assert table.loc["ana", "one recipe won"] == 1 and table.loc["ana", "about equal"] == 1
    assert table.loc["bo", "one recipe won"] == 1  # outcome b: storage order is never shown
    assert table.loc["bo", "total"] == 1 and table.loc["bo", "deleted"] == 1
    assert not {"a better", "b better", "a", "b"} & set(table.columns)
    assert list(table.index) == ["ana", "bo"]  # in the order of their first vote


def test_votes_summary_matches_counting_every_vote(tmp_path):
    """The database's tallies give what counting each stored vote by hand gives."""
    import random

    from pantry.domain.recipes import Recipe
    from pantry.domain.votes import OUTCOMES

    store = Store(tmp_path / "db.sqlite3")
    store.add_recipes([Recipe(id=f"r{k}", title=f"R{k}", ingredients=("x",)) for k in range(6)])
    rng = random.Random(3)
    ids = store.add_votes([Vote(rng.choice(["cy", "ana", "bo"]), f"r{rng.randrange(3)}", f"r{3 + rng.randrange(3)}",
                                rng.choice(OUTCOMES)) for _ in range(300)])
    for vid in rng.sample(ids, 40):
        store.delete_vote(vid)
    table = votes_summary(store).set_index("profile")
    for name in ("ana", "bo", "cy"):
        mine = [v for v in store.votes(user=name, include_deleted=True)]
        kept = [v for v in mine if not v.deleted]
        assert table.loc[name, "deleted"] == len(mine) - len(kept)
        assert table.loc[name, "total"] == len(kept)
        assert table.loc[name, "one recipe won"] == sum(v.decisive for v in kept)
        assert table.loc[name, "about equal"] == sum(v.outcome == "tie" for v in kept)
    assert list(votes_summary(store, "bo")["profile"]) == ["bo"]


def test_held_out_votes_follow_the_training_split():
    votes = [_vote(k, outcome="a" if k % 3 else "both_bad") for k in range(30)]
    held = held_out_votes(votes, seed=0, val_split=0.2)
    usable = [v for v in votes if v.outcome != "both_bad"]
    assert held.split and held.usable == len(usable) and len(held.votes) == round(len(usable) * 0.2)
    assert all(v.outcome != "both_bad" for v in held.votes)
    assert held.votes == held_out_votes(votes, seed=0, val_split=0.2).votes
    few = held_out_votes(votes[:4], seed=0, val_split=0.2)
    assert not few.split and len(few.votes) == len([v for v in votes[:4] if v.outcome != "both_bad"])


def test_position_bias_of_human_votes():
    biased = [_vote(k, outcome="a", left="a") for k in range(40)]
    assert human_position_bias(biased).alert
    fair = [_vote(k, outcome="a", left="a" if k % 2 else "b") for k in range(40)]
    result = human_position_bias(fair + [_vote(99, outcome="tie")])
    assert result.alert is None and result.n == 40 and result.left_win_rate == 0.5


def test_metrics_table_alerts_on_collapse_only():
    n = 50
    scores = pd.concat([
        pd.DataFrame({"version": "flat", "recipe_id": range(n), "title": "t", "score": 0.3, "uncertainty": 0.0}),
        pd.DataFrame({"version": "spread", "recipe_id": range(n), "title": "t",
                      "score": np.linspace(-1, 1, n), "uncertainty": 0.1}),
    ])
    margins = pd.DataFrame(columns=["version", "vote_id", "outcome", "score_a", "score_b", "margin", "p_a"])
    table, alerts = metrics_table(scores, margins)
    assert "50 of 50 recipes share one score: collapse" in alerts["flat"]
    assert not any("collapse" in a for a in alerts["spread"])
    assert list(table["version"]) == ["flat", "spread"]
    assert table.set_index("version").loc["spread", "distinct_ratio"] == 1.0  # field ids: the page names them


def test_reliability_bins():
    margins = pd.DataFrame({"version": "v1", "vote_id": range(4), "outcome": ["a", "b", "a", "tie"],
                            "score_a": 0.0, "score_b": 0.0, "margin": 0.0, "p_a": [0.9, 0.2, 0.8, 0.5]})
    bins, eces = reliability(margins)
    assert set(bins["version"]) == {"v1"} and bins["count"].sum() == 3 and 0 <= eces["v1"] <= 1


def test_uploaded_recipes_report_bad_lines_with_the_upload_name():
    good = b'{"title": "Toast", "ingredients": ["bread"], "steps": ["toast"]}\n'
    assert recipes_from_jsonl(good, "mine.jsonl")[0].title == "Toast"
    with pytest.raises(ImportFailed) as err:
        recipes_from_jsonl(good + b"{oops\n", "mine.jsonl")
    assert err.value.problems[0][0] == 2 and "mine.jsonl" in str(err.value)


def test_versions_table_empty():
    assert versions_table([]).empty


def test_versions_table_shows_the_held_out_figure_only():
    from pantry.storage.store import ModelVersion
    from pantry.evaluation.reports import retrain_comparison
    from pantry.model.training import CrossValidation

    fields = ModelVersion.__dataclass_fields__
    metrics = {"n_decisive": 40, "val_accuracy": 0.2, "train_accuracy": 1.0, "cv_accuracy": 0.6,
               "cv_low": 0.45, "cv_high": 0.73, "cv_pairs": 40, "cv_folds": 5}
    values = {"id": 3, "user": "ana", "path": "p", "created_at": "2026-01-01T00:00:00", "embedder": "e",
              "metrics": metrics, "meta": {}, "active": False}
    table = versions_table([ModelVersion(**{k: v for k, v in values.items() if k in fields})])
    row = table.iloc[0]
    assert row["cv_accuracy"] == 0.6 and row["cv_pairs"] == 40 and row["cv_folds"] == 5
    assert 0.2 not in set(row.values) and 1.0 not in set(row.values), "no accuracy on votes a fit saw"
    cv = CrossValidation(5, 40, 24, 0.6, 0.45, 0.73, 0.0, 0.6)
    comp = retrain_comparison({"new v3": cv, "current": None}).set_index("version")
    assert comp.loc["new v3", "accuracy"] == 0.6 and comp.loc["new v3", "pairs"] == 40
    assert comp.loc["current", "pairs"] == 0
    assert not any("%" in c or " " in c for c in [*table.columns, *comp.columns]), "field ids, not display names"


def test_metrics_table_names_the_held_out_and_the_in_sample_accuracy_apart():
    """A trained version's held-out accuracy is its cross-validated figure, never its agreement
    with votes it was refitted on; a model fitted on nothing (the heuristic) is measured on them."""
    from pantry.evaluation.reports import cv_figure

    scores = pd.DataFrame({"version": ["v3"] * 3 + ["heuristic"] * 3, "recipe_id": [0, 1, 2] * 2, "title": "t",
                           "score": [1.0, 2.0, 3.0] * 2, "uncertainty": 0.1})
    margins = pd.DataFrame({"version": ["v3"] * 4 + ["heuristic"] * 4, "vote_id": list(range(4)) * 2,
                            "outcome": ["a"] * 8, "score_a": [2.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 3.0],
                            "score_b": 1.0, "margin": 0.0, "p_a": 0.5})
    cv = {"v3": cv_figure({"cv_accuracy": 0.5, "cv_low": 0.3, "cv_high": 0.7, "cv_pairs": 26})}
    table, _ = metrics_table(scores, margins, cv)
    t = table.set_index("version")
    assert t.loc["v3", "in_sample_accuracy"] == 1.0  # in-sample: all 4 right
    assert (t.loc["v3", "cv_accuracy"], t.loc["v3", "cv_pairs"]) == (0.5, 26)
    assert t.loc["heuristic", "cv_accuracy"] == t.loc["heuristic", "in_sample_accuracy"] == 0.25
    assert cv_figure({"n_decisive": 9}) is None
    none, _ = metrics_table(scores, margins, {"v3": None})
    assert none.set_index("version").loc["v3", "cv_accuracy"] != none.set_index("version").loc["v3", "cv_accuracy"]
    from pantry.evaluation.reports import METRIC_COLUMNS
    from ui.wording import column_name

    assert list(table.columns) == METRIC_COLUMNS  # ids, not headings
    assert [column_name(c) for c in ("cv_accuracy", "in_sample_accuracy", "distinct_ratio")] == [
        "held-out accuracy", "agreement with votes", "distinct ratio"]


def test_reliability_is_seen_from_the_models_favourite():
    margins = pd.DataFrame({"version": "v1", "vote_id": range(4), "outcome": ["a", "b", "b", "a"],
                            "score_a": 0.0, "score_b": 0.0, "margin": 0.0, "p_a": [0.9, 0.1, 0.8, 0.3]})
    bins, _ = reliability(margins)
    assert bins["predicted"].between(0.5, 1.0).all(), "confidence in the favourite is 0.5-1"
    assert bins["count"].sum() == 4
    top = bins[bins["predicted"] > 0.85]
    assert list(top["observed"]) == [1.0]  # 0.9 on a (won) and 0.9 on b (p_a 0.1, won)


def test_the_pages_name_the_table_columns_in_one_place():
    """ui.wording turns field ids into headings and keys number formats by id."""
    from pantry.model.training import CrossValidation
    from ui.wording import number_formats, worded

    comp = retrain_comparison({"new v3": CrossValidation(5, 40, 24, 0.6, 0.45, 0.73, 0.0, 0.6)})
    shown = worded(comp)
    assert list(shown.columns) == ["version", "held-out votes", "correct", "strict accuracy", "95% low", "95% high",
                                   "tie rate", "held-out loss", "folds"]
    assert list(worded(versions_table([])).columns)[4:9] == ["decisive votes", "held-out accuracy", "95% low",
                                                             "95% high", "held-out votes"]
    assert set(number_formats({"low": "%.2f", "loss": "%.3f"})) == {"95% low", "held-out loss"}


def test_the_raters_consistency_is_worded_beside_the_accuracy():
    from ui.wording import consistency_note

    assert consistency_note({}) == "" and consistency_note({"rater_ceiling": None, "rater_weight": 1.0}) == ""
    assert consistency_note({"rater_ceiling": 1.0, "rater_weight": 1.0}) == (
        ", your own consistency 100% (no model can reach more)")
    assert consistency_note({"rater_ceiling": 0.8, "rater_weight": 0.36}).endswith(
        "consistency 80% (no model can reach more); each of your votes counted 0.36 in training")

