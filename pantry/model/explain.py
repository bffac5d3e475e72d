"""Why this score: a recipe's score split into named taste-feature contributions.

The reward model is linear in `[embedding | explicit features]` (plus, for a personal
model, an offset per rated recipe), so its score decomposes exactly from its own
parameters. Everything is measured against a typical recipe, the mean feature row of the
votes the model learned from (`meta["reference_row"]`): its score is the `baseline`, each
named explicit feature j contributes `w_j * (x_j - ref_j)` (its weight in the scoring member
times how far the recipe is from the typical one: a 20-minute dish is *quicker* than
typical, not "20 minutes of penalty"). What is left is the `remainder`: the typical recipe's
score (`baseline`, a part of it) plus "this dish overall" (`own`: the embedding's part against
the typical recipe's, the recipe's offset (its votes: the profile's own, and its crowd's; on a dish where the
verdicts of people who vote like the profile stand in for its content head, the offset also
takes back that head's lesson, so the named parts there are the head's view and "this dish
overall" says how the people like you differ from it), and the hidden layer of an old model). The
contributions and the remainder sum to the score (`Explanation.total`, up to float64
rounding); people are shown the baseline and "this dish overall" as two lines. A model saved
without a reference row is explained against an all-zero row (baseline 0), as before. Data
only: pages, the CLI and the API word it.

Layering: model/ (imports reward and features only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from pantry.model.features import FEATURE_NAMES, PANTRY_COLUMNS
from pantry.model.reward import RewardModel, _score_arrays

# plain names of the explicit features, for people (the UI and the CLI may word them further)
FEATURE_LABELS = {
    "pantry_coverage": "share of it in your pantry", "has_pantry": "asked with a pantry",
    "log_missing": "ingredients to buy", "log_minutes": "cooking time", "minutes_known": "states its time",
    "log_steps": "number of steps", "log_ingredients": "number of ingredients",
    "has_vegetable": "vegetables", "has_meat": "meat", "has_fish": "fish or seafood", "has_dairy": "dairy",
    "has_egg": "egg", "has_starch": "pasta, rice or grain", "has_legume": "legumes", "has_sweet": "sweet",
    "has_nut": "nuts or seeds", "vegetarian": "vegetarian", "has_pork": "pork", "heat": "chilli heat",
    "log_spices": "spices", "richness": "richness (cream, butter, cheese, frying)", "baked": "oven-baked",
    "log_vegetables": "how much vegetable", "starchy": "starchy (potatoes, bread, pasta, rice)",
    "cuisine_italian": "Italian", "cuisine_east_asian": "East Asian", "cuisine_indian": "Indian",
    "cuisine_mexican": "Mexican", "cuisine_mediterranean": "Mediterranean", "cuisine_american": "American",
    "cuisine_french": "French",
}
REMAINDER = "this dish overall"
BASELINE = "a typical recipe"  # the model's score of the mean row it learned from


@dataclass(frozen=True)
class Contribution:
    """One named feature's part of a score: its value for the recipe and `weight * value`."""

    name: str  # a `features.FEATURE_NAMES` entry
    label: str  # its plain name (`FEATURE_LABELS`)
    value: float
    contribution: float

    def to_dict(self) -> dict:
        return {"name": self.name, "label": self.label, "value": self.value, "contribution": self.contribution}


@dataclass(frozen=True)
class Explanation:
    """A score as named contributions (largest first; zero ones left out) plus one remainder."""

    score: float
    contributions: tuple[Contribution, ...]
    remainder: float  # score minus the contributions: the baseline plus "this dish overall"
    baseline: float = 0.0  # the part of the remainder that is a typical recipe's score (0: no reference row)
    relative: bool = False  # contributions are against a typical recipe (the model has a reference row)

    @property
    def own(self) -> float:
        """"This dish overall": the remainder less the typical recipe's score (its text beyond
        the named features, and the votes on it: this profile's, and the crowd's where its verdicts
        carry, `pantry.model.crowd_items`)."""
        return float(self.remainder - self.baseline)

    @property
    def total(self) -> float:
        """The contributions and the remainder added up: the score."""
        return float(sum(c.contribution for c in self.contributions) + self.remainder)

    def top(self, k: int = 3) -> tuple[Contribution, ...]:
        """The k contributions of largest size."""
        return self.contributions[:k]

    def to_dict(self) -> dict:
        return {"score": self.score, "contributions": [c.to_dict() for c in self.contributions],
                "remainder": self.remainder, "remainder_label": REMAINDER, "baseline": self.baseline,
                "baseline_label": BASELINE, "relative": self.relative}


