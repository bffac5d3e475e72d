"""Retrain: data summary, hyperparameters (kept per profile), a live training run, one
held-out comparison with the current model, then activate the candidates or keep everything.

One figure everywhere: the cross-validated strict accuracy from `Lab.retrain_preview`
(stored in the new version's metrics as `cv_accuracy`, `cv_low`, `cv_high`, `cv_pairs`,
`cv_folds`), in the comparison table, the live chart and the versions table. Training only
creates inactive candidates; nothing changes until "Activate".
"""

from __future__ import annotations

import time
from dataclasses import asdict

import altair as alt
import pandas as pd
import streamlit as st

from pantry.errors import NotEnoughVotes, PantryError
from pantry.lab import RetrainPreview
from pantry.evaluation.reports import retrain_comparison, versions_table, votes_summary
from pantry.domain.votes import VoteCounts
from pantry.model.kinds import ComparisonBasis, ModelKind, version_label
from pantry.model.training import (CV_FOLDS, CrossValidation, EpochStats, TrainConfig, TrainOption,
                                   config_from, train_options)
from ui.charts import chart_title, fit_width
from ui.tables import blank_missing
from ui.text import md
from ui.common import current_profile, flash, guarded
from ui.resources import get_lab
from ui.wording import consistency_note, number_formats, worded

lab = get_lab()
store = lab.store
user = current_profile()
DEFAULTS = TrainConfig()
OPTIONS = train_options()  # every TrainConfig field, with its label, help and limits
PREFS_KEY = "train"  # the profile's saved Retrain settings, in store.get_user_prefs(user)
CHART_EVERY_S = 0.25  # redraw the live loss chart at most this often
UNIT_TITLE = {"iteration": "Newton iteration", "epoch": "epoch"}
SERIES = {"train_loss": "training votes", "val_loss": "validation votes (left out of this fit)"}


# ---------------------------------------------------------------- settings, per profile

def _clean(values: dict) -> dict:
    """The valid settings in `values` (saved prefs may be old or hand-edited), each checked
    by its `TrainOption` (type and limits come from TrainConfig, not from this page)."""
    out = {}
    for o in OPTIONS:
        if o.name in values:
            try:
                out[o.name] = o.check(values[o.name])
            except ValueError:
                continue
    return out


def _saved(name: str) -> dict:
    try:
        prefs = store.get_user_prefs(name)
    except PantryError:
        return {}
    train = prefs.get(PREFS_KEY) if isinstance(prefs, dict) else None
    return _clean(train) if isinstance(train, dict) else {}


def _current_values() -> dict:
    return {o.name: st.session_state.get(f"hp_{o.name}", o.default) for o in OPTIONS}


def _save_hp() -> None:
    """Remember this session's settings for its profile (on Save settings and each Retrain)."""
    name = st.session_state.get("hp_profile")
    if not name:
        return
    try:
        prefs = dict(store.get_user_prefs(name))
        prefs[PREFS_KEY] = _clean(_current_values())
        lab.save_profile(name, prefs=prefs)
    except PantryError as e:
        flash("warning", f"Could not save the Retrain settings: {md(e)}")


def _load_hp(name: str) -> None:
    """Fill the widgets from the profile's saved settings (or the defaults).

    On another profile everything is reloaded; otherwise only the keys Streamlit dropped
    (it forgets a widget's value when the page is left) are put back.
    """
    saved = _saved(name)
    fresh = st.session_state.get("hp_profile") != name
    for o in OPTIONS:
        if fresh or f"hp_{o.name}" not in st.session_state:
            st.session_state[f"hp_{o.name}"] = saved.get(o.name, o.default)
    st.session_state["hp_profile"] = name


def _set_hp(values: dict) -> None:
    for k, v in _clean(values).items():
        st.session_state[f"hp_{k}"] = v
    _save_hp()


def _config() -> TrainConfig:
    return config_from(_clean(_current_values()))


