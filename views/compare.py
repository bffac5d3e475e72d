"""Compare: enter a pantry, get two recipes, say which one you prefer.

The pair is chosen by `pantry.compare.prepare_round`; scores stay hidden until the vote.
Keyboard: N new pair, 1 left better, 2 right better, 3 tie, 4 both bad, S skip, U undo.
"""

from __future__ import annotations

import secrets
import threading

import numpy as np
import pandas as pd
import streamlit as st

from pantry.compare import (RECENT_ROUNDS, REASONS, HintState, RoundPrefetch, prepare_round, restore_pair, retrain_hint,
                            vote_from_click)
from pantry.errors import PantryError
from pantry.generators import DIETS, GenerationRequest
from pantry.kitchen import read_pantry
from pantry.model.training import TrainConfig
from pantry.domain.votes import describe_vote
from ui.cards import CARD_CSS, recipe_card, side_label
from ui.wording import saved_vote_text
from ui.text import md
from ui.common import current_profile, flash, guarded, show_flashes
from ui.sidebar import model_problem_text, scoring_model, select_profile
from ui.state import profile_view
from ui.resources import (background_executor, composer_cuisines, generator_choice, get_kitchen, get_lab,
                          kitchen_names, settings)

ANY = "any cuisine"
MODES = {"compare": "Compare two", "cook": "Just cook"}

lab = get_lab()
store = lab.store
user = current_profile()


def _rng() -> np.random.Generator:
    if "_rng" not in st.session_state:
        st.session_state["_rng"] = np.random.default_rng(secrets.randbits(64))
    return st.session_state["_rng"]


def _key(name: str, field: str) -> str:
    """Widget keys are per profile, so switching profile shows that profile's saved inputs."""
    return f"{field}::{name}"


def _saved_inputs(name: str) -> dict:
    """The profile's saved pantry and options. A saved pantry text over today's limit (saved
    before the limit was checked, or under a larger `PANTRY_MAX_PANTRY_CHARS`) comes back cut
    to the limit, with a note, so the page always opens with a box the person can fix."""
    view = profile_view(name)
    prefs = view.prefs
    known = set(kitchen_names())
    cuisines = [ANY, *composer_cuisines()]
    text = view.pantry_text or ""
    limit = settings().max_pantry_chars
    if len(text) > limit:
        st.session_state[f"_pantry_trimmed::{name}"] = len(text)
        text = text[:limit]
    return {"pantry_text": text,
            "pantry_items": [i for i in prefs.get("items", []) if i in known],
            "diets": [d for d in prefs.get("diets", []) if d in DIETS],
            "cuisine": prefs.get("cuisine") if prefs.get("cuisine") in cuisines else ANY,
            "max_minutes": int(prefs.get("max_minutes") or 0),
            "auto_next": bool(prefs.get("auto_next", True))}


def _pantry_problem(text: str) -> str | None:
    """Why this pantry text cannot be used (too long, too many items), or None: the library's
    own check (`read_pantry`), so what is refused here is exactly what a round would refuse."""
    try:
        read_pantry(text, (), get_kitchen(), settings().max_pantry_chars)
    except PantryError as e:
        return str(e)
    return None


def _save_inputs(name: str) -> None:
    """on_change: remember the pantry and options for this profile (nothing is lost on page switches).

    A pantry text the library refuses is never saved: the box keeps it, with the reason next
    to it, and the saved pantry stays as it was."""
    try:
        view = profile_view(name)  # what is saved now: only a change is written
        text = st.session_state.get(_key(name, "pantry_text"), "") or ""
        if text != view.pantry_text and _pantry_problem(text) is None:
            lab.save_profile(name, pantry_text=text)
            st.session_state.pop(f"_pantry_trimmed::{name}", None)
        prefs = dict(view.prefs)
        for field in ("pantry_items", "diets", "cuisine", "max_minutes", "auto_next"):
            if _key(name, field) in st.session_state:
                value = st.session_state[_key(name, field)]
                prefs["items" if field == "pantry_items" else field] = list(value) if isinstance(value, list) else value
        if prefs != view.prefs:
            lab.save_profile(name, prefs=prefs)
    except PantryError as e:
        flash("error", f"Could not save your pantry: {md(e)}")


def _pantry(inputs: dict):
    """(reading, problem): the pantry as read by `pantry.kitchen.read_pantry` (names, amounts,
    leftovers, what was not understood, a note when little was recognised), and None; or, when
    the text cannot be used (too long, too many items), the reading of the picked items alone
    and the reason, which the page shows next to the box (the box always stays)."""
    items = inputs.get("pantry_items", [])
    try:
        return read_pantry(inputs.get("pantry_text", "") or "", items, get_kitchen(),
                           settings().max_pantry_chars), None
    except PantryError as e:
        return read_pantry("", items, get_kitchen(), settings().max_pantry_chars), str(e)


