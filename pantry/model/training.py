"""Bradley-Terry training of the reward ensemble, with validation and early stopping.

A vote between recipes a and b becomes a pair (x_a, x_b, y): y = 1 when a won, 0 when
b won, 0.5 for a tie ("both bad" says nothing about the order and is left out). The loss
is the Bradley-Terry negative log-likelihood `-[y log s(d - m) + (1-y) log s(-d - m)]`
with `d = score(a) - score(b)` and a margin `m` for votes marked "much better", plus an
L2 pull toward a prior: the population model's weights for a personal model (so a user's
few votes adapt the shared taste instead of starting from nothing), zero otherwise.

Two optimizers for the same objective:
- `lbfgs` (default): full-batch L-BFGS to convergence. With a linear head the objective is
  convex and the prior does the regularising, so the exact optimum is what we want; the
  validation split is measured every round (for the metrics and the live chart) but
  never used to choose weights. On few votes this matters: early stopping on a 2-5 vote
  validation split picks the epoch by noise.
- `adam`: minibatch Adam with `--lr`/`--batch-size`, early stopping on validation loss
  (best epoch restored), as the legacy trainer did; useful for a hidden layer.
A personal model also has an offset per recipe the user rated (prior N(0, item_var)),
fitted after the content head with it frozen (see `_fit_member`): new recipes are scored
by the content head alone, exactly as fitted on every vote.
Procedure: (1) fit one member on the training split and report strict validation metrics;
(2) refit on *all* pairs so no vote is wasted: member 0 on every pair (its score is the
model's score), the other members on bootstrap resamples (their spread is the
uncertainty); with `adam` the refit runs for the best epoch count found in (1).

`cross_validate` measures a training procedure on votes it did not fit (k folds, strict
accuracy with a Wilson interval): the one accuracy figure the app shows for a version. The
validation split's own accuracy stays in the metrics (`val_accuracy`) but is a 20% sample
of a model that is then refitted on it, so it is not shown next to the other figures.

Legacy defaults were Adam, 10 epochs, lr 1e-4, batch size 4, val split 0.2; with those the
head barely moves from its initialisation (which is how scores end up near one value).
Measured with `python -m pantry evaluate --trainer app` (README): L-BFGS beats Adam with
early stopping at every label count.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Callable, Mapping, Sequence, get_type_hints

import numpy as np
import torch
from torch.nn import functional as F

from pantry.errors import NotEnoughVotes
from pantry.model.reward import RewardMember, RewardModel

# What the legacy trainer used (history, not settings: this trainer has no epochs or learning rate).
LEGACY_DEFAULTS = {"epochs": 10, "lr": 1e-4, "batch_size": 4, "val_split": 0.2, "optimizer": "adam"}
OPTIMIZERS = ("lbfgs",)  # kept while pages/retrain.py imports it
LBFGS_ITERS = 10
MAX_ROUNDS = 100  # at most MAX_ROUNDS * LBFGS_ITERS iterations
MUCH_MARGIN = 1.0  # score gap asked for by a "much better" vote


def _option(label: str, help: str, minimum: float | None = None, maximum: float | None = None,
            choices: Sequence[str] = ()) -> dict:
    """Field metadata read by `train_options` (and so by the CLI and the Retrain page)."""
    return {"label": label, "help": help, "minimum": minimum, "maximum": maximum, "choices": tuple(choices)}


@dataclass
class TrainConfig:
    """Everything a user may set about training; the CLI and the Retrain page are built
    from these fields' metadata (`train_options`), so a new field shows up in both."""

    val_split: float = field(default=0.2, metadata=_option(
        "Validation split", "share of the votes held out while fitting, for the metrics and the loss "
        "chart only (it never picks the weights)", 0.0, 0.9))
    seed: int = field(default=0, metadata=_option(
        "Seed", "seed of the validation split and the bootstrap resamples", 0, 2**31 - 1))
    l2: float = field(default=1.0, metadata=_option(
        "L2 pull to prior", "precision of the pull toward the prior model (the population model, or "
        "the pantry heuristic); fixed as votes accrue, so the votes outweigh it more and more", 0.0, 100.0))
    members: int = field(default=5, metadata=_option(
        "Ensemble members", "member 0 is fitted on every vote and gives the score; the others on "
        "bootstrap resamples, and their spread is the uncertainty", 1, 20))
    min_decisive: int = field(default=8, metadata=_option(
        "Min decisive votes", "refuse to train on fewer decisive votes (a or b better)", 2, 10000))
    refit: bool = field(default=True, metadata=_option(
        "Refit on all votes", "the final model also learns from the validation votes, so no vote "
        "is wasted"))
    item_var: float = field(default=10.0, metadata=_option(
        "Offset variance", "prior variance of a per-recipe offset for recipes this profile rated "
        "(0: none); new recipes are scored by content alone", 0.0, 1000.0))

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TrainOption:
    """One TrainConfig field as a control: what a CLI flag or a form widget needs."""

    name: str
    label: str
    help: str
    kind: str  # "int" | "float" | "bool" | "choice"
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()

    def check(self, value: Any) -> Any:
        """`value` converted to this option's type, or ValueError naming the option and its limits."""
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            raise ValueError(f"{self.name} must be true or false, got {value!r}")
        if self.kind == "choice":
            if value in self.choices:
                return value
            raise ValueError(f"{self.name} must be one of {', '.join(self.choices)}, got {value!r}")
        try:
            if isinstance(value, bool):
                raise TypeError
            v = int(value) if self.kind == "int" else float(value)
            if self.kind == "int" and v != value:
                raise TypeError
        except (TypeError, ValueError):
            raise ValueError(f"{self.name} must be a{'n integer' if self.kind == 'int' else ' number'}, "
                             f"got {value!r}") from None
        if (self.minimum is not None and v < self.minimum) or (self.maximum is not None and v > self.maximum):
            raise ValueError(f"{self.name} must be between {self.minimum} and {self.maximum}, got {v}")
        return v


