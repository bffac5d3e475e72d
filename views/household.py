"""Household: one pantry, one recipe for 2-6 profiles (`pantry.household`).

Pick who is eating, their diet limits (stored in each profile), the shared pantry; the
recipes are ranked for the group (limits first, then the least happy member protected) and
each member's predicted liking is worded beside each recipe. A vote between two of the
ranked recipes is cast for the household (stored for each member present, as one group
vote) or by one member (an ordinary vote). One library call per action; the words are here.
"""

from __future__ import annotations

import secrets

import streamlit as st

from pantry.domain.votes import Vote
from pantry.errors import PantryError
from pantry.generators import GenerationRequest
from pantry.household import (LIMITS, MAX_MEMBERS, MIN_MEMBERS, member_limits, plan_household,
                              set_member_limits)
from pantry.kitchen import read_pantry
from ui.common import current_profile, flash, guarded
from ui.resources import generator_choice, get_kitchen, get_lab
from ui.state import profile_view
from ui.text import md

lab = get_lab()
store = lab.store
user = current_profile()
LIKING_WORDS = {"likes": "likes it", "neutral": "is neutral", "would_rather_not": "would rather not"}
LIKING_ICONS = {"likes": ":material/sentiment_satisfied:", "neutral": ":material/sentiment_neutral:",
                "would_rather_not": ":material/sentiment_dissatisfied:"}
SHOWN = 5  # ranked recipes shown
EVERYONE = "__household__"
VOTED = "household_voted"  # (pair, voter) already saved from this ranking: a second click saves nothing


def _voted_key(first, second, voter: str) -> tuple:
    return frozenset((first.recipe.id, second.recipe.id)), voter


def _save_limits(member: str) -> None:
    try:
        set_member_limits(store, member, st.session_state.get(f"limits_{member}", []))
    except PantryError as e:
        flash("error", md(e))
    st.session_state.pop("household_ranking", None)  # limits changed: rank again
    st.session_state.pop(VOTED, None)


def _rank(members: list[str], pantry_text: str) -> None:
    choice, error = generator_choice()
    if choice is None:
        flash("error", f"No recipe generator available: {md(error)}")
        return
    try:
        reading = read_pantry(pantry_text or "", (), get_kitchen(), max_chars=lab.settings.max_pantry_chars)
        request = GenerationRequest(pantry=reading.pantry, amounts=reading.amounts, cooked=reading.cooked, n=8,
                                    seed=secrets.randbelow(2**31))
        st.session_state["household_ranking"] = plan_household(lab, choice, request, members)
        st.session_state.pop(VOTED, None)
    except PantryError as e:
        flash("error", md(e))


def _vote(ranking, first, second, outcome: str, voter: str) -> None:
    """One choice between the recipes shown left (`first`) and right (`second`)."""
    a, b = first.recipe.id, second.recipe.id
    pantry = ranking.pantry
    voted = st.session_state.setdefault(VOTED, set())
    if _voted_key(first, second, voter) in voted:  # a double click, or the same choice again
        flash("info", "Already saved for this pair: choose another pair or voter, or rank again.")
        return
    try:
        if voter == EVERYONE:
            ids = lab.cast_household_vote(ranking.members, a, b, outcome, left="a", pantry=pantry)
            flash("success", f"Saved for the household ({len(ids)} members).")
        else:
            lab.cast_vote(Vote(user=voter, a=a, b=b, outcome=outcome, left="a", pantry=pantry))
            flash("success", f"Saved as {md(voter)}'s own vote.")
        voted.add(_voted_key(first, second, voter))
    except PantryError as e:
        flash("error", md(e))


def _liking_line(pick) -> str:
    return " · ".join(f"{LIKING_ICONS[ms.liking]} {md(ms.member)} {LIKING_WORDS[ms.liking]}" for ms in pick.members)


st.title("Household", anchor=False)
st.caption("One pantry, one recipe for everyone: each member's own model scores the recipes, diet limits "
           "remove recipes first, and the ranking looks after the least happy member.")