def reference_row(model: RewardModel) -> np.ndarray | None:
    """The typical recipe a model is explained against (`meta["reference_row"]`: the mean
    feature row of the votes it learned from), or None when it has none of its width."""
    raw = model.meta.get("reference_row")
    if not isinstance(raw, list) or len(raw) != model.dim:
        return None
    try:
        ref = np.asarray(raw, np.float64)
    except (TypeError, ValueError):
        return None
    return ref if np.isfinite(ref).all() else None


def explain(model: RewardModel, features: np.ndarray, ids: Sequence[str] | None = None,
            names: Sequence[str] = FEATURE_NAMES) -> list[Explanation]:
    """One `Explanation` per feature row, from the model's scoring member (member 0).

    Parameters: `features` (n, dim) rows as the model scores them ([embedding | explicit]);
    `ids` the recipe ids (per-recipe offsets go to the remainder); `names` the explicit
    columns' names (the last len(names) columns). A model without those columns (fewer
    columns than names) explains everything as the remainder.
    Returns: explanations in row order; each `score` equals `model.score(features, ids)[0]`.
    """
    x = np.asarray(features, np.float64)
    if x.ndim != 2 or x.shape[1] != model.dim:
        raise ValueError(f"features have shape {tuple(x.shape)}, model expects (n, {model.dim})")
    member = model.member_arrays()[0]
    scores = _score_arrays(member, x, model.item_index(ids, len(x)))
    ref = reference_row(model)
    k = len(names) if model.dim > len(names) else 0
    refs = np.zeros_like(x)
    if ref is not None:
        refs[:] = ref
        # a row scored without a pantry (has_pantry 0) has nothing to say about one: its pantry
        # columns are their own reference (the typical recipe is asked the same way)
        cols = [model.dim - k + names.index(n) for n in PANTRY_COLUMNS if k and n in names]
        if cols and "has_pantry" in names:
            no_pantry = x[:, model.dim - k + names.index("has_pantry")] == 0
            refs[np.ix_(no_pantry, cols)] = x[np.ix_(no_pantry, cols)]
    baselines = _score_arrays(member, refs, None) if ref is not None else np.zeros(len(x))
    w = member["linear.weight"][0].astype(np.float64)[model.dim - k:]
    parts = (x[:, model.dim - k:] - refs[:, model.dim - k:]) * w
    out = []
    for i in range(len(x)):
        named = [Contribution(names[j], FEATURE_LABELS.get(names[j], names[j]), float(x[i, model.dim - k + j]),
                              float(parts[i, j])) for j in range(k) if parts[i, j] != 0.0]
        named.sort(key=lambda c: -abs(c.contribution))
        total = float(sum(c.contribution for c in named))
        out.append(Explanation(float(scores[i]), tuple(named), float(scores[i]) - total, float(baselines[i]),
                               ref is not None))
    return out


def detail(c: Contribution) -> str:
    """The feature's value in the recipe's own terms ("70 min", "9 steps", "60%"; "yes" / "no"
    for a yes/no feature: "+0.17 meat (no)" is a meatless dish gaining against a typical one).
    Inverts the fixed transforms of `features`."""
    import math

    if c.name == "log_minutes":
        return f"{round(math.expm1(c.value * math.log1p(180)))} min"
    if c.name in ("log_steps", "log_ingredients"):
        n = round(math.expm1(c.value * math.log1p(20)))
        return f"{n} {'steps' if c.name == 'log_steps' else 'ingredients'}"
    if c.name == "log_missing":
        return f"{round(math.expm1(c.value))} to buy"
    if c.name == "log_spices":
        return f"{round(math.expm1(c.value * math.log1p(8)))} spices"
    if c.name == "log_vegetables":
        n = round(math.expm1(c.value * math.log1p(8)))
        return f"{n} vegetable line{'s' if n != 1 else ''}"
    if c.name == "pantry_coverage":
        return f"{c.value:.0%}"
    if c.name in ("heat", "richness"):
        return f"{c.value:.0%}"
    if c.value in (0.0, 1.0):  # a yes/no feature: against a typical recipe "no" counts too
        return "yes" if c.value else "no"
    return ""


def phrase(c: Contribution) -> str:
    """One contribution as people read it: "+0.80 vegetarian", "-0.30 cooking time (70 min)"."""
    d = detail(c)
    return f"{c.contribution:+.2f} {c.label}" + (f" ({d})" if d else "")
