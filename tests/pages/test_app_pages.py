"""AppTest tests for every page of the Streamlit app (docs/ARCHITECTURE.md, Testing layers, 2)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from helpers import assert_ok as _ok, open_app, store_at as _store, texts as _texts
from tests.helpers import REPO, camp_votes, seed_votes, shared_view_votes, train_two_profiles, vote_button

TIMEOUT = 120


def _app(profile: str | None = "ana") -> AppTest:
    return open_app(profile, timeout=TIMEOUT)


def test_first_start_is_welcoming_and_works(app_home):
    at = _app(None)
    _ok(at)
    assert any("Welcome" in t for t in _texts(at.title))
    assert any("Create a profile" in t for t in _texts(at.markdown))
    at.text_input(key="welcome_name").input("ana")
    at.button(key="welcome_start").click()
    at.run()
    _ok(at)
    assert at.session_state["profile"] == "ana"
    assert any("Compare recipes" in t for t in _texts(at.title))


def test_new_profile_name_is_validated(app_home):
    at = _app(None)
    at.text_input(key="new_profile_name").input("bad/name")
    at.button(key="create_profile").click()
    at.run()
    assert not at.exception
    assert any("Cannot create that profile" in t for t in _texts(at.error))
    assert _store(app_home).list_users() == []


def test_a_pasted_long_name_is_named_by_its_limit_not_dropped(app_home):
    """The name boxes have no max_chars: the browser would drop a longer paste whole and the
    page then said "user name is empty"; the library names the 40-character limit instead."""
    at = _app(None)
    for key in ("new_profile_name", "welcome_name"):
        assert not at.text_input(key=key).max_chars  # 0 or None: no limit in the browser
    at.text_input(key="new_profile_name").input("<b>x</b> \U0001F373 " + "x" * 200)
    at.button(key="create_profile").click()
    at.run()
    errors = _texts(at.error)
    assert any("limit 40" in t for t in errors) and not any("empty" in t for t in errors), errors
    assert _store(app_home).list_users() == []


def test_vote_through_compare_is_saved_then_undone(app_home):
    _store(app_home).ensure_user("ana")
    at = _app()
    _ok(at)
    at.text_area(key="pantry_text::ana").input("4 eggs, spinach, feta, rice, an onion")
    at.toggle(key="auto_next::ana").set_value(False)  # the pair stays after the vote, with its scores
    at.button(key="get_pair").click()
    at.run()
    _ok(at)
    matchup = at.session_state["matchup"]
    assert matchup.a.recipe.id != matchup.b.recipe.id
    assert not at.metric, "scores stay hidden until the vote"
    assert not any("this dish overall" in t for t in _texts(at.markdown)), "and so do their reasons"
    assert matchup.a.explanation is not None and math.isclose(matchup.a.explanation.total, matchup.a.score,
                                                               rel_tol=1e-9, abs_tol=1e-9)
    at.toggle(key="much").set_value(True)
    vote_button(at, "left").click()
    at.run()
    _ok(at)
    store = _store(app_home)
    votes = store.votes("ana")
    assert len(votes) == 1
    vote = votes[0]
    assert vote.outcome == matchup.left and vote.left == matchup.left and vote.strength == "much"
    assert {vote.a, vote.b} == {matchup.a.recipe.id, matchup.b.recipe.id}
    assert vote.generator == "offline-composer" and vote.pantry
    assert len(at.metric) == 2, "both scores are revealed after the vote"
    assert sum("this dish overall" in t for t in _texts(at.markdown)) == 2, "why each score, on demand"
    assert any("**1** vote by **ana**" in t for t in _texts(at.markdown))
    assert store.get_user_pantry("ana").startswith("4 eggs"), "pantry remembered per profile"

    at.button(key="undo").click()
    at.run()
    _ok(at)
    assert store.votes("ana") == []
    assert store.votes("ana", include_deleted=True)[0].deleted
    assert any("Undid your vote (left" in t or "Undid your vote (right" in t for t in _texts(at.success))
    assert not at.metric, "the pair can be voted on again after an undo"


def test_every_page_loads(app_home):
    store = _store(app_home)
    store.ensure_user("ana")
    seed_votes(store, "ana", n=4)
    at = _app()
    _ok(at)
    for page, title in (("views/diagnostics.py", "Scores & diagnostics"), ("views/retrain.py", "Retrain"),
                        ("views/data.py", "Data"), ("views/compare.py", "Compare recipes")):
        at.switch_page(page)
        at.run()
        _ok(at)
        assert any(title in t for t in _texts(at.title)), (page, _texts(at.title))
        assert at.sidebar.selectbox(key="profile_pick").value == "ana"


def test_retrain_creates_a_version_and_activates_it(app_home):
    from pantry.domain.votes import Vote

    store = _store(app_home)
    recipes = seed_votes(store, "ana", n=14)
    # four pairs judged again, sides swapped, one of them the other way: a rater who is not fully consistent
    first = {(v.a, v.b): v.outcome for v in store.votes("ana")}
    store.add_votes([Vote(user="ana", a=recipes[2 * k].id, b=recipes[2 * k + 1].id,
                          outcome=first[(recipes[2 * k].id, recipes[2 * k + 1].id)] if k else
                          {"a": "b", "b": "a"}[first[(recipes[0].id, recipes[1].id)]], left="b" if k % 2 else "a")
                     for k in range(4)])
    at = _app()
    at.switch_page("views/retrain.py")
    at.run()
    _ok(at)
    at.number_input(key="hp_members").set_value(2)
    at.button(key="retrain").click()
    at.run()
    _ok(at)
    personal = store.model_versions("ana", include_global=False)
    assert len(personal) == 1 and not personal[0].active
    result = at.session_state["train_result"]  # Lab's RetrainPreview
    assert result.personal_version == personal[0].id
    assert result.new.pairs > 0 and result.history
    at.button(key="activate_new").click()
    at.run()
    _ok(at)
    assert store.active_model("ana").id == personal[0].id
    assert any(f"Personal v{personal[0].id}" in t for t in _texts(at.sidebar.success))
    # the rater's own consistency beside the model's accuracy (issue 22), from the version's metrics
    metrics = store.get_model_version(personal[0].id).metrics
    assert 0 < metrics["rater_weight"] < 1 and 0.5 < metrics["rater_ceiling"] < 1
    assert any(f"your own consistency {metrics['rater_ceiling']:.0%}" in t for t in _texts(at.sidebar.caption))


def test_retrain_with_too_few_votes_explains(app_home):
    store = _store(app_home)
    seed_votes(store, "ana", n=3)
    at = _app()
    at.switch_page("views/retrain.py")
    at.run()
    _ok(at)
    assert at.button(key="retrain").disabled
    assert any("3** decisive votes" in t for t in _texts(at.markdown))


def _save_model(store, home, weight_scale: float, name: str) -> int:
    from pantry.model.features import FEATURE_NAMES, FEATURE_SPEC
    from pantry.model.reward import RewardModel

    dim = 384 + len(FEATURE_NAMES)
    model = RewardModel.new(dim, 3, "all-MiniLM-L6-v2", FEATURE_SPEC, seed=1)
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for k, m in enumerate(model.members):
            m.linear.weight.copy_(torch.randn(m.linear.weight.shape, generator=gen) * weight_scale)
            m.linear.bias.fill_(0.25 if weight_scale == 0 else 0.0)
    path = home / f"{name}.pt"
    model.save(path)
    return store.add_model_version(None, path, "all-MiniLM-L6-v2", {"n_decisive": 0}, {})


def test_diagnostics_flags_a_collapsed_model_not_a_healthy_one(app_home):
    store = _store(app_home)
    seed_votes(store, "ana", n=10)
    collapsed = _save_model(store, app_home, 0.0, "collapsed")
    healthy = _save_model(store, app_home, 1.0, "healthy")
    at = _app()
    at.switch_page("views/diagnostics.py")
    at.run()
    _ok(at)
    at.radio(key="diag_source").set_value("all")
    at.multiselect(key="diag_versions").set_value([collapsed, healthy])
    at.button(key="diag_run").click()  # the controls are a form: applied when it is submitted
    at.run()
    assert not at.exception
    errors = _texts(at.error)
    from ui.text import md

    assert any(t.startswith(f"**v{collapsed}**") and md("20 of 20 recipes share one score: collapse") in t
               for t in errors), errors
    assert not any(t.startswith(f"**v{healthy}**") and "collapse" in t for t in errors + _texts(at.warning))
    charts = at.get("vega_lite_chart")
    assert len(charts) >= 4, "score histogram, margins, reliability, distance and uncertainty charts"
    assert at.get("download_button")
    # why this score, for a chosen version and recipe: named parts and the remainder, summing to it
    at.selectbox(key="why_version").set_value(f"v{healthy}")
    at.run()
    why = "\n".join(_texts(at.markdown))
    assert "this dish overall" in why and "score**" in why

    at.multiselect(key="diag_versions").set_value([healthy])
    at.button(key="diag_run").click()
    at.run()
    assert not any("collapse" in t for t in _texts(at.error))


def test_data_page_import_reports_bad_lines_and_imports_good_files(app_home):
    store = _store(app_home)
    store.ensure_user("ana")
    at = _app()
    at.switch_page("views/data.py")
    at.run()
    _ok(at)
    bad = b'{"title": "Toast", "ingredients": ["bread"], "steps": ["toast it"]}\nnot json\n{"user": "ana", "a": "x", "b": "y", "outcome": "a"}\n'
    at.file_uploader(key="import_file").set_value(("bad.jsonl", bad, "application/jsonl"))
    at.run()
    at.button(key="import_button").click()
    at.run()
    assert not at.exception
    assert any("2 bad lines; nothing was imported" in t for t in _texts(at.error))
    [report] = [d.value for d in at.dataframe if "problem" in d.value.columns]
    assert sorted(set(report["line"])) == [2, 3]
    assert any("not valid JSON" in p for p in report["problem"])
    assert store.count_recipes() == 0

    recipe = {"id": "r1", "title": "Toast", "ingredients": ["bread"], "steps": ["toast it"]}
    other = {"id": "r2", "title": "Rice", "ingredients": ["rice"], "steps": ["boil it"]}
    good = "\n".join(json.dumps(o) for o in (recipe, other, {"a": "r1", "b": "r2", "outcome": "b"})).encode()
    at.file_uploader(key="import_file").set_value(("good.jsonl", good, "application/jsonl"))
    at.run()
    at.button(key="import_button").click()
    at.run()
    _ok(at)
    assert any("2 recipes, 1 votes" in t for t in _texts(at.success))
    [vote] = store.votes("ana")
    assert vote.outcome == "b"
    assert at.get("download_button"), "export buttons"

    at.multiselect(key="vote_pick").set_value([vote.id])
    at.run()
    at.button(key="delete_votes").click()
    at.run()
    _ok(at)
    assert store.votes("ana") == []
    at.toggle(key="filter_deleted").set_value(True)
    at.run()
    at.multiselect(key="vote_pick").set_value([vote.id])
    at.run()
    at.button(key="restore_votes").click()
    at.run()
    assert len(store.votes("ana")) == 1


@pytest.mark.parametrize("case", ["up", "model missing", "down"])
def test_sidebar_shows_ollama_status(app_home, monkeypatch, case):
    from ollama_server import FakeOllama, closed_port_url

    monkeypatch.setenv("PANTRY_GENERATOR", "auto")
    monkeypatch.setenv("PANTRY_OLLAMA_MODEL", "llama3.2:3b")
    with FakeOllama(models=("llama3.2:3b",) if case == "up" else ("qwen2.5:0.5b",)) as server:
        monkeypatch.setenv("OLLAMA_HOST", closed_port_url() if case == "down" else server.url)
        at = _app()
    _ok(at)
    if case == "up":
        assert any("Ollama up" in t for t in _texts(at.sidebar.success))
    elif case == "model missing":
        assert any("Ollama model missing" in t for t in _texts(at.sidebar.warning))
    else:
        assert any("Ollama down" in t for t in _texts(at.sidebar.info))


def test_two_sessions_voting_at_once_lose_no_vote(app_home):
    store = _store(app_home)
    store.ensure_user("ana")
    store.ensure_user("bo")
    sessions = {}
    for name in ("ana", "bo"):
        at = _app(name)
        at.text_area(key=f"pantry_text::{name}").input("eggs, rice, spinach, onion")
        at.button(key="get_pair").click()
        at.run()
        _ok(at)
        sessions[name] = at
    assert sessions["ana"].session_state["matchup"] is not sessions["bo"].session_state["matchup"]
    for name, at in sessions.items():  # both pairs are on screen; now both vote
        vote_button(at, "right").click()
        at.run()
        _ok(at)
    assert [v.user for v in store.votes()] == ["ana", "bo"]


def test_no_profile_in_the_url_asks_instead_of_picking_someone(app_home):
    store = _store(app_home)
    for name in ("gz-u01", "tester"):
        store.ensure_user(name)
    at = _app(None)
    _ok(at)
    assert any("Welcome" in t for t in _texts(at.title))
    assert "profile" not in at.session_state or at.session_state["profile"] is None
    assert at.sidebar.selectbox(key="profile_pick").value is None
    at.selectbox(key="welcome_pick").set_value("tester")
    at.run()
    _ok(at)
    assert at.session_state["profile"] == "tester"
    assert at.query_params["profile"] in ("tester", ["tester"])


def test_a_link_to_an_unknown_profile_is_reported_not_replaced(app_home):
    _store(app_home).ensure_user("gz-u01")
    at = _app("maria")
    _ok(at)
    assert "profile" not in at.session_state or at.session_state["profile"] is None
    assert any("no profile named 'maria'" in t for t in _texts(at.sidebar.warning))



def test_a_link_names_a_profile_whatever_its_case(app_home):
    """Found in real Chromium: "Ana" typed as a new profile opened ana, but ?profile=WALKER said
    there was no such profile. A link now finds the profile as every lookup does."""
    _store(app_home).ensure_user("walker")
    at = _app("WALKER")
    _ok(at)
    assert at.session_state["profile"] == "walker"
    assert at.query_params["profile"] in ("walker", ["walker"])
    assert not any("no profile named" in t for t in _texts(at.sidebar.warning))

def _pair(at, name):
    at.text_area(key=f"pantry_text::{name}").input("eggs, rice, spinach, onion")
    at.button(key="get_pair").click()
    at.run()
    _ok(at)


def test_undo_takes_back_only_this_sessions_votes_and_names_the_pair(app_home):
    store = _store(app_home)
    store.ensure_user("ana")
    mine, other = _app("ana"), _app("ana")
    _pair(mine, "ana")
    vote_button(mine, "left").click()
    mine.run()
    _pair(other, "ana")
    vote_button(other, "right").click()
    other.run()
    _ok(other)
    first, second = store.votes("ana")
    mine.button(key="undo").click()
    mine.run()
    _ok(mine)
    assert [v.id for v in store.votes("ana")] == [second.id], "the other session's newer vote stays"
    titles = {s.recipe.id: s.recipe.title for s in mine.session_state["matchup"].ranking}
    winner = titles[first.winner]
    said = [t.replace("\\", "").replace("\u2060", "") for t in _texts(mine.success)]
    assert any(f"Undid your vote (left: {winner} beat" in t for t in said), said
    mine.button(key="undo").click()  # U again: nothing left in this session, and it says so
    mine.run()
    _ok(mine)
    assert any("Nothing to undo" in t for t in _texts(mine.info)), _texts(mine.info)
    assert not any("Undid" in t for t in _texts(mine.success)), "the old 'Undid' message is gone"
    assert [v.id for v in store.votes("ana")] == [second.id]


def test_reasons_say_which_recipe_they_are_about(app_home):
    store = _store(app_home)
    store.ensure_user("ana")
    at = _app("ana")
    _pair(at, "ana")
    at.session_state["reasons_left"] = ["bland"]
    at.session_state["reasons_right"] = ["looks delicious", "quick and easy"]
    vote_button(at, "right").click()
    at.run()
    _ok(at)
    [vote] = store.votes("ana")
    assert vote.reasons == ("left: bland", "right: looks delicious", "right: quick and easy")
    from pantry.compare import reason_about

    right_id = vote.b if vote.left == "a" else vote.a
    assert reason_about(vote.reasons[1], vote) == (right_id, "looks delicious")


def test_uploaded_probe_set_is_scored_whole_with_no_error_before_a_file(app_home):
    store = _store(app_home)
    store.ensure_user("ana")
    at = _app()
    at.switch_page("views/diagnostics.py")
    at.run()
    at.radio(key="diag_source").set_value("upload")
    at.button(key="diag_run").click()
    at.run()
    _ok(at)  # no red error before a file is chosen
    assert any("Choose a recipes JSONL file" in t for t in _texts(at.info))
    lines = [json.dumps({"title": f"Dish {k}", "ingredients": [f"{k} g rice"], "steps": ["cook"]}) for k in range(520)]
    at.file_uploader(key="diag_upload").set_value(("probe.jsonl", "\n".join(lines).encode(), "application/jsonl"))
    at.button(key="diag_run").click()
    at.run()
    assert not at.exception  # (the heuristic's collapse alert on 520 look-alike dishes is expected)
    assert any("Probe set: 520 recipes" in t for t in _texts(at.caption)), "the whole file, not 500"
    at.number_input(key="diag_limit").set_value(100)
    at.button(key="diag_run").click()
    at.run()
    assert not at.exception
    assert any("Scoring 100 of 520 recipes" in t and "420 left out" in t for t in _texts(at.caption))


def test_a_bad_setting_is_named_on_every_page_without_a_traceback(app_home, monkeypatch):
    """PANTRY_DEVICE=gpu9 stops with one message naming the variable, on every page."""
    monkeypatch.setenv("PANTRY_DEVICE", "gpu9")
    for page in (None, "views/diagnostics.py", "views/retrain.py", "views/data.py"):
        at = open_app("ana", page=None)
        if page:
            at.switch_page(page)
            at.run()
        assert not at.exception, [e.message for e in at.exception]
        errors = [e.value.replace("\\", "") for e in at.error]
        assert len(errors) == 1 and "PANTRY_DEVICE='gpu9'" in errors[0] and "cannot start" in errors[0], errors


# --- outside text is shown literally (ui.text.md) --------------------------------------

EVIL_TITLE = "![x](http://127.0.0.1:9/x.png) :red[boom"
EVIL_STEP = "See http://127.0.0.1:9/steal or www.example.com, $x^2$ <b>bold</b> *now*"


def _rendered(markdown_text: str) -> str:
    """HTML that CommonMark + GFM-style linkify make of `markdown_text` (markdown-it-py)."""
    from markdown_it import MarkdownIt

    mdit = MarkdownIt("gfm-like") if _has_linkify() else MarkdownIt("commonmark")
    return mdit.render(markdown_text)


def _has_linkify() -> bool:
    try:
        import linkify_it  # noqa: F401
        return True
    except ImportError:
        return False


@pytest.mark.parametrize("raw", [EVIL_TITLE, EVIL_STEP, "[link](http://127.0.0.1:9/) <img src=x> `code` # head",
                                 "1. not a list - + | ~~s~~ :smile: :material/home: a@b.org \\ back",
                                 "Tomato & basil soup (quick, 20 min): 2-3 eggs; 50% feta!"])
def test_md_shows_outside_text_literally(raw):
    import html
    import re

    from ui.text import WJ, md

    out = md(raw)
    rendered = _rendered(out)
    assert "<img" not in rendered and "<a " not in rendered and "<em>" not in rendered and "<code>" not in rendered
    assert "<strong>" not in rendered and "<b>" not in rendered and "<ol" not in rendered and "<h1" not in rendered
    text = html.unescape(re.sub(r"<[^>]+>", "", rendered)).strip()
    assert text.replace(WJ, "") == raw, "the text reads exactly as typed"
    assert all(out[m.end():m.end() + 1] == WJ for m in re.finditer(r"\\:(?=\S)", out)), "no :red[, :emoji:, URL"
    assert not re.search(r"(?<!\\)[\[\]()*_`$<>!:]", out.replace("\\\\", "")), out


def test_md_leaves_ordinary_text_alone():
    from ui.text import md

    assert md("Smoky Shakshuka with spinach") == "Smoky Shakshuka with spinach"
    assert md("two\nlines\tand  spaces") == "two lines and spaces"
    assert md(None) == ""


def test_a_recipe_with_markdown_in_it_is_shown_literally_on_compare(app_home, monkeypatch):
    """An LLM (or an import) can title a recipe `![x](http://...)`: Compare shows it as typed."""
    import dataclasses

    from pantry.generators.composer import OfflineComposer
    from ui.text import md

    real = OfflineComposer.generate

    def evil(self, request, on_progress=None):
        out = real(self, request, on_progress)
        return [dataclasses.replace(r, title=f"{EVIL_TITLE} {k}", ingredients=(*r.ingredients, "http://127.0.0.1:9/a"),
                                    steps=(*r.steps, EVIL_STEP), cuisine=":red[x]") for k, r in enumerate(out)]

    monkeypatch.setattr(OfflineComposer, "generate", evil)
    _store(app_home).ensure_user("ana")
    at = _app()
    at.text_area(key="pantry_text::ana").input("eggs, rice, spinach")
    at.button(key="get_pair").click()
    at.run()
    _ok(at)
    titles = [t for t in _texts(at.subheader) if md("x.png") in t]
    assert len(titles) == 2, _texts(at.subheader)
    assert all(t.startswith(md(EVIL_TITLE)) for t in titles), titles
    bodies = _texts(at.markdown) + _texts(at.caption) + titles + _texts(at.warning) + _texts(at.info)
    assert any(md(EVIL_STEP) in b for b in bodies), "the step is shown, escaped"
    assert any(md("http://127.0.0.1:9/a") in b for b in bodies), "the ingredient URL is shown, escaped"
    for body in bodies:
        rendered = _rendered(body)
        assert "<img" not in rendered and "<a " not in rendered and "](http" not in body, body
        assert ":red[" not in body and "$x" not in body.replace("\\$", ""), body


# --- a model that cannot be loaded is never claimed --------------------------------------

@pytest.fixture
def broken_personal(app_home):
    """ana's active personal model with a truncated weights file; a good population model."""
    store = _store(app_home)
    out = train_two_profiles(store)
    personal = store.get_model_version(out.personal_version)
    from pathlib import Path

    path = Path(personal.path)
    path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 3)])
    return out


