"""Evaluation: how good a reward model is, offline and in the app's diagnostics.

What the package is for, one module per job:
- `protocols`: `python -m pantry evaluate` (seen / unseen / cold protocols on vote files, random
  or active selection), with `splits` (vote arrays, per-user splits, user folds), `fitting`
  (the trainer and cache of one run), `baselines` (item Bradley-Terry), `workers` (the process
  pool) and `seeds` (the summary over seeds);
- `diagnostics`: pure functions over arrays: strict accuracy with Wilson intervals, margins,
  position bias, truncation, with `collapse` (score spread, collapse alerts), `calibration`
  (Brier, reliability), `distance` (out of distribution) and `checks` (input checks);
- `reports`: the Diagnostics and Retrain pages' one call per action (`diagnostics_report`,
  version tables), returning numbers and dataclasses for the UI to format;
- `synth`: synthetic personas that vote with Bradley-Terry noise;
- `personas`: the app loop measured on a persona (votes in, held-out accuracy out);
- `consistency`: a rater's consistency with themselves (repeat rounds, agreement on repeats,
  intransitive triads, a flip-probability estimate) and the vote weight it implies.

What it may import: `pantry.model`, `pantry.domain`, `pantry.kitchen`, `pantry.generators`,
`pantry.storage`, `pantry.base`, `pantry.errors`, `pantry.settings`, `pantry.paths`; never
the UI. Names load lazily (numpy, pandas and torch only when used).
"""

from pantry.base import lazy_exports

_NAMES = {
    "evaluate": "pantry.evaluation.protocols", "evaluate_files": "pantry.evaluation.protocols",
    "ModelSettings": "pantry.evaluation.protocols",
    "diagnose_scores": "pantry.evaluation.diagnostics", "collapse_alerts": "pantry.evaluation.diagnostics",
    "strict_pairwise_accuracy": "pantry.evaluation.diagnostics", "wilson_interval": "pantry.evaluation.diagnostics",
    "diagnostics_report": "pantry.evaluation.reports", "DiagnosticsReport": "pantry.evaluation.reports",
    "persona_names": "pantry.evaluation.synth", "simulate_votes": "pantry.evaluation.synth",
    "persona_check": "pantry.evaluation.personas",
    "profile_consistency": "pantry.evaluation.consistency",
}
__all__ = sorted(_NAMES)
__getattr__, __dir__ = lazy_exports(__name__, _NAMES)
