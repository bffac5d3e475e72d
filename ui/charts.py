"""Chart helpers shared by the pages: titles that fit a phone and charts whose height is the
plot's own.

`st.altair_chart(..., width="stretch")` sizes a chart with Vega's autosize "fit": the height
given in the spec is then the whole chart's, title, subtitle, axes and legend included, and a
chart with a subtitle and a legend below kept almost nothing for its plot (a flat line with
no y values, reliability lines drawn outside a collapsed plot). "fit-x" fits the width only,
so the plot keeps the height asked for and the rest is added around it.
"""

from __future__ import annotations

import altair as alt


def chart_title(text: str, subtitle: str = "") -> alt.TitleParams:
    """A short, left-aligned title with an optional one-line subtitle (both must fit 390 px)."""
    return alt.TitleParams(text, subtitle=subtitle, anchor="start", fontSize=14, subtitleFontSize=11)


def fit_width(chart, height: int):
    """`chart` with a plot `height` pixels tall, stretched to its column's width."""
    return chart.properties(height=height, autosize=alt.AutoSizeParams(type="fit-x", contains="padding"))
