"""The sentence encoder run by onnxruntime: an ONNX export of the installed weights, cached on disk.

Why: on a CPU, MiniLM through onnxruntime needs neither torch nor transformers at run time
(a process that must encode starts seconds sooner) and matches torch's vectors to ~3e-7;
int8 dynamic quantisation (`onnxruntime.quantization.quantize_dynamic`) is 2-4x faster
again but moves the scores (Spearman ~0.99 against torch on the Food Network recipes,
below the 0.999 bar for a default): opt-in only (`PANTRY_ENCODER=onnx-int8`).
`bench/encoder.py` measures both. Nothing downloads: the export is
made once with `torch.onnx.export` from the sentence-transformers folder already on disk
(sentence-transformers' own `backend="onnx"` needs `optimum`, which is not a dependency).

What is exported: the transformer, mean pooling over the attention mask and L2
normalisation, i.e. the whole `Transformer -> Pooling(mean) -> Normalize` pipeline of
all-MiniLM-L6-v2; a model folder with any other module list is refused (`OnnxUnavailable`)
and the caller falls back to torch. Tokenisation is the folder's `tokenizer.json` run by
the `tokenizers` library (no transformers, no torch at encode time), truncated to the
folder's `max_seq_length`, padded to the longest text of each batch.

The cache: `<cache_dir>/<sha256 of model.safetensors, 16 hex>-<recipe hash>/` holds
`model.onnx` (fp32), `model-int8.onnx` and `recipe.json` (what was exported, with each
file's sha256). The recipe hash covers `EXPORT_RECIPE` and the torch/onnx/onnxruntime
versions' major.minor, so a change of either makes a new export. Files are written to a
temp name and renamed (atomic). A cached file whose sha256 no longer matches its
`recipe.json` (a damaged or half-copied cache) is rebuilt, with one log line saying so.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from pantry.base import sha256_file, write_bytes_atomic, write_text_atomic

log = logging.getLogger(__name__)

# Bump when what the export produces changes (graph, opset, quantisation settings).
# int8: per-channel weights, MatMul only (measured on the Food Network recipes: per-tensor
# weights gave Spearman 0.91 of random-head scores, per-channel 0.99; still below 0.999).
EXPORT_RECIPE = {"version": 2, "opset": 17, "pooling": "mean", "normalize": True,
                 "inputs": ["input_ids", "attention_mask", "token_type_ids"],
                 "int8": {"weight_type": "QInt8", "per_channel": True, "reduce_range": False,
                          "op_types": ["MatMul"]}}
VARIANTS = ("onnx", "onnx-int8")
_EXPORT_LOCK = threading.Lock()  # one export per process at a time (protects the cache folder)


class OnnxUnavailable(Exception):
    """The ONNX encoder cannot be used here (onnxruntime missing, a model it cannot export, a
    failed export); the message says why, and the caller falls back to torch."""


def default_cache_dir() -> Path:
    """`PANTRY_ENCODER_CACHE`, else `$XDG_CACHE_HOME/pantrypilot/encoders` (~/.cache by default)."""
    raw = os.environ.get("PANTRY_ENCODER_CACHE", "").strip()
    if raw:
        return Path(raw).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base).expanduser() / "pantrypilot" / "encoders"


def check_pipeline(folder: Path) -> int:
    """The folder's max_seq_length, or `OnnxUnavailable` unless its modules are exactly
    Transformer -> Pooling(mean) [-> Normalize] (what this exporter reproduces)."""
    try:
        modules = json.loads((folder / "modules.json").read_text())
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        pooling = next(m for m in modules if m["type"].endswith("Pooling"))
        pool_cfg = json.loads((folder / pooling["path"] / "config.json").read_text())
        st_cfg = json.loads((folder / "sentence_bert_config.json").read_text())
    except (OSError, ValueError, KeyError, StopIteration) as e:
        raise OnnxUnavailable(f"cannot read the model folder's pipeline ({type(e).__name__}: {e})") from None
    modes = [k for k, v in pool_cfg.items() if k.startswith("pooling_mode") and v]
    if kinds not in (["Transformer", "Pooling", "Normalize"], ["Transformer", "Pooling"]) or modes != ["pooling_mode_mean_tokens"]:
        raise OnnxUnavailable(f"the ONNX exporter handles Transformer -> mean Pooling -> Normalize, "
                              f"this model is {' -> '.join(kinds)} ({', '.join(modes)})")
    if kinds[-1] != "Normalize":
        raise OnnxUnavailable("the ONNX exporter handles normalised models only")
    return int(st_cfg.get("max_seq_length") or 256)


def recipe_key() -> str:
    versions = {}
    for mod in ("torch", "onnx", "onnxruntime"):
        try:
            from importlib.metadata import version
            versions[mod] = ".".join(version(mod).split(".")[:2])
        except Exception:  # noqa: BLE001 - a missing package is part of the key too
            versions[mod] = None
    blob = json.dumps({"recipe": EXPORT_RECIPE, "versions": versions}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _export_fp32(folder: Path, out: Path) -> None:
    """torch.onnx.export of Transformer + mean pooling + normalisation from `folder` (on disk)."""
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    was = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        bert = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()
    finally:
        if was:
            hf_logging.enable_progress_bar()

    class Pipeline(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask,
                                token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    ids = torch.ones((2, 8), dtype=torch.long)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.export")
    try:
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's notes on aten::index etc.
            torch.onnx.export(Pipeline(bert), (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(tmp),
                              input_names=EXPORT_RECIPE["inputs"], output_names=["embedding"],
                              dynamic_axes={n: {0: "batch", 1: "tokens"} for n in EXPORT_RECIPE["inputs"]}
                              | {"embedding": {0: "batch"}},
                              opset_version=EXPORT_RECIPE["opset"], dynamo=False)
        _fold_external(tmp)
        os.replace(tmp, out)
    finally:
        for p in (tmp, Path(str(tmp) + ".data")):
            try:
                p.unlink()
            except OSError:
                pass


def _fold_external(path: Path) -> None:
    """Make sure the ONNX file is self-contained (no external `.data` file beside it)."""
    import onnx
    model = onnx.load(str(path), load_external_data=True)
    data = model.SerializeToString()
    write_bytes_atomic(path, data)


def _quantize(src: Path, out: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic
    tmp = out.with_name(f".{out.name}.{os.getpid()}.quant")
    try:
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # quantize_dynamic logs a "pre-processing" hint on the root logger
        try:
            quantize_dynamic(str(src), str(tmp), weight_type=QuantType.QInt8,
                             per_channel=EXPORT_RECIPE["int8"]["per_channel"],
                             reduce_range=EXPORT_RECIPE["int8"]["reduce_range"],
                             op_types_to_quantize=list(EXPORT_RECIPE["int8"]["op_types"]))
        finally:
            root.setLevel(level)
        os.replace(tmp, out)
    finally:
        try:
            tmp.unlink()
        except OSError:
            pass


def ensure_export(folder: Path, weights: Path, variant: str, cache_dir: Path | None = None) -> Path:
    """The cached ONNX file of `variant` ("onnx" or "onnx-int8") for the model in `folder`,
    exporting (and quantising) it first when missing or damaged. `OnnxUnavailable` says why not."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown ONNX variant {variant!r}")
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        raise OnnxUnavailable("onnxruntime is not installed (pip install onnxruntime)") from None
    check_pipeline(folder)
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    digest = sha256_file(weights)
    where = cache_dir / f"{digest[:16]}-{recipe_key()}"
    names = {"onnx": "model.onnx", "onnx-int8": "model-int8.onnx"}
    with _EXPORT_LOCK:
        where.mkdir(parents=True, exist_ok=True)
        record_path = where / "recipe.json"
        try:
            record = json.loads(record_path.read_text())
        except (OSError, ValueError):
            record = {}
        files = dict(record.get("files") or {})

        def good(name: str) -> bool:
            p = where / name
            if not p.exists():
                return False
            if files.get(name) == sha256_file(p):
                return True
            log.warning("cached ONNX encoder %s is damaged or unrecorded (sha256 mismatch): rebuilding it", p)
            return False

        needed = ["model.onnx"] + (["model-int8.onnx"] if variant == "onnx-int8" else [])
        changed = False
        for name in needed:
            if good(name):
                continue
            try:
                if name == "model.onnx":
                    _export_fp32(folder, where / name)
                else:
                    _quantize(where / "model.onnx", where / name)
            except OnnxUnavailable:
                raise
            except Exception as e:  # noqa: BLE001 - export errors come in many types
                msg = str(e).splitlines()[0] if str(e) else type(e).__name__
                raise OnnxUnavailable(f"exporting the encoder to ONNX failed: {msg}") from None
            files[name] = sha256_file(where / name)
            changed = True
        if changed:
            write_text_atomic(record_path, json.dumps({
                "source": str(folder), "source_sha256": digest, "recipe": EXPORT_RECIPE,
                "recipe_key": recipe_key(), "files": files}, indent=1, sort_keys=True))
        return where / names[variant]


