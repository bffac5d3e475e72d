"""Tables as the page shows them: a missing number is a blank cell, never "None".

`st.dataframe` draws a missing value (None/NaN/NA) as the word "None", whatever a Styler
says, which reads like a result; a version with no held-out accuracy (a population model)
must show an empty cell, as the pages' captions say. So a column with a gap is shown as
text, formatted; a column without gaps stays a number column.
"""

from __future__ import annotations

from typing import Mapping

import pandas as pd


def blank_missing(table: pd.DataFrame, formats: Mapping[str, str] | None = None) -> pd.DataFrame:
    """A copy of `table` for `st.dataframe` where every numeric column with a missing cell is
    text: the missing cells "", the others by `formats` (column -> "{:.2f}"-style string),
    whole numbers without decimals. Columns with no gap are left as they are.

    Parameters: table (not changed); formats (display formats by column name).
    Returns: the table to show.
    """
    shown = table.copy()
    formats = dict(formats or {})
    for col in shown.columns:
        s = shown[col]
        if not (pd.api.types.is_numeric_dtype(s) or s.dtype == object) or not s.isna().any():
            continue
        known = s.dropna()
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in known):
            continue  # text with gaps: leave it
        fmt = formats.get(col) or ("{:.0f}" if all(float(v).is_integer() for v in known) else "{}")
        shown[col] = [("" if pd.isna(v) else fmt.format(v)) for v in s]
    return shown
