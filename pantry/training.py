"""Bradley-Terry training of the reward ensemble, with validation and early stopping.

A vote between recipes a and b becomes a pair (x_a, x_b, y): y = 1 when a won, 0 when
b won, 0.5 for a tie ("both bad" says nothing about the order and is left out). The loss
is the Bradley-Terry negative log-likelihood `-[y log s(d - m) + (1-y) log s(-d - m)]`
with `d = score(a) - score(b)` and a margin `m` for votes marked "much better", plus an
L2 pull toward a prior: the population model's weights for a personal model (so a user's
few votes adapt the shared taste instead of starting from nothing), zero otherwise.

Procedure: (1) train one member on the training split, watching validation loss each
epoch; keep the best epoch (early stopping) and report strict validation metrics there;
(2) refit on *all* pairs for that many epochs, so no vote is wasted: member 0 on every
pair (its score is the model's score), the other members on bootstrap resamples (their
spread is the uncertainty).

Legacy defaults were 10 epochs, lr 1e-4, batch size 4, val split 0.2; with those the
head barely moves from its initialisation (which is how scores end up near one value).
Ours (below) were chosen on the synthetic personas and the giallozafferano data.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import torch
from torch.nn import functional as F

from .errors import NotEnoughVotes
from .reward import RewardMember, RewardModel

LEGACY_DEFAULTS = {"epochs": 10, "lr": 1e-4, "batch_size": 4, "val_split": 0.2}
MUCH_MARGIN = 1.0  # score gap asked for by a "much better" vote


@dataclass
class TrainConfig:
    epochs: int = 100  # upper bound; early stopping usually ends sooner
    lr: float = 0.01
    batch_size: int = 32
    val_split: float = 0.2
    seed: int = 0
    patience: int = 15
    l2: float = 1.0  # prior precision: pull toward the prior (or zero), fixed as votes accrue
    members: int = 5
    hidden: int = 0
    min_decisive: int = 8
    refit: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Pairs:
    """Training pairs as aligned arrays. xa/xb: (n, dim) features; y in {1, 0, 0.5}."""

    xa: np.ndarray
    xb: np.ndarray
    y: np.ndarray
    margin: np.ndarray

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, idx: np.ndarray) -> "Pairs":
        return Pairs(self.xa[idx], self.xb[idx], self.y[idx], self.margin[idx])

    @property
    def n_decisive(self) -> int:
        return int(np.sum(self.y != 0.5))

    def digest(self) -> str:
        h = hashlib.sha256()
        for a in (self.xa, self.xb, self.y, self.margin):
            h.update(np.ascontiguousarray(a, dtype=np.float32).tobytes())
        return h.hexdigest()[:16]


def make_pairs(xa: np.ndarray, xb: np.ndarray, outcomes: list[str],
               strengths: list[str | None] | None = None) -> Pairs:
    """Turn outcomes ("a", "b", "tie", "both_bad") into training arrays (both_bad dropped)."""
    strengths = strengths or [None] * len(outcomes)
    keep, y, margin = [], [], []
    for i, (o, s) in enumerate(zip(outcomes, strengths)):
        if o not in ("a", "b", "tie"):
            continue
        keep.append(i)
        y.append(1.0 if o == "a" else 0.0 if o == "b" else 0.5)
        margin.append(MUCH_MARGIN if (s == "much" and o != "tie") else 0.0)
    idx = np.array(keep, dtype=np.int64)
    dim = xa.shape[1] if xa.ndim == 2 else 0
    return Pairs(np.asarray(xa, np.float32)[idx] if len(idx) else np.zeros((0, dim), np.float32),
                 np.asarray(xb, np.float32)[idx] if len(idx) else np.zeros((0, dim), np.float32),
                 np.array(y, np.float32), np.array(margin, np.float32))


@dataclass
class EpochStats:
    epoch: int
    train_loss: float
    val_loss: float | None
    val_accuracy: float | None


@dataclass
class TrainResult:
    model: RewardModel
    metrics: dict
    history: list[EpochStats] = field(default_factory=list)


def bt_loss(d: torch.Tensor, y: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Per-pair Bradley-Terry loss for score differences d = s_a - s_b."""
    return y * F.softplus(-(d - m)) + (1 - y) * F.softplus(d + m)


