"""Scores & diagnostics: how a reward model's scores are spread, and whether they explain votes.

For researchers: pick model versions and a probe set; see score histograms, margins on
held-out votes, a reliability diagram, scores against distance to the training data,
ensemble uncertainty, a metrics table with plain-language collapse alerts, the human
votes' position bias, the top and bottom recipes, where the people behind a model differ
(the crowd's spread of tastes), and a CSV of everything.
"""

from __future__ import annotations

import time

import altair as alt
import pandas as pd
import streamlit as st

from pantry.evaluation.reports import HEURISTIC, PROBE_SOURCES, diagnostics_report, version_label
from pantry.errors import PantryError
from pantry.model.explain import FEATURE_LABELS
from pantry.model.features import FEATURE_NAMES
from pantry.model.crowd_items import verdict_summary
from pantry.model.taste_spread import spread_shares
from pantry.model.training import TrainConfig
from ui.cards import show_explanation
from ui.common import current_profile, guarded
from ui.charts import chart_title, fit_width
from ui.tables import blank_missing
from ui.wording import verdicts_line, worded
from ui.text import md
from ui.resources import get_lab

lab = get_lab()
store = lab.store
user = current_profile()
CHART_H = 220


SCORE_MEANING = ("**Score**: the reward model's number for a recipe; higher means it expects you to prefer the "
                 "recipe. Only differences matter: a recipe 1 point above another is preferred about 73% of the "
                 "time (Bradley-Terry: 1 / (1 + e^-difference)), 2 points about 88%.")


def _score_hist(scores: pd.DataFrame, label: str) -> alt.Chart:
    """One version's score histogram (one chart per version: a faceted chart cannot follow the
    column's width and was cut off on the right)."""
    return fit_width(alt.Chart(scores[scores["version"] == label], title=chart_title(f"{label}: recipes by score")
                               ).mark_bar(opacity=0.85).encode(
        x=alt.X("score:Q", bin=alt.Bin(maxbins=30), title="score (higher = preferred)"),
        y=alt.Y("count():Q", title="recipes"),
        tooltip=[alt.Tooltip("score:Q", bin=alt.Bin(maxbins=30), title="score"),
                 alt.Tooltip("count():Q", title="recipes")]), 120)


def _margin_hist(margins: pd.DataFrame) -> alt.Chart:
    dec = margins.dropna(subset=["margin"])
    bars = alt.Chart(dec).mark_bar(opacity=0.7).encode(
        x=alt.X("margin:Q", bin=alt.Bin(maxbins=30), title="chosen minus other recipe's score (> 0: agreed)"),
        y=alt.Y("count():Q", title="votes", stack=None),
        color=alt.Color("version:N", legend=alt.Legend(orient="bottom", title=None)))
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(color="gray", strokeDash=[4, 4]).encode(x="x:Q")
    return fit_width(alt.layer(bars, zero, title=chart_title("Score margins on votes",
                                                             "right of the dashed line: the model agreed")), CHART_H)


def _reliability_chart(bins: pd.DataFrame) -> alt.Chart:
    """Calibration seen from the model's favourite: its probability that the favourite wins
    (0.5-1) against the share of votes it did win; the dashed diagonal is perfect calibration."""
    # fixed domains (0.5-1 and 0-1) padded by a few pixels: a point at 100% is drawn whole, inside
    x = alt.X("predicted:Q", title="model's chance its favourite wins",
              scale=alt.Scale(domain=[0.5, 1], padding=8), axis=alt.Axis(format="%"))
    y = alt.Y("observed:Q", title="share its favourite won", scale=alt.Scale(domain=[0, 1], padding=8),
              axis=alt.Axis(format="%"))
    diag = alt.Chart(pd.DataFrame({"predicted": [0.5, 1.0], "observed": [0.5, 1.0]})).mark_line(
        color="gray", strokeDash=[4, 4], clip=True).encode(x=x, y=y)
    line = alt.Chart(bins).mark_line(strokeWidth=1.5).encode(x=x, y=y, color=alt.Color(
        "version:N", legend=alt.Legend(orient="bottom", title=None)))
    pts = alt.Chart(bins).mark_circle(opacity=0.9).encode(
        x=x, y=y, color="version:N", size=alt.Size("count:Q", title="votes", scale=alt.Scale(range=[20, 200]),
                                                   legend=None),
        tooltip=["version", alt.Tooltip("predicted:Q", format=".0%", title="predicted"),
                 alt.Tooltip("observed:Q", format=".0%", title="observed"), alt.Tooltip("count:Q", title="votes")])
    return fit_width(alt.layer(diag, line, pts, title=chart_title("Reliability",
                                                                  "on the diagonal: the stated chances come true")),
                     CHART_H)


