"""The reward model: features -> an unbounded score, as an ensemble with an uncertainty.

Each member is `score(x) = w.x + b` (files from older versions may also carry a small GELU
hidden layer, still read and scored; the trainer fits linear heads only). There is
no bounded output activation (no sigmoid/tanh on the score) and no ReLU that can die: the
legacy model collapsed to one default score for unfamiliar inputs because its output
saturated. A linear head over sentence embeddings can only give two different recipes
the same score if their feature difference is orthogonal to w, which does not happen by
accident. Member 0 is fitted on all votes and gives the score; the other members are
fitted on bootstrap resamples, and the spread of all members is the uncertainty.

Save format (versioned, like minbpe's): `MAGIC`, a 4-byte format version, a 4-byte header
length, a UTF-8 JSON header (metadata + sha256 of the payload), then the payload
(format 2: a numpy .npz of every member's parameters, read without pickle and without
torch; format 1: torch.save of the members' state dicts, still read, with torch). Truncated
or edited files fail the hash check; weights with NaN/inf are neither saved nor loaded.
Files of every earlier format version keep loading.

Scoring is numpy (float64), so ranking recipes with a saved model or the heuristic never
imports torch (the warm `python -m pantry score` path); `RewardModel.members` builds torch
`RewardMember` modules on first access, for the trainer and for code that edits weights.

Layering: model/ may import domain, kitchen, base, errors and settings. No global torch
state is touched: random initialisation draws from a `torch.Generator`.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from pantry.base import write_bytes_atomic
from pantry.errors import ModelFileError

if TYPE_CHECKING:  # pragma: no cover
    import torch

MAGIC = b"PANTRYRM"
FORMAT_VERSION = 2  # 1: torch.save payload; 2: numpy .npz payload (read without torch)
MAX_HEADER = 1 << 20
PARAM_ORDER = ("linear.weight", "linear.bias", "up.weight", "up.bias", "down.weight", "offsets")

_RewardMember = None


def _member_class():
    """`RewardMember` (an nn.Module), defined on first use so importing this module needs no torch."""
    global _RewardMember
    if _RewardMember is not None:
        return _RewardMember
    import torch
    from torch import nn

    def _zero_linear(n_in: int, n_out: int, bias: bool = True) -> nn.Linear:
        """An all-zero nn.Linear, made without nn.Linear's random initialisation."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "initializing zero-element tensors is a no-op"
            layer = nn.Linear(0, 0, bias=bias)  # empty: its initialisation draws nothing
        layer.in_features, layer.out_features = n_in, n_out
        layer.weight = nn.Parameter(torch.zeros(n_out, n_in))
        if bias:
            layer.bias = nn.Parameter(torch.zeros(n_out))
        return layer

    class RewardMember(nn.Module):
        """One ensemble member: linear score, an optional GELU residual layer, and optional
        per-recipe offsets.

        Offsets are a personal model's memory of recipes the user has already judged (item
        index `idx`, -1 for any other recipe): new recipes are scored by content alone.
        """

        def __init__(self, dim: int, hidden: int = 0, n_items: int = 0, generator: torch.Generator | None = None):
            super().__init__()
            self.dim, self.hidden, self.n_items = dim, hidden, n_items
            # built at zero without drawing from torch's global random state
            self.linear = _zero_linear(dim, 1)
            if hidden:  # read from older files; the trainer fits linear heads only
                gen = generator if generator is not None else torch.Generator().manual_seed(0)
                self.up = _zero_linear(dim, hidden)
                nn.init.kaiming_uniform_(self.up.weight, a=5 ** 0.5, generator=gen)
                nn.init.uniform_(self.up.bias, -1 / dim ** 0.5, 1 / dim ** 0.5, generator=gen)
                self.down = _zero_linear(hidden, 1, bias=False)
                nn.init.normal_(self.down.weight, std=0.01, generator=gen)
            if n_items:
                self.offsets = nn.Parameter(torch.zeros(n_items))

        def forward(self, x: torch.Tensor, idx: torch.Tensor | None = None) -> torch.Tensor:
            s = self.linear(x).squeeze(-1)
            if self.hidden:
                s = s + self.down(nn.functional.gelu(self.up(x))).squeeze(-1)
            if self.n_items and idx is not None:
                idx = torch.as_tensor(idx, dtype=torch.long)
                known = idx >= 0
                s = s + torch.where(known, self.offsets[idx.clamp(min=0)], torch.zeros((), dtype=s.dtype))
            return s

    RewardMember.__module__ = __name__
    _RewardMember = RewardMember
    return RewardMember


