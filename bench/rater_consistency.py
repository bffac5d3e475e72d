"""Simulated raters of known noise: does the consistency estimate recover the noise, and is a
noisy rater's model no worse when each vote is weighted by it? (issue 22; the README's
"Rater self-consistency" figures). Not a timing: values are shares and accuracies.

Each rater knows their order of 60 recipes and flips each answer with probability 0, 10% or
30%, over 600 votes with repeat rounds as the app makes them (1 in 15, sides swapped);
`pantry.evaluation.consistency.consistency` estimates the flip probability with a 95%
interval. The model rows use `simulated_model_accuracy` (300 votes, a personal model pulled
toward a population prior, held-out accuracy against the rater's true order on 200 fresh
recipes) with and without the rater's weight; the baseline is the model without it.

    .venv/bin/python bench/rater_consistency.py [--raters 50] [--models 20]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Row, machine, print_table  # noqa: E402


def main() -> None:
    import numpy as np

    from pantry.evaluation.consistency import consistency, flip_rater_votes, simulated_model_accuracy

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raters", type=int, default=50)
    ap.add_argument("--models", type=int, default=20)
    args = ap.parse_args()
    utility = np.random.default_rng(1).normal(size=60)
    rows = []
    start = time.perf_counter()
    for flip in (0.0, 0.1, 0.3):
        runs = [consistency(flip_rater_votes(utility, 600, flip, seed=s)) for s in range(args.raters)]
        covered = sum(c.flip_low <= flip <= c.flip_high for c in runs)
        rows.append(Row(f"flip {flip:.0%}: intervals holding the true noise ({args.raters} raters)",
                        covered / len(runs), unit="", target=">= 0.9", ok=covered / len(runs) >= 0.9))
        rows.append(Row(f"flip {flip:.0%}: mean estimate [mean interval]", float(np.mean([c.flip for c in runs])),
                        unit="", note=f"[{np.mean([c.flip_low for c in runs]):.3f}, "
                                      f"{np.mean([c.flip_high for c in runs]):.3f}]"))
        rows.append(Row(f"flip {flip:.0%}: agreement on repeats / cyclic triads / repeats / triads",
                        float(np.mean([c.agreement for c in runs])), unit="",
                        note=f"{np.mean([c.cyclic_rate for c in runs]):.3f} / {np.mean([c.repeats for c in runs]):.0f}"
                             f" / {np.mean([c.triads for c in runs]):.0f}"))
        models = [simulated_model_accuracy(flip, s) for s in range(args.models)]
        weight = float(np.mean([m[0] for m in models]))
        without, with_weight = float(np.mean([m[1] for m in models])), float(np.mean([m[2] for m in models]))
        rows.append(Row(f"flip {flip:.0%}: held-out accuracy with the weight (mean weight {weight:.2f}, "
                        f"{args.models} raters)", with_weight, unit="", target=">= without", baseline=without,
                        baseline_name="without", ok=with_weight >= without - 1e-12))
    print_table(rows, f"rater self-consistency, simulated ({machine()}, {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