def _saved_reading(name: str):
    """The pantry as the profile's inputs read now (a pair restored after a reload is scored with it)."""
    saved = _saved_inputs(name)
    return _pantry({f: st.session_state.get(_key(name, f), saved[f]) for f in saved})[0]


def _request_round() -> None:
    """N, Skip or the button: a new pair (the last vote's message goes: the person moved on)."""
    st.session_state["_want_round"] = True
    st.session_state.pop("_last_saved", None)


def _auto_next(name: str) -> bool:
    """The profile's "next pair right after my vote" setting (on unless turned off)."""
    value = st.session_state.get(_key(name, "auto_next"))
    return _saved_inputs(name)["auto_next"] if value is None else bool(value)


def _round_flash(kind: str, message: str) -> None:
    """Queue a message for the round panel (votes and undo): shown there, right above the pair,
    in the next run of the panel, whether only the panel or the whole app reruns."""
    st.session_state.setdefault("_round_flash", []).append((kind, message))


def _show_round_flashes() -> None:
    for kind, message in st.session_state.pop("_round_flash", []):
        getattr(st, kind)(message)


def _my_votes() -> list[dict]:
    """Votes cast in this browser session, oldest first: what Undo may take back."""
    return st.session_state.setdefault("_my_votes", [])


# When another press arrives during a run, Streamlit starts a new run in another thread and the
# old one stops at its next `st.session_state` access (a yield point): a vote or an undo written
# to the database whose page state was not yet updated was then lost to the page ("Nothing to
# undo" for a stored vote, a deleted vote still shown as saved). So each callback stores one
# event dict in session state, then makes its one library call with no session-state access
# after it (it fills the event by plain assignment and sets its `done` flag), and the next run
# applies the event to the page (`_apply_events`): once the call has finished (it may still be
# running in the old thread), step by step, each step once, however often that run is cut short.
EVENT_WAIT_S = 10.0  # how long a run waits for the press before it to finish writing


def _vote(choice: str, round_no: int | None) -> None:
    """A vote on round `round_no`, the round whose button was pressed (each round's buttons
    have their own keys, so a press on a pair that is gone never reaches the next pair: its
    button no longer exists and Streamlit drops the press)."""
    _apply_events()  # an undo pressed just before this vote counts first
    matchup = st.session_state.get("matchup")
    name = current_profile()
    if matchup is None or name is None or st.session_state.get("revealed"):
        return
    here = st.session_state.get("_round_no")
    if round_no != here or st.session_state.get("_voted_round") == here:
        return  # a second press on a pair already voted on (a double press), not a second vote
    try:
        vote = vote_from_click(name, matchup, choice, much=bool(st.session_state.get("much")),
                               note=st.session_state.get("note", ""),
                               left_reasons=st.session_state.get("reasons_left") or [],
                               right_reasons=st.session_state.get("reasons_right") or [])
    except PantryError as e:
        _round_flash("error", f"Your vote was not saved: {md(e)}")
        return
    event = {"kind": "vote", "round": here, "choice": choice, "user": name, "matchup": matchup,
             "round_info": st.session_state.get("round_info"), "auto": _auto_next(name), "vote_id": None,
             "error": None, "steps": set(), "done": threading.Event()}
    st.session_state["_event"] = event  # the last session-state access of this callback
    try:
        event["vote_id"] = lab.cast_vote(vote)
    except PantryError as e:
        event["error"] = str(e)
    finally:
        event["done"].set()


def _undo() -> None:
    """Take back this session's newest vote for the current profile (never another session's)."""
    _apply_events()  # a vote pressed just before this undo is the one it takes back
    name = current_profile()
    ids = [e["id"] for e in _my_votes() if e["user"] == name] if name is not None else []
    event = {"kind": "undo", "user": name, "vote": None, "titles": {}, "error": None, "steps": set(),
             "done": threading.Event()}
    st.session_state["_event"] = event  # the last session-state access of this callback
    try:
        event["vote"] = vote = lab.undo(name, ids) if ids else None  # the newest of them not deleted elsewhere
        event["titles"] = {rid: r.title for rid, r in store.get_recipes([vote.a, vote.b]).items()} if vote else {}
    except PantryError as e:
        event["error"] = str(e)
    finally:
        event["done"].set()


def _once(event: dict, step: str, do) -> None:
    """Run `do()` for `event` unless it ran to its end before: a run applying an event may be
    cut short (at a session-state access inside `do`) and repeated; `do` ends in its last
    session-state access or in plain Python, so a step that ended is never done twice."""
    if step not in event["steps"]:
        do()
        event["steps"].add(step)


