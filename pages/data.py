"""Data: the votes table with filters, delete and restore, JSONL import with a per-line report, export."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from pantry.errors import ImportFailed, PantryError
from pantry.jsonl import export_csv, export_trl, export_votes, import_jsonl
from pantry.votes import OUTCOMES
from ui.common import current_profile, flash, guarded, require_app
from ui.resources import get_lab

require_app()
lab = get_lab()
store = lab.store
user = current_profile()


def _set_deleted(ids: list[int], deleted: bool) -> None:
    changed = 0
    try:
        for vid in ids:
            changed += bool(store.delete_vote(vid) if deleted else store.restore_vote(vid))
    except PantryError as e:
        flash("error", str(e))
    verb = "Deleted" if deleted else "Restored"
    flash("success", f"{verb} {changed} vote(s)." + ("" if changed == len(ids) else
                                                      f" {len(ids) - changed} already were."))
    st.session_state["vote_pick"] = []


def _import(default_user: str) -> None:
    upload = st.session_state.get("import_file")
    if upload is None:
        flash("warning", "Choose a JSONL file first.")
        return
    try:
        report = import_jsonl(store, upload.getvalue(), default_user=default_user or "me", name=upload.name)
    except ImportFailed as e:
        st.session_state["import_problems"] = {"name": upload.name, "problems": e.problems}
        return
    except PantryError as e:
        flash("error", f"Import failed, nothing was imported: {e}")
        return
    st.session_state.pop("import_problems", None)
    flash("success", f"Imported {upload.name}: {report.recipes} recipes, {report.votes} votes, "
          f"{report.pairs} prompt/chosen/rejected pairs" + (f"; {report.skipped} duplicate votes skipped" if report.skipped else "") + ".")


st.title("Data", anchor=False)

st.subheader("Votes", anchor=False)
with guarded("The votes table"):
    frame = store.votes_frame(include_deleted=True)
    users = store.list_users()
    f1, f2, f3, f4 = st.columns([2, 2, 3, 1], vertical_alignment="bottom")
    profiles = f1.multiselect("Profile", users, default=[user] if user else [], key="filter_profiles",
                              placeholder="All profiles")
    outcomes = f2.multiselect("Outcome", list(OUTCOMES), key="filter_outcomes", placeholder="All outcomes")
    today = date.today()
    first = frame["created_at"].min().date() if not frame.empty else today - timedelta(days=30)
    span = f3.date_input("Date", value=(min(first, today), today), key="filter_dates")
    show_deleted = f4.toggle("Deleted", key="filter_deleted", help="Show deleted (undone) votes too")
    view = frame
    if profiles:
        view = view[view["user"].isin(profiles)]
    if outcomes:
        view = view[view["outcome"].isin(outcomes)]
    if isinstance(span, (tuple, list)) and len(span) == 2:
        start = pd.Timestamp(span[0], tz="UTC")
        end = pd.Timestamp(span[1], tz="UTC") + pd.Timedelta(days=1)
        view = view[(view["created_at"] >= start) & (view["created_at"] < end)]
    if not show_deleted:
        view = view[~view["deleted"]]
    if frame.empty:
        st.info("No votes yet: vote on **Compare** or import a file below.")
    else:
        cols = ["id", "user", "created_at", "outcome", "strength", "a_title", "b_title", "left", "reasons",
                "model_version", "generator", "deleted"]
        st.dataframe(view[cols], hide_index=True, column_config={
            "created_at": st.column_config.DatetimeColumn("when", format="YYYY-MM-DD HH:mm"),
            "a_title": "recipe a", "b_title": "recipe b"})
        st.caption(f"{len(view)} of {len(frame)} votes shown.")
        d1, d2, d3 = st.columns([4, 1, 1], vertical_alignment="bottom")
        pick = d1.multiselect("Votes to delete or restore", view["id"].tolist(), key="vote_pick",
                              format_func=lambda i: f"#{i}", placeholder="Choose vote ids")
        d2.button("Delete", on_click=_set_deleted, args=(pick, True), disabled=not pick, key="delete_votes",
                  icon=":material/delete:")
        d3.button("Restore", on_click=_set_deleted, args=(pick, False), disabled=not pick, key="restore_votes",
                  icon=":material/restore_from_trash:")

st.subheader("Import", anchor=False)
with st.container(border=True):
    st.markdown("A JSONL file of **votes**, **recipes**, and/or **prompt/chosen/rejected** pairs. Every line is "
                "checked first; if any line is bad nothing is imported and each problem is listed.")
    i1, i2 = st.columns([3, 1])
    i1.file_uploader("JSONL file", type=["jsonl", "json", "txt"], key="import_file")
    default_user = i2.text_input("Profile for lines without a user", value=user or "me", key="import_user")
    st.button("Import", type="primary", on_click=_import, args=(default_user,), key="import_button",
              icon=":material/upload:")
    problems = st.session_state.get("import_problems")
    if problems:
        n = len({line for line, _ in problems["problems"]})
        st.error(f"{problems['name']}: {n} bad line{'s' if n != 1 else ''}; nothing was imported. Fix them and "
                 "import again.", icon=":material/error:")
        st.dataframe(pd.DataFrame(problems["problems"], columns=["line", "problem"]), hide_index=True,
                     key="import_report")

st.subheader("Export", anchor=False)
with guarded("Export"):
    scope = st.radio("Whose votes", ["profile", "everyone"], horizontal=True, key="export_scope",
                     format_func=lambda s: f"{user}'s" if s == "profile" and user else "everyone's")
    who = user if scope == "profile" else None
    stem = f"pantrypilot-{who or 'all'}".replace(" ", "_")
    e1, e2, e3 = st.columns(3)
    e1.download_button("Votes JSONL", "\n".join(export_votes(store, who)) + "\n", file_name=f"{stem}-votes.jsonl",
                       mime="application/jsonl", icon=":material/download:", key="export_votes")
    e2.download_button("TRL pairs JSONL", "\n".join(export_trl(store, who)) + "\n", file_name=f"{stem}-trl.jsonl",
                       mime="application/jsonl", icon=":material/download:", key="export_trl",
                       help="prompt/chosen/rejected, decisive votes only")
    e3.download_button("CSV", export_csv(store, who), file_name=f"{stem}-votes.csv", mime="text/csv",
                       icon=":material/download:", key="export_csv")
