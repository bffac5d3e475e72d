"""Scores & diagnostics: how a reward model's scores are spread, and whether they explain votes.

For researchers: pick model versions and a probe set; see score histograms, margins on
held-out votes, a reliability diagram, scores against distance to the training data,
ensemble uncertainty, a metrics table with plain-language collapse alerts, the human
votes' position bias, the top and bottom recipes, and a CSV of everything.
"""

from __future__ import annotations

import time

import altair as alt
import pandas as pd
import streamlit as st

from pantry.lab import heuristic_model
from pantry.evaluation.reports import (PROBE_SOURCES, distance_table, held_out_votes, human_position_bias, metrics_table,
                            probe_recipes, reliability, score_table, training_recipes, version_label, vote_features,
                            vote_margins)
from pantry.model.training import TrainConfig
from ui.common import current_profile, guarded
from ui.resources import get_lab

lab = get_lab()
store = lab.store
user = current_profile()
HEURISTIC = "heuristic"
CHART_H = 220


def _models(selected: list) -> dict:
    models = {}
    for item in selected:
        if item == HEURISTIC:
            models["heuristic"] = heuristic_model(lab.embedder_name, lab.embedder.dim)
        else:
            v = store.get_model_version(item)
            models[f"v{v.id}"] = lab.load_version(v)
    return models


def _score_hist(scores: pd.DataFrame) -> alt.Chart:
    return alt.Chart(scores).mark_bar(opacity=0.85).encode(
        x=alt.X("score:Q", bin=alt.Bin(maxbins=40), title="score"),
        y=alt.Y("count():Q", title="recipes"),
        color=alt.Color("version:N", legend=None),
        tooltip=["version", alt.Tooltip("count():Q", title="recipes")],
    ).properties(height=120).facet(row=alt.Row("version:N", title=None)).resolve_scale(x="independent")


def _margin_hist(margins: pd.DataFrame) -> alt.Chart:
    dec = margins.dropna(subset=["margin"])
    bars = alt.Chart(dec).mark_bar(opacity=0.7).encode(
        x=alt.X("margin:Q", bin=alt.Bin(maxbins=30), title="preferred minus other score"),
        y=alt.Y("count():Q", title="votes", stack=None), color=alt.Color("version:N"))
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(color="gray", strokeDash=[4, 4]).encode(x="x:Q")
    return (bars + zero).properties(height=CHART_H)


def _reliability_chart(bins: pd.DataFrame) -> alt.Chart:
    diag = alt.Chart(pd.DataFrame({"p": [0.0, 1.0]})).mark_line(color="gray", strokeDash=[4, 4]).encode(
        x=alt.X("p:Q", title="predicted P(a preferred)"), y=alt.Y("p:Q", title="observed share a preferred"))
    pts = alt.Chart(bins).mark_line(point=True).encode(
        x="predicted:Q", y="observed:Q", color="version:N", size=alt.Size("count:Q", legend=None),
        tooltip=["version", alt.Tooltip("predicted:Q", format=".2f"), alt.Tooltip("observed:Q", format=".2f"), "count"])
    return (diag + pts).properties(height=CHART_H)


def _distance_scatter(frame: pd.DataFrame) -> alt.Chart:
    return alt.Chart(frame).mark_circle(size=40, opacity=0.7).encode(
        x=alt.X("distance:Q", title="cosine distance to nearest training recipe"),
        y=alt.Y("score:Q", title="score"), color="version:N",
        tooltip=["version", "title", alt.Tooltip("score:Q", format=".3f"), alt.Tooltip("distance:Q", format=".3f")],
    ).properties(height=CHART_H)


def _uncertainty_chart(frame: pd.DataFrame) -> alt.Chart:
    return alt.Chart(frame).mark_circle(size=40, opacity=0.7).encode(
        x=alt.X("distance:Q", title="cosine distance to nearest training recipe"),
        y=alt.Y("uncertainty:Q", title="ensemble std"), color="version:N",
        tooltip=["version", "title", alt.Tooltip("uncertainty:Q", format=".3f")],
    ).properties(height=CHART_H)


st.title("Scores & diagnostics", anchor=False)
st.caption("Is the reward model telling recipes apart, and do its scores explain the votes? "
           "Collapse (many recipes, one score) is the legacy model's failure.")

versions = store.model_versions(None)
options = [HEURISTIC] + [v.id for v in versions]
labels = {HEURISTIC: "heuristic (pantry coverage and time)", **{v.id: version_label(v) for v in versions}}
default = [v.id for v in versions if v.active and (v.user is None or v.user == user)] or [HEURISTIC]
c1, c2, c3 = st.columns([3, 2, 2])
selected = c1.multiselect("Model versions", options, default=default, format_func=labels.get, key="diag_versions")
source = c2.radio("Probe set", list(PROBE_SOURCES), format_func=PROBE_SOURCES.get, key="diag_source")
vote_scope = c3.radio("Votes to check against", ["profile", "everyone"], key="diag_votes",
                      format_func=lambda s: f"{user}'s held-out votes" if s == "profile" and user else
                      ("everyone's held-out votes" if s == "everyone" else "profile (none chosen)"))
upload = None
if source == "upload":
    upload = st.file_uploader("Recipes JSONL (one recipe object per line)", type=["jsonl", "json", "txt"],
                              key="diag_upload")

if not selected:
    st.info("Choose at least one model version.")
    st.stop()
if source == "upload" and upload is None:
    st.info("Choose a recipes JSONL file to score (one recipe object per line).", icon=":material/upload_file:")
    st.stop()