def _apply_events() -> None:
    """Apply the vote or undo a callback recorded (`_vote`, `_undo`) to the page state."""
    event = st.session_state.get("_event")
    if event is None or not event["done"].wait(EVENT_WAIT_S):
        return  # none, or still being written (a later run applies it)
    if event["kind"] == "vote":
        _apply_vote(event)
    else:
        _apply_undo(event)
    st.session_state.pop("_event", None)


def _want_next_pair() -> None:
    """The next run makes the next pair (after a vote: the saved vote's message stays)."""
    st.session_state["_want_round"] = True


def _clear_inputs() -> None:
    """The pair's reasons, note and "much better" go with the vote just saved."""
    for key in ("reasons_left", "reasons_right"):
        st.session_state[key] = []
    st.session_state["note"] = ""
    st.session_state["much"] = False


def _apply_vote(event: dict) -> None:
    if event["vote_id"] is None and event["error"] is None:  # the call failed in a way it does not word
        event["error"] = "it could not be stored"
    if event["error"] is not None:
        st.session_state.pop("_voted_round", None)  # nothing was saved: the pair may be voted on
        _once(event, "flash", lambda: _round_flash("error", f"Your vote was not saved: {md(event['error'])}"))
        return
    vote_id = event["vote_id"]
    st.session_state["_voted_round"] = event["round"]
    mine = _my_votes()
    if not any(e["id"] == vote_id for e in mine):
        mine.append({"id": vote_id, "user": event["user"]})
    _once(event, "inputs", _clear_inputs)
    # this session's last vote: its saved message, and the pair Undo brings back whatever came after it (N, Skip)
    st.session_state["_last_vote"] = {"vote_id": vote_id, "user": event["user"], "choice": event["choice"],
                                      "matchup": event["matchup"], "round_info": event["round_info"]}
    if event["auto"]:  # the next pair comes at once; the saved message stays above it
        st.session_state["_last_saved"] = vote_id  # the vote whose message shows (until the person moves on)
        st.session_state["revealed"] = None
        _once(event, "next", _want_next_pair)
    else:
        st.session_state["revealed"] = {"vote_id": vote_id, "choice": event["choice"]}
        st.session_state.pop("_last_saved", None)


def _apply_undo(event: dict) -> None:
    name, vote = event["user"], event["vote"]
    if event["error"] is not None:
        _once(event, "flash", lambda: _round_flash("error", f"Undo failed: {md(event['error'])}"))
        return
    mine = _my_votes()
    if "trim" not in event["steps"]:  # plain Python from here to the mark: done whole or not at all
        cut = next((i for i, e in enumerate(mine) if vote is not None and e["id"] == vote.id), 0)
        mine[:] = mine[:cut] + [e for e in mine[cut:] if e["user"] != name]  # the undone one and those tried
        event["steps"].add("trim")
    if vote is None:
        st.session_state.pop("_last_saved", None)
        _once(event, "flash", lambda: _round_flash(
            "info", "Nothing to undo: no votes were cast for this profile in this session (or they are all "
            "undone already)."))
        return
    st.session_state.pop("_voted_round", None)  # the round of the vote taken back may be voted on again
    revealed = st.session_state.get("revealed")
    if revealed and revealed.get("vote_id") == vote.id:
        st.session_state["revealed"] = None  # vote again on the same pair
    back = st.session_state.get("_last_vote")
    if (back and back["vote_id"] == vote.id and back["user"] == name
            and st.session_state.get("matchup") is not back["matchup"]):
        # the pair of the vote just undone comes back (the next one was shown after it, or a
        # Skip moved on): it may be voted on again
        _once(event, "restore", lambda: _show_round(back["matchup"], back["round_info"]))
    st.session_state.pop("_last_saved", None)
    st.session_state.pop("_last_vote", None)
    _once(event, "flash", lambda: _round_flash(
        "success", f"Undid your vote ({md(describe_vote(vote, event['titles']))}). It is kept as deleted and can "
        "be restored on the Data page."))


def _welcome() -> None:
    """No profile in the URL or this session: ask who is voting, never guess."""
    st.title("Welcome to PantryPilot")
    st.markdown(
        "PantryPilot learns which recipes **you** like. It shows two recipes made from what is in "
        "your pantry; you pick the better one. After a few votes it trains a personal model that "
        "ranks new recipes for you.\n\n"
        "1. **Create a profile** (or choose yours): votes and your pantry are kept per profile, and "
        "the page address remembers it (bookmark it to come back).\n"
        "2. **Type your pantry** and press **Get two recipes**.\n"
        "3. **Vote** with the buttons or the keys 1-4. After 8 decisive votes, open **Retrain**.")
    users = store.list_users()
    left, right = st.columns(2, gap="medium")
    with left.form("welcome_profile", border=True):
        st.text_input("New profile name", key="welcome_name", placeholder="e.g. ana",  # no max_chars (see sidebar)
                      help="1-40 characters: letters, digits, spaces, '-', '_' and '.'")
        st.form_submit_button("Start", type="primary", on_click=_start_profile, key="welcome_start")
    if users:
        with right.container(border=True):
            st.selectbox("Or continue as", users, index=None, key="welcome_pick", placeholder="Choose your profile",
                         on_change=lambda: select_profile(st.session_state["welcome_pick"]))
    err = st.session_state.pop("_welcome_error", None)
    if err:
        st.error(md(err))


