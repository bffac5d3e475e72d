"""Faults the reliability probe found on the model side: garbage in the embedding cache,
NaN weights, truncated or mis-shaped weights files, a failed save half way through
training, and out-of-range training/generation options. Each must end in a clear
message or a recovery, never a NaN score or a silently wrong model."""

from __future__ import annotations

import copy
import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import torch

from pantry.cli import main
from pantry.errors import ModelFileError, PantryError
from pantry.evaluation.synth import simulate_votes
from pantry.lab import Lab
from pantry.model.features import FEATURE_SPEC
from pantry.model.reward import RewardMember, RewardModel, load_model
from pantry.model.training import TrainConfig, TrainingError, make_pairs, train_reward_model
from pantry.settings import Settings
from pantry.storage.jsonl import import_jsonl
from pantry.storage.store import Store
from tests.helpers import shared_embedder

USER = "synth-vegetarian"


def _embedder(cache):
    e = copy.copy(shared_embedder())
    e.cache = cache
    return e


def _lab(home) -> Lab:
    settings = Settings(**{**Settings.from_env().__dict__, "home": home})
    store = Store(settings.db_path)
    return Lab(settings, store, _embedder(store))


@pytest.fixture(scope="module")
def base_home(tmp_path_factory):
    """A home with two profiles' votes, a trained population + personal model (active) and
    every recipe's embedding in the SQLite cache. Tests copy it (`home`)."""
    home = tmp_path_factory.mktemp("faults") / "home"
    lab = _lab(home)
    lines = [json.dumps(v) for persona, user in (("vegetarian", USER), ("quick-weeknight", "bo"))
             for v in simulate_votes(persona, 30, seed=2, user=user)]
    import_jsonl(lab.store, lines)
    lab.train(USER, TrainConfig(members=2), cv_folds=0)
    return home


@pytest.fixture
def home(base_home, tmp_path, monkeypatch):
    """A private copy of `base_home`; the CLI's Lab uses it with the shared encoder."""
    import pantry.model.embedding as embedding
    dest = tmp_path / "home"
    shutil.copytree(base_home, dest)
    monkeypatch.setenv("PANTRY_HOME", str(dest))
    monkeypatch.setenv("PANTRY_DEVICE", "cpu")
    monkeypatch.setattr(embedding, "Embedder", lambda name=None, device="cpu", cache=None, check_hash=True:
                        _embedder(cache if cache is not None else embedding.MemoryCache()))
    return dest


def _garbage_cache(home) -> int:
    with sqlite3.connect(home / "pantry.sqlite3") as conn:
        n = conn.execute("UPDATE embeddings SET vec = randomblob(length(vec))").rowcount
    conn.close()
    return n


def _all_finite(model: RewardModel) -> bool:
    return bool(np.isfinite(model.parameters_vector()).all())


# ---- 1. NaN -------------------------------------------------------------------------------

def test_garbage_embedding_cache_train_recovers_with_finite_models(home, capsys):
    assert _garbage_cache(home) > 0
    before = {u: Store(home / "pantry.sqlite3").active_model(u).id for u in (None, USER)}
    rc = main(["train", "--user", USER, "--members", "2", "--cv-folds", "0"])
    err = capsys.readouterr().err
    lab = _lab(home)
    assert rc == 0, err  # recovered by re-embedding (the damaged vectors are recomputed)
    if rc == 0:  # the new models are finite and active
        for u in (None, USER):
            v = lab.store.active_model(u)
            assert v.id != before[u]
            assert _all_finite(load_model(v.path))
    else:
        assert rc == 2 and len([l for l in err.splitlines() if l.strip()]) == 1 and err.startswith("error: ")
        assert {u: lab.store.active_model(u).id for u in (None, USER)} == before
    from pantry.evaluation.personas import fresh_recipes
    scores = [s.score for s in lab.score(fresh_recipes(5, seed=3), USER, ("egg",))]
    assert np.isfinite(scores).all()


def test_non_finite_cached_vector_is_recomputed_not_used():
    from pantry.model.embedding import MemoryCache, text_hash
    cache = MemoryCache()
    e = _embedder(cache)
    good = e.encode(["toast with butter"])[0]
    cache.put_embeddings(e.name, {text_hash("toast with butter"): np.full(e.dim, np.nan, np.float32)})
    again = e.encode(["toast with butter"])[0]
    assert np.isfinite(again).all() and np.allclose(again, good, atol=1e-5)
    # a finite but garbage vector (not unit length, as every stored embedding is) is recomputed too
    cache.put_embeddings(e.name, {text_hash("toast with butter"): np.full(e.dim, 3e30, np.float32)})
    assert np.allclose(e.encode(["toast with butter"])[0], good, atol=1e-5)