def _control(o: TrainOption) -> None:
    """One TrainConfig field as a form widget (label, help, limits from `train_options`)."""
    key = f"hp_{o.name}"
    if o.kind == "bool":
        st.checkbox(o.label, key=key, help=o.help)
    elif o.kind == "choice":
        st.selectbox(o.label, list(o.choices), key=key, help=o.help)
    elif o.kind == "int":
        st.number_input(o.label, None if o.minimum is None else int(o.minimum),
                        None if o.maximum is None else int(o.maximum), key=key, step=1, help=o.help)
    else:
        st.number_input(o.label, o.minimum, o.maximum, key=key, step=0.05 if (o.maximum or 0) <= 1 else 0.1 if (o.maximum or 0) <= 100 else 1.0,
                        format="%.4g", help=o.help)


# ---------------------------------------------------------------- charts

def _loss_chart(history: list[dict], unit: str) -> alt.Chart:
    """The Bradley-Terry loss (mean log loss per vote) by Newton iteration, from the prior's
    weights at 0, on the training votes and on the validation votes left out of that fit.
    Newton's method solves the convex objective exactly: the curve drops in one or two steps,
    then is flat (converged); the y axis is zoomed on the values so the drop shows."""
    frame = pd.DataFrame(history)
    cols = [c for c in SERIES if c in frame and frame[c].notna().any()]
    long = frame.melt("step", cols, "series", "loss").dropna()
    long["series"] = long["series"].map(SERIES)
    low, high = float(long["loss"].min()), float(long["loss"].max())
    pad = max((high - low) * 0.15, 0.005)
    return fit_width(alt.Chart(long, title=chart_title("Loss while fitting",
                                                       "mean log loss per vote; lower fits the votes better")
                               ).mark_line(point=True).encode(
        x=alt.X("step:Q", title=UNIT_TITLE.get(unit, unit), axis=alt.Axis(tickMinStep=1, format="d")),
        y=alt.Y("loss:Q", title="loss (log loss per vote)", scale=alt.Scale(domain=[low - pad, high + pad]),
                axis=alt.Axis(format=".3f", tickCount=5)),
        color=alt.Color("series:N", title=None, legend=alt.Legend(orient="bottom", labelLimit=400, direction="vertical")),
        tooltip=[alt.Tooltip("step:Q", title=unit), "series",
                 alt.Tooltip("loss:Q", format=".4f")]), 200)