def _start_profile() -> None:
    try:
        name = lab.create_profile(st.session_state.get("welcome_name", ""))
    except PantryError as e:
        st.session_state["_welcome_error"] = f"Cannot create that profile: {e}"
        return
    select_profile(name)


def _hint_text(hint) -> str:
    """The progress line's advice, worded from `retrain_hint`'s state and numbers."""
    more = f"{hint.more_needed} more decisive vote{'s' if hint.more_needed != 1 else ''}"
    return {HintState.FIRST_NEEDS_VOTES: f"{more} until your first personal model can be trained",
            HintState.FIRST_READY: "enough votes for a personal model: open **Retrain**",
            HintState.RETRAIN_NEEDS_VOTES: f"{more} until retraining is worthwhile",
            HintState.RETRAIN_WORTHWHILE: f"{hint.new_since_training} new decisive votes since the last training: "
                                          "retraining is worthwhile"}[hint.state]


def _progress_line(name: str) -> None:
    view = profile_view(name)  # one query when nothing changed since the last run
    total, decisive = view.total_votes, view.decisive_votes
    active = view.personal
    trained_on = active.metrics.get("n_decisive") if active is not None else None
    hint = retrain_hint(total, decisive, trained_on, TrainConfig().min_decisive)
    st.markdown(f":material/how_to_vote: **{total}** vote{'s' if total != 1 else ''} by **{md(name)}** "
                f"({decisive} decisive) · {_hint_text(hint)}", help="Decisive = one recipe was better.")


def _request(inputs: dict, reading, seed: int) -> GenerationRequest:
    max_minutes = int(inputs.get("max_minutes") or 0)
    cuisine = inputs.get("cuisine", ANY)
    return GenerationRequest(pantry=reading.pantry, amounts=reading.amounts, cooked=reading.cooked,
                             n=int(st.session_state.get("n_candidates", 6)), diets=tuple(inputs.get("diets", [])),
                             cuisine=None if cuisine == ANY else cuisine, max_minutes=max_minutes or None, seed=seed,
                             recent=tuple(st.session_state.get("_recent_recipes", ())))


def _prefetch(inputs: dict, reading) -> None:
    """Start making the next round's candidates for these inputs in the background (unless
    that is already under way): the click on "Get two recipes" then only scores and picks."""
    choice, _ = generator_choice()
    if choice is None or not reading.pantry and not inputs.get("pantry_text"):
        return
    request = _request(inputs, reading, int(_rng().integers(1 << 31)))
    ahead = st.session_state.get("_prefetch")
    if ahead is not None and ahead.matches(choice, request):
        return
    st.session_state["_prefetch"] = RoundPrefetch(lab, choice, request, background_executor())


def _generate(name: str, mode: str, inputs: dict, reading, box) -> None:
    """Make the next round. Anything shown meanwhile (progress, the generator's notes) goes in
    `box`, a container that is always on the page, so the round panel below keeps its place
    (and the old pair stays on screen, faded, until the new one is drawn)."""
    choice, error = generator_choice()
    if choice is None:
        box.error(f"No recipe generator available: {md(error)}")
        return
    request = _request(inputs, reading, int(_rng().integers(1 << 31)))
    ahead = st.session_state.pop("_prefetch", None)
    shown = st.session_state.setdefault("_shown_pairs", set())
    recent = st.session_state.setdefault("_recent_recipes", [])  # recipes of the last rounds
    if ahead is not None and ahead.matches(choice, request) and ahead.ready:
        rnd = prepare_round(lab, choice, request, name, _rng(), avoid=shown, recent=recent, prefetch=ahead)
    else:  # nothing made ahead for these inputs (yet): show progress while cooking
        slot = box.empty()  # cleared afterwards so the round fits on screen
        with slot.status(f"Cooking up {request.n} candidates with {md(choice.name)}...", expanded=False):
            bar = st.progress(0.0)

            def progress(done: int, total: int, message: str) -> None:
                bar.progress(min(1.0, done / total) if total else 0.0, text=md(message))

            rnd = prepare_round(lab, choice, request, name, _rng(), avoid=shown, on_progress=progress,
                                recent=recent, prefetch=ahead)
        slot.empty()
    shown.add(frozenset((rnd.matchup.a.recipe.id, rnd.matchup.b.recipe.id)))
    recent.extend([rnd.matchup.a.recipe, rnd.matchup.b.recipe])
    del recent[:-2 * RECENT_ROUNDS]
    for note in rnd.notes:
        box.warning(md(note))
    _show_round(rnd.matchup, {"mode": mode, "candidates": rnd.candidates, "pantry_note": reading.note,
                              "dropped": rnd.dropped_duplicates, "generator": rnd.generator_name})