def test_lab_features_refuse_non_finite_vectors(home):
    lab = _lab(home)

    class Bad:
        name, dim = lab.embedder.name, lab.embedder.dim

        def encode(self, texts, on_progress=None):
            out = np.zeros((len(texts), self.dim), np.float32)
            out[0, 0] = np.nan
            return out

    lab._embedder = Bad()
    recipes = list(lab.store.all_recipes())[:3]
    with pytest.raises(PantryError, match=r"1 of 3 recipes have non-finite features"):
        lab.features(recipes)


def test_training_refuses_non_finite_features_and_losses():
    rng = np.random.default_rng(0)
    xa, xb = rng.normal(size=(12, 4)), rng.normal(size=(12, 4))
    xa[3, 1] = np.inf
    pairs = make_pairs(xa, xb, ["a", "b"] * 6)
    with pytest.raises(TrainingError, match="non-finite"):
        train_reward_model(pairs, "e", "s", TrainConfig(members=1))
    from pantry.model.training import fit_bradley_terry
    with pytest.raises(TrainingError, match="non-finite"):
        fit_bradley_terry(np.array([[np.nan], [1.0]]), np.array([0]), np.array([1]), np.array([1.0]), 1.0)
    assert issubclass(TrainingError, PantryError)


def test_nan_model_is_neither_saved_nor_loaded(tmp_path):
    model = RewardModel([RewardMember(4)], "e", "s", 4)
    with torch.no_grad():
        model.members[0].linear.weight[0, 2] = float("nan")
    with pytest.raises(ModelFileError, match="NaN/inf"):
        model.save(tmp_path / "nan.pt")
    assert not (tmp_path / "nan.pt").exists()
    # a file written without the check (an older version, a bit flip) is refused on load
    import pantry.model.reward as reward
    finite = reward._check_finite
    try:
        reward._check_finite = lambda m, what: None
        model.save(tmp_path / "nan.pt")
    finally:
        reward._check_finite = finite
    with pytest.raises(ModelFileError, match="weights contain NaN/inf"):
        load_model(tmp_path / "nan.pt")


# ---- 2 & 3. bad weights files are said, not hidden -------------------------------------------

def _truncate(path):
    data = open(path, "rb").read()
    open(path, "wb").write(data[:-40])


def test_both_models_truncated_heuristic_says_both_versions(home):
    lab = _lab(home)
    pop, mine = lab.store.active_model(None), lab.store.active_model(USER)
    _truncate(pop.path)
    _truncate(mine.path)
    choice = lab.model_for(USER)
    assert choice.kind == "heuristic" and choice.version_id is None and choice.version is None
    assert len(choice.problems) == 2
    # structured problems: which version and file, with the loader's message unchanged
    assert [(p.kind, p.version_id) for p in choice.problems] == [("personal", mine.id), ("population", pop.id)]
    for p, v in zip(choice.problems, (mine, pop)):
        assert p.file == Path(v.path).name and p.message.startswith(f"{p.file} is truncated")
        assert str(p) == f"{p.kind} v{p.version_id}: {p.message}"
    assert f"personal v{mine.id}" in choice.reason and f"population v{pop.id}" in choice.reason
    assert choice.metrics == {}  # no validation accuracy of a model that does not score


def test_choice_carries_the_version_really_used(home):
    lab = _lab(home)
    mine = lab.store.active_model(USER)
    _truncate(mine.path)
    choice = lab.model_for(USER)
    assert choice.kind == "population" and choice.version.id == choice.version_id
    assert choice.metrics == lab.store.active_model(None).metrics


def test_model_with_another_feature_dimension_falls_back(home):
    lab = _lab(home)
    dim = lab.embedder.dim + 3  # another embedder width / feature spec, same names
    odd = RewardModel([RewardMember(dim)], lab.embedder_name, FEATURE_SPEC, dim)
    path = odd.save(home / "odd.pt")
    vid = lab.store.add_model_version(USER, str(path), lab.embedder_name, {}, {}, activate=True)
    choice = lab.model_for(USER)
    assert choice.kind == "population"
    assert choice.problems and str(choice.problems[0]).startswith(f"personal v{vid}:")
    assert "features" in choice.problems[0].message
    from pantry.evaluation.personas import fresh_recipes
    assert len(lab.score(fresh_recipes(3, seed=1), USER)) == 3