def __getattr__(name: str):
    if name == "RewardMember":
        return _member_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _member_arrays(member) -> dict[str, np.ndarray]:
    """A torch member's parameters as float32 numpy arrays, by state-dict name."""
    return {k: v.detach().cpu().numpy().astype(np.float32, copy=True) for k, v in member.state_dict().items()}


def _gelu(z: np.ndarray) -> np.ndarray:
    from scipy.special import erf  # only models from old files have a hidden layer
    return 0.5 * z * (1.0 + erf(z / np.sqrt(2.0)))


def _score_arrays(a: dict[str, np.ndarray], x: np.ndarray, idx: np.ndarray | None) -> np.ndarray:
    """One member's float64 scores of the float64 rows x (numpy, the same arithmetic as forward)."""
    s = x @ a["linear.weight"][0].astype(np.float64) + float(a["linear.bias"][0])
    if "up.weight" in a:
        h = _gelu(x @ a["up.weight"].astype(np.float64).T + a["up.bias"].astype(np.float64))
        s = s + h @ a["down.weight"][0].astype(np.float64)
    if "offsets" in a and idx is not None and len(a["offsets"]):
        off = a["offsets"].astype(np.float64)
        s = s + np.where(idx >= 0, off[np.clip(idx, 0, None)], 0.0)
    return s


def _zero_arrays(dim: int, n_items: int = 0) -> dict[str, np.ndarray]:
    out = {"linear.weight": np.zeros((1, dim), np.float32), "linear.bias": np.zeros(1, np.float32)}
    if n_items:
        out["offsets"] = np.zeros(n_items, np.float32)
    return out


