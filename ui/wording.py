"""Display names of the library's table columns and the votes table in words, in one place.

The library returns tables keyed by field ids (`versions_table`: the stored metrics' keys;
`retrain_comparison`: `CrossValidation`'s fields; `metrics_table`: its `METRIC_COLUMNS`); the pages show them under these names and
give number formats by id, so a renamed heading never breaks a format. The votes table's
"what was chosen" is worded here from the vote's own columns (`votes_in_words`), and so is
the line that confirms a saved vote (`saved_vote_text`), and what a version carries of other
people's verdicts (`verdicts_line`).
"""

from __future__ import annotations

from typing import Mapping

import pandas as pd
import streamlit as st

from pantry.domain.votes import Vote, describe_vote
from ui.text import md

COLUMN_NAMES = {
    # versions_table
    "decisive_votes": "decisive votes",
    "cv_accuracy": "held-out accuracy",
    "cv_low": "95% low",
    "cv_high": "95% high",
    "cv_pairs": "held-out votes",
    "cv_folds": "folds",
    # metrics_table (Scores & diagnostics)
    "distinct": "distinct scores",
    "distinct_ratio": "distinct ratio",
    "mode_share": "mode share",
    "iqr": "IQR",
    "mean_uncertainty": "mean uncertainty",
    "in_sample_accuracy": "agreement with votes",
    "in_sample_votes": "votes checked",
    "ece": "ECE",
    # retrain_comparison
    "pairs": "held-out votes",
    "accuracy": "strict accuracy",
    "low": "95% low",
    "high": "95% high",
    "tie_rate": "tie rate",
    "loss": "held-out loss",
}


def column_name(column: str) -> str:
    """The heading shown for a column id (the id itself when it needs no other name)."""
    return COLUMN_NAMES.get(column, column)


def worded(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with its column ids replaced by their display names (a new frame)."""
    return frame.rename(columns=column_name)


def number_formats(formats: Mapping[str, str]) -> dict:
    """st.dataframe's `column_config` for a `worded` frame, from printf formats keyed by column id."""
    return {column_name(c): st.column_config.NumberColumn(format=f) for c, f in formats.items()}


def _value(x):
    return None if x is None or (isinstance(x, float) and x != x) else x


def votes_in_words(frame: pd.DataFrame) -> pd.Series:
    """What was chosen in each vote of a `votes_frame` (columns user, a, b, a_title, b_title,
    outcome, strength, left), in words: "left: Smoky Shakshuka beat Zesty Grain Bowl"."""
    words = [describe_vote(Vote(r.user, r.a, r.b, r.outcome, strength=_value(r.strength), left=_value(r.left)),
                           {r.a: _value(r.a_title), r.b: _value(r.b_title)})
             for r in frame[["user", "a", "b", "a_title", "b_title", "outcome", "strength", "left"]].itertuples()]
    return pd.Series(words, index=frame.index, dtype=object)


def consistency_note(metrics: Mapping) -> str:
    """", your own consistency 78% (no model can reach more)": the rater's figure a personal
    version recorded (`rater_ceiling`, `rater_weight`), worded for beside the model's accuracy;
    "" when the version recorded none or the votes do not show it yet."""
    ceiling, weight = metrics.get("rater_ceiling"), metrics.get("rater_weight")
    if not isinstance(ceiling, (int, float)) or ceiling != ceiling:
        return ""
    text = f", your own consistency {ceiling:.0%} (no model can reach more)"
    if isinstance(weight, (int, float)) and weight < 1:
        text += f"; each of your votes counted {weight:.2f} in training"
    return text


def model_problem_words(problem) -> str:
    """A stored version that cannot score (`pantry.lab.ModelProblem`) in words: "the personal
    model v2 (weights file user-ana-....npz): <the loader's message>"."""
    return f"the {problem.kind} model v{problem.version_id} (weights file {problem.file}): {problem.message}"


def saved_vote_text(matchup, vote_id: int, choice: str) -> str:
    """'Saved vote #3: A beat B. The model agreed (scores: A 1.20, B 0.40).' (escaped): the scores in
    the sentence's order, the winner's first, whichever side it was on."""
    left, right = matchup.left_item.recipe.title, matchup.right_item.recipe.title
    said = {"left": f"{left} beat {right}", "right": f"{right} beat {left}",
            "tie": f"{left} and {right} are about equal", "both_bad": f"both {left} and {right} are bad"}[choice]
    ls, rs = matchup.left_item.score, matchup.right_item.score
    model_pref = "left" if ls > rs else "right" if rs > ls else None
    agree = ""
    if choice in ("left", "right"):
        agree = (" The model agreed" if model_pref == choice else
                 " The model scored them equally" if model_pref is None else " The model disagreed")
        (win, ws), (lose, los) = ((left, ls), (right, rs)) if choice == "left" else ((right, rs), (left, ls))
        agree += f" (scores: {md(win)} {ws:.2f}, {md(lose)} {los:.2f})."
    return f"Saved vote #{vote_id}: {md(said)}.{agree}"


def verdicts_line(verdicts: dict) -> str:
    """What a version carries of other people's verdicts on dishes (`crowd_items.verdict_summary`),
    in words."""
    n, own = verdicts["recipes"], verdicts["own_factor"]
    if not verdicts["personal"]:
        return (f"other people's verdicts on {n:,} dishes carry to a newcomer (a dish they rated keeps their "
                f"verdict until the newcomer votes on it); a newcomer's own votes move a dish from it with "
                f"{own:.2g} x the usual freedom (1: as freely as with no crowd).")
    near = verdicts["like_you"]
    like = ""
    if near:
        share = "All of them" if near["recipes"] == n else f"{near['recipes']:,} of them"
        axes = int(near.get("axes") or 0)
        said = (f"this profile's taste on {axes} {'axis' if axes == 1 else 'axes'} of taste that {near['raters']:,} "
                f"people's votes share" if axes else
                f"what the {near['raters']:,} people who agreed with this profile more often than not said")
        how = ("on people with as few votes as this profile, which has too few to judge it by itself"
               if near.get("judged") == "crowd" else
               "by how well it predicted this profile's votes on half of its rated dishes from the other half")
        like = f" {share} use {said}, at weight {near['scale']:g} of at most 1 (chosen {how})."
        if near.get("stands_in"):
            like += (" On every dish they judged, rated or not, this replaces what this profile's own votes taught "
                     "the model from a dish's ingredients and kind (for people with as many votes, it ordered more of "
                     "their votes right).")
    return (f"{n:,} dishes this profile has not rated yet are scored partly from other people's votes on them.{like} "
            f"Its own votes still move a dish's score ({own:.2g} x the usual freedom; 1: as freely as if nobody "
            f"else had voted).")