limit = st.number_input("Most recipes to score (0 = all)", 0, 1_000_000, 0, step=100, key="diag_limit",
                        help="Embedding is the slow step (about 15-25 recipes/s on 2 CPU cores, once per "
                             "recipe: later runs use the cache).")

with guarded("Diagnostics"):
    everything = probe_recipes(store, source, user, upload.getvalue() if upload else None,
                               upload.name if upload else "upload")  # read once; the limit slices it
    recipes = everything[-int(limit):] if limit and source == "all" else everything[:int(limit) or None]
    if len(everything) > len(recipes):
        st.caption(f"Scoring {len(recipes)} of {len(everything)} recipes (the limit above); "
                   f"{len(everything) - len(recipes)} left out.")
    if len(recipes) < 2:
        st.info("The probe set has fewer than two recipes. Generate some on **Compare**, choose "
                "**all recipes in the store**, or upload a recipes JSONL.", icon=":material/info:")
        st.stop()
    bar = st.progress(0.0, text=f"Scoring {len(recipes)} recipes with {len(selected)} model(s)...")
    started = time.monotonic()

    def _progress(done: int, total: int, message: str) -> None:
        left = (time.monotonic() - started) / done * (total - done) if done else None
        eta = f", about {left:.0f} s left" if left is not None and done < total else ""
        bar.progress(min(1.0, done / total) if total else 1.0, text=f"Embedded {done} of {total} recipes{eta}")

    with st.spinner(f"Scoring {len(recipes)} recipes with {len(selected)} model(s)..."):
        models = _models(selected)
        scores, emb = score_table(lab, models, recipes, on_progress=_progress)
        bar.empty()
        votes = store.votes(user=user if vote_scope == "profile" else None)
        cfg = TrainConfig()
        held, held_desc = held_out_votes(votes, cfg.seed, cfg.val_split)
        vf = vote_features(lab, held)
        margins = vote_margins(models, vf)
        table, alerts = metrics_table(scores, margins)
        bins, eces = reliability(margins)
        with_dist = distance_table(lab, scores, emb, training_recipes(lab, user if vote_scope == "profile" else None))

    st.subheader("Alerts", anchor=False)
    any_alert = False
    for label, items in alerts.items():
        for text in items:
            any_alert = True
            (st.error if "collapse" in text else st.warning)(f"**{label}**: {text}")
    bias = human_position_bias(votes)
    if bias.alert:
        any_alert = True
        st.warning(f"**human votes**: {bias.alert}")
    if not any_alert:
        st.success("No alerts: scores are spread out and no position bias was detected.")

    st.subheader("Metrics", anchor=False)
    if eces:
        table["ECE"] = table["version"].map(eces)
    st.dataframe(table, hide_index=True, column_config={
        c: st.column_config.NumberColumn(format="%.3f")
        for c in ("distinct ratio", "mode share", "std", "IQR", "entropy", "mean uncertainty", "strict accuracy",
                  "tie rate", "ECE")})
    st.caption(f"Probe set: {len(recipes)} recipes ({PROBE_SOURCES[source]}). Accuracy on {held_desc}: "
               "decisive votes only, equal scores count as wrong; 95% Wilson interval.")
    m1, m2, m3 = st.columns(3)
    rate = "n/a" if bias.n == 0 else f"{bias.left_win_rate:.0%}"
    m1.metric("Left card win rate (human votes)", rate, help="Should be near 50%: sides are randomised.")
    m2.metric("95% interval", "n/a" if bias.n == 0 else f"[{bias.low:.2f}, {bias.high:.2f}]")
    m3.metric("Decisive votes with a known side", bias.n)

    st.subheader("Charts", anchor=False)
    g1, g2 = st.columns(2)
    with g1:
        st.markdown("**Score histogram per version**")
        st.altair_chart(_score_hist(scores), key="chart_scores")
    with g2:
        st.markdown("**Margins on held-out votes**")
        if margins.dropna(subset=["margin"]).empty:
            st.info("No decisive held-out votes yet.")
        else:
            st.altair_chart(_margin_hist(margins), key="chart_margins")
        st.markdown("**Reliability diagram**")
        if bins.empty:
            st.info("No decisive held-out votes yet.")
        else:
            st.altair_chart(_reliability_chart(bins), key="chart_reliability")
    g3, g4 = st.columns(2)
    with g3:
        st.markdown("**Score vs distance to training data**")
        st.altair_chart(_distance_scatter(with_dist), key="chart_distance")
    with g4:
        st.markdown("**Ensemble uncertainty vs distance**")
        st.altair_chart(_uncertainty_chart(with_dist), key="chart_uncertainty")

    st.subheader("Top and bottom recipes", anchor=False)
    tabs = st.tabs(list(models))
    for tab, label in zip(tabs, models):
        g = with_dist[with_dist["version"] == label].sort_values("score", ascending=False)
        cols = ["rank", "title", "score", "uncertainty", "distance"]
        fmt = {c: st.column_config.NumberColumn(format="%.3f") for c in ("score", "uncertainty", "distance")}
        with tab:
            t, b = st.columns(2)
            t.markdown("**Top 5**")
            t.dataframe(g.head(5)[cols], hide_index=True, column_config=fmt)
            b.markdown("**Bottom 5**")
            b.dataframe(g.tail(5).iloc[::-1][cols], hide_index=True, column_config=fmt)

    st.download_button("Download scores CSV", with_dist.to_csv(index=False).encode("utf-8"),
                       file_name="pantrypilot-scores.csv", mime="text/csv", icon=":material/download:",
                       key="download_scores")
