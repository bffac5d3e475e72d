import numpy as np
import pytest

from pantry.errors import ModelFileError
from pantry.model.reward import MAGIC, RewardModel, load_model, read_header


def make_model(dim=12, members=3, hidden=0):
    model = RewardModel.new(dim, members, "emb-A", "spec-1", hidden=hidden, seed=1)
    rng = np.random.default_rng(0)
    import torch
    with torch.no_grad():
        for m in model.members:
            for p in m.parameters():
                p.copy_(torch.from_numpy(rng.normal(size=tuple(p.shape)).astype(np.float32)))
    return model


@pytest.mark.parametrize("hidden", [0, 8])
def test_save_load_round_trip(tmp_path, hidden):
    model = make_model(hidden=hidden)
    model.meta["metrics"] = {"val_accuracy": 0.8}
    path = model.save(tmp_path / "m.pt")
    x = np.random.default_rng(1).normal(size=(20, 12)).astype(np.float32)
    loaded = load_model(path, "emb-A", "spec-1")
    np.testing.assert_allclose(loaded.score(x)[0], model.score(x)[0], rtol=1e-6)
    header = read_header(path)
    assert header["format_version"] == 2 and header["embedder"] == "emb-A"
    assert header["meta"]["metrics"]["val_accuracy"] == 0.8 and header["created_at"]


def test_ensemble_uncertainty_and_unbounded_scores():
    model = make_model()
    x = np.random.default_rng(2).normal(size=(50, 12)).astype(np.float32)
    mean, std = model.score(x * 100)
    assert np.all(std > 0)
    assert np.abs(mean).max() > 10  # no sigmoid/tanh squashing the output
    assert len(np.unique(mean)) == 50


def test_truncated_file_is_refused_and_left_alone(tmp_path):
    path = make_model().save(tmp_path / "m.pt")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 100])
    with pytest.raises(ModelFileError, match="truncated or corrupt"):
        load_model(path)
    assert path.read_bytes() == data[: len(data) - 100]


@pytest.mark.parametrize("content", [b"", b"hello world", MAGIC + b"\x01\x00"])
def test_garbage_file_is_refused(tmp_path, content):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(ModelFileError):
        load_model(path)


def test_newer_format_version_is_refused(tmp_path):
    path = make_model().save(tmp_path / "m.pt")
    data = bytearray(path.read_bytes())
    data[len(MAGIC)] = 9
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="format version 9"):
        load_model(path)


def test_other_embedder_or_feature_spec_is_refused(tmp_path):
    path = make_model().save(tmp_path / "m.pt")
    with pytest.raises(ModelFileError, match="embedder 'emb-A'"):
        load_model(path, "emb-B", "spec-1")
    with pytest.raises(ModelFileError, match="feature spec"):
        load_model(path, "emb-A", "spec-2")


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        load_model(tmp_path / "nope.pt")
