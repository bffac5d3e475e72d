"""Markup and prompt-like text from outside is shown as text on every page, never rendered.

The store is filled with recipes, votes, reasons, a remembered pantry and an import whose
strings carry HTML, `<script>`, markdown links and images, a bare URL, Streamlit's
`:red[...]` directive and `$...$` math; the composer and a fake Ollama's `/api/version`
answer return the same. Every page (views/*.py, and the sidebar on each) is then rendered
with AppTest, and every element whose text Streamlit renders as markdown (markdown,
captions, titles, headers, alerts, tab/expander/button labels) is checked: rendered with
CommonMark (+ linkify when installed) it holds no link, image, script or HTML from the
payload, and no unescaped `:red[` or `$`. Some pages must also show the payload (escaped),
so the check is not passed by pages that never show it. (ui.text.md itself and the Compare
cards are tests/pages/test_app_pages.py's; the uploaded file's name in a real browser is
tests/browser/test_browser.py's.)
"""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from helpers import assert_ok, open_app, store_at, texts, vote_button
from ui.text import md

EVIL = ("<script>alert(1)</script> <b>bold</b> [link](http://127.0.0.1:9/l) "
        "![img](http://127.0.0.1:9/i.png) :red[boom] $x^2$ **strong** http://127.0.0.1:9/bare")
PAGES = ("views/compare.py", "views/diagnostics.py", "views/retrain.py", "views/data.py")


def _rendered(body: str) -> str:
    from markdown_it import MarkdownIt
    try:
        import linkify_it  # noqa: F401
        return MarkdownIt("gfm-like").render(body)
    except ImportError:
        return MarkdownIt("commonmark").render(body)


def _bodies(at) -> list[str]:
    """Every string on the page that Streamlit renders as markdown."""
    out = []
    for kind in ("markdown", "caption", "title", "header", "subheader", "info", "warning", "error", "success",
                 "toast"):
        try:
            out += [str(e.value) for e in getattr(at, kind)]
        except (AttributeError, KeyError):
            continue
    for kind in ("tabs", "expander", "button", "toggle", "checkbox", "selectbox", "text_area", "text_input",
                 "multiselect", "radio", "status"):
        try:
            out += [str(getattr(e, "label", "") or "") for e in getattr(at, kind)]
        except (AttributeError, KeyError):
            continue
    return [b for b in out if b]


def _plain(body: str) -> str:
    """The text a reader sees of an escaped body (escapes and word joiners dropped)."""
    return body.replace("\\", "").replace("\u2060", "")


def _check_page(at, where: str) -> list[str]:
    """Assert nothing of the payload renders; returns the bodies that show it (escaped)."""
    assert not at.exception, (where, [e.message for e in at.exception])
    shown = []
    for body in _bodies(at):
        html = _rendered(body)
        bad = [m for m in ("<script", "<b>bold", "<strong>strong</strong>", 'href="http://127.0.0.1:9',
                           'src="http://127.0.0.1:9', "<img") if m in html]
        assert not bad, (where, bad, body)
        assert ":red[" not in body, (where, body)
        assert not re.search(r"(?<!\\)\$", body), (where, "unescaped $", body)
        assert "](http" not in body, (where, body)
        if "alert(1)" in _plain(body) or "127.0.0.1:9" in _plain(body):
            shown.append(_plain(body))
    return shown


@pytest.fixture
def evil_home(app_home, monkeypatch):
    """ana's store full of markup: recipes, votes with reasons, a pantry, an import, a model."""
    from pantry.generators.composer import OfflineComposer
    from pantry.storage.jsonl import import_jsonl
    from tests.helpers import seed_votes

    store = store_at(app_home)
    store.ensure_user("ana")
    recipes = seed_votes(store, "ana", n=12)
    lines = []
    for k, r in enumerate(recipes[:10]):
        d = r.to_dict()
        d.update(id=f"evil{k}", title=f"{EVIL[:200]} {k}", ingredients=[*d["ingredients"], EVIL[:150]],
                 steps=[*d["steps"], EVIL], cuisine=":red[x] $y$", tags=["<i>t</i>"])
        lines.append(json.dumps(d))
    for k in range(0, 10, 2):
        lines.append(json.dumps({"user": "ana", "a": f"evil{k}", "b": f"evil{k + 1}", "outcome": "a",
                                 "reasons": [EVIL[:150]], "pantry": [EVIL[:100]]}))
    import_jsonl(store, lines, name=f"{EVIL[:120]}.jsonl")
    store.set_user_pantry("ana", EVIL)
    real = OfflineComposer.generate

    def evil(self, request, on_progress=None):
        out = real(self, request, on_progress)
        return [dataclasses.replace(r, title=f"{EVIL[:200]} {k}", steps=(*r.steps, EVIL), cuisine=":red[x]")
                for k, r in enumerate(out)]

    monkeypatch.setattr(OfflineComposer, "generate", evil)
    return app_home