def _accuracy_chart(rows: list[dict]) -> alt.Chart:
    """The held-out accuracy (cross-validation) with its 95% interval, one row per model, its
    name and figure written above its own line (labels never overlap, whatever the width)."""
    frame = pd.DataFrame(rows)
    n = len(frame)
    frame["row"] = range(n)
    frame["text"] = [f"{r['version']}: {r['accuracy']:.0%}" if r["accuracy"] == r["accuracy"] else
                     f"{r['version']}: n/a" for r in rows]
    base = alt.Chart(frame)
    y = alt.Y("row:Q", axis=None, scale=alt.Scale(domain=[-0.75, n - 0.25], reverse=True))
    x = alt.X("low:Q", title="share of votes it did not see that it got right",
              scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"))
    color = alt.Color("version:N", legend=None, sort=None)
    bars = base.mark_rule(strokeWidth=3).encode(x=x, x2="high:Q", y=y, color=color)
    dots = base.mark_point(filled=True, size=110, opacity=1).encode(
        x="accuracy:Q", y=y, color=color,
        tooltip=["version", alt.Tooltip("accuracy:Q", format=".0%"), alt.Tooltip("low:Q", format=".0%"),
                 alt.Tooltip("high:Q", format=".0%"), alt.Tooltip("pairs:Q", title="held-out votes scored")])
    labels = base.mark_text(align="left", baseline="bottom", dy=-9, fontSize=12).encode(
        x=alt.value(0), y=y, text="text:N")
    chance = alt.Chart(pd.DataFrame({"x": [0.5]})).mark_rule(strokeDash=[4, 4], color="gray").encode(x="x:Q")
    return fit_width(alt.layer(chance, bars, dots, labels,
                               title=chart_title("Held-out accuracy (cross-validation)",
                                                 "dot: accuracy; line: 95% interval; dashed: a coin toss")),
                     45 * n + 10)


def _history_rows(history: list[EpochStats]) -> list[dict]:
    """The loss chart's rows from a training's epoch statistics."""
    return [{"step": e.epoch, "train_loss": e.train_loss, "val_loss": e.val_loss} for e in history]


def _acc_row(label: str, cv: CrossValidation | dict) -> dict:
    d = asdict(cv) if isinstance(cv, CrossValidation) else cv
    return {"version": label, "accuracy": d["accuracy"], "low": d["low"], "high": d["high"], "pairs": d["pairs"]}


# ---------------------------------------------------------------- actions

def _current_label(kind: str, version: int | None) -> str:
    return f"current: {version_label(kind, version)}"


BASIS_TEXT = {
    ComparisonBasis.SETTINGS: "its training settings, cross-validated on the same folds",
    ComparisonBasis.FIXED: "scored as it is (it was fitted on none of these votes)",
    ComparisonBasis.UNKNOWN: "no held-out figure: that version records no training settings",
}


def _new_label(preview: RetrainPreview) -> str:
    return f"new v{preview.personal_version}"


def _candidates_text(preview: RetrainPreview) -> str:
    text = version_label(ModelKind.PERSONAL, preview.personal_version)
    if preview.population_version:
        text += " and " + version_label(ModelKind.POPULATION, preview.population_version)
    return text


def _activate_candidates(preview: RetrainPreview) -> None:
    try:
        lab.activate([preview.personal_version, preview.population_version])
        flash("success", f"Activated {_candidates_text(preview)}.")
    except PantryError as e:
        flash("error", f"Could not activate {_candidates_text(preview)}: {md(e)}")
    st.session_state.pop("train_result", None)


def _activate(version_id: int) -> None:
    try:
        lab.activate([version_id])
        flash("success", f"Version v{version_id} is now active.")
    except PantryError as e:
        flash("error", f"Could not activate v{version_id}: {md(e)}")
    st.session_state.pop("train_result", None)


def _keep() -> None:
    preview = st.session_state.pop("train_result", None)
    if preview:
        flash("info", f"Kept the current models; nothing was activated. {_candidates_text(preview).capitalize()} "
                      "stay in the list below (inactive) if you change your mind.")


def _deactivate(name: str) -> None:
    lab.deactivate(name)
    flash("info", f"{md(name)} now uses the population model (or the heuristic).")


def _train(name: str, cfg: TrainConfig) -> None:
    st.session_state.pop("train_result", None)
    _save_hp()
    history: list[dict] = []
    folds_done: dict[str, dict] = {}
    last_draw = [0.0]
    unit = "iteration"  # Newton, the one solver (Lab.retrain_preview says it as history_unit)
    with st.status(f"Training a candidate personal model for {md(name)}...", expanded=True) as status:
        bar = st.progress(0.0, text="preparing votes")
        loss_box = st.empty()
        acc_box = st.empty()

        def on_progress(done: int, total: int, message: str) -> None:
            bar.progress(min(1.0, done / total) if total else 0.0, text=message)

        def draw_loss() -> None:
            if history:
                loss_box.altair_chart(_loss_chart(history, unit), width="stretch")
            last_draw[0] = time.monotonic()

        def on_epoch(stats) -> None:
            history.append({"step": stats.epoch, "train_loss": stats.train_loss, "val_loss": stats.val_loss})
            if time.monotonic() - last_draw[0] >= CHART_EVERY_S:
                draw_loss()

        def on_fold(which: str, done: int, total: int, so_far: CrossValidation) -> None:
            label = "new settings" if which == "new" else "current model"
            folds_done[which] = _acc_row(f"{label} ({done}/{total} folds)", so_far)
            acc_box.altair_chart(_accuracy_chart(list(folds_done.values())), width="stretch")

        try:
            preview = lab.retrain_preview(name, cfg, folds=CV_FOLDS, on_progress=on_progress, on_epoch=on_epoch,
                                          on_fold=on_fold)
        except NotEnoughVotes as e:
            status.update(label="Not enough votes yet", state="error")
            st.warning(md(e))
            return
        except PantryError as e:
            status.update(label="Training failed", state="error")
            st.error(f"Training failed; nothing was changed: {md(e)}")
            return
        except Exception:
            status.update(label="Training failed", state="error")  # the page's guard says why
            raise
        loss_box.empty()  # the result below shows both charts; the live ones go
        acc_box.empty()
        bar.progress(1.0, text="done")
        status.update(label=f"Trained candidate v{preview.personal_version} in {preview.seconds:.1f} s "
                            "(not active yet)", state="complete", expanded=False)
    st.session_state["train_result"] = preview  # the RetrainPreview itself; shown below on each run


def _fmt(x: float) -> str:
    return "n/a" if x != x else f"{x:.2f}"


def _outcome_in_words(preview: RetrainPreview, better: bool | None) -> None:
    """The comparison in one plain sentence, with what to do: "The new model agrees with 68% of
    the 25 votes it did not see, the current one with 50%: activate it." """
    new = asdict(preview.new)
    current = asdict(preview.current) if preview.current else None
    n = new["pairs"]
    votes = f"{n} vote{'s' if n != 1 else ''}"
    coin = ""
    if new["low"] <= 0.5 <= new["high"]:
        coin = (f" With {votes} this is not yet clearly better than a coin toss (95% interval "
                f"{new['low']:.0%}-{new['high']:.0%}); more votes will tell.")
    if better is None or current is None:
        st.info(f"The new model agrees with {new['accuracy']:.0%} of the {votes} it did not see "
                f"({new['correct']} of {n}). There is no held-out figure for the current model to compare "
                f"with.{coin}", icon=":material/info:")
    elif better is False:
        st.warning(f"The new model agrees with {new['accuracy']:.0%} of the {votes} it did not see, the current "
                   f"one with {current['accuracy']:.0%} ({new['correct']} vs {current['correct']} of {n}): keep the "
                   "current model.", icon=":material/warning:")
    elif new["correct"] == current["correct"]:
        st.info(f"Both models agree with {new['accuracy']:.0%} of the {votes} they did not see ({new['correct']} "
                f"of {n}): activating the new one changes little, but it has learnt from your latest votes."
                f"{coin}", icon=":material/balance:")
    else:
        st.success(f"The new model agrees with {new['accuracy']:.0%} of the {votes} it did not see, the current "
                   f"one with {current['accuracy']:.0%} ({new['correct']} vs {current['correct']} of {n}): activate "
                   f"it.{coin}", icon=":material/thumb_up:")
    note = consistency_note(preview.metrics)
    if note:
        st.caption("For comparison" + note + ".")


# ---------------------------------------------------------------- page

st.title("Retrain", anchor=False)
if user is None:
    st.info("Create a profile in the sidebar first; training learns from a profile's votes.")
    st.stop()
_load_hp(user)

st.subheader("Votes per profile", anchor=False)
summary = votes_summary(store)
if summary.empty:
    st.info("No votes yet. Vote on a few pairs on the **Compare** page, or import votes on the **Data** page.")
else:
    # the totals right after the name: on a phone the table shows its first columns only
    first = ["profile", "total", "deleted"]
    st.dataframe(summary, hide_index=True, column_order=first + [c for c in summary.columns if c not in first])

st.subheader("Settings", anchor=False)
st.caption(f"Kept for **{md(user)}**: saved with the profile on **Save settings** and on each **Retrain**, so "
           "they come back after leaving the page or reloading.")
decisive = VoteCounts.of(store.vote_counts(user)).decisive
min_needed = _config().min_decisive
with st.form("retrain_form", enter_to_submit=False):
    per_row = 4
    for start in range(0, len(OPTIONS), per_row):
        cols = st.columns(per_row)
        for col, o in zip(cols, OPTIONS[start:start + per_row]):
            with col:
                _control(o)
    st.markdown(f"**{md(user)}** has **{decisive}** decisive votes (training needs {min_needed}).")
    with st.container(horizontal=True, gap="small"):
        retrain = st.form_submit_button(
            "Retrain", type="primary", key="retrain", icon=":material/model_training:", on_click=_save_hp,
            disabled=decisive < min_needed,
            help="Trains candidates (the population model on everyone's votes, then a personal model pulled "
                 "toward a population model of everyone else) and compares these settings with the current "
                 f"model by {CV_FOLDS}-fold cross-validation. Nothing is activated until you say so.")
        st.form_submit_button("Save settings", key="save_hp", on_click=_save_hp, icon=":material/save:")
st.button("Our defaults", on_click=_set_hp, args=(DEFAULTS.to_dict(),), key="our_defaults", type="tertiary",
          icon=":material/restart_alt:")
st.caption("The trainer solves its objective exactly (Newton's method), so there are no epochs or learning "
           "rate to set.")
if retrain:
    with guarded("Training"):
        _train(user, _config())

preview = st.session_state.get("train_result")
if preview and preview.user == user:
    new, current = preview.new, preview.current
    new_label, current_label = _new_label(preview), _current_label(preview.current_kind, preview.current_version)
    st.subheader(f"New v{preview.personal_version} vs the current model", anchor=False)
    st.caption(f"Both measured on the same **{new.pairs}** decisive votes of {md(user)}, by "
               f"{new.folds}-fold cross-validation: each vote is scored by a model fitted without it. "
               f"Strict accuracy: equal scores count as wrong. The current model ({preview.current_kind}): "
               f"{BASIS_TEXT[preview.current_basis]}. This is the figure kept with v{preview.personal_version} and "
               "shown in the versions table.")
    table = retrain_comparison({new_label: new, current_label: current})
    st.dataframe(worded(table), hide_index=True, column_config=number_formats(
        {"accuracy": "%.2f", "low": "%.2f", "high": "%.2f", "tie_rate": "%.2f", "loss": "%.3f"}))
    rows = [_acc_row(new_label, new)] + ([_acc_row(current_label, current)] if current else [])
    left, right = st.columns(2)
    left.altair_chart(_accuracy_chart(rows), width="stretch", key="chart_heldout")
    if preview.history:
        right.altair_chart(_loss_chart(_history_rows(preview.history), preview.history_unit), width="stretch",
                           key="chart_loss")
    st.caption("Newton's method solves the training objective exactly, so the training loss falls in the "
               "first iterations and then stays level: that flat part means it has converged. The validation "
               "line is only the few votes left out of this one fit: a vote the model gets confidently wrong "
               "moves it a lot, and it may rise while the fit commits to the votes it has. Judge by the "
               "cross-validated figures above, which score every vote.")
    better = preview.new_at_least_as_good
    _outcome_in_words(preview, better)
    st.caption(f"Not active yet: {_candidates_text(preview)}. Activate makes them active; "
               "keeping the current model changes nothing (the population model included).")
    a, b, _ = st.columns([2, 2, 4])
    pop_note = (" and " + version_label(ModelKind.POPULATION, preview.population_version)
                if preview.population_version else "")
    a.button(f"Activate v{preview.personal_version}{pop_note}", type="primary" if better else "secondary",
             on_click=_activate_candidates, args=(preview,), key="activate_new", icon=":material/check:")
    b.button("Keep the current model", type="primary" if better is False else "secondary", on_click=_keep,
             key="keep_old")

st.subheader("Versions", anchor=False)
versions = store.model_versions(user)
if not versions:
    st.info("No model versions yet: Compare uses the pantry heuristic until you retrain.")
else:
    st.caption("Held-out accuracy: the cross-validated strict accuracy measured when the version was trained "
               "(blank for versions trained before it was measured, and for population versions).")
    ids = ("cv_accuracy", "cv_low", "cv_high")
    shown = blank_missing(versions_table(versions), {c: "{:.2f}" for c in ids})  # a gap is blank, not "None"
    st.dataframe(worded(shown), hide_index=True,
                 column_config=number_formats({c: "%.2f" for c in ids if shown[c].dtype.kind == "f"}))
    ids = [v.id for v in versions]
    labels = {v.id: f"v{v.id} · {'population' if v.user is None else v.user} · {v.created_at[:16].replace('T', ' ')}"
              + (" (active)" if v.active else "") for v in versions}
    x, y, z = st.columns([3, 2, 2], vertical_alignment="bottom")
    chosen = x.selectbox("Version", ids, format_func=labels.get, key="version_pick")
    y.button("Activate / roll back", on_click=_activate, args=(chosen,), key="activate_pick",
             icon=":material/history:", disabled=chosen is None)
    z.button(f"Stop using a personal model for {md(user)}", on_click=_deactivate, args=(user,), key="deactivate",
             disabled=store.active_model(user) is None,
             help="Score with the population model (or the heuristic) until a version is activated again; "
                  "no version is deleted.")
