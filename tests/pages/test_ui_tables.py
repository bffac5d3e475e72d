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