PAIR_PARAM = "pair"  # the pair on screen in the page address: a reload brings it back


def _show_round(matchup, info: dict) -> None:
    """`matchup` becomes the round on screen (drawn in the other slot, scores hidden), and a
    compared pair goes into the page address for a reload (`_restore_pair`)."""
    st.session_state["_round_no"] = st.session_state.get("_round_no", 0) + 1
    st.session_state["matchup"], st.session_state["round_info"] = matchup, info
    st.session_state["revealed"] = None
    _remember_pair(matchup if info.get("mode") == "compare" else None, info.get("candidates"))


def _remember_pair(matchup, candidates: int | None = None) -> None:
    """Put the pair on screen in the page address (None: take it out), with how many
    candidates it was chosen from, so a reload, which starts a new session, shows the same
    pair and says the same (`_restore_pair`)."""
    if matchup is None:
        st.query_params.pop(PAIR_PARAM, None)
    else:
        st.query_params[PAIR_PARAM] = [matchup.a.recipe.id, matchup.b.recipe.id,
                                       f"{matchup.left}:{matchup.why}:{candidates or ''}"]


def _restore_pair(name: str) -> None:
    """After a reload: the pair the page address names, if this session has none yet and the
    pair was not judged since (`pantry.compare.restore_pair`); otherwise the address forgets it."""
    got = st.query_params.get_all(PAIR_PARAM)
    if not got or st.session_state.get("matchup") is not None:
        return
    restored = None
    count = None
    if len(got) == 3:
        left, _, rest = got[2].partition(":")
        why, _, n = rest.partition(":")  # "left:why:candidates" (an older address has no count)
        count = int(n) if n.isdigit() and 2 <= int(n) <= 99 else None
        with guarded("Bringing back the pair on screen"):
            restored = restore_pair(lab, name, got[0], got[1], left, why, _saved_reading(name).pantry)
    if restored is None:
        _remember_pair(None)
        return
    _show_round(restored, {"mode": "compare", "candidates": count, "pantry_note": None, "dropped": 0,
                           "generator": restored.generator})


def _pantry_summary(reading) -> str:
    pantry = reading.names
    if not pantry:
        return "Your pantry: empty"
    shown = ", ".join(pantry[:6]) + (f" and {len(pantry) - 6} more" if len(pantry) > 6 else "")
    return f"Your pantry: {shown}"


def _pantry_inputs(name: str, expanded: bool):
    """Pantry and options in an expander (open until the first pair, so a round fits on screen).

    Returns (inputs, reading, problem): the widgets' values, the pantry as read from them (read
    once per run: the summary, the note and the round all use this one reading), and why the
    pantry text cannot be used (None when it can). With a problem the expander stays open and
    the reason is shown right under the box, so the person can fix the text where it is."""
    saved = _saved_inputs(name)
    save = {"on_change": _save_inputs, "args": (name,)}
    inputs = {}
    current = {f: st.session_state.get(_key(name, f), saved[f]) for f in saved}
    reading, problem = _pantry(current)  # the widgets below return exactly these values
    trimmed = st.session_state.get(f"_pantry_trimmed::{name}")
    with st.expander(md(_pantry_summary(reading)), expanded=expanded or bool(problem) or bool(trimmed),
                     icon=":material/kitchen:"):
        left, right = st.columns([3, 2], gap="medium")
        with left:
            limit = settings().max_pantry_chars
            inputs["pantry_text"] = st.text_area(
                "What's in your pantry?", saved["pantry_text"], key=_key(name, "pantry_text"), height=96,
                placeholder="2 eggs, half an onion, spinach, feta, rice...",
                help=f"Free text: commas or new lines between items (at most {limit:,} characters). "
                     "Remembered for this profile.", **save)
            if problem:
                st.error(f"{md(problem)}. Shorten the text above; it was not saved (the last pantry that "
                         "worked is kept).", icon=":material/error:")
            if trimmed and inputs["pantry_text"] == saved["pantry_text"]:
                st.warning(f"Your saved pantry was {trimmed:,} characters, over the limit of {limit:,}: it is "
                           f"cut to the first {limit:,} above. Check the end of it; it is saved once you change it or get a pair.",
                           icon=":material/content_cut:")
            inputs["pantry_items"] = st.multiselect(
                "Add ingredients", kitchen_names(), saved["pantry_items"], key=_key(name, "pantry_items"),
                placeholder="Pick from the kitchen's ingredient list", **save)
        with right:
            inputs["diets"] = st.multiselect("Diet", list(DIETS), saved["diets"], key=_key(name, "diets"),
                                             placeholder="No restrictions", **save)
            c1, c2 = st.columns(2)
            cuisines = [ANY, *composer_cuisines()]
            inputs["cuisine"] = c1.selectbox("Cuisine", cuisines, cuisines.index(saved["cuisine"]),
                                             key=_key(name, "cuisine"), **save)
            inputs["max_minutes"] = c2.number_input("Max minutes (0 = any)", 0, 600, saved["max_minutes"], step=5,
                                                    key=_key(name, "max_minutes"), **save)
            st.segmented_control("Mode", list(MODES), format_func=MODES.get, key="mode", default="compare",
                                 required=True, help="Compare two: vote to teach the model. "
                                 "Just cook: the model's top pick among the candidates (best-of-N).")
            st.slider("Candidates per round", 3, 12, 6, key="n_candidates",
                      help="More candidates give the model a better choice but take longer.")
            inputs["auto_next"] = st.toggle(
                "Next pair right after my vote", saved["auto_next"], key=_key(name, "auto_next"),
                help="On: your vote is saved and the next pair comes at once, with the saved vote named above it "
                     "(U still undoes it). Off: the pair stays, with both scores, until you press N.", **save)
        if not problem:
            with guarded("Reading the pantry"):
                _pantry_note(reading)
    return inputs, reading, problem