def train_options() -> list[TrainOption]:
    """The TrainConfig fields, in order, with their label, help, type, default and limits."""
    hints = get_type_hints(TrainConfig)
    out = []
    for f in fields(TrainConfig):
        meta = f.metadata
        kind = ("choice" if meta.get("choices") else
                {bool: "bool", int: "int", float: "float"}[hints[f.name]])
        out.append(TrainOption(f.name, meta["label"], meta["help"], kind, f.default,
                               meta.get("minimum"), meta.get("maximum"), tuple(meta.get("choices") or ())))
    return out


def config_from(values: Mapping[str, Any], base: TrainConfig | None = None) -> TrainConfig:
    """A TrainConfig from `values` (unknown keys ignored), each checked against its option."""
    base = base or TrainConfig()
    known = {o.name: o for o in train_options()}
    return replace(base, **{k: known[k].check(v) for k, v in values.items() if k in known})


@dataclass
class Pairs:
    """Training pairs as aligned arrays. xa/xb: (n, dim) features; y in {1, 0, 0.5}."""

    xa: np.ndarray
    xb: np.ndarray
    y: np.ndarray
    margin: np.ndarray
    ids_a: np.ndarray | None = None  # recipe ids (for per-recipe offsets); None: content only
    ids_b: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, idx: np.ndarray) -> "Pairs":
        return Pairs(self.xa[idx], self.xb[idx], self.y[idx], self.margin[idx],
                     None if self.ids_a is None else self.ids_a[idx],
                     None if self.ids_b is None else self.ids_b[idx])

    def item_index(self, item_ids: Sequence[str]) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Offset indices of each side (-1 for recipes without an offset), or Nones."""
        if not item_ids or self.ids_a is None:
            return None, None
        where = {rid: k for k, rid in enumerate(item_ids)}
        return (torch.tensor([where.get(r, -1) for r in self.ids_a], dtype=torch.long),
                torch.tensor([where.get(r, -1) for r in self.ids_b], dtype=torch.long))

    @property
    def n_decisive(self) -> int:
        return int(np.sum(self.y != 0.5))

    def digest(self) -> str:
        h = hashlib.sha256()
        for a in (self.xa, self.xb, self.y, self.margin):
            h.update(np.ascontiguousarray(a, dtype=np.float32).tobytes())
        return h.hexdigest()[:16]


def concat_pairs(*parts: Pairs) -> Pairs:
    """Pairs one after another (recipe ids kept only when every part has them)."""
    with_ids = all(p.ids_a is not None for p in parts)
    return Pairs(np.concatenate([p.xa for p in parts]), np.concatenate([p.xb for p in parts]),
                 np.concatenate([p.y for p in parts]), np.concatenate([p.margin for p in parts]),
                 np.concatenate([p.ids_a for p in parts]) if with_ids else None,
                 np.concatenate([p.ids_b for p in parts]) if with_ids else None)


def make_pairs(xa: np.ndarray, xb: np.ndarray, outcomes: list[str],
               strengths: list[str | None] | None = None,
               ids_a: Sequence[str] | None = None, ids_b: Sequence[str] | None = None) -> Pairs:
    """Turn outcomes ("a", "b", "tie", "both_bad") into training arrays (both_bad dropped).

    With recipe ids, a personal model can learn an offset per rated recipe.
    """
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
                 np.array(y, np.float32), np.array(margin, np.float32),
                 None if ids_a is None else np.asarray(list(ids_a), dtype=object)[idx],
                 None if ids_b is None else np.asarray(list(ids_b), dtype=object)[idx])


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


def _prior_params(prior: RewardModel | None, member_index: int, dim: int, hidden: int
                  ) -> dict[str, torch.Tensor] | None:
    """The prior member's shared weights by name (its per-recipe offsets are not inherited)."""
    if prior is None:
        return None
    if prior.dim != dim or prior.hidden != hidden:
        raise ValueError("prior model has another shape than the model being trained")
    src = prior.members[member_index % prior.n_members]
    return {name: p.detach().clone() for name, p in src.named_parameters() if name != "offsets"}


