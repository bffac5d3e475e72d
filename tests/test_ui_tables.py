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
    assert table["held-out accuracy"].isna().any()  # the case the page met
    text = blank_missing(table, {"held-out accuracy": "{:.2f}", "95% low": "{:.2f}", "95% high": "{:.2f}"}).to_string()
    assert "None" not in text and "nan" not in text.lower() and "<NA>" not in text, text
    assert "0.72" in text and "0.52" in text
    assert "25.0" not in text and " 25 " in text, text  # whole numbers stay whole


def test_the_data_is_unchanged_so_columns_sort_as_numbers():
    table = pd.DataFrame({"a": [1.5, math.nan], "b": [3.0, None]})
    styler = blank_missing(table)
    assert styler.data["a"].dtype.kind == "f" and str(styler.data["b"].dtype) == "Int64"
    assert table["b"].dtype.kind == "f"  # the caller's frame is not touched
