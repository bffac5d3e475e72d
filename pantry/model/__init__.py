"""The reward model: from recipes to features to scores, and how it is trained.

What the package is for, one module per job:
- `embedding`: the sentence encoder (all-MiniLM-L6-v2 from an installed package, sha256
  checked, never downloaded) with a persistent cache keyed by (model, text hash);
- `features`: the feature matrix [embedding | pantry coverage, missing, minutes, steps, ...];
- `reward`: `RewardModel` (an ensemble of linear heads plus per-recipe offsets), the pantry
  heuristic, and the versioned, checksummed weights file;
- `training`: the one trainer (Newton on the MAP Bradley-Terry objective), `TrainConfig`
  and the options derived from it, the validation split, cross-validation, strict accuracy;
- `selection`: which pair to ask next (expected information) and best-of-N ranking.

What it may import: `pantry.domain`, `pantry.kitchen`, `pantry.base`, `pantry.errors`,
`pantry.settings`, `pantry.paths`; never storage, generators, evaluation or the UI.
Names load lazily, so `import pantry.model.features` does not import torch.
"""

from pantry.base import lazy_exports

_NAMES = {
    "Embedder": "pantry.model.embedding", "EmbeddingCache": "pantry.model.embedding",
    "MemoryCache": "pantry.model.embedding",
    "FEATURE_NAMES": "pantry.model.features", "FEATURE_SPEC": "pantry.model.features",
    "feature_matrix": "pantry.model.features",
    "RewardModel": "pantry.model.reward", "RewardMember": "pantry.model.reward",
    "heuristic_model": "pantry.model.reward", "load_model": "pantry.model.reward",
    "TrainConfig": "pantry.model.training", "TrainOption": "pantry.model.training",
    "TrainResult": "pantry.model.training", "train_options": "pantry.model.training",
    "train_reward_model": "pantry.model.training", "cross_validate": "pantry.model.training",
    "validation_split": "pantry.model.training", "strict_counts": "pantry.model.training",
    "best_of_n": "pantry.model.selection", "choose_pair": "pantry.model.selection",
}
__all__ = sorted(_NAMES)
__getattr__, __dir__ = lazy_exports(__name__, _NAMES)