def _distance_scatter(frame: pd.DataFrame) -> alt.Chart:
    return fit_width(alt.Chart(frame, title=chart_title("Score vs distance to training data",
                                                        "far right: unlike anything voted on")
                               ).mark_circle(size=40, opacity=0.7).encode(
        x=alt.X("distance:Q", title="distance to nearest voted recipe (0 = same)"),
        y=alt.Y("score:Q", title="score (higher = preferred)"),
        color=alt.Color("version:N", legend=alt.Legend(orient="bottom", title=None)),
        tooltip=["version", "title", alt.Tooltip("score:Q", format=".3f"), alt.Tooltip("distance:Q", format=".3f")]),
        CHART_H)


def _uncertainty_chart(frame: pd.DataFrame) -> alt.Chart:
    return fit_width(alt.Chart(frame, title=chart_title("Uncertainty vs distance",
                                                        "spread of the 5 bootstrap members' scores")
                               ).mark_circle(size=40, opacity=0.7).encode(
        x=alt.X("distance:Q", title="distance to nearest voted recipe (0 = same)"),
        y=alt.Y("uncertainty:Q", title="score spread (std, score points)"),
        color=alt.Color("version:N", legend=alt.Legend(orient="bottom", title=None)),
        tooltip=["version", "title", alt.Tooltip("uncertainty:Q", format=".3f")]), CHART_H)


st.title("Scores & diagnostics", anchor=False)
st.caption("Is the reward model telling recipes apart, and do its scores explain the votes? "
           "Collapse (many different recipes getting one score) is what the alerts below watch for.")

@st.cache_data(show_spinner=False, max_entries=32)
def _spread_chart(frame: pd.DataFrame, label: str) -> alt.Chart:
    """One version's crowd spread: a bar per taste, largest on top."""
    return fit_width(alt.Chart(frame, title=chart_title(f"{label}: where people differ",
                                                        "share of the differences between the profiles behind it")
                               ).mark_bar(opacity=0.85).encode(
        x=alt.X("share:Q", title="share of the differences", axis=alt.Axis(format="%")),
        y=alt.Y("taste:N", sort="-x", title=None),
        tooltip=[alt.Tooltip("taste:N", title="taste"), alt.Tooltip("share:Q", title="share", format=".0%")]),
        22 * len(frame))


