"""Several seeds of one protocol summarised: per model the mean of the per-seed accuracies
with a t interval from their seed-to-seed spread (`seed_interval`, `summarise_seeds`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from pantry.errors import InvalidInput


def seed_interval(values: Sequence[float], confidence: float = 0.95) -> dict:
    """Mean of per-seed accuracies with a t interval from their spread (N-1 degrees of freedom).

    One seed has no spread: low/high are None. Returns mean, low, high, sd, n, per_seed.
    """
    from scipy.stats import t as student_t

    v = np.asarray(list(values), np.float64)
    out = {"mean": float(v.mean()) if len(v) else float("nan"), "low": None, "high": None, "sd": None,
           "n": int(len(v)), "per_seed": [float(x) for x in v]}
    if len(v) >= 2:
        sd = float(v.std(ddof=1))
        half = float(student_t.ppf(0.5 + confidence / 2, len(v) - 1)) * sd / np.sqrt(len(v))
        out.update(sd=sd, low=out["mean"] - half, high=out["mean"] + half)
    return out


def summarise_seeds(runs: Sequence[dict], confidence: float = 0.95) -> dict:
    """One result over several seeds' `evaluate` results (the same protocol, K and selection)."""
    if not runs:
        raise InvalidInput("no runs to summarise")
    first = runs[0]
    project = seed_interval([r["accuracy"] for r in runs], confidence)
    baselines = {k: seed_interval([r["baselines"][k] for r in runs], confidence) for k in first["baselines"]}
    if "accuracy_random_same_split" in first:
        baselines["random_same_split"] = seed_interval([r["accuracy_random_same_split"] for r in runs], confidence)
    return {
        "protocol": first["protocol"], "labels": first["labels"], "selection": first["selection"],
        "seeds": [r["seed"] for r in runs],
        "interval": f"{confidence:.0%} t interval over the per-seed accuracies (N-1 degrees of freedom)",
        "users": first["users"], "users_per_seed": [r["users"] for r in runs], "recipes": first["recipes"],
        "test_pairs": int(sum(r["test_pairs"] for r in runs)),  # pooled over seeds
        "test_pairs_per_seed": [r["test_pairs"] for r in runs],
        "accuracy": project["mean"], "accuracy_low": project["low"], "accuracy_high": project["high"],
        "accuracy_per_seed": project["per_seed"],
        "project": project,
        "baselines": baselines,
        "unavailable": first["unavailable"],
        "tie_rate": float(np.mean([r["tie_rate"] for r in runs])),
        "settings": first["settings"],
        "runs": list(runs),
    }