def _make_member(dim: int, hidden: int, n_items: int, prior_params: dict[str, torch.Tensor] | None,
                 seed: int) -> RewardMember:
    torch.manual_seed(seed)
    member = RewardMember(dim, hidden, n_items)
    if prior_params:
        with torch.no_grad():
            for name, p in member.named_parameters():
                if name in prior_params:
                    p.copy_(prior_params[name])
    return member


def _penalty(member: RewardMember, prior_params: dict[str, torch.Tensor] | None, cfg: "TrainConfig") -> torch.Tensor:
    """Negative log prior: l2 * ||w - w_prior||^2 on shared weights, o^2 / (2 item_var) on offsets."""
    total = torch.zeros(())
    for name, p in member.named_parameters():
        if name == "offsets":
            total = total + (p ** 2).sum() / (2 * cfg.item_var)
        else:
            anchor = prior_params.get(name) if prior_params else None
            total = total + cfg.l2 * (((p - anchor) if anchor is not None else p) ** 2).sum()
    return total


def _fit_lbfgs(member: RewardMember, pairs: Pairs, cfg: TrainConfig, epochs: int,
               prior_params: dict[str, torch.Tensor] | None, val: Pairs | None = None,
               on_epoch: Callable[[EpochStats], None] | None = None,
               item_ids: Sequence[str] = ()) -> tuple[int, list[EpochStats]]:
    """Full-batch L-BFGS on the same MAP objective, run to convergence.

    With a linear head the objective is convex and the prior is the regulariser, so the
    exact optimum is the right answer and there is nothing to stop early: the validation
    votes are only measured, never used to pick weights. On a few votes that matters:
    early stopping on a validation split of 2-5 votes picks the epoch by noise.

    History is per L-BFGS iteration, starting with iteration 0 (the prior's weights), so a
    chart shows the loss falling from where the prior starts it to the optimum (L-BFGS
    converges in a few tens of iterations; rounds of 10 gave 2-3 flat points). At most
    `epochs * LBFGS_ITERS` iterations; converged when the objective stops moving (relative
    change below 1e-9 over LBFGS_ITERS iterations, or none at all in one). Returns the
    number of iterations used.
    """
    xa, xb = torch.from_numpy(pairs.xa), torch.from_numpy(pairs.xb)
    y, m = torch.from_numpy(pairs.y), torch.from_numpy(pairs.margin)
    ia, ib = pairs.item_index(item_ids)
    n = len(pairs)
    opt = torch.optim.LBFGS([p for p in member.parameters() if p.requires_grad], lr=1.0, max_iter=1, max_eval=26,
                            history_size=20, line_search_fn="strong_wolfe", tolerance_grad=1e-7,
                            tolerance_change=1e-10)  # one iteration per step; max_eval: its line search

    def objective() -> tuple[torch.Tensor, torch.Tensor]:
        loss = bt_loss(member(xa, ia) - member(xb, ib), y, m).mean()
        return loss, loss + _penalty(member, prior_params, cfg) / n

    def closure() -> torch.Tensor:
        opt.zero_grad()
        total = objective()[1]
        total.backward()
        return total

    history: list[EpochStats] = []

    def record(iteration: int) -> float:
        with torch.no_grad():
            loss, total = (float(t) for t in objective())
        stats = EpochStats(iteration, loss, None, None)
        if val is not None and len(val):
            vm = evaluate_pairs(member, val, item_ids)
            stats.val_loss, stats.val_accuracy = vm["loss"], vm["accuracy"]
        history.append(stats)
        if on_epoch:
            on_epoch(stats)
        return total

    member.train()
    totals = [record(0)]
    for iteration in range(1, max(1, epochs) * LBFGS_ITERS + 1):
        opt.step(closure)
        totals.append(record(iteration))
        scale = max(1.0, abs(totals[-1]))
        if totals[-2] - totals[-1] <= 1e-12 * scale:
            break  # no progress at all (converged inside the step)
        if iteration % LBFGS_ITERS == 0 and totals[-1 - LBFGS_ITERS] - totals[-1] <= 1e-9 * scale:
            break
    return len(history) - 1, history