def _top_bottom(scores: pd.DataFrame, label: str, n: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One version's best and worst recipes (derived from the report's scores table)."""
    g = scores[scores["version"] == label].sort_values("score", ascending=False)
    cols = ["rank", "score", "title", "uncertainty", "distance"]  # the score before the title: seen on a phone
    return g.head(n)[cols], g.tail(n).iloc[::-1][cols]


def _accuracy_lines(table: pd.DataFrame) -> list[str]:
    """One line per version: its held-out accuracy, the same figure the sidebar and Retrain show."""
    lines = []
    for row in table.itertuples(index=False):
        rec = dict(zip(table.columns, row))
        label = rec["version"]
        acc, low, high, n = rec["cv_accuracy"], rec["cv_low"], rec["cv_high"], rec["cv_pairs"]
        if label == HEURISTIC:
            how = f"on {n} decisive votes (it was fitted on none)"
        else:
            how = f"on {n} decisive votes it did not see (cross-validated: the figure Retrain and the sidebar show)"
        if label == HEURISTIC and (acc != acc or not n):
            lines.append(f"**{md(label)}**: no decisive votes in scope to check it on")
        elif acc != acc or not n:
            lines.append(f"**{md(label)}**: no held-out accuracy (trained before it was measured, or a population "
                         "model)")
        else:
            lines.append(f"**{md(label)}**: held-out accuracy **{acc:.0%}** ({low:.0%}-{high:.0%}) {how}")
    return lines


def _interval(low: float, high: float) -> str:
    return "n/a" if low != low or high != high else f"[{low:.2f}, {high:.2f}]"


versions = store.model_versions(None)
options = [HEURISTIC] + [v.id for v in versions]
labels = {HEURISTIC: "heuristic (pantry coverage and time)", **{v.id: version_label(v) for v in versions}}
default = [v.id for v in versions if v.active and (v.user is None or v.user == user)] or [HEURISTIC]
scope_labels = {"profile": f"{md(user)}'s votes" if user else "profile (none chosen)",
                "everyone": "everyone's votes"}
with st.form("diag_form", enter_to_submit=False):
    c1, c2, c3 = st.columns([3, 2, 2])
    c1.multiselect("Model versions", options, default=default, format_func=labels.get, key="diag_versions")
    c2.radio("Probe set", list(PROBE_SOURCES), format_func=PROBE_SOURCES.get, key="diag_source")
    c3.radio("Votes to check against", list(scope_labels), key="diag_votes", format_func=scope_labels.get)
    u1, u2 = st.columns([3, 2], vertical_alignment="bottom")
    u1.file_uploader("Recipes: JSON Lines (one recipe per line) or a JSON array, for the uploaded probe set",
                     type=["jsonl", "json", "txt"], key="diag_upload")
    u2.number_input("Most recipes to score (0 = all)", 0, 1_000_000, 0, step=100, key="diag_limit",
                    help="Embedding is the slow step (about 15-25 recipes/s on 2 CPU cores, once per "
                         "recipe: later runs use the cache).")
    st.form_submit_button("Score", type="primary", icon=":material/monitoring:", key="diag_run")
selected = st.session_state.get("diag_versions") or []
source = st.session_state.get("diag_source") or "recent"
upload = st.session_state.get("diag_upload")
limit = int(st.session_state.get("diag_limit") or 0)
vote_scope = st.session_state.get("diag_votes") or "profile"

by_id = {v.id: v for v in versions}
usable = []
for item in selected:  # a version whose weights cannot be loaded is named and left out; the others go on
    if item == HEURISTIC or item not in by_id:
        usable.append(item)
        continue
    try:
        lab.load_version(by_id[item])
    except PantryError as e:
        st.warning(f"{md(labels.get(item, item))} cannot be scored and is left out: {md(e)}",
                   icon=":material/broken_image:")
    else:
        usable.append(item)
if selected and not usable:
    st.info("None of the chosen model versions can be loaded; choose another one (the heuristic always works).")
    st.stop()
selected = usable

if not selected:
    st.info("Choose at least one model version.")
    st.stop()
if source == "upload" and upload is None:
    st.info("Choose a recipes JSONL file to score (one recipe object per line).", icon=":material/upload_file:")
    st.stop()

with guarded("Diagnostics"):
    bar = st.progress(0.0, text=f"Scoring with {len(selected)} model(s)...")
    started = time.monotonic()

    def _progress(done: int, total: int, message: str) -> None:
        left = (time.monotonic() - started) / done * (total - done) if done else None
        eta = f", about {left:.0f} s left" if left is not None and done < total else ""
        bar.progress(min(1.0, done / total) if total else 1.0, text=f"Embedded {done} of {total} recipes{eta}")

    cfg = TrainConfig()
    pantry = lab.saved_pantry(user)  # scored as Compare and Just cook score: for the profile's pantry
    with st.spinner(f"Scoring with {len(selected)} model(s)..."):
        report = diagnostics_report(lab, selected, source, user, everyone=vote_scope == "everyone",
                                    upload=upload.getvalue() if upload else None,
                                    upload_name=upload.name if upload else "upload", limit=limit,
                                    seed=cfg.seed, val_split=cfg.val_split, on_progress=_progress,
                                    pantry=pantry)
    bar.empty()
    if report.probe_total > report.scored:
        st.caption(f"Scoring {report.scored} of {report.probe_total} recipes (the limit above); "
                   f"{report.probe_total - report.scored} left out.")
    if report.scored < 2:
        st.info("The probe set has fewer than two recipes. Generate some on **Compare**, choose "
                "**all recipes in the store**, or upload a recipes JSONL.", icon=":material/info:")
        st.stop()
    scores, margins, bins, bias = report.scores, report.margins, report.reliability, report.position_bias

    st.subheader("Alerts", anchor=False)
    any_alert = False
    for label, items in report.alerts.items():
        for text in items:
            any_alert = True
            (st.error if "collapse" in text else st.warning)(f"**{md(label)}**: {md(text)}")
    if bias.alert:
        any_alert = True
        st.warning(f"**human votes**: {md(bias.alert)}")
    if not any_alert:
        st.success("No alerts: scores are spread out and no position bias was detected.")

    st.subheader("Metrics", anchor=False)
    for line in _accuracy_lines(report.metrics):
        st.markdown(line)
    table = report.metrics.copy()
    table.insert(table.columns.get_loc("cv_low"), "held-out 95% CI",
                 [_interval(lo, hi) for lo, hi in zip(table["cv_low"], table["cv_high"])])
    table = worded(table.drop(columns=["cv_low", "cv_high"]))  # ids -> headings, here only
    three = ("distinct ratio", "mode share", "std", "IQR", "entropy", "mean uncertainty", "held-out accuracy",
             "tie rate", "ECE", "agreement with votes")
    shown = blank_missing(table, {c: "{:.3f}" for c in three})
    config = {c: st.column_config.NumberColumn(format="%.3f") for c in three
              if c in shown.columns and shown[c].dtype.kind == "f"}  # a column with a gap is text (ui.tables)
    agreement = {"format": "%.3f"} if "agreement with votes" in config else {}
    config["agreement with votes"] = (st.column_config.NumberColumn if agreement else st.column_config.Column)(
        "agreement with votes (in-sample)", **agreement,
        help="Strict accuracy on the votes checked below; a trained version was fitted on them, so this is "
             "higher than what it does on new votes. Not the held-out figure.")
    st.dataframe(shown, hide_index=True, column_config=config)
    st.caption(f"Probe set: {report.scored} recipes ({PROBE_SOURCES[source]}), scored for "
               + (f"{md(user)}'s pantry ({md(', '.join(pantry[:8]))}{', ...' if len(pantry) > 8 else ''}), as Compare "
                  "and Just cook score them" if pantry else "no pantry (none saved for this profile)")
               + ". Held-out accuracy: decisive votes, "
               "equal scores count as wrong, 95% Wilson interval; for a trained version it is the cross-validated "
               "figure kept when it was trained. Agreement with votes: the same rule on the "
               f"{report.held_out.usable} votes in scope, which trained versions were fitted on (in-sample); the "
               "margin and reliability charts use these votes too.")
    m1, m2, m3 = st.columns(3)
    rate = "n/a" if bias.n == 0 else f"{bias.left_win_rate:.0%}"
    m1.metric("Left card win rate (human votes)", rate, help="Should be near 50%: sides are randomised.")
    m2.metric("95% interval", "n/a" if bias.n == 0 else _interval(bias.low, bias.high))
    m3.metric("Decisive votes with a known side", bias.n)

    st.subheader("Charts", anchor=False)
    st.caption(SCORE_MEANING)
    g1, g2 = st.columns(2)
    with g1:
        for k, label in enumerate(report.models):
            st.altair_chart(_score_hist(scores, label), key=f"chart_scores_{k}", width="stretch")
    with g2:
        if margins.dropna(subset=["margin"]).empty:
            st.info("No decisive votes in scope yet: no margins or reliability to show.")
        else:
            st.altair_chart(_margin_hist(margins), key="chart_margins", width="stretch")
            if not bins.empty:
                st.altair_chart(_reliability_chart(bins), key="chart_reliability", width="stretch")
        st.caption("Margins and reliability: on the votes in scope, in-sample for trained versions.")
    g3, g4 = st.columns(2)
    with g3:
        st.altair_chart(_distance_scatter(scores), key="chart_distance", width="stretch")
    with g4:
        st.altair_chart(_uncertainty_chart(scores), key="chart_uncertainty", width="stretch")

    st.subheader("Top and bottom recipes", anchor=False)
    fmt = {c: st.column_config.NumberColumn(format="%.3f") for c in ("score", "uncertainty", "distance")}
    for tab, label in zip(st.tabs([md(m) for m in report.models]), report.models):
        top, bottom = _top_bottom(scores, label)
        with tab:
            t, b = st.columns(2)
            t.markdown("**Top 5**")
            t.dataframe(top, hide_index=True, column_config=fmt)
            b.markdown("**Bottom 5**")
            b.dataframe(bottom, hide_index=True, column_config=fmt)

    st.subheader("Why this score", anchor=False)
    st.caption("A score split into a typical recipe's score (for a model trained on votes: the average of the "
               "recipes it learned from; the pantry heuristic has none), the model's named taste features "
               "against it (weight x how far this recipe is from the typical one: a quicker-than-typical dish "
               "gains from its time for someone in a hurry) and one "
               "\"this dish overall\" remainder (what its text says beyond them, and what votes on it said: yours, "
               "and other people's where their verdicts on a dish carry to others or they vote like you); "
               "they add up to the score.")
    w1, w2 = st.columns([1, 3])
    why_version = w1.selectbox("Model version", report.models, key="why_version")  # options are plain text
    ranked = scores[scores["version"] == why_version].sort_values("rank")
    titles = dict(zip(ranked["recipe_id"], ranked["title"]))
    why_recipe = w2.selectbox("Recipe", list(titles), key="why_recipe",
                              format_func=lambda rid: f"{titles[rid]} ({rid})")
    why = report.explanations.get(why_version, {}).get(why_recipe)
    if why is not None:
        show_explanation(why, top=10)

    st.subheader("Where people differ", anchor=False)
    models = {item: lab.load_version(by_id[item]) for item in selected if item in by_id}
    spreads = {labels.get(item, str(item)): spread_shares(model, FEATURE_NAMES) for item, model in models.items()}
    spreads = {label: shares for label, shares in spreads.items() if shares}
    if not spreads:
        st.caption("Shown for a model trained on several profiles' votes (at least three of them with 8 or more "
                   "decisive votes): how much those people differ on each taste.")
    else:
        st.caption("Estimated from each profile's own votes: a personal model may move far from the crowd on the "
                   "tastes at the top and stays close to it where people agree.")
        for k, (label, shares) in enumerate(spreads.items()):
            frame = pd.DataFrame([(FEATURE_LABELS.get(n, n), v) for n, v in shares[:10]], columns=["taste", "share"])
            st.altair_chart(_spread_chart(frame, label), key=f"chart_spread_{k}", width="stretch")
    for item, model in models.items():
        verdicts = verdict_summary(model)
        if verdicts:
            st.caption(f"{md(labels.get(item, str(item)))}: {verdicts_line(verdicts)}")

    st.download_button("Download scores CSV", lambda: scores.to_csv(index=False).encode("utf-8"),
                       file_name="pantrypilot-scores.csv", mime="text/csv", icon=":material/download:",
                       key="download_scores", on_click="ignore")
