"""Recipe cards: a compact header (side label, title, facts, the pick button), then the
ingredients (missing ones marked) and the method in an expander, so a round fits on one
screen. Every recipe string is escaped: recipes come from an LLM or an import."""

from __future__ import annotations

import logging
from typing import Callable, Sequence

import streamlit as st

from pantry.domain.recipes import Recipe
from ui.text import md

log = logging.getLogger("pantrypilot.app")

# Side labels say "Left"/"Right" side by side and "Top"/"Bottom" once the columns stack
# (Streamlit stacks columns below 640 px), and on a phone the page and card titles are
# smaller so a round's first pick button stays on the first screen whatever the dish's
# name. Our own markup, never outside text.
CARD_CSS = """<style>
.pp-narrow { display: none; }
@media (max-width: 640px) { .pp-wide { display: none; } .pp-narrow { display: inline; }
  [data-testid="stHeadingWithActionElements"] h1 { font-size: 2rem; }
  [data-testid="stHeadingWithActionElements"] h3 { font-size: 1.3rem; line-height: 1.3; } }
.pp-side { font-size: 0.85rem; opacity: 0.75; }
</style>"""


def side_label(wide: str, narrow: str) -> str:
    """HTML for a label that reads `wide` beside each other and `narrow` when stacked."""
    return f'<span class="pp-side"><span class="pp-wide">{wide}</span><span class="pp-narrow">{narrow}</span></span>'


def missing_lines(recipe: Recipe, pantry: Sequence[str], amounts=None) -> set[str]:
    if not pantry:
        return set()
    from pantry.kitchen import missing_ingredients

    try:
        if amounts:
            return set(missing_ingredients(recipe, pantry, amounts=amounts))
        return set(missing_ingredients(recipe, pantry))
    except Exception:  # noqa: BLE001 - a card must render even if matching fails
        log.warning("marking missing ingredients failed for recipe %s", recipe.id, exc_info=True)
        return set()


def facts(recipe: Recipe) -> str:
    parts = []
    if recipe.minutes:
        parts.append(f":material/timer: {recipe.minutes} min")
    if recipe.servings:
        parts.append(f":material/group: serves {recipe.servings}")
    if recipe.cuisine:
        parts.append(f":material/public: {md(recipe.cuisine)}")
    parts.append(f":material/list: {len(recipe.steps)} steps")
    return " · ".join(parts)


def explanation_lines(why, top: int = 6) -> list[str]:
    """Markdown lines for a `pantry.model.explain.Explanation`: a typical recipe's score, the
    largest named contributions against it, the smaller ones together, and "this dish
    overall"; they add up to the score."""
    from pantry.model.explain import BASELINE, REMAINDER, phrase

    shown = why.top(top)
    lines = [f"- {why.baseline:+.2f} {BASELINE} (the average of the recipes the model learned from); "
             "against it:"] if why.relative else []
    lines += [f"- {md(phrase(c))}" for c in shown]
    rest = why.contributions[len(shown):]
    if rest:
        lines.append(f"- {sum(c.contribution for c in rest):+.2f} {len(rest)} smaller features")
    lines.append(f"- {why.own:+.2f} {REMAINDER} (its text, and its own votes if rated)")
    lines.append(f"- **= {why.score:+.2f} score**")
    return lines


def show_explanation(why, top: int = 6) -> None:
    """Draw an explanation as a short list (see `explanation_lines`)."""
    st.markdown("\n".join(explanation_lines(why, top)))


def recipe_card(recipe: Recipe, pantry: Sequence[str], label: str = "", score: tuple[float, float] | None = None,
                key: str = "", actions: Callable[[], None] | None = None, amounts=None,
                steps_expanded: bool = False, explanation=None) -> None:
    """Draw one recipe in a bordered container.

    `label` is HTML made by `side_label` (ours); `actions` draws the card's buttons right
    under the title; `score` (mean, uncertainty) is shown if given; `explanation` (a
    `pantry.model.explain.Explanation`) adds a "Why this score" popover.
    """
    missing = missing_lines(recipe, pantry, amounts)
    with st.container(border=True, key=f"card_{key}" if key else None):
        if label:
            st.html(label)
        st.subheader(md(recipe.title), anchor=False)
        st.caption(facts(recipe))
        if actions is not None:
            actions()
        if score is not None:
            mean, unc = score
            st.metric("Model score", f"{mean:+.3f}", help="Higher is better for this profile's model; "
                      f"± is the ensemble's disagreement ({unc:.3f}).", delta=f"± {unc:.3f}", delta_color="off",
                      delta_arrow="off", delta_description="uncertainty")
        if explanation is not None:
            with st.popover("Why this score", icon=":material/help:", key=f"why_{key}" if key else None):
                show_explanation(explanation)
        head = f"**Ingredients** ({len(recipe.ingredients)}"
        head += f", {len(missing)} missing)" if pantry else ")"
        items = [f":orange[{md(line)} (missing)]" if line in missing else md(line) for line in recipe.ingredients]
        st.markdown(head + ": " + " · ".join(items))
        if recipe.steps:
            with st.expander(f"Method ({len(recipe.steps)} steps)", expanded=steps_expanded):
                st.markdown("\n".join(f"{i}. {md(s)}" for i, s in enumerate(recipe.steps, 1)))