def _pantry_note(reading) -> None:
    if reading.note:
        st.warning(md(reading.note), icon=":material/help:")
    elif reading.unknown:
        st.caption("Not understood (kept as typed): " + md(", ".join(reading.unknown[:12])))


def _actions() -> None:
    """New pair (N) and undo (U), always visible, outside the round panel's fragment: a new
    pair reruns the whole app anyway (the pantry is saved and folded away), and a click right
    after typing in the pantry box sends both changes in one batch, which must belong to one
    scope (the browser warned "Multiple different fragmentIds detected in a single batch"
    while the buttons were inside the fragment). An undo may bring a pair back: a whole run."""
    mode = st.session_state.get("mode") or "compare"
    label = "Get two recipes" if mode == "compare" else "Just cook"
    with st.container(horizontal=True, gap="small"):
        st.button(label, type="primary", shortcut="N", on_click=_request_round, key="get_pair",
                  icon=":material/casino:", help="Keyboard: N")
        st.button("Undo my last vote", on_click=_undo, shortcut="U", key="undo", icon=":material/undo:",
                  help="Takes back the newest vote you cast in this browser session (keyboard: U). Votes from "
                       "other sessions are never undone here.")


def _show_cook(matchup) -> None:
    top = matchup.ranking[0]
    st.subheader("The model's top pick", anchor=False)
    st.caption(f"Best of {len(matchup.ranking)} candidates by the {md(matchup.model_label)} model.")
    recipe_card(top.recipe, matchup.pantry, amounts=matchup.amounts, score=(top.score, top.uncertainty), key="cook_top",
                explanation=top.explanation)
    table = pd.DataFrame([{"rank": k, "recipe": s.recipe.title, "score": s.score, "±": s.uncertainty,
                           "minutes": s.recipe.minutes} for k, s in enumerate(matchup.ranking, 1)])
    with st.expander("All candidates, best first"):
        st.dataframe(table, hide_index=True, column_config={"score": st.column_config.NumberColumn(format="%.3f"),
                                                            "±": st.column_config.NumberColumn(format="%.3f")})


SIDES = {"left": ("Left · key 1", "Top · key 1"), "right": ("Right · key 2", "Bottom · key 2")}


def _show_pair(matchup, revealed) -> None:
    if revealed:
        _revealed_message(matchup, revealed)
    else:
        _vote_bar()
    info = st.session_state.get("round_info") or {}
    if info.get("pantry_note"):
        st.caption(":material/help: " + md(info["pantry_note"]))
    cols = st.columns(2, gap="medium")
    for col, side, item in ((cols[0], "left", matchup.left_item), (cols[1], "right", matchup.right_item)):
        with col:
            wide, narrow = SIDES[side]
            if revealed and revealed["choice"] == side:
                wide, narrow = wide + " · your pick", narrow + " · your pick"
            recipe_card(item.recipe, matchup.pantry, label=side_label(wide, narrow), amounts=matchup.amounts,
                        score=(item.score, item.uncertainty) if revealed else None, key=side,
                        explanation=item.explanation if revealed else None,
                        actions=None if revealed else (lambda side=side: _pick_controls(side)))
    dropped = info.get("dropped")
    made = (f"from {info['candidates']} candidates by {md(matchup.generator)}" if info.get("candidates")
            else f"from candidates by {md(matchup.generator)}")
    st.caption(f"Pair chosen as **{matchup.why}** for the {md(matchup.model_label)} model {made}"
               + (f" ({dropped} near-duplicates dropped)" if dropped else "")
               + " · sides are randomised." + ("" if revealed else " Scores appear after you vote."))


