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
(torch.save of the members' state dicts). Truncated or edited files fail the hash check; weights with NaN/inf are neither saved nor loaded.
Files of every earlier format version keep loading.

Layering: model/ may import domain, kitchen, base, errors and settings. No global torch
state is touched: random initialisation draws from a `torch.Generator`.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import struct
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from pantry.base import write_bytes_atomic
from pantry.errors import ModelFileError

MAGIC = b"PANTRYRM"
FORMAT_VERSION = 1
MAX_HEADER = 1 << 20


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
            known = idx >= 0
            s = s + torch.where(known, self.offsets[idx.clamp(min=0)], torch.zeros((), dtype=s.dtype))
        return s


@dataclass
class RewardModel:
    """An ensemble of members plus the metadata that says what inputs it expects."""

    members: list[RewardMember]
    embedder: str
    feature_spec: str
    dim: int
    hidden: int = 0
    meta: dict[str, Any] = field(default_factory=dict)
    item_ids: tuple[str, ...] = ()  # recipes with a learned offset (personal models)

    def item_index(self, ids: Sequence[str] | None, n: int) -> torch.Tensor | None:
        """Offset index per row (-1: no offset), or None when there are no offsets or ids."""
        if not self.item_ids or ids is None:
            return None
        if len(ids) != n:
            raise ValueError(f"{len(ids)} recipe ids for {n} feature rows")
        where = {rid: k for k, rid in enumerate(self.item_ids)}
        return torch.tensor([where.get(rid, -1) for rid in ids], dtype=torch.long)

    @classmethod
    def new(cls, dim: int, n_members: int, embedder: str, feature_spec: str, hidden: int = 0,
            seed: int = 0) -> "RewardModel":
        gen = torch.Generator().manual_seed(seed)
        return cls([RewardMember(dim, hidden, generator=gen) for _ in range(n_members)], embedder,
                   feature_spec, dim, hidden)

    @property
    def n_members(self) -> int:
        return len(self.members)

    def member_scores(self, features: np.ndarray, ids: Sequence[str] | None = None) -> np.ndarray:
        """(n_members, n) float64 scores; `ids` (recipe ids) apply learned per-recipe offsets."""
        # float64 throughout: in float32 two unrelated recipes scoring near 1.0 are equal
        # whenever they land within ~1e-7 of each other, which is a tie made by arithmetic
        x = torch.as_tensor(np.asarray(features, dtype=np.float64))
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"features have shape {tuple(x.shape)}, model expects (n, {self.dim})")
        with torch.no_grad():
            idx = self.item_index(ids, x.shape[0])
            out = [copy.deepcopy(m).double().eval()(x, idx).numpy() for m in self.members]
        return np.stack(out)

    def score(self, features: np.ndarray, ids: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Score and uncertainty per row.

        The score is member 0's (fitted on all votes); the uncertainty is the standard
        deviation across all members (the others are bootstrap refits).
        """
        s = self.member_scores(features, ids)
        return s[0], (s.std(axis=0) if len(self.members) > 1 else np.zeros(s.shape[1]))

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
        return np.concatenate([p.detach().numpy().ravel() for m in self.members for p in m.parameters()])

    # ---- persistence -------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write atomically (temp file in the same folder, then rename); weights with NaN/inf
        are refused (`ModelFileError`) and nothing is written."""
        path = Path(path)
        _check_finite(self, f"refusing to save {path.name}")
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        torch.save([m.state_dict() for m in self.members], buf)
        payload = buf.getvalue()
        header = {
            "format_version": FORMAT_VERSION,
            "embedder": self.embedder,
            "feature_spec": self.feature_spec,
            "dim": self.dim,
            "hidden": self.hidden,
            "n_members": len(self.members),
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
    bad = sum(int((~torch.isfinite(p.detach())).sum()) for m in model.members for p in m.parameters())
    if bad:
        raise ModelFileError(f"{what}: weights contain NaN/inf ({bad} value(s)): retrain the model")


# Pantry heuristic used before any vote: prefer recipes you can cook now, quickly.
HEURISTIC_WEIGHTS = {"pantry_coverage": 1.0, "log_missing": -0.3, "log_minutes": -0.2, "log_steps": -0.05}


def heuristic_model(embedder: str, dim: int) -> RewardModel:
    """The pantry-coverage heuristic as a linear RewardModel (zero weight on the embedding).

    `dim` is the embedding's width; the explicit features (`features.FEATURE_NAMES`) follow it.
    """
    from pantry.model.features import FEATURE_NAMES, FEATURE_SPEC

    member = RewardMember(dim + len(FEATURE_NAMES))
    with torch.no_grad():
        for name, w in HEURISTIC_WEIGHTS.items():
            member.linear.weight[0, dim + FEATURE_NAMES.index(name)] = w
    return RewardModel([member], embedder, FEATURE_SPEC, dim + len(FEATURE_NAMES),
                       meta={"version_name": "heuristic"})


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


def load_model(path: str | Path, embedder: str | None = None, feature_spec: str | None = None) -> RewardModel:
    """Load and verify a weights file; with `embedder`/`feature_spec`, refuse a mismatch."""
    header, body = _read(path)
    try:
        states = torch.load(io.BytesIO(body), weights_only=True)
        item_ids = tuple(header.get("item_ids") or ())
        model = RewardModel([RewardMember(header["dim"], header["hidden"], len(item_ids)) for _ in states],
                            header["embedder"], header["feature_spec"], header["dim"],
                            header["hidden"], dict(header.get("meta") or {}), item_ids)
        for m, s in zip(model.members, states):
            m.load_state_dict(s)
    except ModelFileError:
        raise
    except Exception as e:
        raise ModelFileError(f"{Path(path).name} could not be loaded: {str(e).splitlines()[0]}") from None
    _check_finite(model, Path(path).name)
    model.meta.setdefault("created_at", header.get("created_at"))
    if embedder is not None or feature_spec is not None:
        model.check_compatible(embedder or model.embedder, feature_spec or model.feature_spec)
    return model