class OnnxEncoder:
    """Texts -> L2-normalised float32 embeddings through onnxruntime (CPU)."""

    def __init__(self, model_path: Path, folder: Path, max_tokens: int, threads: int | None = None):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            opts.intra_op_num_threads = int(threads)
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(model_path), sess_options=opts,
                                                providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise OnnxUnavailable(f"onnxruntime could not load {model_path.name}: {msg}") from None
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_tokens)
        self.tokenizer.no_padding()
        self.max_tokens = max_tokens
        self.input_names = {i.name for i in self.session.get_inputs()}
        self.dim = int(self.session.get_outputs()[0].shape[-1])

    def token_lengths(self, texts: Sequence[str]) -> list[int]:
        return [len(e.ids) for e in self.tokenizer.encode_batch(list(texts))]

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Embeddings in the order of `texts`; batches are formed over texts sorted by length
        (less padding), then put back in order."""
        if not len(texts):
            return np.zeros((0, self.dim), np.float32)
        encs = self.tokenizer.encode_batch(list(texts))
        order = np.argsort([len(e.ids) for e in encs], kind="stable")
        out = np.empty((len(texts), self.dim), np.float32)
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            width = max(len(encs[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), np.int64)
            mask = np.zeros((len(idx), width), np.int64)
            types = np.zeros((len(idx), width), np.int64)
            for row, i in enumerate(idx):
                e = encs[i]
                n = len(e.ids)
                ids[row, :n], mask[row, :n], types[row, :n] = e.ids, e.attention_mask, e.type_ids
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            out[idx] = self.session.run(None, {k: v for k, v in feed.items() if k in self.input_names})[0]
        return out