def _vote_key(choice: str) -> str:
    """The key of this round's button for `choice` (one per round: see `_vote`)."""
    return f"vote_{choice}_r{st.session_state.get('_round_no')}"


def _pick_controls(side: str) -> None:
    """Inside a card, right under its title: the button that picks it, and reasons about it."""
    st.button("This one is better", key=_vote_key(side), on_click=_vote,
              args=(side, st.session_state.get("_round_no")),
              shortcut="1" if side == "left" else "2", type="primary", width="stretch",
              icon=":material/thumb_up:", help=f"Keyboard: {'1' if side == 'left' else '2'}")
    with st.expander("Why? (optional)"):
        st.pills("Reasons about this recipe", list(REASONS), selection_mode="multi", key=f"reasons_{side}",
                 label_visibility="collapsed")


def _vote_bar() -> None:
    """The choices that are about both recipes, above the cards."""
    with st.container(horizontal=True, gap="small", vertical_alignment="center", key="vote_bar"):
        st.markdown("**Which would you rather cook?**", width="content")
        here = st.session_state.get("_round_no")
        st.button("Tie", key=_vote_key("tie"), on_click=_vote, args=("tie", here), shortcut="3",
                  icon=":material/balance:", help="Keyboard: 3")
        st.button("Both bad", key=_vote_key("both_bad"), on_click=_vote, args=("both_bad", here), shortcut="4",
                  icon=":material/thumb_down:", help="Keyboard: 4")
        st.button("Skip", key="skip", on_click=_request_round, shortcut="S", icon=":material/skip_next:",
                  help="No vote; show another pair (keyboard: S)")
        st.toggle("Much better", key="much", help="Mark a strong preference (for the recipe you pick).")
        with st.popover("Note", icon=":material/edit_note:"):
            st.text_input("Note (optional)", key="note", max_chars=200, placeholder="Anything else?")


# After a vote cast low on a phone (the Bottom card's button) the next pair is drawn while the
# page stays scrolled down, past the saved message and the new Top card: bring the message
# back into view below the sticky header, only when it is above that (on a desktop it never
# moves the page).
SCROLL_TO_SAVED = """<script>/* vote %d */
(() => {
  let tries = 0;
  const look = () => {
    const el = [...document.querySelectorAll('[data-testid="stAlert"]')]
      .find((e) => e.textContent.includes('Saved vote #%d'));
    if (el) {
      const header = document.querySelector('[data-testid="stHeader"]');
      const under = header ? header.getBoundingClientRect().bottom : 0;  // the sticky header
      if (el.getBoundingClientRect().top < under) {
        el.style.scrollMarginTop = `${under + 8}px`;
        el.scrollIntoView({block: "start"});
      }
    } else if (tries++ < 20) {
      setTimeout(look, 50);
    }
  };
  look();
})();
</script>"""


def _last_saved_message(name: str) -> None:
    """After "next pair right after my vote": what was saved, above the new pair (scrolled
    into view when the vote was cast further down the page)."""
    last = st.session_state.get("_last_vote")
    if last and last["user"] == name and st.session_state.get("_last_saved") == last["vote_id"]:
        st.success(saved_vote_text(last["matchup"], last["vote_id"], last["choice"])
                   + " Here is the next pair; **Undo my last vote** (key **U**) takes that vote back and "
                     "brings its pair back.",
                   icon=":material/check_circle:")
        vote_id = int(last["vote_id"])
        st.html(SCROLL_TO_SAVED % (vote_id, vote_id), unsafe_allow_javascript=True)


def _revealed_message(matchup, revealed) -> None:
    st.success(f"{saved_vote_text(matchup, revealed['vote_id'], revealed['choice'])} Scores are now shown (model: "
               f"{md(matchup.model_label)}). Press **N** for the next pair, **U** to undo.",
               icon=":material/check_circle:")


# While a new pair is drawn, the old one must not vanish nor be half replaced. Each round is
# drawn in one of two slots, alternately; while the slot of the last round still holds
# elements of the previous run (Streamlit marks them data-stale="true" until the run ends),
# the new slot stays hidden, so the old pair stays whole on screen (faded) and the new one
# appears whole, at once, when the run ends.
ROUND_CSS = """<style>
.st-key-pp_round:has(.st-key-pp_slot_0 [data-stale="true"]) .st-key-pp_slot_1:has([data-stale="false"]),
.st-key-pp_round:has(.st-key-pp_slot_1 [data-stale="true"]) .st-key-pp_slot_0:has([data-stale="false"])
{ display: none; }
</style>"""