def test_sidebar_and_compare_name_the_model_that_really_scores(app_home, broken_personal):
    at = _app()
    assert not at.exception
    sidebar = _texts(at.sidebar.success) + _texts(at.sidebar.info) + _texts(at.sidebar.caption)
    assert not any(f"Personal v{broken_personal.personal_version}" in t for t in sidebar), sidebar
    assert any(f"Population v{broken_personal.population_version}" in t for t in _texts(at.sidebar.info)), sidebar
    [warning] = _texts(at.sidebar.warning)
    assert "cannot be used" in warning and "population" in warning and "weights file" in warning, warning
    assert not any("ana's decisive votes" in t for t in _texts(at.sidebar.caption)), "no figure of the unused model"
    assert any("cannot be used" in t for t in _texts(at.main.warning)), "Compare says it too"
    at.text_area(key="pantry_text::ana").input("eggs, rice, spinach")
    at.button(key="get_pair").click()
    at.run()
    assert not at.exception
    assert at.session_state["matchup"].model_kind == "population"
    assert any("population" in t for t in _texts(at.caption)), "the round names the model it used"


def test_diagnostics_leaves_out_a_broken_version_and_goes_on(app_home, broken_personal):
    at = _app()
    at.switch_page("views/diagnostics.py")
    at.run()
    assert not at.exception
    assert not _texts(at.main.error), _texts(at.main.error)
    assert any(f"v{broken_personal.personal_version}" in t and "left out" in t for t in _texts(at.main.warning))
    assert at.get("subheader") and any("Metrics" in t for t in _texts(at.subheader)) or \
        any("fewer than two recipes" in t for t in _texts(at.info)), "the other versions are still scored"