def test_diagnostics_report_skips_a_bad_version_and_says_why(home):
    from pantry.evaluation.reports import HEURISTIC, diagnostics_report
    lab = _lab(home)
    pop, mine = lab.store.active_model(None), lab.store.active_model(USER)
    _truncate(mine.path)
    report = diagnostics_report(lab, [mine.id, pop.id, HEURISTIC], "all", USER, limit=20)
    assert report.models == [f"v{pop.id}", HEURISTIC]
    assert set(report.skipped) == {f"v{mine.id}"} and "truncated" in report.skipped[f"v{mine.id}"]
    assert len(report.metrics) == 2



def test_diagnostics_scores_a_recipe_as_compare_does_for_the_profiles_pantry(home):
    """Found in real Chromium: Scores & diagnostics scored every recipe for an empty pantry, so
    its numbers differed from Compare's and Just cook's for the same model and recipe (and the
    heuristic, half of it pantry coverage, looked collapsed)."""
    from pantry.evaluation.reports import HEURISTIC, diagnostics_report
    lab = _lab(home)
    assert lab.saved_pantry(USER) == ()  # nothing saved yet
    lab.save_profile(USER, pantry_text="2 eggs, spinach, rice, chickpeas and a tin of tomatoes",
                     prefs={"items": ["onion"]})
    pantry = lab.saved_pantry(USER)
    assert {"egg", "spinach", "rice", "onion"} <= set(pantry), pantry
    mine = lab.store.active_model(USER)
    report = diagnostics_report(lab, [mine.id, HEURISTIC], "all", USER, limit=20, pantry=pantry)
    table = report.scores.set_index(["version", "recipe_id"])
    recipes = list(lab.store.get_recipes(list(table.loc[f"v{mine.id}"].index)).values())
    for label, choice in ((f"v{mine.id}", lab.model_for(USER)), (HEURISTIC, None)):
        if choice is None:
            from pantry.model.reward import heuristic_model
            from pantry.lab import ModelChoice
            choice = ModelChoice(heuristic_model(lab.embedder_name, lab.embedder.dim), "heuristic", None, "", ())
        scored = {s.recipe.id: s.score for s in lab.score(recipes, USER, pantry, choice=choice)}
        for rid, want in scored.items():
            assert table.loc[(label, rid), "score"] == pytest.approx(want, abs=1e-5), (label, rid)
    empty = diagnostics_report(lab, [HEURISTIC], "all", USER, limit=20).scores.set_index("recipe_id")["score"]
    assert not np.allclose(empty.loc[list(scored)].to_numpy(), [scored[r] for r in scored])  # the pantry matters


# ---- 4. population + personal activation is all or nothing -----------------------------------

def test_failed_personal_save_leaves_previous_models_active(home, monkeypatch, capsys):
    before = {u: Store(home / "pantry.sqlite3").active_model(u).id for u in (None, USER)}
    real_save = RewardModel.save
    calls = []

    def save(self, path):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_save(self, path)

    monkeypatch.setattr(RewardModel, "save", save)
    assert main(["train", "--user", USER, "--members", "2", "--cv-folds", "0"]) == 2
    err = [l for l in capsys.readouterr().err.splitlines() if l.strip()]
    assert len(err) == 1 and "No space left on device" in err[0] and "nothing was activated" in err[0]
    store = Store(home / "pantry.sqlite3")
    assert {u: store.active_model(u).id for u in (None, USER)} == before


def test_activation_failure_half_way_is_undone(home, monkeypatch):
    lab = _lab(home)
    before = {u: lab.store.active_model(u).id for u in (None, USER)}
    real = lab.store._models._activate
    seen = []

    def activate(conn, vid, user):  # the second scope's switch fails inside the one transaction
        seen.append(vid)
        if len(seen) == 2:
            raise sqlite3.OperationalError("database is locked")
        return real(conn, vid, user)

    monkeypatch.setattr(lab.store._models, "_activate", activate)
    with pytest.raises(Exception, match="nothing was activated|previous models stay active"):
        lab.train(USER, TrainConfig(members=1), cv_folds=0)
    monkeypatch.setattr(lab.store._models, "_activate", real)
    assert len(seen) == 2  # the population scope was switched, then rolled back with the rest
    assert {u: lab.store.active_model(u).id for u in (None, USER)} == before


# ---- 5. options ----------------------------------------------------------------------------

@pytest.mark.parametrize("field, value, words", [
    ("members", 0, "members must be between 1 and 20"),
    ("l2", -1.0, "l2 must be between 0.0 and 100.0"),
    ("val_split", -0.5, "val_split must be between 0.0 and 0.9"),
])
def test_train_config_validates_its_fields(field, value, words):
    from pantry.model.training import config_from
    with pytest.raises(ValueError, match=words):
        TrainConfig(**{field: value})
    with pytest.raises(ValueError, match=words):
        config_from({field: value})