def test_every_page_shows_outside_markup_as_text(evil_home):
    at = open_app("ana", timeout=180)
    shown: dict[str, list[str]] = {"sidebar+compare": _check_page(at, "compare (start)")}
    assert_ok(at)
    # a pair (composer titles), a vote (scores revealed), an undo naming the pair
    assert at.text_area(key="pantry_text::ana").value == EVIL, "the remembered pantry is shown as typed"
    at.button(key="get_pair").click()
    at.run()
    shown["compare pair"] = _check_page(at, "compare pair")
    vote_button(at, "left").click()
    at.run()
    shown["compare voted"] = _check_page(at, "compare voted")
    at.button(key="undo").click()
    at.run()
    shown["compare undo"] = _check_page(at, "compare undo")
    assert any("alert(1)" in s for s in shown["compare undo"]) or shown["compare pair"], shown
    for page in PAGES[1:]:
        at.switch_page(page)
        at.run()
        shown[page] = _check_page(at, page)
    # the Data page: an import whose file name and bad lines carry the payload
    at.switch_page("views/data.py")
    at.run()
    bad = (json.dumps({"title": EVIL[:200], "ingredients": ["x"], "steps": ["y"]}) + "\n" + EVIL + "\n").encode()
    at.file_uploader(key="import_file").set_value((f"{EVIL[:100]}.jsonl", bad, "application/jsonl"))
    at.run()
    at.button(key="import_button").click()
    at.run()
    shown["data import"] = _check_page(at, "data import")
    assert any("bad line" in s and "alert(1)" in s for s in shown["data import"]), shown["data import"]
    assert shown["compare pair"], "the recipe titles are on the Compare page (escaped)"


def test_an_ollama_version_string_with_markup_is_text_in_the_sidebar(app_home, monkeypatch):
    """`/api/version` is outside text: the sidebar names the server with it, escaped."""
    from tests.ollama_server import FakeOllama

    monkeypatch.setenv("PANTRY_GENERATOR", "auto")
    monkeypatch.setenv("PANTRY_OLLAMA_MODEL", "llama3.2:3b")
    store_at(app_home).ensure_user("ana")
    with FakeOllama(models=("llama3.2:3b",), version=EVIL[:120]) as server:
        monkeypatch.setenv("OLLAMA_HOST", server.url)
        at = open_app("ana", timeout=180)
    shown = _check_page(at, "sidebar, Ollama up with a markup version string")
    assert any(s.startswith("Ollama <script>alert(1)</script>") for s in shown), shown


def test_the_saved_vote_names_each_score_winner_first():
    """A vote for the right-hand card reads "B beat A" with B's score first (the browser walk
    found the scores in left/right order after a sentence naming the winner first)."""
    from pantry.compare import Matchup, Scored
    from pantry.domain.recipes import Recipe
    from ui.wording import saved_vote_text as _saved_text

    a = Scored(Recipe(id="ra", title="Diner Omelette", ingredients=("egg",), steps=("cook",), minutes=10), -0.94, 0.1)
    b = Scored(Recipe(id="rb", title="Squash Sabzi", ingredients=("squash",), steps=("cook",), minutes=30), -0.81, 0.1)
    m = Matchup(a, b, "a", "informative", "heuristic", "heuristic", "offline-composer", ("egg",))
    right = _saved_text(m, 29, "right")
    assert "Squash Sabzi beat Diner Omelette" in right and "The model agreed" in right
    assert right.endswith("(scores: Squash Sabzi -0.81, Diner Omelette -0.94).")
    left = _saved_text(m, 30, "left")
    assert "The model disagreed" in left and left.endswith("(scores: Diner Omelette -0.94, Squash Sabzi -0.81).")
    assert "scores" not in _saved_text(m, 31, "tie")


def test_explanation_lines_start_from_a_typical_recipe_and_add_up():
    """The card's "why this score": the typical recipe's score first (when the model has one),
    then the parts against it, the remainder and the score; an old model's list has no baseline."""
    import math

    from pantry.model.explain import Contribution, Explanation
    from ui.cards import explanation_lines

    quick = Contribution("log_minutes", "cooking time", math.log1p(20) / math.log1p(180), 0.6)
    why = Explanation(1.0, (quick,), 0.4, baseline=0.3, relative=True)  # remainder: baseline + 0.1 own
    lines = explanation_lines(why)
    assert lines[0].startswith("- +0.30 a typical recipe") and lines[1] == f"- {md('+0.60 cooking time (20 min)')}"
    assert lines[-2].startswith("- +0.10 this dish overall") and lines[-1] == "- **= +1.00 score**"
    assert math.isclose(why.total, why.score)
    old = explanation_lines(Explanation(0.7, (quick,), 0.1))
    assert "typical" not in "\n".join(old) and old[0] == f"- {md('+0.60 cooking time (20 min)')}"