def test_a_card_whose_ingredient_matching_fails_logs_it_and_still_renders(monkeypatch, caplog):
    """ui.cards.missing_lines swallows a matching failure so the card renders, but says so in the log."""
    import pantry.kitchen
    from pantry.domain.recipes import Recipe
    from ui.cards import missing_lines

    def broken(*args, **kwargs):
        raise RuntimeError("matcher broke")

    monkeypatch.setattr(pantry.kitchen, "missing_ingredients", broken)
    recipe = Recipe(id="toast", title="Toast", ingredients=["bread"], steps=["toast it"])
    with caplog.at_level("WARNING", logger="pantrypilot.app"):
        assert missing_lines(recipe, ["bread"]) == set()
    assert "marking missing ingredients failed" in caplog.text and "matcher broke" in caplog.text


def _crowd_diagnostics(app_home, seed_store, user: str | None = None) -> AppTest:
    """The Scores page, scored on every stored recipe with the model that `seed_store(store)`'s
    votes train (one call, as the CLI's `train`): the population model, or `user`'s personal one."""
    from pantry.lab import Lab
    from pantry.model.training import TrainConfig
    from pantry.settings import Settings

    store = _store(app_home)
    seed_store(store)
    out = Lab(Settings.from_env(), store).train(user, TrainConfig(members=1), cv_folds=0)
    at = _app()
    at.switch_page("views/diagnostics.py")
    at.run()
    at.radio(key="diag_source").set_value("all")
    at.multiselect(key="diag_versions").set_value([out.personal_version if user else out.population_version])
    at.button(key="diag_run").click()
    at.run()
    _ok(at)
    return at