def _round_view(name: str) -> None:
    """The pair (or the top pick, or the first-time hint), in this round's slot."""
    matchup = st.session_state.get("matchup")
    info = st.session_state.get("round_info") or {}
    if matchup is None:
        st.info("Type what you have (or pick ingredients), then press **Get two recipes** (key **N**). "
                "Vote with **1** left, **2** right, **3** tie, **4** both bad, **S** skip, **U** undo.",
                icon=":material/keyboard:")
    elif info.get("mode") == "cook":
        _show_cook(matchup)
    else:
        _show_pair(matchup, st.session_state.get("revealed"))


@st.fragment
def _round_panel(name: str) -> None:
    """The round: vote count, its messages, and the pair or the top pick.

    A fragment: a vote, an undo, a reason or the "much better" toggle reruns only this
    panel (nothing else on the page or in the sidebar depends on them). Asking for a new
    pair (Skip, or a vote with "next pair right after my vote") reruns the whole app on
    purpose: the pantry above is saved and folded away.
    """
    # A new pair was asked for from inside the panel (Skip, a vote with "next pair right after my
    # vote"): the app run makes it. The panel is drawn first, as it was, and only then is the
    # app rerun: a fragment run that drew nothing would leave the browser to clear the whole
    # panel (all of it stale) until the app run drew it again, and the cards vanished meanwhile.
    # Inside the panel too, every element has a fixed place: the messages (present or not) are
    # in one container, so the pair's container is always the same element and is updated in
    # place; a message appearing above it used to take its place and drop the old pair at once.
    _apply_events()  # a vote or undo pressed in this panel: before anything reads the round's state
    want_round = bool(st.session_state.get("_want_round"))
    with guarded("The round"):
        _progress_line(name)
        with st.container():
            if not want_round:
                show_flashes()  # messages queued by callbacks when only this panel reruns
                _show_round_flashes()  # the round's own (a vote not saved, undo)
            if st.session_state.pop("_round_refused", False):
                st.warning("No new pair yet: the pantry text above cannot be used. Fix it there and press "
                           "**Get two recipes** again.", icon=":material/kitchen:")
            if not want_round:
                _last_saved_message(name)
        current = st.session_state.get("_round_no", 0) % 2
        with st.container(key="pp_round"):
            for slot in (0, 1):
                with st.container(key=f"pp_slot_{slot}"):
                    if slot == current:
                        _round_view(name)
    if want_round:
        st.rerun(scope="app")  # the app run makes the round (its flag is consumed there)



if user is None:
    _remember_pair(None)  # a pair belongs to a profile: none here
    _welcome()
else:
    _apply_events()  # a vote or undo whose callback ran before this run
    st.html(CARD_CSS + ROUND_CSS)
    st.title("Compare recipes", anchor=False)
    # the household choice: one recipe for several profiles (its own page; always drawn, same place)
    st.page_link("views/household.py", label="Cooking for several people? Rank for the household",
                 icon=":material/groups:")
    if st.session_state.get("_matchup_for") != user:  # a pair belongs to the profile it was made for
        if st.session_state.get("_matchup_for") is not None:  # another profile's pair: not this one's
            _remember_pair(None)
        for key in ("matchup", "revealed", "round_info"):
            st.session_state.pop(key, None)
        st.session_state["_matchup_for"] = user
    # Every element above the round panel is drawn on every run, in the same places (optional
    # messages go in containers that are always there): a fragment is known by its place on the
    # page, and a panel that moved was a new fragment, with stale widgets of the old one (the
    # browser's "Multiple different fragmentIds detected in a single batch") and cards that
    # vanished while the next pair was made.
    with st.container(), guarded("Checking the reward model"):
        scoring = scoring_model(user)
        if scoring is not None and scoring.problems:
            st.warning(model_problem_text(scoring), icon=":material/broken_image:")
    # kept until the new pair is made: a run interrupted while making it (a second press) leaves
    # the request for the next run instead of leaving the pair just voted on on screen
    want_round = st.session_state.get("_want_round", False)
    if not want_round:
        _restore_pair(user)
    inputs, reading, problem = _pantry_inputs(user, expanded=st.session_state.get("matchup") is None and not want_round)
    _actions()
    round_box = st.container()  # progress and the generator's notes; always here (see above)
    if want_round and problem:
        st.session_state["_round_refused"] = True  # the reason is shown under the pantry box
    elif want_round:
        with round_box, guarded("Getting recipes"):
            _save_inputs(user)
            _generate(user, st.session_state.get("mode") or "compare", inputs, reading, round_box)
    st.session_state.pop("_want_round", None)
    _round_panel(user)
    if not problem:
        with guarded("Preparing the next round"):
            _prefetch(inputs, reading)
