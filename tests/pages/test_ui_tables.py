"""ui.tables: a missing number shows as a blank cell, never the word "None" (a population
version has no held-out accuracy; the Retrain versions table and the Scores metrics showed "None")."""

from __future__ import annotations

import math

import pandas as pd

from pantry.evaluation.reports import versions_table
from pantry.storage.models import ModelVersion
from ui.tables import blank_missing


def _versions():
    personal = ModelVersion(id=2, user="ana", path="x", embedder="e", created_at="2026-12-06T12:58:09", active=True,
                            metrics={"n_decisive": 25, "cv_accuracy": 0.72, "cv_low": 0.52, "cv_high": 0.86,
                                     "cv_pairs": 25, "cv_folds": 5, "prior": "heuristic"})
    population = ModelVersion(id=1, user=None, path="y", embedder="e", created_at="2026-12-06T12:58:07",
                              active=False, metrics={"n_decisive": 25})
    return versions_table([personal, population])


def test_missing_cells_are_blank_and_numbers_keep_their_format():
    table = _versions()
    assert table["cv_accuracy"].isna().any()  # the case the page met
    shown = blank_missing(table, {"cv_accuracy": "{:.2f}", "cv_low": "{:.2f}", "cv_high": "{:.2f}"})
    assert not shown[["cv_accuracy", "cv_low", "cv_pairs", "cv_folds"]].isna().any().any()
    assert list(shown["cv_accuracy"]) == ["0.72", ""]
    assert list(shown["cv_pairs"]) == ["25", ""] and list(shown["cv_folds"]) == ["5", ""]
    assert shown["prior"].iloc[0] == "heuristic" and pd.isna(shown["prior"].iloc[1])  # text is left alone
    assert shown["decisive_votes"].tolist() == [25, 25]  # no gap: still a number column


def test_the_callers_table_is_unchanged():
    table = pd.DataFrame({"a": [1.5, math.nan], "b": [3.0, 4.0]})
    shown = blank_missing(table)
    assert shown["a"].tolist() == ["1.5", ""] and shown["b"].dtype.kind == "f"
    assert table["a"].dtype.kind == "f"


def test_the_verdicts_line_says_which_people_like_you_and_who_chose_their_weight():
    from ui.wording import verdicts_line

    base = {"personal": True, "recipes": 30, "own_factor": 0.3}
    near = {"scale": 0.5, "raters": 12, "recipes": 30, "axes": 0, "judged": "own"}
    said = verdicts_line({**base, "like_you": near})
    assert "All of them use what the 12 people who agreed with this profile" in said
    assert "at weight 0.5 of at most 1" in said and "half of its rated dishes" in said
    axes = verdicts_line({**base, "like_you": {**near, "axes": 2, "raters": 800, "recipes": 20, "judged": "crowd"}})
    assert "20 of them use this profile's taste on 2 axes of taste that 800 people's votes share" in axes
    assert "people with as few votes as this profile" in axes and "half of its rated" not in axes
    one = verdicts_line({**base, "like_you": {**near, "axes": 1}})
    assert "on 1 axis of taste" in one and "replaces" not in one
    instead = verdicts_line({**base, "like_you": {**near, "stands_in": True}})
    assert "On every dish they judged, rated or not, this replaces what this profile's own votes taught" in instead
    # a version stored before the axes existed: no "axes" or "judged" key
    old = verdicts_line({**base, "like_you": {"scale": 1.0, "raters": 3, "recipes": 30}})
    assert "the 3 people who agreed" in old
    assert "other people's verdicts on 30 dishes carry" in verdicts_line({**base, "personal": False, "like_you": None})