def _rescore_with_the_heuristic(at) -> None:
    at.multiselect(key="diag_versions").set_value(["heuristic"])
    at.button(key="diag_run").click()
    at.run()
    assert not at.exception  # (the heuristic's collapse alert on look-alike dishes is expected)


def test_diagnostics_shows_where_the_people_behind_a_crowd_model_differ(app_home):
    """A population model trained on three profiles carries the crowd's spread of tastes; the
    Scores page draws it for that version, and says when a chosen version has none."""
    at = _crowd_diagnostics(app_home, lambda store: [seed_votes(store, name, n=12, seed=k)
                                                     for k, name in enumerate(("ana", "bo", "cy"))])
    assert any("Where people differ" in t for t in _texts(at.subheader))
    specs = [json.dumps(c.proto.spec) if hasattr(c, "proto") else "" for c in at.get("vega_lite_chart")]
    assert any("where people differ" in s for s in specs), "the spread chart is drawn"
    _rescore_with_the_heuristic(at)
    assert any("Shown for a model trained on several profiles" in t for t in _texts(at.caption))


def test_diagnostics_says_when_other_peoples_verdicts_on_dishes_carry(app_home):
    """A population model of profiles who share a view of each dish keeps their verdicts; the
    Scores page says so for that version (and nothing for one without)."""
    at = _crowd_diagnostics(app_home, shared_view_votes)
    said = [t for t in _texts(at.caption) if "other people's verdicts on" in t]
    assert len(said) == 1 and "dishes carry to a newcomer" in said[0] and "own votes" in said[0]
    _rescore_with_the_heuristic(at)
    assert not any("other people's verdicts on" in t for t in _texts(at.caption))


def test_diagnostics_says_what_the_profiles_who_vote_alike_said(app_home):
    """Two camps of profiles disagree on every dish; a newcomer's personal model carries its own
    camp's verdicts on the dishes it never rated, and the Scores page says so for that version."""
    at = _crowd_diagnostics(app_home, lambda store: camp_votes(store, newcomer="newcomer"), user="newcomer")
    said = [t for t in _texts(at.caption) if "scored partly from other people's votes" in t]
    assert len(said) == 1 and "dishes this profile has not rated yet" in said[0]
    assert "use what the" in said[0] and "people who agreed with this profile more often than not said" in said[0]