def _prior_params(prior: RewardModel | None, member_index: int, dim: int, hidden: int) -> list[torch.Tensor] | None:
    if prior is None:
        return None
    if prior.dim != dim or prior.hidden != hidden:
        raise ValueError("prior model has another shape than the model being trained")
    src = prior.members[member_index % prior.n_members]
    return [p.detach().clone() for p in src.parameters()]


def _make_member(dim: int, hidden: int, prior_params: list[torch.Tensor] | None, seed: int) -> RewardMember:
    torch.manual_seed(seed)
    member = RewardMember(dim, hidden)
    if prior_params is not None:
        with torch.no_grad():
            for p, q in zip(member.parameters(), prior_params):
                p.copy_(q)
    return member


def _fit(member: RewardMember, pairs: Pairs, cfg: TrainConfig, epochs: int, seed: int,
         prior_params: list[torch.Tensor] | None, val: Pairs | None = None,
         on_epoch: Callable[[EpochStats], None] | None = None) -> tuple[int, list[EpochStats]]:
    """Adam over minibatches. With `val`, returns the best epoch and restores its weights."""
    xa, xb = torch.from_numpy(pairs.xa), torch.from_numpy(pairs.xb)
    y, m = torch.from_numpy(pairs.y), torch.from_numpy(pairs.margin)
    anchors = prior_params or [torch.zeros_like(p) for p in member.parameters()]
    opt = torch.optim.Adam(member.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(seed)
    n, bs = len(pairs), max(1, cfg.batch_size)
    history: list[EpochStats] = []
    best = (math.inf, 0, [p.detach().clone() for p in member.parameters()])
    since_best = 0
    for epoch in range(1, epochs + 1):
        member.train()
        order = torch.randperm(n, generator=gen)
        total = 0.0
        for start in range(0, n, bs):
            idx = order[start:start + bs]
            d = member(xa[idx]) - member(xb[idx])
            loss = bt_loss(d, y[idx], m[idx]).mean()
            reg = sum(((p - a) ** 2).sum() for p, a in zip(member.parameters(), anchors))
            opt.zero_grad()
            # MAP objective sum_pairs(loss) + l2 * ||theta - prior||^2, divided by n: the prior
            # keeps a fixed strength instead of growing relative to the data as votes accrue
            (loss + (cfg.l2 / n) * reg).backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        stats = EpochStats(epoch, total / n, None, None)
        if val is not None and len(val):
            vm = evaluate_pairs(member, val)
            stats.val_loss, stats.val_accuracy = vm["loss"], vm["accuracy"]
            if vm["loss"] < best[0] - 1e-6:
                best = (vm["loss"], epoch, [p.detach().clone() for p in member.parameters()])
                since_best = 0
            else:
                since_best += 1
        history.append(stats)
        if on_epoch:
            on_epoch(stats)
        if val is not None and len(val) and since_best >= cfg.patience:
            break
    if val is not None and len(val):
        with torch.no_grad():
            for p, q in zip(member.parameters(), best[2]):
                p.copy_(q)
        return best[1], history
    return epochs, history


def pair_scores(model: RewardMember | RewardModel, pairs: Pairs) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(model, RewardModel):
        return model.score(pairs.xa)[0], model.score(pairs.xb)[0]
    with torch.no_grad():
        model.eval()
        return (model(torch.from_numpy(pairs.xa)).double().numpy(),
                model(torch.from_numpy(pairs.xb)).double().numpy())


def evaluate_pairs(model: RewardMember | RewardModel, pairs: Pairs) -> dict:
    """Strict metrics on pairs: a decisive pair counts as correct only if the winner scores higher."""
    sa, sb = pair_scores(model, pairs)
    d = sa - sb
    y = pairs.y.astype(np.float64)
    loss = float(np.mean(y * np.logaddexp(0, -d) + (1 - y) * np.logaddexp(0, d))) if len(d) else float("nan")
    dec = y != 0.5
    signed = np.where(y[dec] == 1.0, d[dec], -d[dec])
    n_dec = int(dec.sum())
    return {
        "loss": loss,
        "accuracy": float(np.mean(signed > 0)) if n_dec else float("nan"),
        "n_decisive": n_dec,
        "tied_scores": int(np.sum(signed == 0)),
        "mean_margin": float(np.mean(signed)) if n_dec else float("nan"),
    }


def train_reward_model(pairs: Pairs, embedder: str, feature_spec: str, cfg: TrainConfig | None = None,
                       prior: RewardModel | None = None,
                       on_progress: Callable[[int, int, str], None] | None = None,
                       on_epoch: Callable[[EpochStats], None] | None = None) -> TrainResult:
    """Train an ensemble on `pairs`; see the module docstring for the procedure."""
    cfg = cfg or TrainConfig()
    if pairs.n_decisive < cfg.min_decisive:
        raise NotEnoughVotes(f"need at least {cfg.min_decisive} decisive votes (a or b better) to train, "
                             f"have {pairs.n_decisive}: vote on a few more pairs")
    torch.set_num_threads(max(1, min(4, torch.get_num_threads())))
    dim = pairs.xa.shape[1]
    rng = np.random.default_rng(cfg.seed)
    perm = rng.permutation(len(pairs))
    n_val = int(round(len(pairs) * cfg.val_split))
    if n_val < 2 or len(pairs) - n_val < 2:
        n_val = 0
    val, train = pairs.subset(perm[:n_val]), pairs.subset(perm[n_val:])
    total_steps = cfg.epochs + cfg.members * cfg.epochs
    done = 0

    def epoch_cb(stats: EpochStats) -> None:
        nonlocal done
        done += 1
        if on_epoch:
            on_epoch(stats)
        if on_progress:
            on_progress(done, total_steps, f"validation run, epoch {stats.epoch}")

    probe = _make_member(dim, cfg.hidden, _prior_params(prior, 0, dim, cfg.hidden), cfg.seed)
    best_epoch, history = _fit(probe, train, cfg, cfg.epochs, cfg.seed,
                               _prior_params(prior, 0, dim, cfg.hidden), val if n_val else None, epoch_cb)
    val_metrics = evaluate_pairs(probe, val) if n_val else {}
    best_epoch = max(1, best_epoch)
    total_steps = done + cfg.members * best_epoch
    members = []
    fit_on = pairs if cfg.refit else train
    for k in range(cfg.members):
        seed = cfg.seed * 1000 + k + 1
        pp = _prior_params(prior, k, dim, cfg.hidden)
        member = _make_member(dim, cfg.hidden, pp, seed)
        # member 0 is fitted on every pair and gives the score; the others see bootstrap
        # resamples and only widen the uncertainty (averaging them would lose a third of
        # the votes each and costs accuracy when there are few votes)
        idx = (np.random.default_rng(seed).integers(0, len(fit_on), len(fit_on)) if k > 0
               else np.arange(len(fit_on)))
        _fit(member, fit_on.subset(idx), cfg, best_epoch, seed, pp)
        members.append(member)
        done += best_epoch
        if on_progress:
            on_progress(done, total_steps, f"ensemble member {k + 1}/{cfg.members}")
    model = RewardModel(members, embedder, feature_spec, dim, cfg.hidden)
    train_metrics = evaluate_pairs(model, pairs)
    all_x = np.concatenate([pairs.xa, pairs.xb])
    scores = model.score(all_x)[0]
    metrics = {
        "n_pairs": len(pairs),
        "n_decisive": pairs.n_decisive,
        "n_val": n_val,
        "best_epoch": best_epoch,
        "val_accuracy": val_metrics.get("accuracy"),
        "val_loss": val_metrics.get("loss"),
        "val_mean_margin": val_metrics.get("mean_margin"),
        "val_tied_scores": val_metrics.get("tied_scores"),
        "train_accuracy": train_metrics["accuracy"],
        "train_loss": train_metrics["loss"],
        "reward_min": float(scores.min()),
        "reward_mean": float(scores.mean()),
        "reward_max": float(scores.max()),
        "data_hash": pairs.digest(),
        "prior": (prior.meta.get("version_name") if prior is not None else None),
        "config": cfg.to_dict(),
    }
    model.meta.update({"metrics": metrics, "data_hash": metrics["data_hash"]})
    return TrainResult(model, metrics, history)
