"""Names of the model kinds and of the Retrain comparison's basis, as `StrEnum`s.

The values are the strings the store, the weights metadata and the API have always used,
so a member equals its string (`ModelKind.PERSONAL == "personal"`) and nothing stored or
sent changes; code compares with the members instead of spelling the strings again.
"""

from __future__ import annotations

from enum import StrEnum


class ModelKind(StrEnum):
    """What scores a profile's recipes: its personal model, the population model, or the
    pantry heuristic (no trained version active)."""

    PERSONAL = "personal"
    POPULATION = "population"
    HEURISTIC = "heuristic"


def version_label(kind: str, version_id: int | None) -> str:
    """The one way a model version is named in words and stored with a vote: "personal v3",
    "population v2", or the kind alone ("heuristic") when there is no version."""
    return f"{kind} v{version_id}" if version_id else str(kind)


class ComparisonBasis(StrEnum):
    """How Retrain measured the current model (`RetrainPreview.current_basis`): its recorded
    training settings cross-validated on the same folds, scored as it is (fitted on none of
    these votes), or not at all (the version records no settings)."""

    SETTINGS = "settings"
    FIXED = "fixed"
    UNKNOWN = "unknown"