with guarded("The household page"):
    users = list(profile_view(user).users)
    if len(users) < MIN_MEMBERS:
        st.info("A household needs at least two profiles: create another one in the sidebar.")
        st.stop()
    members = st.multiselect("Who is eating", users, default=[user] if user in users else [], key="household_members",
                             max_selections=MAX_MEMBERS, placeholder=f"Choose {MIN_MEMBERS} to {MAX_MEMBERS} profiles")
    if members:
        with st.expander("Diet limits (kept in each profile)", expanded=False):
            for m in members:
                key = f"limits_{m}"
                if key not in st.session_state:
                    st.session_state[key] = list(member_limits(store, m))
                st.multiselect(m, list(LIMITS), key=key, on_change=_save_limits, args=(m,),
                               placeholder="no limits")
    default_pantry = profile_view(user).pantry_text if user else ""
    pantry_text = st.text_area("The shared pantry", value=default_pantry, key="household_pantry", height=80,
                               placeholder="2 eggs, half an onion, spinach, leftover rice")
    ready = MIN_MEMBERS <= len(members) <= MAX_MEMBERS
    st.button("Rank for the household", type="primary", key="household_rank", disabled=not ready,
              on_click=_rank, args=(members, pantry_text), icon=":material/groups:")
    if not ready:
        st.caption(f"Choose {MIN_MEMBERS} to {MAX_MEMBERS} profiles.")

ranking = st.session_state.get("household_ranking")
if ranking is not None:
    with guarded("The household ranking"):
        st.subheader("Best for everyone", anchor=False)
        kinds = ", ".join(f"{md(m)}: {md(label)}" for m, (_, label) in ranking.models.items())
        st.caption(f"For {md(', '.join(ranking.members))} · models: {kinds}")
        if not ranking.ranked:
            st.warning("No recipe keeps to every member's diet limits: try another pantry or fewer limits.")
        for pick in ranking.ranked[:SHOWN]:
            with st.container(border=True):
                st.markdown(f"**{pick.rank}. {md(pick.recipe.title)}**")
                st.markdown(_liking_line(pick))
                with st.expander("Ingredients and method"):
                    st.markdown("\n".join(f"- {md(x)}" for x in pick.recipe.ingredients))
                    st.markdown("\n".join(f"{k}. {md(x)}" for k, x in enumerate(pick.recipe.steps, 1)))
        if ranking.removed:
            with st.expander(f"{len(ranking.removed)} recipe(s) removed by diet limits"):
                for recipe, why in ranking.removed:
                    st.markdown(f"- **{md(recipe.title)}**: {md('; '.join(why))}")
        if len(ranking.ranked) >= 2:
            st.subheader("Vote", anchor=False)
            top = ranking.ranked[:SHOWN]
            labels = {p.recipe.id: f"{p.rank}. {p.recipe.title}" for p in top}
            c1, c2 = st.columns(2)
            left_id = c1.selectbox("Left", list(labels), index=0, format_func=labels.get, key="household_left")
            right_id = c2.selectbox("Right", [i for i in labels if i != left_id], index=0, format_func=labels.get,
                                    key="household_right")
            first = next(p for p in top if p.recipe.id == left_id)
            second = next(p for p in top if p.recipe.id == right_id)
            voter = st.radio("Who is voting", [EVERYONE, *ranking.members], horizontal=True, key="household_voter",
                             format_func=lambda v: "The household (everyone here)" if v == EVERYONE else v)
            done = _voted_key(first, second, voter) in st.session_state.get(VOTED, set())
            b1, b2, b3 = st.columns(3)
            b1.button("Left is better", key="household_vote_left", on_click=_vote,
                      args=(ranking, first, second, "a", voter), width="stretch", disabled=done)
            b2.button("Right is better", key="household_vote_right", on_click=_vote,
                      args=(ranking, first, second, "b", voter), width="stretch", disabled=done)
            b3.button("About equal", key="household_vote_tie", on_click=_vote,
                      args=(ranking, first, second, "tie", voter), width="stretch", disabled=done)
            if done:
                st.caption("Saved for this pair. Choose another pair or voter, or rank again.")
