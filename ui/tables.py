"""Tables as the page shows them: a missing number is a blank cell, never "None".

`st.dataframe` writes a missing value (None/NaN/NA) as the word "None", which reads like a
result; a version with no held-out accuracy (a population model) must show an empty cell,
as the pages' captions say. Values stay numbers, so columns still sort as numbers.
"""

from __future__ import annotations

from typing import Mapping

import pandas as pd


def blank_missing(table: pd.DataFrame, formats: Mapping[str, str] | None = None):
    """`table` as a pandas Styler for `st.dataframe`: missing cells blank, whole-number float
    columns as integers, `formats` (column -> format string such as "{:.2f}") applied.

    Parameters: table (the data, unchanged); formats (display formats by column name).
    Returns: a `pandas.io.formats.style.Styler`.
    """
    shown = table.copy()
    formats = dict(formats or {})
    for col in shown.columns:
        s = shown[col]
        if col in formats or not pd.api.types.is_float_dtype(s):
            continue
        known = s.dropna()
        if (known == known.round()).all():
            shown[col] = s.astype("Int64")  # 25.0 (a float because of a missing cell) reads 25
    styler = shown.style.format(na_rep="")
    if formats:
        styler = styler.format({c: f for c, f in formats.items() if c in shown.columns}, na_rep="")
    return styler