class RewardModel:
    """An ensemble of members plus the metadata that says what inputs it expects.

    The members live as torch modules (`members`, what the trainer and tests edit) or, for a
    model loaded from a file or built as the heuristic, as numpy arrays: scoring is numpy in
    both cases, so ranking recipes with a saved model never imports torch; `members` builds
    the torch modules on first access.
    """

    def __init__(self, members: list | None, embedder: str, feature_spec: str, dim: int, hidden: int = 0,
                 meta: dict[str, Any] | None = None, item_ids: tuple[str, ...] = (),
                 arrays: list[dict[str, np.ndarray]] | None = None):
        if (members is None) == (arrays is None):
            raise ValueError("give the members either as torch modules or as arrays")
        self._members = list(members) if members is not None else None
        self._arrays = list(arrays) if arrays is not None else None
        self.embedder, self.feature_spec, self.dim, self.hidden = embedder, feature_spec, dim, hidden
        self.meta: dict[str, Any] = meta if meta is not None else {}
        self.item_ids = tuple(item_ids)  # recipes with a learned offset (a profile's, and its crowd's)

    def __repr__(self) -> str:
        return (f"RewardModel(n_members={self.n_members}, embedder={self.embedder!r}, "
                f"feature_spec={self.feature_spec!r}, dim={self.dim}, hidden={self.hidden}, "
                f"items={len(self.item_ids)})")

    @property
    def members(self) -> list:
        """The members as torch `RewardMember`s (built from the arrays on first access)."""
        if self._members is None:
            import torch
            cls = _member_class()
            built = []
            for a in self._arrays:
                n_items = len(a["offsets"]) if "offsets" in a else 0
                m = cls(self.dim, self.hidden, n_items)
                m.load_state_dict({k: torch.from_numpy(np.array(v, np.float32)) for k, v in a.items()})
                built.append(m)
            self._members, self._arrays = built, None
        return self._members

    @members.setter
    def members(self, value: list) -> None:
        self._members, self._arrays = list(value), None

    def member_arrays(self) -> list[dict[str, np.ndarray]]:
        """Each member's parameters as numpy arrays (a fresh copy of the torch ones, if any)."""
        if self._members is not None:
            return [_member_arrays(m) for m in self._members]
        return self._arrays

    def item_index(self, ids: Sequence[str] | None, n: int) -> np.ndarray | None:
        """Offset index per row (-1: no offset), or None when there are no offsets or ids."""
        if not self.item_ids or ids is None:
            return None
        if len(ids) != n:
            raise ValueError(f"{len(ids)} recipe ids for {n} feature rows")
        where = {rid: k for k, rid in enumerate(self.item_ids)}
        return np.array([where.get(rid, -1) for rid in ids], dtype=np.int64)

    @classmethod
    def new(cls, dim: int, n_members: int, embedder: str, feature_spec: str, hidden: int = 0,
            seed: int = 0) -> "RewardModel":
        if not hidden:  # all-zero linear heads: no torch needed
            return cls(None, embedder, feature_spec, dim, 0, arrays=[_zero_arrays(dim) for _ in range(n_members)])
        import torch
        gen = torch.Generator().manual_seed(seed)
        member = _member_class()
        return cls([member(dim, hidden, generator=gen) for _ in range(n_members)], embedder,
                   feature_spec, dim, hidden)

    @property
    def n_members(self) -> int:
        return len(self._members if self._members is not None else self._arrays)

    def member_scores(self, features: np.ndarray, ids: Sequence[str] | None = None) -> np.ndarray:
        """(n_members, n) float64 scores; `ids` (recipe ids) apply learned per-recipe offsets."""
        # float64 throughout: in float32 two unrelated recipes scoring near 1.0 are equal
        # whenever they land within ~1e-7 of each other, which is a tie made by arithmetic
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"features have shape {tuple(x.shape)}, model expects (n, {self.dim})")
        idx = self.item_index(ids, x.shape[0])
        return np.stack([_score_arrays(a, x, idx) for a in self.member_arrays()])

    def score(self, features: np.ndarray, ids: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Score and uncertainty per row.

        The score is member 0's (fitted on all votes); the uncertainty is the standard
        deviation across all members (the others are bootstrap refits).
        """
        s = self.member_scores(features, ids)
        return s[0], (s.std(axis=0) if self.n_members > 1 else np.zeros(s.shape[1]))

    def check_compatible(self, embedder: str, feature_spec: str, dim: int | None = None) -> None:
        if embedder != self.embedder:
            raise ModelFileError(f"model was trained on embedder {self.embedder!r}, "
                                 f"but the app uses {embedder!r}: retrain or switch PANTRY_EMBEDDER")
        if feature_spec != self.feature_spec:
            raise ModelFileError(f"model uses feature spec {self.feature_spec!r}, "
                                 f"this code builds {feature_spec!r}: retrain the model")
        if dim is not None and dim != self.dim:
            raise ModelFileError(f"model expects {self.dim} features, got {dim}")

    def parameters_vector(self) -> np.ndarray:
        out = [a[k].ravel() for a in self.member_arrays() for k in PARAM_ORDER if k in a]
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    # ---- persistence -------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write atomically (temp file in the same folder, then rename); weights with NaN/inf
        are refused (`ModelFileError`) and nothing is written. Format version 2: the payload is
        a numpy .npz (no pickle) of every member's parameters (`m<k>:<name>`)."""
        path = Path(path)
        _check_finite(self, f"refusing to save {path.name}")
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        np.savez(buf, **{f"m{k}:{name}": v for k, a in enumerate(self.member_arrays()) for name, v in a.items()})
        payload = buf.getvalue()
        header = {
            "format_version": FORMAT_VERSION,
            "payload_format": "npz",
            "embedder": self.embedder,
            "feature_spec": self.feature_spec,
            "dim": self.dim,
            "hidden": self.hidden,
            "n_members": self.n_members,
            "item_ids": list(self.item_ids),
            "payload_sha256": hashlib.sha256(payload).hexdigest(),
            "payload_bytes": len(payload),
            "created_at": self.meta.get("created_at") or datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "meta": self.meta,
        }
        hbytes = json.dumps(header, sort_keys=True, default=_json_default).encode("utf-8")
        write_bytes_atomic(path, MAGIC + struct.pack("<II", FORMAT_VERSION, len(hbytes)) + hbytes + payload)
        return path


def _check_finite(model: "RewardModel", what: str) -> None:
    """ModelFileError unless every parameter of every member is finite."""
    bad = sum(int((~np.isfinite(v)).sum()) for a in model.member_arrays() for v in a.values())
    if bad:
        raise ModelFileError(f"{what}: weights contain NaN/inf ({bad} value(s)): retrain the model")


# Pantry heuristic used before any vote: prefer recipes you can cook now, quickly.
HEURISTIC_WEIGHTS = {"pantry_coverage": 1.0, "log_missing": -0.3, "log_minutes": -0.2, "log_steps": -0.05}


def heuristic_model(embedder: str, dim: int) -> RewardModel:
    """The pantry-coverage heuristic as a linear RewardModel (zero weight on the embedding).

    `dim` is the embedding's width; the explicit features (`features.FEATURE_NAMES`) follow it.
    """
    from pantry.model.features import FEATURE_NAMES, FEATURE_SPEC

    arrays = _zero_arrays(dim + len(FEATURE_NAMES))
    for name, w in HEURISTIC_WEIGHTS.items():
        arrays["linear.weight"][0, dim + FEATURE_NAMES.index(name)] = w
    return RewardModel(None, embedder, FEATURE_SPEC, dim + len(FEATURE_NAMES),
                       meta={"version_name": "heuristic"}, arrays=[arrays])


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def read_header(path: str | Path) -> dict[str, Any]:
    """The JSON header of a weights file (cheap: does not read the payload)."""
    header, _ = _read(path, payload=False)
    return header


def _read(path: str | Path, payload: bool = True) -> tuple[dict[str, Any], bytes]:
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(len(MAGIC) + 8)
            if len(head) < len(MAGIC) + 8 or not head.startswith(MAGIC):
                raise ModelFileError(f"{path.name} is not a PantryPilot reward model file (bad header)")
            version, hlen = struct.unpack("<II", head[len(MAGIC):])
            if version > FORMAT_VERSION:
                raise ModelFileError(f"{path.name} has format version {version}; this code reads up to "
                                     f"{FORMAT_VERSION}: upgrade PantryPilot")
            if hlen > MAX_HEADER:
                raise ModelFileError(f"{path.name} has a corrupt header (length {hlen})")
            hbytes = f.read(hlen)
            try:
                header = json.loads(hbytes.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise ModelFileError(f"{path.name} is truncated or corrupt (unreadable header)") from None
            body = f.read() if payload else b""
    except FileNotFoundError:
        raise ModelFileError(f"model file {path} does not exist") from None
    except IsADirectoryError:
        raise ModelFileError(f"model path {path} is a folder, not a file") from None
    if payload:
        if len(body) != header.get("payload_bytes") or hashlib.sha256(body).hexdigest() != header.get("payload_sha256"):
            raise ModelFileError(f"{path.name} is truncated or corrupt (weights checksum mismatch): "
                                 f"retrain or activate another version")
    return header, body


def _npz_members(body: bytes, n_members: int) -> list[dict[str, np.ndarray]]:
    with np.load(io.BytesIO(body), allow_pickle=False) as z:
        arrays: list[dict[str, np.ndarray]] = [{} for _ in range(n_members)]
        for key in z.files:
            member, _, name = key.partition(":")
            k = int(member[1:])
            if not member.startswith("m") or not 0 <= k < n_members or name not in PARAM_ORDER:
                raise ValueError(f"unexpected array {key!r}")
            arrays[k][name] = np.asarray(z[key], np.float32)
    return [{k: a[k] for k in PARAM_ORDER if k in a} for a in arrays]


def _check_shapes(a: dict[str, np.ndarray], dim: int, hidden: int, n_items: int) -> None:
    want = {"linear.weight": (1, dim), "linear.bias": (1,)}
    if hidden:
        want.update({"up.weight": (hidden, dim), "up.bias": (hidden,), "down.weight": (1, hidden)})
    if n_items:
        want["offsets"] = (n_items,)
    if set(a) != set(want):
        raise ValueError(f"parameters {sorted(a)} do not match the header (expected {sorted(want)})")
    for k, shape in want.items():
        if tuple(a[k].shape) != shape:
            raise ValueError(f"{k} has shape {tuple(a[k].shape)}, the header says {shape}")


def load_model(path: str | Path, embedder: str | None = None, feature_spec: str | None = None) -> RewardModel:
    """Load and verify a weights file; with `embedder`/`feature_spec`, refuse a mismatch."""
    header, body = _read(path)
    try:
        version = int(header.get("format_version") or 1)
        if version >= 2:
            arrays = _npz_members(body, int(header["n_members"]))
        else:  # format 1: a torch.save payload (needs torch, loaded only for such files)
            import torch
            states = torch.load(io.BytesIO(body), weights_only=True)
            arrays = [{k: v.detach().numpy().astype(np.float32) for k, v in s.items()} for s in states]
        item_ids = tuple(header.get("item_ids") or ())
        dim, hidden = int(header["dim"]), int(header["hidden"])
        for a in arrays:
            _check_shapes(a, dim, hidden, len(item_ids))
        model = RewardModel(None, header["embedder"], header["feature_spec"], dim, hidden,
                            dict(header.get("meta") or {}), item_ids, arrays=arrays)
    except ModelFileError:
        raise
    except Exception as e:
        raise ModelFileError(f"{Path(path).name} could not be loaded: {str(e).splitlines()[0]}") from None
    _check_finite(model, Path(path).name)
    model.meta.setdefault("created_at", header.get("created_at"))
    if embedder is not None or feature_spec is not None:
        model.check_compatible(embedder or model.embedder, feature_spec or model.feature_spec)
    return model
