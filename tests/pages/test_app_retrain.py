"""AppTest tests of the Retrain page: one held-out figure, nothing activated without a click,
no highlighted Activate for a worse model, settings kept per profile, a meaningful loss chart."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from helpers import assert_ok as _ok, open_app, store_at as _store, texts as _texts
from tests.helpers import REPO, seed_votes, train_two_profiles

TIMEOUT = 180


def _retrain_page(profile: str = "ana") -> AppTest:
    return open_app(profile, "views/retrain.py", TIMEOUT)


def _charts(at: AppTest) -> list[tuple[dict, list[dict]]]:
    """Each chart's Vega-Lite spec and the rows of all its datasets."""
    import pyarrow as pa

    out = []
    for c in at.get("vega_lite_chart"):
        rows = []
        for ds in c.proto.datasets:
            rows += pa.ipc.open_stream(ds.data.data).read_pandas().to_dict("records")
        out.append((json.loads(c.proto.spec), rows))
    return out


def _active(store) -> tuple:
    pop = store.active_model(None)
    mine = store.active_model("ana")
    return (pop.id if pop else None, mine.id if mine else None)


@pytest.fixture
def trained_home(app_home):
    """Two profiles with votes, and an active population model and personal model for ana."""
    store = _store(app_home)
    out = train_two_profiles(store)
    assert _active(store) == (out.population_version, out.personal_version)
    return app_home


def test_retrain_activates_nothing_and_shows_one_held_out_figure(trained_home):
    store = _store(trained_home)
    before = _active(store)
    at = _retrain_page()
    at.number_input(key="hp_members").set_value(2)
    at.button(key="retrain").click()
    at.run()
    _ok(at)
    assert _active(store) == before, "training alone activates nothing (the population model included)"
    result = at.session_state["train_result"]  # the page keeps Lab's RetrainPreview
    new = store.get_model_version(result.personal_version)
    population = store.get_model_version(result.population_version)
    assert not new.active and not population.active
    m = new.metrics
    assert m["cv_folds"] == 5 and m["cv_pairs"] == result.new.pairs > 0
    assert m["cv_accuracy"] == result.new.accuracy
    assert m["cv_low"] <= m["cv_accuracy"] <= m["cv_high"]
    # the comparison table, the versions table and the chart show that same figure
    [table] = [d.value for d in at.dataframe if "strict accuracy" in d.value.columns]
    table = table.set_index("version")
    assert table.loc[f"new v{new.id}", "strict accuracy"] == m["cv_accuracy"]
    [current_label] = [v for v in table.index if v.startswith("current")]
    assert table.loc[current_label, "held-out votes"] == m["cv_pairs"], "same votes on both sides"
    [versions] = [d.value for d in at.dataframe if "held-out accuracy" in d.value.columns]
    # shown to two decimals; a column with a gap (a population version) is text, blank there, never "None"
    assert float(versions.set_index("id").loc[new.id, "held-out accuracy"]) == round(m["cv_accuracy"], 2)
    assert "None" not in versions.astype(str).to_string()
    assert "val accuracy" not in versions.columns and "train accuracy" not in versions.columns
    [(_, rows)] = [c for c in _charts(at) if "cross-validation" in json.dumps(c[0].get("title", ""))]
    assert {r["version"]: r["accuracy"] for r in rows if "accuracy" in r}[f"new v{new.id}"] == m["cv_accuracy"]

    at.button(key="keep_old").click()
    at.run()
    _ok(at)
    assert _active(store) == before, "Keep the current model keeps everything"
    assert any("nothing was activated" in t for t in _texts(at.info))

    at.button(key="retrain").click()
    at.run()
    _ok(at)
    result = at.session_state["train_result"]
    at.button(key="activate_new").click()
    at.run()
    _ok(at)
    assert _active(store) == (result.population_version, result.personal_version)


def _fake_preview(monkeypatch, store, new_correct: int, current_correct: int) -> None:
    from pantry.evaluation.diagnostics import wilson_interval
    from pantry.lab import Lab, RetrainPreview
    from pantry.model.training import CrossValidation

    def cv(correct: int) -> CrossValidation:
        low, high = wilson_interval(correct, 10)
        return CrossValidation(5, 10, correct, correct / 10, low, high, 0.0, 0.6, [correct / 10] * 5)

    def preview(self, user, cfg=None, folds=5, train_population=True, on_progress=None, on_epoch=None,
                on_fold=None):
        new = cv(new_correct)
        vid = store.add_model_version(user, "nowhere.pt", "all-MiniLM-L6-v2", {"n_decisive": 10, **new.metrics()})
        for k in range(3):
            on_epoch and on_epoch(type("E", (), {"epoch": k, "train_loss": 0.7 - 0.1 * k, "val_loss": None})())
        return RetrainPreview(user, vid, None, new, cv(current_correct), "personal", 1, "settings", {}, None)

    monkeypatch.setattr(Lab, "retrain_preview", preview)


