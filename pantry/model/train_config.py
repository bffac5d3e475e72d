"""Training settings: `TrainConfig`, the option metadata the UI and CLI build their
controls from (`train_options`, `config_from`), the population model's settings and the
training error. Split out of `pantry.model.training` (which re-exports every name)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Mapping, Sequence, get_type_hints

import numpy as np

from pantry.errors import PantryError

# A member is a dict of float32 numpy arrays by parameter name (`pantry.model.reward`):
# training never imports torch, and importing this module loads no scipy.stats/torch.
Member = dict

class TrainingError(PantryError):
    """Training could not produce a usable model (non-finite features or loss)."""


# What the legacy trainer used (history, not settings: this trainer has no epochs or learning rate).
LEGACY_DEFAULTS = {"epochs": 10, "lr": 1e-4, "batch_size": 4, "val_split": 0.2, "optimizer": "adam"}
NEWTON_ITERS = 100  # iteration cap; Newton converges in a few (5-15) on this objective
MUCH_MARGIN = 1.0  # score gap asked for by a "much better" vote


def _option(label: str, help: str, minimum: float | None = None, maximum: float | None = None,
            choices: Sequence[str] = ()) -> dict:
    """Field metadata read by `train_options` (and so by the CLI and the Retrain page)."""
    return {"label": label, "help": help, "minimum": minimum, "maximum": maximum, "choices": tuple(choices)}


PRIOR_SHAPES = ("evidence", "ard", "isotropic")


ENSEMBLE_ONLY = ("members", "val_split", "refit", "min_decisive")  # TrainConfig fields no single fit reads


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
        "the pantry heuristic) with the isotropic prior shape; fixed as votes accrue, so the votes "
        "outweigh it more and more (the evidence shape estimates its own)", 0.0, 100.0))
    members: int = field(default=5, metadata=_option(
        "Ensemble members", "member 0 is fitted on every vote and gives the score; the others on "
        "bootstrap resamples, and their spread is the uncertainty", 1, 20))
    min_decisive: int = field(default=8, metadata=_option(
        "Min decisive votes", "refuse to train on fewer decisive votes (a or b better)", 2, 10000))
    refit: bool = field(default=True, metadata=_option(
        "Refit on all votes", "the final model also learns from the validation votes, so no vote "
        "is wasted"))
    prior_shape: str = field(default="ard", metadata=_option(
        "Prior shape", "evidence: a prior variance per feature group (taste features, embedding, "
        "the crowd's score) chosen by each fit's marginal likelihood, so the model moves where "
        "this person's votes say people differ; ard: the same, and each taste feature's own "
        "factor on its group's share, so one feature the votes follow widens alone; isotropic: "
        "one L2 pull on every weight",
        choices=PRIOR_SHAPES))
    item_var: float = field(default=10.0, metadata=_option(
        "Offset variance", "prior variance of a per-recipe offset for recipes this profile rated "
        "(0: none); new recipes are scored by content alone", 0.0, 1000.0))

    def __post_init__(self) -> None:
        """Every field checked against its option's type and limits (ValueError naming the
        field): a config built in code, by the API or the Retrain form is as safe as a CLI one."""
        for o in train_options():
            if o.name == "min_decisive":  # internal fold fits use 0; users get the option's limit
                o = replace(o, minimum=0)
            object.__setattr__(self, o.name, o.check(getattr(self, o.name)))

    def to_dict(self) -> dict:
        return asdict(self)

    def fit_settings(self) -> tuple:
        """The settings one fit on given votes depends on: not how many members, which votes are
        held out for validation, whether to refit on them, or the minimum to train at all (a memo
        of single fits serves a cross-validation's folds and the final fit alike)."""
        return tuple(sorted((k, v) for k, v in asdict(self).items() if k not in ENSEMBLE_ONLY))




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

    @property
    def flag(self) -> str:
        """The CLI flag of this option: `--val-split` for val_split."""
        return "--" + self.name.replace("_", "-")

    def _from_text(self, value: str) -> Any:
        """A value typed as text in this option's type where it reads as one (else unchanged,
        so `check` words the refusal)."""
        t = value.strip()
        if self.kind == "bool":
            return {"true": True, "false": False}.get(t.lower(), value)
        if self.kind in ("int", "float"):
            try:
                return int(t) if self.kind == "int" else float(t)
            except ValueError:
                return value
        return value

    def check(self, value: Any, name: str | None = None, text: bool = False) -> Any:
        """`value` converted to this option's type, or ValueError naming the option (or `name`,
        e.g. the CLI flag) and its limits. A string is a number or a flag only with `text`
        (values typed as text, e.g. a bench's NAME=VALUE): a JSON body's "0.5" is refused as
        its "5" is, not read one way for floats and another for integers."""
        name = name or self.name
        if text and isinstance(value, str):
            value = self._from_text(value)
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            raise ValueError(f"{name} must be true or false, got {_show(value)}")
        if self.kind == "choice":
            if isinstance(value, str) and value in self.choices:
                return value
            raise ValueError(f"{name} must be one of {', '.join(self.choices)}, got {_show(value)}")
        try:
            if isinstance(value, (bool, str)):
                raise TypeError
            v = int(value) if self.kind == "int" else float(value)
            if self.kind == "int" and v != value:
                raise TypeError
        except (TypeError, ValueError):
            from pantry.domain.fields import OutOfRange

            if isinstance(value, OutOfRange):  # a JSON number too large to hold (the API's bodies)
                raise ValueError(f"{name} must be between {self.minimum} and {self.maximum}, "
                                 f"got {_show(value)}") from None
            raise ValueError(f"{name} must be a{'n integer' if self.kind == 'int' else ' number'}, "
                             f"got {_show(value)}") from None
        if self.kind == "float" and not np.isfinite(v):
            raise ValueError(f"{name} must be a finite number, got {_show(v)}")
        if (self.minimum is not None and v < self.minimum) or (self.maximum is not None and v > self.maximum):
            raise ValueError(f"{name} must be between {self.minimum} and {self.maximum}, got {v}")
        return v


def _show(value: Any) -> str:
    """A bad option value quoted short, in JSON's spelling (`pantry.domain.fields.show`, imported
    only for an error: building the CLI's parser loads no pydantic)."""
    from pantry.domain.fields import show as shown

    return shown(value)


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


def config_from(values: Mapping[str, Any], base: TrainConfig | None = None, text: bool = False) -> TrainConfig:
    """A TrainConfig from `values` (unknown keys ignored), each checked against its option
    (`text`: the values were typed as text, "0.5" or "true"; else strings are not numbers)."""
    base = base or TrainConfig()
    known = {o.name: o for o in train_options()}
    return replace(base, **{k: known[k].check(v, text=text) for k, v in values.items() if k in known})


# How the population model is trained (by Lab and by evaluation): fewer bootstrap members.
POPULATION_CONFIG = TrainConfig(members=3, l2=1.0, prior_shape="isotropic")
