"""Encoder variants (PANTRY_ENCODER): the ONNX export, its on-disk cache, the fallback to torch,
and cache keys that never mix vectors of encoders that disagree."""

from __future__ import annotations

import logging
import shutil
import sys

import numpy as np
import pytest

from pantry.model import embedding
from pantry.model.embedding import Embedder, MemoryCache, cache_key, check_encoder, packaged_minilm_dir
from pantry.model import onnx_encoder
from pantry.settings import SettingsError

TEXTS = ["Spaghetti carbonara with eggs and pecorino", "Chocolate brownies", "Rice with spinach and egg " * 80]


def _torch_vectors(texts):
    return Embedder("all-MiniLM-L6-v2", device="cpu", cache=MemoryCache(), encoder="torch").encode(texts)


def test_encoder_setting_is_checked():
    assert check_encoder(None) == "auto" and check_encoder(" ONNX ") == "onnx"
    with pytest.raises(SettingsError, match="PANTRY_ENCODER='onnx8' is not an encoder"):
        check_encoder("onnx8")


def test_int8_vectors_have_their_own_cache_key():
    assert cache_key("all-MiniLM-L6-v2", "torch") == cache_key("all-MiniLM-L6-v2", "onnx") == "all-MiniLM-L6-v2"
    assert cache_key("all-MiniLM-L6-v2", "onnx-int8") == "all-MiniLM-L6-v2|onnx-int8"


def test_fp32_onnx_matches_torch_and_shares_its_cache():
    cache = MemoryCache()
    onnx = Embedder("all-MiniLM-L6-v2", device="cpu", cache=cache, encoder="onnx")
    v = onnx.encode(TEXTS)
    assert onnx.variant == "onnx" and onnx.fallback_reason is None
    ref = _torch_vectors(TEXTS)
    assert np.abs(v - ref).max() < 1e-4  # the long text is truncated the same way (256 word pieces)
    assert set(h for (k, h) in cache._data) and {k for (k, _) in cache._data} == {"all-MiniLM-L6-v2"}
    counts = onnx.token_counts(TEXTS)
    assert counts[2] > onnx.max_tokens == 256


def test_a_gpu_runs_torch_and_a_cpu_runs_the_default(monkeypatch):
    monkeypatch.setattr(embedding, "pick_device", lambda pref: "cuda")
    monkeypatch.delenv("PANTRY_ENCODER", raising=False)
    assert Embedder("all-MiniLM-L6-v2", device="auto").variant == "torch"
    monkeypatch.setattr(embedding, "pick_device", lambda pref: "cpu")
    assert Embedder("all-MiniLM-L6-v2", device="auto").variant == embedding.DEFAULT_CPU_ENCODER
    monkeypatch.setenv("PANTRY_ENCODER", "torch")
    assert Embedder("all-MiniLM-L6-v2", device="cpu").variant == "torch"


def test_missing_onnxruntime_falls_back_to_torch_with_a_message(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` raises ImportError
    emb = Embedder("all-MiniLM-L6-v2", device="cpu", cache=MemoryCache(), encoder="onnx-int8")
    assert emb.cache_key == "all-MiniLM-L6-v2|onnx-int8"  # planned
    with caplog.at_level(logging.WARNING, logger="pantry.model.embedding"):
        v = emb.encode(TEXTS[:2])
    assert emb.variant == "torch" and emb.cache_key == "all-MiniLM-L6-v2"  # torch's own entries, not int8's
    assert "onnxruntime is not installed" in emb.fallback_reason and "using torch" in emb.fallback_reason
    assert any("onnxruntime is not installed" in r.getMessage() for r in caplog.records)
    assert {k for (k, _) in emb.cache._data} == {"all-MiniLM-L6-v2"}
    np.testing.assert_allclose(v, _torch_vectors(TEXTS[:2]), atol=1e-6)


def test_export_is_cached_and_a_damaged_one_is_rebuilt(tmp_path, caplog):
    folder = packaged_minilm_dir()
    weights = folder / "model.safetensors"
    shared = onnx_encoder.ensure_export(folder, weights, "onnx")  # the machine's cache (made once)
    where = tmp_path / "cache" / shared.parent.name
    shutil.copytree(shared.parent, where)
    path = onnx_encoder.ensure_export(folder, weights, "onnx", tmp_path / "cache")
    assert path == where / "model.onnx"
    mtime = path.stat().st_mtime_ns
    assert onnx_encoder.ensure_export(folder, weights, "onnx", tmp_path / "cache").stat().st_mtime_ns == mtime
    with open(path, "r+b") as f:  # damage it
        f.seek(path.stat().st_size // 2)
        f.write(b"\0" * 64)
    with caplog.at_level(logging.WARNING, logger="pantry.model.onnx_encoder"):
        again = onnx_encoder.ensure_export(folder, weights, "onnx", tmp_path / "cache")
    assert any("damaged" in r.getMessage() and "rebuilding" in r.getMessage() for r in caplog.records)
    assert onnx_encoder.sha256_file(again) == onnx_encoder.sha256_file(shared)  # the export is deterministic
    assert not [p for p in where.iterdir() if p.name.startswith(".")]  # no temp files left


def test_a_model_the_exporter_cannot_reproduce_is_refused(tmp_path):
    (tmp_path / "modules.json").write_text('[{"idx": 0, "name": "0", "path": "", "type": "x.Transformer"},'
                                           '{"idx": 1, "name": "1", "path": "p", "type": "x.Pooling"}]')
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "config.json").write_text('{"pooling_mode_cls_token": true}')
    (tmp_path / "sentence_bert_config.json").write_text('{"max_seq_length": 128}')
    with pytest.raises(onnx_encoder.OnnxUnavailable, match="Transformer -> mean Pooling"):
        onnx_encoder.check_pipeline(tmp_path)
