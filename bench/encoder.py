"""Benchmark: encoder speed and the score change each speed-up causes (issue 10, part 2).

Baseline, measured in the same run: plain `SentenceTransformer.encode` (batch 32, the
library's defaults, normalised) of the recipes' texts. Compared, each on the same texts:
- torch, tuned: `torch.inference_mode`, the whole job sorted by length, batch 16 (less
  padding), torch's default thread count (= CPU cores; `--threads N` to set it);
- onnx: the ONNX export of the same weights (`pantry.model.onnx_encoder`) run by
  onnxruntime, fp32;
- onnx-int8: the same export with int8 dynamic quantisation;
- cold scoring: `Embedder` as the app builds it (PANTRY_ENCODER default) on an empty
  cache, then explicit features and a 5-member reward ensemble: the figure with the target
  <= 0.5x the bare encode.
Score change of each variant against the baseline's vectors: max abs difference of the
embeddings, and of the reward scores and Spearman of the scores over all recipes, with a
fixed random linear head (seed 0, N(0, 1/384) weights on the embedding, unit norm) -- a
harsher test than a trained head, which leans on the few directions votes pin down.

    .venv/bin/python bench/encoder.py [--n 1594] [--variants torch,onnx,onnx-int8] [--threads N] [--device cuda]

Skips cleanly (exit 0) when the Food Network recipes are not there (PANTRY_SHARED_DATA).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Row, foodnetwork_recipes, machine, print_table, skip  # noqa: E402

VARIANTS = ("torch", "onnx", "onnx-int8")


def spearman(a, b) -> float:
    from scipy.stats import spearmanr
    return float(spearmanr(a, b).statistic)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipes", default=None, help="recipes JSONL (default: the shared Food Network file)")
    ap.add_argument("--n", type=int, default=0, help="first N recipes only (0: all)")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--threads", type=int, default=0, help="torch / onnxruntime threads (0: library default)")
    ap.add_argument("--export-dir", default=None, help="ONNX export cache (default: the Embedder's)")
    ap.add_argument("--no-cold", action="store_true", help="skip the end-to-end cold scoring row")
    ap.add_argument("--device", default="cpu", help="torch device of the baseline and torch rows (cpu, cuda, auto)")
    args = ap.parse_args(argv)
    path = Path(args.recipes) if args.recipes else foodnetwork_recipes()
    if path is None or not path.exists():
        skip("the Food Network recipes are not here (set PANTRY_SHARED_DATA)")
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    from pantry.model.embedding import Embedder, MemoryCache, packaged_minilm_dir
    from pantry.model.features import FEATURE_NAMES, FEATURE_SPEC, feature_matrix
    from pantry.model.onnx_encoder import OnnxEncoder, check_pipeline, ensure_export
    from pantry.model.reward import RewardModel
    from pantry.storage.jsonl import read_recipes_file

    recipes = read_recipes_file(path)
    if args.n:
        recipes = recipes[: args.n]
    texts = [r.text for r in recipes]
    n = len(texts)
    folder = packaged_minilm_dir()
    if args.threads:
        torch.set_num_threads(args.threads)
    export_dir = Path(args.export_dir) if args.export_dir else None

    t0 = time.perf_counter()
    from pantry.model.embedding import pick_device
    device = pick_device(args.device)
    st = SentenceTransformer(str(folder), device=device, local_files_only=True)
    load_torch = time.perf_counter() - t0
    st.encode(texts[:4])  # warm-up (first-call allocations)
    t0 = time.perf_counter()
    base = st.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    t_base = time.perf_counter() - t0

    head = np.random.default_rng(0).normal(0.0, 1.0 / np.sqrt(base.shape[1]), base.shape[1])
    head /= np.linalg.norm(head)
    s_base = base.astype(np.float64) @ head
    speed, change = [], []
    speed.append(Row("bare SentenceTransformer.encode (baseline)", t_base, "s", baseline=t_base,
                     note=f"{n / t_base:.1f} recipes/s"))

    def record(name: str, secs: float, vecs: np.ndarray, note: str = "") -> None:
        speed.append(Row(name, secs, "s", baseline=t_base, baseline_name="bare encode",
                         note=f"{n / secs:.1f} recipes/s" + (f", {note}" if note else "")))
        s = vecs.astype(np.float64) @ head
        rho = spearman(s_base, s) if n > 2 else float("nan")
        change.append(Row(f"{name}: max |embedding diff|", float(np.abs(vecs - base).max()), ""))
        change.append(Row(f"{name}: max |score diff|", float(np.abs(s - s_base).max()), ""))
        change.append(Row(f"{name}: Spearman of scores", rho, "", target=">= 0.999", ok=bool(rho >= 0.999)))

    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    if "torch" in variants:
        order = np.argsort([-len(t) for t in texts], kind="stable")
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = st.encode([texts[i] for i in order], batch_size=16, normalize_embeddings=True,
                            convert_to_numpy=True, show_progress_bar=False)
        secs = time.perf_counter() - t0
        vecs = np.empty_like(out)
        vecs[order] = out
        record("torch, inference_mode + length-sorted, batch 16", secs, vecs, f"{torch.get_num_threads()} threads")
    max_tokens = check_pipeline(folder)
    for variant in [v for v in variants if v.startswith("onnx")]:
        t0 = time.perf_counter()
        model_path = ensure_export(folder, folder / "model.safetensors", variant, export_dir)
        t_export = time.perf_counter() - t0
        enc = OnnxEncoder(model_path, folder, max_tokens, threads=args.threads or None)
        enc.encode(texts[:4])
        t0 = time.perf_counter()
        vecs = enc.encode(texts, batch_size=32)
        secs = time.perf_counter() - t0
        record(f"{variant} (onnxruntime), length-sorted, batch 32", secs, vecs,
               f"export/cache check {t_export:.1f} s, {model_path.stat().st_size / 2**20:.0f} MiB")
    del st

    if not args.no_cold:
        # the app's path: Embedder (default PANTRY_ENCODER), empty cache, features, 5-member ensemble
        with tempfile.TemporaryDirectory():
            emb = Embedder("all-MiniLM-L6-v2", device=device, cache=MemoryCache(), export_dir=export_dir)
            t0 = time.perf_counter()
            emb.encode(texts[:1])  # load (not part of the baseline either)
            t_load = time.perf_counter() - t0
            emb.cache = MemoryCache()
            model = RewardModel.new(emb.dim + len(FEATURE_NAMES), 5, emb.name, FEATURE_SPEC)
            t0 = time.perf_counter()
            vecs = emb.encode(texts)
            x = feature_matrix(vecs, recipes, ())
            model.score(x, [r.id for r in recipes])
            secs = time.perf_counter() - t0
        row = Row(f"cold scoring, Embedder default ({emb.variant})", secs, "s", target="<= 0.5x bare encode",
                  baseline=t_base, baseline_name="bare encode", note=f"load {t_load:.1f} s, not counted")
        row.ok = row.ratio is not None and row.ratio <= 0.5
        speed.append(row)
        record_vecs = vecs
        s = record_vecs.astype(np.float64) @ head
        change.append(Row(f"cold scoring ({emb.variant}): Spearman of scores", spearman(s_base, s) if n > 2 else float("nan"),
                          "", target=">= 0.999", ok=bool(n <= 2 or spearman(s_base, s) >= 0.999)))

    print(f"{n} recipes from {path.name}; torch device {device}; {machine()}; torch load {load_torch:.1f} s")
    print_table(speed, "encoder speed (same texts, same run)")
    print()
    print_table(change, "score change against the bare encode (fixed random linear head, seed 0)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