@pytest.mark.parametrize("new_correct, current_correct", [(4, 8), (8, 8), (9, 8)])
def test_activate_is_highlighted_only_when_the_new_model_is_not_worse(app_home, monkeypatch, new_correct,
                                                                      current_correct):
    store = _store(app_home)
    seed_votes(store, "ana", n=10)
    _fake_preview(monkeypatch, store, new_correct, current_correct)
    at = _retrain_page()
    at.button(key="retrain").click()
    at.run()
    _ok(at)
    worse = new_correct < current_correct
    assert at.button(key="activate_new").proto.type == ("secondary" if worse else "primary")
    assert at.button(key="keep_old").proto.type == ("primary" if worse else "secondary")
    warned = [t for t in _texts(at.warning) if "keep the current model" in t]
    assert bool(warned) == worse
    if worse:  # the outcome in plain words (issue 18)
        assert warned[0].startswith("The new model agrees with 40% of the 10 votes it did not see, the current "
                                    "one with 80%"), warned[0]
    elif new_correct > current_correct:
        [said] = [t for t in _texts(at.success) if "The new model agrees with" in t]
        assert "90% of the 10 votes it did not see, the current one with 80%" in said and "activate it" in said
    else:
        assert any("Both models agree with 80% of the 10 votes" in t for t in _texts(at.info))


def test_settings_are_kept_per_profile_across_pages_and_reloads(app_home):
    store = _store(app_home)
    seed_votes(store, "ana", n=4)
    store.ensure_user("bo")
    at = _retrain_page()
    at.number_input(key="hp_members").set_value(3)
    at.checkbox(key="hp_refit").set_value(False)
    at.button(key="save_hp").click()  # the settings are a form: saved when it is submitted
    at.run()
    _ok(at)
    assert store.get_user_prefs("ana")["train"]["members"] == 3
    at.switch_page("views/data.py")
    at.run()
    at.switch_page("views/retrain.py")
    at.run()
    _ok(at)
    assert at.number_input(key="hp_members").value == 3 and at.checkbox(key="hp_refit").value is False

    again = _retrain_page()  # a reload: a new session
    assert again.number_input(key="hp_members").value == 3 and again.checkbox(key="hp_refit").value is False
    other = _retrain_page("bo")
    assert other.number_input(key="hp_members").value == 5 and other.checkbox(key="hp_refit").value is True


def test_every_train_option_has_a_control_with_its_limits(app_home):
    from pantry.model.training import train_options

    _store(app_home).ensure_user("ana")
    at = _retrain_page()
    for o in train_options():
        widget = (at.checkbox(key=f"hp_{o.name}") if o.kind == "bool" else
                  at.selectbox(key=f"hp_{o.name}") if o.kind == "choice" else at.number_input(key=f"hp_{o.name}"))
        assert widget.value == o.default and widget.label == o.label, o.name
        if o.kind in ("int", "float") and o.maximum is not None:
            assert widget.max == o.maximum and widget.min == o.minimum, o.name
        if o.kind == "choice":  # the prior shape: evidence, ard (default) or isotropic
            assert list(widget.options) == list(o.choices), o.name


def test_loss_chart_shows_the_loss_by_iteration_with_a_legend_below(app_home):
    store = _store(app_home)
    seed_votes(store, "ana", n=16)
    at = _retrain_page()
    at.number_input(key="hp_members").set_value(1)
    at.button(key="retrain").click()
    at.run()
    _ok(at)
    history = at.session_state["train_result"].history
    assert history[0].epoch == 0 and len(history) > 2, "one point per Newton iteration, from the prior"
    assert history[-1].train_loss < history[0].train_loss
    [(loss, rows)] = [c for c in _charts(at) if "Loss while fitting" in json.dumps(c[0].get("title", ""))]
    enc = loss["encoding"]
    assert enc["x"]["title"] == "Newton iteration"
    assert enc["color"]["legend"]["orient"] == "bottom", "legend below the plot, not clipped at the side"
    assert {r["series"] for r in rows} == {"training votes", "validation votes (left out of this fit)"}
    assert loss["encoding"]["y"]["axis"]["format"] == ".3f", "the y axis shows its values"
    low, high = loss["encoding"]["y"]["scale"]["domain"]
    assert low <= min(r["loss"] for r in rows) < max(r["loss"] for r in rows) <= high, "zoomed on the values"
    assert len({r["step"] for r in rows}) == len(history) > 2
