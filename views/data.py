"""Data: the votes table (in words) with filters, delete and restore; JSONL import with a
per-line report; the list of imports, each undone or restored as a whole; export.

Text that comes from outside (file names, recipe titles, profile names) is shown as text:
in tables and option lists as plain strings, in messages escaped with `ui.text.md`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd
import streamlit as st

from pantry.errors import ImportFailed, PantryError
from pantry.storage.jsonl import export_csv, export_trl, export_votes
from ui.text import md
from ui.common import current_profile, flash, guarded
from ui.consistency import render_consistency
from ui.resources import get_lab
from ui.state import all_votes_frame
from ui.wording import votes_in_words

lab = get_lab()
store = lab.store
user = current_profile()

# What a vote's outcome means, for the filter (the stored codes are never shown).
OUTCOME_FILTERS = {"won": "One recipe won", "tie": "About equal", "both_bad": "Both bad"}
OUTCOME_CODES = {"won": ("a", "b"), "tie": ("tie",), "both_bad": ("both_bad",)}


def _when(timestamp: str | None) -> str:
    """An ISO time as "2024-05-01 08:00 UTC" (the text unchanged if it does not parse)."""
    if not timestamp:
        return ""
    try:
        return datetime.fromisoformat(timestamp).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return timestamp


def _short(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _forget_import_report() -> None:
    """The last import's report goes once the person does something else here (it stayed on
    screen under the Import button after a Delete, as if it were about that)."""
    st.session_state.pop("import_problems", None)
    st.session_state.pop("import_error", None)


def _set_deleted(ids: list[int], deleted: bool) -> None:
    _forget_import_report()
    try:
        changed = lab.set_votes_deleted(ids, deleted)
    except PantryError as e:
        flash("error", md(e))
        return
    verb = "Deleted" if deleted else "Restored"
    flash("success", f"{verb} {changed} vote(s)." + ("" if changed == len(ids) else
                                                      f" {len(ids) - changed} already were."))
    st.session_state["vote_pick"] = []


def _set_batch_deleted(batch_id: int | None, deleted: bool) -> None:
    _forget_import_report()
    if batch_id is None:
        return
    try:
        batch = store.get_import_batch(batch_id)
        changed = lab.set_batch_deleted(batch_id, deleted)
    except PantryError as e:
        flash("error", md(e))
        return
    name = md(batch.file_name) if batch else f"#{batch_id}"
    if deleted:
        flash("success", f"Undid import #{batch_id} ({name}): {changed} vote(s) deleted. Restore it to bring "
                         "them back.")
    else:
        flash("success", f"Restored import #{batch_id} ({name}): {changed} vote(s) back.")


def _import(default_user: str) -> None:
    _forget_import_report()  # a new attempt: the last file's report goes (it stayed beside another file)
    upload = st.session_state.get("import_file")
    if upload is None:
        flash("warning", "Choose a JSON Lines or JSON file first.")
        return
    try:
        report = lab.import_file(upload.getvalue(), default_user=default_user or "me", name=upload.name)
    except ImportFailed as e:
        st.session_state["import_problems"] = {"name": upload.name, "problems": e.problems}
        return
    except PantryError as e:  # shown under the button, where the person looks (not at the page's top)
        said = str(e)  # the library's reason may already say that nothing was imported: not twice
        st.session_state["import_error"] = (f"Import failed: {md(said)}" if "nothing was imported" in said
                                            else f"Import failed, nothing was imported: {md(said)}")
        return
    if report.nothing_new:
        stored = [f"{report.skipped} vote{'s' if report.skipped != 1 else ''}" if report.skipped else "",
                  f"{report.recipes} recipe{'s' if report.recipes != 1 else ''}" if report.recipes else ""]
        what = " and ".join(x for x in stored if x) or "its records"
        flash("info", f"Nothing new in {md(upload.name)}: all {what} already stored. No import was recorded."
              + (f" {report.skipped_deleted} of the votes match deleted votes: restore those (or their import) to "
                 "use them again." if report.skipped_deleted else ""))
        return
    flash("success", f"Imported {md(upload.name)}: {report.summary()}.")


@st.cache_data(show_spinner=False, max_entries=16)
def _votes_table(view: pd.DataFrame, batch_names: dict) -> pd.DataFrame:
    """The votes as shown: in words, with where each came from (derived from
    `pantry.evaluation.reports.votes_frame`)."""
    return pd.DataFrame({
        "id": view["id"],
        "profile": view["user"],
        "when": view["created_at"],
        "choice": votes_in_words(view),
        "reasons": view["reasons"].map(lambda rs: ", ".join(rs)),
        "source": view["batch"].map(lambda b: "voted here" if pd.isna(b) else
                                    f"import #{int(b)}: {batch_names.get(int(b), '')}"),
        "model": view["model_version"].fillna(""),
        "generator": view["generator"].fillna(""),
        "deleted": view["deleted"],
    })


st.title("Data", anchor=False)

st.subheader("Votes", anchor=False)
with guarded("The votes table"):
    frame = all_votes_frame()  # cached until the database changes (ui.state)
    batch_names = {b.id: b.file_name for b in store.import_batches()}
    users = store.list_users()
    f1, f2, f3, f4 = st.columns([2, 2, 3, 1.4], vertical_alignment="bottom")  # room for "Deleted" at 1400 px
    profiles = f1.multiselect("Profile", users, default=[user] if user in users else [], key="filter_profiles",
                              placeholder="All profiles")
    outcomes = f2.multiselect("Choice", list(OUTCOME_FILTERS), key="filter_outcomes",
                              format_func=OUTCOME_FILTERS.get, placeholder="Any choice")
    today = date.today()
    first = frame["created_at"].min().date() if not frame.empty else today - timedelta(days=30)
    span = f3.date_input("Date", value=(min(first, today), today), key="filter_dates")
    show_deleted = f4.toggle("Deleted", key="filter_deleted", help="Show deleted (undone) votes too")
    view = frame
    if profiles:
        view = view[view["user"].isin(profiles)]
    if outcomes:
        view = view[view["outcome"].isin([code for o in outcomes for code in OUTCOME_CODES[o]])]
    if isinstance(span, (tuple, list)) and len(span) == 2:
        start = pd.Timestamp(span[0], tz="UTC")
        end = pd.Timestamp(span[1], tz="UTC") + pd.Timedelta(days=1)
        view = view[(view["created_at"] >= start) & (view["created_at"] < end)]
    hidden = 0
    if not show_deleted:
        hidden = int(view["deleted"].sum())  # deleted votes the other filters would show
        view = view[~view["deleted"]]
    if frame.empty:
        st.info("No votes yet: vote on **Compare** or import a file below.")
    else:
        table = _votes_table(view, batch_names)
        st.dataframe(table, hide_index=True, key="votes_table", column_config={
            "id": st.column_config.NumberColumn("#", format="%d"),
            "when": st.column_config.DatetimeColumn("when", format="YYYY-MM-DD HH:mm"),
            "choice": st.column_config.TextColumn("what was chosen", width="large")})
        st.caption(f"{len(view)} vote{'s' if len(view) != 1 else ''} shown"
                   + (f"; {hidden} deleted vote{'s' if hidden != 1 else ''} matching these filters "
                      f"{'are' if hidden != 1 else 'is'} hidden (turn on **Deleted** to see "
                      f"{'them' if hidden != 1 else 'it'})" if hidden else "")
                   + f". {len(frame)} stored in all, for every profile, deleted ones included.")
        choices = dict(zip(table["id"].tolist(), table["choice"].tolist()))
        d1, d2, d3 = st.columns([4, 1, 1], vertical_alignment="bottom")
        pick = d1.multiselect("Votes to delete or restore", view["id"].tolist(), key="vote_pick",
                              format_func=lambda i: _short(f"#{i} {choices.get(i, '')}"),
                              placeholder="Choose votes")
        d2.button("Delete", on_click=_set_deleted, args=(pick, True), disabled=not pick, key="delete_votes",
                  icon=":material/delete:")
        d3.button("Restore", on_click=_set_deleted, args=(pick, False), disabled=not pick, key="restore_votes",
                  icon=":material/restore_from_trash:")

st.subheader("Your consistency", anchor=False)
with guarded("The consistency figures"):
    render_consistency(user)  # ui/consistency.py: repeats, intransitive triads, reachable accuracy

st.subheader("Import", anchor=False)
with st.container(border=True):
    st.markdown("A JSON Lines file (one object per line) or a JSON array of **votes**, **recipes**, and/or "
                "**prompt/chosen/rejected** pairs. Every record is checked first; if any is bad nothing is imported "
                "and each problem is listed by line. Votes that are already stored (the same file imported again) "
                "are skipped, not added twice.")
    i1, i2 = st.columns([3, 1])
    i1.file_uploader("JSON Lines or JSON file", type=["jsonl", "json", "txt"], key="import_file")
    default_user = i2.text_input("Profile for lines without a user", value=user or "me", key="import_user")
    st.button("Import", type="primary", on_click=_import, args=(default_user,), key="import_button",
              icon=":material/upload:")
    if st.session_state.get("import_error"):
        st.error(st.session_state["import_error"], icon=":material/error:")
    problems = st.session_state.get("import_problems")
    if problems:
        n = len({line for line, _ in problems["problems"]})
        st.error(f"{md(problems['name'])}: {n} bad line{'s' if n != 1 else ''}; nothing was imported. Fix them "
                 "and import again.", icon=":material/error:")
        st.dataframe(pd.DataFrame(problems["problems"], columns=["line", "problem"]), hide_index=True,
                     key="import_report")

st.subheader("Imports", anchor=False)
with guarded("The list of imports"):
    batches = store.import_batches()
    if not batches:
        st.caption("No imports yet.")
    else:
        def _status(b) -> str:
            if b.deleted:
                return f"undone {_when(b.deleted_at)}"
            gone = b.votes_added - b.votes_live
            return "active" + (f", {gone} of its votes deleted" if gone else "")

        st.dataframe(pd.DataFrame({
            "import": [f"#{b.id}" for b in batches],
            "file": [b.file_name for b in batches],
            "when": [_when(b.created_at) for b in batches],
            "profiles": [", ".join(b.users) for b in batches],
            "recipes added": [b.recipes_added for b in batches],
            "votes added": [b.votes_added for b in batches],
            "skipped": [b.votes_skipped for b in batches],
            "status": [_status(b) for b in batches],
        }), hide_index=True, key="batches_table", column_config={
            "skipped": st.column_config.NumberColumn("skipped (already stored)")})
        by_id = {b.id: b for b in batches}
        b1, b2, b3 = st.columns([4, 1, 1], vertical_alignment="bottom")
        chosen = b1.selectbox("Import to undo or restore", list(by_id), key="batch_pick",
                              format_func=lambda i: _short(f"#{i} {by_id[i].file_name}, {_when(by_id[i].created_at)}, "
                                                           f"{by_id[i].votes_added} votes"
                                                           + (" (undone)" if by_id[i].deleted else "")))
        picked = by_id.get(chosen)
        b2.button("Undo import", on_click=_set_batch_deleted, args=(chosen, True), key="delete_batch",
                  disabled=picked is None or picked.deleted, icon=":material/delete:",
                  help="Delete every vote this import added (they are kept and can be restored)")
        b3.button("Restore import", on_click=_set_batch_deleted, args=(chosen, False), key="restore_batch",
                  disabled=picked is None or not picked.deleted, icon=":material/restore_from_trash:")

st.subheader("Export", anchor=False)
with guarded("Export"):
    scopes = ["profile", "everyone"] if user else ["everyone"]
    scope = st.radio("Whose votes", scopes, horizontal=True, key="export_scope",
                     format_func=lambda s: f"{md(user)}'s votes" if s == "profile" else "everyone's votes")
    who = user if scope == "profile" else None
    stem = f"pantrypilot-{who or 'all'}".replace(" ", "_")
    e1, e2, e3 = st.columns(3)
    # Each file is built only when its button is clicked (a callable `data`), not on every run.
    e1.download_button("Votes JSONL", lambda: "\n".join(export_votes(store, who)) + "\n",
                       file_name=f"{stem}-votes.jsonl", mime="application/jsonl", icon=":material/download:",
                       key="export_votes", on_click="ignore")
    e2.download_button("TRL pairs JSONL", lambda: "\n".join(export_trl(store, who)) + "\n",
                       file_name=f"{stem}-trl.jsonl", mime="application/jsonl", icon=":material/download:",
                       key="export_trl", on_click="ignore", help="prompt/chosen/rejected, decisive votes only")
    e3.download_button("CSV", lambda: export_csv(store, who), file_name=f"{stem}-votes.csv", mime="text/csv",
                       icon=":material/download:", key="export_csv", on_click="ignore")