@pytest.mark.parametrize("flag, value, words", [
    ("--members", "0", "error: --members must be between 1 and 20, got 0"),
    ("--l2", "-1", "error: --l2 must be between 0.0 and 100.0, got -1.0"),
    ("--val-split", "-0.5", "error: --val-split must be between 0.0 and 0.9, got -0.5"),
    ("--members", "two", "error: --members must be an integer, got 'two'"),
])
def test_cli_train_option_out_of_range_is_one_line(tmp_path, monkeypatch, capsys, flag, value, words):
    monkeypatch.setenv("PANTRY_HOME", str(tmp_path))
    assert main(["train", flag, value]) == 2
    err = [l for l in capsys.readouterr().err.splitlines() if l.strip()]
    assert err == [words]


def test_generation_request_caps_n(tmp_path, monkeypatch, capsys):
    from pantry.errors import InvalidInput
    from pantry.generators import GenerationRequest
    from pantry.generators.base import MAX_RECIPES_PER_REQUEST
    with pytest.raises(InvalidInput, match=f"at most {MAX_RECIPES_PER_REQUEST}"):
        GenerationRequest(pantry=("egg",), n=100_000)
    with pytest.raises(InvalidInput, match="at least 1"):
        GenerationRequest(pantry=("egg",), n=0)
    monkeypatch.setenv("PANTRY_HOME", str(tmp_path))
    monkeypatch.setenv("PANTRY_GENERATOR", "offline")
    assert main(["generate", "--pantry", "eggs, rice", "--n", "100000"]) == 2
    err = [l for l in capsys.readouterr().err.splitlines() if l.strip()]
    assert len(err) == 1 and err[0].startswith("error: --n ") and str(MAX_RECIPES_PER_REQUEST) in err[0]


def test_encoder_returning_nan_fails_train_in_one_line_and_activates_nothing(home, monkeypatch, capsys):
    import pantry.model.embedding as embedding
    _garbage_cache(home)  # nothing usable cached: every recipe is encoded again

    class NanModel:
        def __init__(self, real):
            self.real = real

        def encode(self, texts, **kw):
            return np.full((len(texts), shared_embedder().dim), np.nan, np.float32)

    def make(name=None, device="cpu", cache=None, check_hash=True):
        e = _embedder(cache)
        e._model = NanModel(e._model)
        return e

    monkeypatch.setattr(embedding, "Embedder", make)
    before = {u: Store(home / "pantry.sqlite3").active_model(u).id for u in (None, USER)}
    assert main(["train", "--user", USER, "--members", "2", "--cv-folds", "0"]) == 2
    err = [l for l in capsys.readouterr().err.splitlines() if l.strip()]
    assert len(err) == 1 and err[0].startswith("error: ") and "non-finite" in err[0]
    store = Store(home / "pantry.sqlite3")
    assert {u: store.active_model(u).id for u in (None, USER)} == before
    assert len(store.model_versions()) == 2  # nothing new saved


def test_cli_score_with_a_model_file_of_another_width_is_one_line(home, tmp_path, capsys):
    lab = _lab(home)
    dim = lab.embedder.dim + 3
    path = RewardModel([RewardMember(dim)], lab.embedder_name, FEATURE_SPEC, dim).save(tmp_path / "odd.pt")
    recipes = tmp_path / "r.jsonl"
    recipes.write_text('{"title": "Toast", "ingredients": ["bread"]}\n')
    assert main(["score", "--recipes", str(recipes), "--model", str(path)]) == 2
    err = [l for l in capsys.readouterr().err.splitlines() if l.strip()]
    assert len(err) == 1 and f"model expects {dim} features" in err[0]


def test_cli_models_activate_refuses_a_version_that_cannot_load(home, capsys):
    lab = _lab(home)
    active = lab.store.active_model(USER)
    older = lab.store.add_model_version(USER, active.path + ".copy", lab.embedder_name, {}, {})
    with open(active.path, "rb") as f:
        data = f.read()
    with open(active.path + ".copy", "wb") as f:
        f.write(data[: len(data) // 3])  # a truncated weights file
    assert main(["models", "--activate", str(older)]) == 2
    err = [l for l in capsys.readouterr().err.splitlines() if l.strip()]
    assert len(err) == 1 and f"not activated: personal v{older}" in err[0], err
    assert lab.store.active_model(USER).id == active.id
    assert main(["models", "--activate", str(active.id)]) == 0
