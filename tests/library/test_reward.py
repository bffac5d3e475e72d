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


def test_format_1_files_written_with_torch_still_load(tmp_path):
    """Format 1 (torch.save payload, before numpy scoring) keeps loading and scores the same."""
    import hashlib
    import io
    import json
    import struct

    import torch

    model = make_model(dim=6, members=2)
    buf = io.BytesIO()
    torch.save([m.state_dict() for m in model.members], buf)
    payload = buf.getvalue()
    header = {"format_version": 1, "embedder": "emb-A", "feature_spec": "spec-1", "dim": 6, "hidden": 0,
              "n_members": 2, "item_ids": [], "payload_sha256": hashlib.sha256(payload).hexdigest(),
              "payload_bytes": len(payload), "created_at": "2026-01-01T00:00:00+00:00", "meta": {}}
    h = json.dumps(header).encode()
    path = tmp_path / "old.pt"
    path.write_bytes(MAGIC + struct.pack("<II", 1, len(h)) + h + payload)
    x = np.random.default_rng(3).normal(size=(9, 6))
    loaded = load_model(path, "emb-A", "spec-1")
    np.testing.assert_allclose(loaded.score(x)[0], model.score(x)[0], rtol=1e-12)
    resaved = loaded.save(tmp_path / "new.pt")  # saved again: format 2, same scores
    assert read_header(resaved)["format_version"] == 2
    np.testing.assert_allclose(load_model(resaved).score(x)[1], model.score(x)[1], rtol=1e-12)


def test_numpy_scores_equal_the_torch_members(tmp_path):
    """The numpy scoring path gives what the torch modules give (float64), offsets included."""
    import torch

    model = make_model(dim=5, members=3, hidden=4)
    x = np.random.default_rng(4).normal(size=(7, 5))
    with torch.no_grad():
        ref = np.stack([m.double()(torch.from_numpy(x)).numpy() for m in model.members])
    np.testing.assert_allclose(model.member_scores(x), ref, rtol=1e-9, atol=1e-12)


def test_a_payload_that_does_not_match_its_header_is_refused(tmp_path):
    model = make_model(dim=4, members=1)
    path = model.save(tmp_path / "m.pt")
    import hashlib
    import json
    import struct
    raw = path.read_bytes()
    hlen = struct.unpack("<I", raw[len(MAGIC) + 4:len(MAGIC) + 8])[0]
    header = json.loads(raw[len(MAGIC) + 8:len(MAGIC) + 8 + hlen])
    header["dim"] = 5  # the weights are 4 wide
    h = json.dumps(header).encode()
    path.write_bytes(MAGIC + struct.pack("<II", 2, len(h)) + h + raw[len(MAGIC) + 8 + hlen:])
    with pytest.raises(ModelFileError, match="could not be loaded: .*shape"):
        load_model(path)
