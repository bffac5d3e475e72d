"""Does a trained model recover a synthetic persona's taste on recipes it never saw?

`persona_check` composes fresh recipes (seeds and pantries disjoint from the ones
`synth` uses for its votes), drops any recipe that appears in the store's votes, scores
them with the user's active model, and reports strict pairwise accuracy against the
persona's hidden utility on random pairs of those unseen recipes, together with the
score-collapse diagnostics (distinct-score ratio, mode share, ...).
"""

from __future__ import annotations

import random
from typing import Callable

import numpy as np
from scipy.stats import spearmanr

from pantry.evaluation.diagnostics import diagnose_scores, strict_pairwise_accuracy
from pantry.generators.base import GenerationRequest
from pantry.generators.composer import OfflineComposer
from pantry.domain.recipes import Recipe
from pantry.evaluation.synth import persona_utility, random_pantry

SEED_OFFSET = 10_000_019  # keeps these seeds away from synth's


def fresh_recipes(n: int, seed: int = 0, exclude: set[str] | None = None,
                  on_progress: Callable[[int, int, str], None] | None = None) -> list[Recipe]:
    """`n` distinct composer recipes from random pantries, none whose id is in `exclude`."""
    exclude = exclude or set()
    rng = random.Random(seed + SEED_OFFSET)
    composer = OfflineComposer()
    out: dict[str, Recipe] = {}
    attempts = 0
    while len(out) < n and attempts < n * 20:
        attempts += 1
        request = GenerationRequest(pantry=random_pantry(rng), n=1,
                                    servings=rng.choice([2, 4]), seed=rng.randrange(1 << 30))
        for r in composer.generate(request):
            if r.id not in exclude and r.id not in out:
                out[r.id] = r
        if on_progress and len(out) % 50 == 0:
            on_progress(len(out), n, "composing fresh recipes")
    return list(out.values())[:n]


def persona_check(lab, persona: str, user: str, n: int = 500, seed: int = 12345, n_pairs: int = 5000,
                  on_progress: Callable[[int, int, str], None] | None = None) -> dict:
    seen = {rid for v in lab.store.votes(user) for rid in (v.a, v.b)}
    recipes = fresh_recipes(n, seed, exclude=seen)
    choice = lab.model_for(user)
    x = lab.features(recipes, (), on_progress)
    scores, unc = choice.model.score(x, [r.id for r in recipes])
    util = np.array([persona_utility(persona, r) for r in recipes])
    rng = np.random.default_rng(seed)
    i = rng.integers(0, len(recipes), n_pairs)
    j = rng.integers(0, len(recipes), n_pairs)
    keep = (i != j) & (np.abs(util[i] - util[j]) > 1e-9)
    i, j = i[keep], j[keep]
    outcome = np.where(util[i] > util[j], "a", "b")
    acc = strict_pairwise_accuracy(scores[i], scores[j], outcome)
    report = diagnose_scores(scores, lab.embedding_part(x))
    report.update({
        "persona": persona, "user": user, "model": choice.label, "unseen_recipes": len(recipes),
        "heldout_pairs": acc.n, "heldout_accuracy": acc.accuracy,
        "heldout_accuracy_low": acc.low, "heldout_accuracy_high": acc.high,
        "score_utility_spearman": float(_spearman(scores, util)),
        "mean_uncertainty": float(unc.mean()),
    })
    return report


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation with tied ranks averaged (scipy): ties are what collapse makes."""
    return float(spearmanr(a, b).statistic)
