"""Recipe cards: title, facts, ingredients (missing ones marked), numbered steps, score."""

from __future__ import annotations

import html
from typing import Sequence

import streamlit as st

from pantry.recipes import Recipe


def _esc(text: str) -> str:
    """Escape Markdown so recipe text from an LLM cannot inject links or formatting."""
    text = html.escape(text, quote=False)
    for ch in "\\`*_{}[]<>()#+!|~$":
        text = text.replace(ch, "\\" + ch)
    return text


def missing_lines(recipe: Recipe, pantry: Sequence[str]) -> set[str]:
    if not pantry:
        return set()
    from pantry.kitchen import missing_ingredients

    try:
        return set(missing_ingredients(recipe, pantry))
    except Exception:  # noqa: BLE001 - a card must render even if matching fails
        return set()


def facts(recipe: Recipe) -> str:
    parts = []
    if recipe.minutes:
        parts.append(f":material/timer: {recipe.minutes} min")
    if recipe.servings:
        parts.append(f":material/group: serves {recipe.servings}")
    if recipe.cuisine:
        parts.append(f":material/public: {_esc(recipe.cuisine)}")
    parts.append(f":material/list: {len(recipe.steps)} steps")
    return " · ".join(parts)


def recipe_card(recipe: Recipe, pantry: Sequence[str], label: str = "", score: tuple[float, float] | None = None,
                key: str = "") -> None:
    """Draw one recipe in a bordered container. `score` (mean, uncertainty) is shown if given."""
    missing = missing_lines(recipe, pantry)
    with st.container(border=True, key=f"card_{key}" if key else None):
        if label:
            st.caption(label)
        st.subheader(_esc(recipe.title), anchor=False)
        st.caption(facts(recipe))
        if score is not None:
            mean, unc = score
            st.metric("Model score", f"{mean:+.3f}", help="Higher is better for this profile's model; "
                      f"± is the ensemble's disagreement ({unc:.3f}).", delta=f"± {unc:.3f}", delta_color="off",
                      delta_arrow="off", delta_description="uncertainty")
        head = f"**Ingredients** ({len(recipe.ingredients)}"
        head += f", {len(missing)} missing)" if pantry else ")"
        lines = [head]
        for line in recipe.ingredients:
            if line in missing:
                lines.append(f"- :orange[{_esc(line)}] :orange-badge[missing]")
            else:
                lines.append(f"- {_esc(line)}")
        st.markdown("\n".join(lines))
        if recipe.steps:
            st.markdown("**Steps**\n\n" + "\n".join(f"{i}. {_esc(s)}" for i, s in enumerate(recipe.steps, 1)))