def _fit_member(dim: int, pairs: Pairs, cfg: TrainConfig, epochs: int, seed: int,
                prior_params: dict[str, torch.Tensor] | None, item_ids: Sequence[str],
                val: Pairs | None = None, on_epoch: Callable[[EpochStats], None] | None = None
                ) -> tuple[RewardMember, int, list[EpochStats]]:
    """Fit one member in two stages: content weights first, then per-recipe offsets.

    Stage 1 fits the content head (embedding + explicit features) with no offsets, so it
    learns from every vote: it is all a new recipe is scored by. Stage 2 freezes it and
    fits offsets for the rated recipes on what content leaves unexplained (backfitting).
    Fitted jointly, offsets would absorb votes on recipes seen once (most generated
    recipes) and starve the content weights.
    """
    def run(member: RewardMember, ids: Sequence[str], v: Pairs | None, cb) -> tuple[int, list[EpochStats]]:
        return _fit_lbfgs(member, pairs, cfg, epochs, prior_params, v, cb, ids)

    content = _make_member(dim, 0, 0, prior_params, seed)
    used, history = run(content, (), val, on_epoch)
    if not item_ids:
        return content, used, history
    member = RewardMember(dim, 0, len(item_ids))
    with torch.no_grad():
        for name, p in member.named_parameters():
            if name != "offsets":
                p.copy_(dict(content.named_parameters())[name])
                p.requires_grad_(False)
    run(member, item_ids, None, None)
    for p in member.parameters():
        p.requires_grad_(True)
    return member, used, history


def pair_scores(model: RewardMember | RewardModel, pairs: Pairs,
                item_ids: Sequence[str] = ()) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(model, RewardModel):
        return model.score(pairs.xa, pairs.ids_a)[0], model.score(pairs.xb, pairs.ids_b)[0]
    ia, ib = pairs.item_index(item_ids)
    with torch.no_grad():
        model.eval()
        return (model(torch.from_numpy(pairs.xa), ia).double().numpy(),
                model(torch.from_numpy(pairs.xb), ib).double().numpy())


def evaluate_pairs(model: RewardMember | RewardModel, pairs: Pairs, item_ids: Sequence[str] = ()) -> dict:
    """Strict metrics on pairs: a decisive pair counts as correct only if the winner scores higher."""
    sa, sb = pair_scores(model, pairs, item_ids)
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
    lbfgs = True
    unit = "iteration"
    total_steps = MAX_ROUNDS * LBFGS_ITERS + 1 + cfg.members
    done = 0

    def epoch_cb(stats: EpochStats) -> None:
        nonlocal done
        done += 1
        if on_epoch:
            on_epoch(stats)
        if on_progress:
            on_progress(min(done, total_steps), total_steps, f"validation run, {unit} {stats.epoch}")

    item_ids: tuple[str, ...] = ()
    if cfg.item_var > 0 and pairs.ids_a is not None:
        item_ids = tuple(sorted(set(pairs.ids_a) | set(pairs.ids_b)))
    n_items = len(item_ids)
    pp0 = _prior_params(prior, 0, dim, 0)
    probe, best_epoch, history = _fit_member(dim, train, cfg, MAX_ROUNDS, cfg.seed, pp0, item_ids,
                                             val if n_val else None, epoch_cb)
    val_metrics = evaluate_pairs(probe, val, item_ids) if n_val else {}
    best_epoch = max(1, best_epoch)  # adam: best epoch; lbfgs: iterations to convergence
    total_steps = done + cfg.members
    members = []
    fit_on = pairs if cfg.refit else train
    for k in range(cfg.members):
        seed = cfg.seed * 1000 + k + 1
        pp = _prior_params(prior, k, dim, 0)
        # member 0 is fitted on every pair and gives the score; the others see bootstrap
        # resamples and only widen the uncertainty (averaging them would lose a third of
        # the votes each and costs accuracy when there are few votes)
        idx = (np.random.default_rng(seed).integers(0, len(fit_on), len(fit_on)) if k > 0
               else np.arange(len(fit_on)))
        member, _, _ = _fit_member(dim, fit_on.subset(idx), cfg, MAX_ROUNDS, seed, pp,
                                   item_ids)
        members.append(member)
        done += 1
        if on_progress:
            on_progress(done, total_steps, f"ensemble member {k + 1}/{cfg.members}")
    model = RewardModel(members, embedder, feature_spec, dim, 0, item_ids=item_ids)
    train_metrics = evaluate_pairs(model, pairs)
    all_x = np.concatenate([pairs.xa, pairs.xb])
    all_ids = None if pairs.ids_a is None else list(pairs.ids_a) + list(pairs.ids_b)
    scores = model.score(all_x, all_ids)[0]
    metrics = {
        "n_pairs": len(pairs),
        "n_decisive": pairs.n_decisive,
        "n_val": n_val,
        "rated_recipes_with_offset": n_items,
        "best_epoch": best_epoch,
        "history_unit": unit,
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


# ------------------------------------------------------------------------ cross-validation

CV_FOLDS = 5  # few folds: the app runs this on every retrain and must answer in seconds


@dataclass
class CrossValidation:
    """Strict pairwise accuracy on votes no fit saw, pooled over k folds.

    Every vote is held out exactly once: the procedure under test is fitted on the other
    folds and scores the held-out fold. `pairs`/`correct` count decisive held-out votes
    (ties are trained on but not scored); a tied score counts as wrong. `low`/`high` is the
    Wilson 95% interval of the pooled accuracy; `loss` the mean held-out Bradley-Terry
    log loss (ties included). Numbers only: pages and the CLI format them.
    """

    folds: int
    pairs: int
    correct: int
    accuracy: float
    low: float
    high: float
    tie_rate: float
    loss: float
    fold_accuracy: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def metrics(self) -> dict:
        """The keys stored in a model version's metrics (and read by the sidebar)."""
        return {"cv_accuracy": self.accuracy, "cv_low": self.low, "cv_high": self.high,
                "cv_pairs": self.pairs, "cv_correct": self.correct, "cv_folds": self.folds,
                "cv_loss": self.loss}

    def at_least_as_good_as(self, other: "CrossValidation") -> bool:
        """True when this scores no fewer held-out votes right than `other` (same votes)."""
        return self.correct >= other.correct


def fold_assignment(n: int, folds: int, seed: int = 0) -> np.ndarray:
    """Fold number (0..folds-1) of each of n pairs: a seeded shuffle dealt round-robin."""
    perm = np.random.default_rng([seed, 5]).permutation(n)
    out = np.empty(n, dtype=np.int64)
    out[perm] = np.arange(n) % max(1, folds)
    return out


def usable_folds(pairs: Pairs, folds: int = CV_FOLDS) -> int:
    """`folds`, reduced so each fold holds out at least one pair (0 when CV is impossible)."""
    if len(pairs) < 2 or pairs.n_decisive < 2:
        return 0
    return max(2, min(folds, len(pairs)))


def _summary(sa: np.ndarray, sb: np.ndarray, y: np.ndarray, folds: int, fold_accuracy: list[float],
             seconds: float) -> CrossValidation:
    from pantry.evaluation.diagnostics import strict_pairwise_accuracy

    y = y.astype(np.float64)
    outcome = np.where(y == 1.0, "a", np.where(y == 0.0, "b", "tie"))
    acc = strict_pairwise_accuracy(sa, sb, outcome)
    d = sa - sb
    loss = float(np.mean(y * np.logaddexp(0, -d) + (1 - y) * np.logaddexp(0, d))) if len(d) else float("nan")
    return CrossValidation(folds, acc.n, acc.correct, acc.accuracy, acc.low, acc.high, acc.tie_rate, loss,
                           fold_accuracy, seconds)


def cross_validate(pairs: Pairs, fit: Callable[[Pairs], RewardModel | RewardMember], folds: int = CV_FOLDS,
                   seed: int = 0, on_fold: Callable[[int, int, CrossValidation], None] | None = None
                   ) -> CrossValidation:
    """k-fold cross-validation of a training procedure `fit(train_pairs) -> model`.

    Two procedures compared with the same `pairs`, `folds` and `seed` are scored on exactly
    the same held-out votes, each by a model that never saw them. `on_fold(done, folds,
    so_far)` reports the pooled figure after each fold (for a live chart).
    """
    start = time.perf_counter()
    folds = usable_folds(pairs, folds)
    if folds == 0:
        raise NotEnoughVotes(f"cross-validation needs at least 2 decisive votes, have {pairs.n_decisive}")
    assign = fold_assignment(len(pairs), folds, seed)
    sa, sb = np.zeros(len(pairs)), np.zeros(len(pairs))
    done = np.zeros(len(pairs), dtype=bool)
    fold_accuracy: list[float] = []
    for k in range(folds):
        test = np.flatnonzero(assign == k)
        model = fit(pairs.subset(np.flatnonzero(assign != k)))
        held = pairs.subset(test)
        sa[test], sb[test] = pair_scores(model, held, getattr(model, "item_ids", ()) or ())
        done[test] = True
        fold_accuracy.append(_summary(sa[test], sb[test], held.y, 1, [], 0.0).accuracy)
        if on_fold:
            on_fold(k + 1, folds, _summary(sa[done], sb[done], pairs.y[done], folds, list(fold_accuracy),
                                           time.perf_counter() - start))
    return _summary(sa, sb, pairs.y, folds, fold_accuracy, time.perf_counter() - start)


def settings_fit(embedder: str, feature_spec: str, cfg: TrainConfig, prior: RewardModel | None = None
                 ) -> Callable[[Pairs], RewardModel]:
    """`train_reward_model` with `cfg` and `prior` as a `cross_validate` procedure.

    Only member 0 is fitted (it alone gives the score; the bootstrap members only add
    uncertainty). With L-BFGS and refit on, the validation split changes nothing about
    member 0 (it is only measured), so it is skipped; otherwise the fold's training votes
    are split exactly as a real run splits all votes (Adam's early stopping, refit off).
    """
    skip_val = cfg.refit
    cv_cfg = TrainConfig(**{**cfg.to_dict(), "members": 1, "min_decisive": 0,
                            "val_split": 0.0 if skip_val else cfg.val_split})

    def fit(train: Pairs) -> RewardModel:
        return train_reward_model(train, embedder, feature_spec, cv_cfg, prior=prior).model

    return fit


def fixed_model(model: RewardModel) -> Callable[[Pairs], RewardModel]:
    """A model that is not retrained per fold (it saw none of the votes): scored as is."""
    return lambda _train: model
