"""Learning speed: how fast the personal model learns one person's taste, alone and in a crowd.

World (one per seed, from the offline composer): a pool of app rounds (a random pantry,
`n=6` candidates as the Compare page asks, near-duplicates dropped as `pantry.compare`
drops them) and 300 fresh test recipes no round contains. Raters: the project's `synth`
personas and raters from `pantry.evaluation.crowd` (varied tastes; some flip 10% of their
votes). Each rater votes on rounds drawn from the pool, the pair of each round chosen by
`pantry.compare.pick_pair` with the model the app would hold then (the heuristic alone,
the population model in a crowd; 20% random pairs) and the votes cast so far, as the app
passes them (`--model-pairs`: the model alone, the old way), Bradley-Terry on its true
utility. The population model carries the crowd's spread of tastes (`--no-spread`: not).
`--world five-tastes`: the crowd and the tested raters are instead five-taste raters
(`crowd.make_five_taste_crowd`: each taste varies by degree on diet, time, spice, richness
and comfort), a world shaped as the issue describes its independent raters.

Conditions: `alone` (the personal model's prior is the pantry heuristic) and `crowd`
(30 other crowd raters vote 50 times each first; the population model fitted on their
votes, as `Lab._fit_population`, is the prior and picks the pairs). After 10/20/50 votes
the personal model is trained by `training.train_reward_model` (app settings, one
member) and scored on random pairs of the test recipes against the rater's true utility
(strict accuracy), and on every pair within fresh rounds (new pantries, new recipes: the
candidates of one request, as the app ranks them; "within fresh rounds"). Baselines from the same run: the prior alone (heuristic / population)
and an oracle logistic regression on the rater's true taste facts from the same votes,
the same oracle told which facts the rater weighs (`own_facts_oracle`), and the model's
own taste columns told how the world's people really differ (`KnownSpread`: the prior a
crowd could at best teach; the ceiling for any prior over those columns).

    PYTHONPATH=$PWD .venv/bin/python bench/learning_speed.py [--seeds 3] [--quick]

Embeddings are cached in bench/out/learning_speed_embeddings.npz (keyed by text hash).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import ROOT, Row, machine, print_table  # noqa: E402

VOTES = (10, 20, 50)
TARGETS = {("alone", 20): 0.82, ("alone", 50): 0.86, ("crowd", 20): 0.84, ("crowd", 50): 0.87}
N_CANDIDATES = 6
CROWD = 30
CROWD_VOTES = 50
TEST_PAIRS = 3000
SPREAD_PEOPLE = 2000  # raters drawn to know the world's true spread of tastes (`KnownSpread`)


class FileCache:
    """An `EmbeddingCache` kept in one .npz file between runs."""

    def __init__(self, path: Path):
        self.path, self.data = path, {}
        if path.exists():
            with np.load(path) as z:
                self.data = {k: z[k] for k in z.files}
        self.dirty = False

    def get_embeddings(self, model, hashes):
        return {h: self.data[f"{model}|{h}"] for h in hashes if f"{model}|{h}" in self.data}

    def put_embeddings(self, model, vectors):
        self.data.update({f"{model}|{h}": v for h, v in vectors.items()})
        self.dirty = True

    def save(self):
        if self.dirty:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            np.savez(self.path, **self.data)


def random_pantry(rng: random.Random) -> tuple[str, ...]:
    """A pantry of 7-10 items a home cook might hold (the composer's own names)."""
    proteins = ["chicken", "beef", "pork", "salmon", "shrimp", "tofu", "chickpea", "egg", "lentil",
                "black bean", "bacon", "tuna", "sausage", "ground beef", "cod"]
    veg = ["onion", "garlic", "tomato", "spinach", "bell pepper", "carrot", "zucchini", "broccoli", "mushroom",
           "potato", "eggplant", "cabbage", "kale", "cauliflower", "green bean", "sweet potato", "leek"]
    base = ["rice", "pasta", "bread", "quinoa", "noodle", "tortilla", "couscous"]
    extra = ["cheddar", "parmesan", "cream", "butter", "yogurt", "feta", "chili pepper", "coconut milk",
             "soy sauce", "curry powder", "basil", "cilantro", "lemon", "ginger", "mozzarella"]
    return tuple(dict.fromkeys(rng.sample(proteins, rng.randint(1, 2)) + rng.sample(veg, rng.randint(3, 5))
                               + rng.sample(base, 1) + rng.sample(extra, rng.randint(1, 3))))


def build_world(seed: int, n_rounds: int, n_test: int, embedder, n_candidates: int = N_CANDIDATES):
    """(rounds, test, test_rounds): rounds = [(pantry, recipes, features)], test = (recipes,
    features), test_rounds: fresh rounds as `rounds` (every pair within one is a test pair)."""
    from pantry.compare import drop_near_duplicates
    from pantry.evaluation.personas import fresh_recipes
    from pantry.generators.base import GenerationRequest
    from pantry.generators.composer import OfflineComposer
    from pantry.model.features import feature_matrix

    rng = random.Random(f"learning-speed|{seed}")
    composer = OfflineComposer()
    raw = []
    while len(raw) < n_rounds:
        pantry = random_pantry(rng)
        recipes = drop_near_duplicates(composer.generate(GenerationRequest(
            pantry=pantry, n=n_candidates, servings=2, seed=rng.randrange(1 << 30))))
        if len(recipes) >= 2:
            raw.append((pantry, list(recipes)))
    seen = {r.id for _, rs in raw for r in rs}
    test = fresh_recipes(n_test, seed=seed * 7919 + 3, exclude=seen)
    # fresh rounds (new pantries, recipes no training round has): the app's own ranking task
    trng = random.Random(f"learning-speed-test-rounds|{seed}")
    test_raw = []
    while len(test_raw) < max(n_test // 5, 4):
        pantry = random_pantry(trng)
        recipes = [r for r in drop_near_duplicates(composer.generate(GenerationRequest(
            pantry=pantry, n=n_candidates, servings=2, seed=trng.randrange(1 << 30)))) if r.id not in seen]
        if len(recipes) >= 2:
            test_raw.append((pantry, recipes))
    texts = [r.text for _, rs in raw + test_raw for r in rs] + [r.text for r in test]
    emb = embedder.encode(texts)
    rounds, k = [], 0
    for pantry, rs in raw + test_raw:
        x = feature_matrix(emb[k:k + len(rs)], rs, pantry)
        rounds.append((pantry, rs, x))
        k += len(rs)
    rounds, test_rounds = rounds[:len(raw)], rounds[len(raw):]
    return rounds, (test, feature_matrix(emb[k:], test, ())), test_rounds


def rater_utility(rater):
    """recipe list -> utility array, for a crowd `Rater` or a persona name."""
    from pantry.evaluation.crowd import taste_facts
    from pantry.evaluation.synth import persona_utility

    if isinstance(rater, str):
        return lambda rs: np.array([persona_utility(rater, r) for r in rs])
    return lambda rs: rater.utility(np.stack([taste_facts(r) for r in rs]))


def cast_votes(rater, rounds, n: int, model, seed: int, design: bool = True):
    """`n` votes: (round index, i, j, outcome) on rounds drawn at random, the pair of each
    picked by `pantry.compare.pick_pair` with `model` and the votes cast so far (as the app
    passes them; `design=False`: the model alone)."""
    from pantry.compare import Duplicates, pick_pair
    from pantry.evaluation.crowd import Rater, vote

    rng = random.Random(f"votes|{getattr(rater, 'name', rater)}|{seed}")
    nrng = np.random.default_rng(rng.randrange(1 << 30))
    util = rater_utility(rater)
    who = rater if isinstance(rater, Rater) else Rater(rater, (), 0.0)
    from pantry.model.features import FEATURE_NAMES

    out, history = [], []
    for _ in range(n):
        r = rng.randrange(len(rounds))
        _, rs, x = rounds[r]
        past = np.array(history).reshape(-1, 2, len(FEATURE_NAMES)) if design else None
        i, j, _why = pick_pair(rs, x, model, nrng, duplicates=Duplicates(), history=past)
        u = util([rs[i], rs[j]])
        out.append((r, i, j, vote(who, float(u[0]), float(u[1]), rng)))
        history.append(np.stack([x[i, -len(FEATURE_NAMES):], x[j, -len(FEATURE_NAMES):]]))
    return out


def to_pairs(votes, rounds, with_ids: bool = True, raters=None):
    """Training pairs of `votes`; `raters`: who cast each (the crowd's spread is read from it)."""
    from pantry.model.training import make_pairs

    xa = np.stack([rounds[r][2][i] for r, i, _, _ in votes])
    xb = np.stack([rounds[r][2][j] for r, _, j, _ in votes])
    ids_a = [rounds[r][1][i].id for r, i, _, _ in votes]
    ids_b = [rounds[r][1][j].id for r, _, j, _ in votes]
    pairs = make_pairs(xa, xb, [o for *_, o in votes], None, ids_a if with_ids else None,
                       ids_b if with_ids else None)
    if raters is not None:
        pairs.rater = np.asarray(raters)
    return pairs


def accuracy(scores: np.ndarray, util: np.ndarray, seed: int) -> float:
    rng = np.random.default_rng(seed)
    i, j = rng.integers(0, len(util), TEST_PAIRS), rng.integers(0, len(util), TEST_PAIRS)
    keep = (i != j) & (np.abs(util[i] - util[j]) > 1e-9)
    i, j = i[keep], j[keep]
    signed = np.where(util[i] > util[j], scores[i] - scores[j], scores[j] - scores[i])
    return float(np.mean(signed > 0))


def round_accuracy(scores_of, util_of, test_rounds) -> float:
    """Strict accuracy over every pair within each fresh round (pairs of equal utility left
    out): how well the candidates of one pantry are ordered, as the app ranks them."""
    right = total = 0
    for _, rs, x in test_rounds:
        s, u = scores_of(rs, x), util_of(rs)
        for i in range(len(rs)):
            for j in range(i + 1, len(rs)):
                if abs(u[i] - u[j]) > 1e-9:
                    total += 1
                    right += (s[i] - s[j]) * (u[i] - u[j]) > 0
    return right / total if total else float("nan")


def sharpened(rater, sharp: float):
    """`rater` with its weights times `sharp`: a more decisive person (Bradley-Terry votes on
    larger utility gaps), for checking the model against the oracle where votes carry more."""
    from pantry.evaluation.crowd import Rater

    if sharp == 1 or not isinstance(rater, Rater):
        return rater
    return Rater(rater.name, tuple(w * sharp for w in rater.weights), rater.flip)


def with_shared(rater, shared: str | None, weight: float):
    """`rater` plus `weight` times the `shared` archetype's weights: a taste everyone has a
    little of (a world where a crowd has something to teach a newcomer); personas unchanged."""
    from pantry.evaluation.crowd import ARCHETYPES, TASTE_AXES, Rater

    if not shared or not weight or not isinstance(rater, Rater):
        return rater
    add = [weight * ARCHETYPES[shared].get(axis, 0.0) for axis in TASTE_AXES]
    return Rater(rater.name, tuple(w + a for w, a in zip(rater.weights, add)), rater.flip)


WORLDS = ("archetypes", "five-tastes")
FIVE_TESTED = 8  # raters measured per seed in the five-taste world


def test_raters(seed: int, world: str = "archetypes"):
    """The raters measured: the `synth` personas and six crowd raters (two flip 10%); in the
    five-taste world, `FIVE_TESTED` raters of that world (none of them in its crowd)."""
    from pantry.evaluation.crowd import make_five_taste_crowd, make_rater
    from pantry.evaluation.synth import persona_names

    if world == "five-tastes":
        return make_five_taste_crowd(FIVE_TESTED, seed=seed, prefix="tested")
    rng = random.Random(f"test-raters|{seed}")
    crowd = [make_rater("veg+light", ["vegetarian", "light"], rng),
             make_rater("in-a-hurry", ["in-a-hurry"], rng, flip=0.1),
             make_rater("heat-lover", ["heat-lover"], rng),
             make_rater("rich+comfort", ["rich", "comfort"], rng, flip=0.1),
             make_rater("pescatarian", ["pescatarian"], rng),
             make_rater("meat+hurry", ["meat-lover", "in-a-hurry"], rng)]
    return list(persona_names()) + crowd


def run(seeds, n_rounds: int, n_test: int, cache_path: Path, raters_filter=None, verbose=True, settings=None,
        sharp: float = 1.0, design: bool = True, spread: bool = True, n_candidates: int = N_CANDIDATES,
        shared: str | None = None, shared_weight: float = 0.0, world: str = "archetypes"):
    from pantry.evaluation.crowd import make_crowd, make_five_taste_crowd, oracle_scores, taste_facts
    from pantry.model.embedding import Embedder
    from pantry.model.features import FEATURE_SPEC
    from pantry.model.reward import heuristic_model
    from pantry.model.training import POPULATION_CONFIG, TrainConfig, train_reward_model

    cache = FileCache(cache_path)
    embedder = Embedder(cache=cache)
    name = embedder.name
    cfg = TrainConfig(**{"members": 1, "val_split": 0.0, **(settings or {})})
    pop_cfg = replace(POPULATION_CONFIG, members=1, val_split=0.0)
    results = []  # dicts: seed, rater, condition, votes, model -> accuracy
    fit_seconds = []
    for seed in seeds:
        t0 = time.perf_counter()
        rounds, (test, xt), test_rounds = build_world(seed, n_rounds, n_test, embedder, n_candidates)
        cache.save()
        heur = heuristic_model(name, embedder.dim)
        made = make_five_taste_crowd(CROWD, seed=1000 + seed) if world == "five-tastes" else \
            make_crowd(CROWD, seed=1000 + seed)
        crowd = [sharpened(with_shared(c, shared, shared_weight), sharp) for c in made]
        cast = [cast_votes(c, rounds, CROWD_VOTES, heur, seed * 100 + k, design) for k, c in enumerate(crowd)]
        crowd_votes = [v for vs in cast for v in vs]
        who = [k for k, vs in enumerate(cast) for _ in vs] if spread else None
        population = train_reward_model(to_pairs(crowd_votes, rounds, with_ids=spread, raters=who), name,
                                        FEATURE_SPEC, pop_cfg, prior=heur).model
        facts_t = np.stack([taste_facts(r) for r in test])
        known = KnownSpread(rounds, world, seed)
        raters = [sharpened(with_shared(r, shared, shared_weight), sharp) for r in test_raters(seed, world)
                  if raters_filter is None or getattr(r, "name", r) in raters_filter]
        if verbose:
            print(f"seed {seed}: {len(rounds)} rounds, {len(test)} test recipes, crowd of {CROWD} "
                  f"({len(crowd_votes)} votes) in {time.perf_counter() - t0:.0f}s", flush=True)
        for rater in raters:
            rname = getattr(rater, "name", rater)
            util_t = rater_utility(rater)(test)
            for cond, prior in (("alone", heur), ("crowd", population)):
                votes = cast_votes(rater, rounds, max(VOTES), prior, seed, design)
                base = accuracy(prior.score(xt)[0], util_t, seed)
                for n in VOTES:
                    vs = votes[:n]
                    pairs = to_pairs(vs, rounds)
                    t = time.perf_counter()
                    model = train_reward_model(pairs, name, FEATURE_SPEC, cfg, prior=prior).model
                    fit_seconds.append(time.perf_counter() - t)
                    fa = np.stack([taste_facts(rounds[r][1][i]) for r, i, _, _ in vs])
                    fb = np.stack([taste_facts(rounds[r][1][j]) for r, _, j, _ in vs])
                    row = {"seed": seed, "rater": rname, "condition": cond, "votes": n,
                           "project": accuracy(model.score(xt, [r.id for r in test])[0], util_t, seed),
                           "prior_only": base,
                           "heuristic": accuracy(heur.score(xt)[0], util_t, seed),
                           "oracle": accuracy(oracle_scores(fa, fb, [o for *_, o in vs], facts_t), util_t, seed),
                           "oracle_own": own_facts_oracle(rater, fa, fb, [o for *_, o in vs], facts_t, util_t, seed,
                                                         world),
                           "oracle_spread": float("nan") if isinstance(rater, str) else accuracy(
                               known.scores(np.stack([rounds[r][2][i] for r, i, _, _ in vs]),
                                            np.stack([rounds[r][2][j] for r, _, j, _ in vs]),
                                            [o for *_, o in vs], xt), util_t, seed),
                           "project_round": round_accuracy(lambda rs, x: model.score(x, [r.id for r in rs])[0],
                                                           rater_utility(rater), test_rounds),
                           "oracle_round": round_accuracy(
                               lambda rs, x: oracle_scores(fa, fb, [o for *_, o in vs],
                                                           np.stack([taste_facts(r) for r in rs])),
                               rater_utility(rater), test_rounds),
                           "prior_round": round_accuracy(lambda rs, x: prior.score(x)[0], rater_utility(rater),
                                                         test_rounds)}
                    results.append(row)
                    if verbose:
                        print(f"  {rname:22} {cond:5} n={n:2} project={row['project']:.3f} "
                              f"prior={base:.3f} oracle={row['oracle']:.3f}", flush=True)
    return results, fit_seconds


def own_facts_oracle(rater, fa, fb, outcomes, facts_t, util_t, seed, world: str) -> float:
    """Accuracy of the oracle told which facts the rater weighs: in the archetype world the
    axes with |weight| > 0.5 (the archetypes', not the jitter), in the five-taste world the
    five tastes; NaN for a persona (no weights)."""
    from pantry.evaluation.crowd import Rater, five_taste_facts, oracle_scores

    if not isinstance(rater, Rater):
        return float("nan")
    if world == "five-tastes":
        return accuracy(oracle_scores(five_taste_facts(fa), five_taste_facts(fb), outcomes,
                                      five_taste_facts(facts_t)), util_t, seed)
    keep = np.abs(np.asarray(rater.weights)) > 0.5
    return accuracy(oracle_scores(fa[:, keep], fb[:, keep], outcomes, facts_t[:, keep]), util_t, seed)


class KnownSpread:
    """The world's true spread of tastes on the model's standardised taste columns.

    A reference, not a model: `SPREAD_PEOPLE` raters drawn from the world's own generator,
    each one's true weights on the taste facts carried to the columns by a least-squares
    map (columns -> facts over the world's recipes); their mean and covariance are a
    Gaussian prior, and `scores` is the MAP logistic regression on the columns under it.
    It is what a perfect estimate of "how people differ" could give a personal model
    whose only features are these columns."""

    def __init__(self, rounds, world: str, seed: int):
        from pantry.evaluation.crowd import make_crowd, make_five_taste_crowd, taste_facts
        from pantry.model.features import FEATURE_NAMES, NOT_TASTE

        self.cols = np.array([k for k, n in enumerate(FEATURE_NAMES) if n not in NOT_TASTE]) - len(FEATURE_NAMES)
        x = np.vstack([xr for _, _, xr in rounds])
        f = np.stack([taste_facts(r) for _, rs, _ in rounds for r in rs])
        sd = x[:, self.cols].std(axis=0)
        self.keep, self.sd = sd > 0.03, np.where(sd > 0.03, sd, 1.0)
        z = self.z(x)
        self.to_facts = np.linalg.lstsq(z - z.mean(0), f - f.mean(0), rcond=1e-6)[0]  # (columns, facts)
        people = (make_five_taste_crowd if world == "five-tastes" else make_crowd)(SPREAD_PEOPLE, seed=77_000 + seed)
        w = np.array([p.weights for p in people]) @ self.to_facts.T
        cov = np.cov(w.T)
        cov += 1e-3 * np.trace(cov) / len(cov) * np.eye(len(cov))
        self.mean, self.root = w.mean(axis=0), np.linalg.cholesky(cov)

    def z(self, x: np.ndarray) -> np.ndarray:
        """Standardised taste columns of feature rows."""
        return (x[:, self.cols] / self.sd)[:, self.keep]

    def scores(self, xa: np.ndarray, xb: np.ndarray, outcomes, xt: np.ndarray) -> np.ndarray:
        """MAP under the known prior (whitened: w = mean + root @ u, u ~ N(0, I))."""
        from pantry.model.training import fit_bradley_terry

        za, zb = self.z(xa), self.z(xb)
        n = len(za)
        y = np.array([1.0 if o == "a" else 0.0 for o in outcomes])
        rows = np.concatenate([za, zb]) @ self.root
        fit = fit_bradley_terry(rows, np.arange(n), np.arange(n, 2 * n), y, 0.5, d0=(za - zb) @ self.mean)
        return self.z(xt) @ (self.mean + self.root @ fit.coef)


def _mean(values) -> float:
    """Mean of the finite values (NaN: a figure that does not apply to any of these raters)."""
    kept = [v for v in values if np.isfinite(v)]
    return float(np.mean(kept)) if kept else float("nan")


def summary(results):
    """{(condition, votes): {model: mean accuracy}} over raters and seeds."""
    out = {}
    for cond in ("alone", "crowd"):
        for n in VOTES:
            rows = [r for r in results if r["condition"] == cond and r["votes"] == n]
            if rows:
                out[(cond, n)] = {m: _mean([r.get(m, np.nan) for r in rows])
                                  for m in ("project", "prior_only", "heuristic", "oracle", "oracle_own",
                                            "oracle_spread", "project_round", "oracle_round", "prior_round")}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=150, help="app rounds in each world's pool")
    ap.add_argument("--test", type=int, default=300, help="fresh test recipes")
    ap.add_argument("--raters", nargs="*", default=None, help="only these raters (names)")
    ap.add_argument("--quick", action="store_true", help="1 seed, 100 rounds, 200 test recipes")
    ap.add_argument("--out", default=str(ROOT / "bench" / "out"))
    ap.add_argument("--sharp", type=float, default=1.0,
                    help="multiply the simulated raters' taste weights (more decisive votes; personas unchanged)")
    ap.add_argument("--model-pairs", action="store_true",
                    help="choose pairs by the model alone, without the votes cast so far (the old way)")
    ap.add_argument("--candidates", type=int, default=N_CANDIDATES,
                    help="candidates per round (the Compare page's slider; default as the app)")
    ap.add_argument("--shared", default=None, metavar="ARCHETYPE",
                    help="give every simulated rater (crowd and tested) a little of this archetype's taste")
    ap.add_argument("--shared-weight", type=float, default=0.5, help="how much of --shared (default 0.5)")
    ap.add_argument("--no-spread", action="store_true",
                    help="the population model without the crowd's spread of tastes (the old prior shape)")
    ap.add_argument("--world", choices=WORLDS, default="archetypes",
                    help="archetypes: the personas and raters built from one or two archetypes plus jitter; "
                         "five-tastes: raters whose taste varies by degree on diet, time, spice, richness "
                         "and comfort (its oracle on those five is at 0.83 / 0.88 after 20 / 50 votes)")
    ap.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE",
                    help="personal TrainConfig settings to try (e.g. prior_shape=isotropic l2=1)")
    args = ap.parse_args(argv)
    from pantry.model.training import config_from
    given = dict(kv.split("=", 1) for kv in args.set)
    settings = {k: v for k, v in config_from(given, text=True).to_dict().items() if k in given}
    if args.quick:
        args.seeds, args.rounds, args.test = 1, 100, 200
    out = Path(args.out)
    t = time.perf_counter()
    results, fit_seconds = run(range(args.seed, args.seed + args.seeds), args.rounds, args.test,
                               out / "learning_speed_embeddings.npz", args.raters,
                               settings=settings, sharp=args.sharp, design=not args.model_pairs,
                               spread=not args.no_spread, n_candidates=args.candidates,
                               shared=args.shared, shared_weight=args.shared_weight, world=args.world)
    s = summary(results)
    rows = []
    for (cond, n), m in s.items():
        target = TARGETS.get((cond, n))
        prior = "population" if cond == "crowd" else "heuristic"
        rows.append(Row(f"{cond}, {n} votes: personal model", m["project"], "", target and f">= {target}",
                        m["prior_only"], prior, ok=None if target is None else m["project"] >= target))
        rows.append(Row(f"{cond}, {n} votes: oracle (true taste facts)", m["oracle"], "", None,
                        m["prior_only"], prior))
        if np.isfinite(m["oracle_own"]):
            rows.append(Row(f"{cond}, {n} votes: oracle on the facts the rater weighs", m["oracle_own"], "", None,
                            m["prior_only"], prior))
        if np.isfinite(m["oracle_spread"]):
            rows.append(Row(f"{cond}, {n} votes: the model's taste columns, told how people differ", m["oracle_spread"],
                            "", None, m["prior_only"], prior))
        rows.append(Row(f"{cond}, {n} votes: within fresh rounds: personal model", m["project_round"], "", None,
                        m["prior_round"], prior))
        rows.append(Row(f"{cond}, {n} votes: within fresh rounds: oracle", m["oracle_round"], "", None,
                        m["prior_round"], prior))
    if ("alone", 20) in s and ("crowd", 20) in s:
        for n in VOTES:
            rows.append(Row(f"crowd minus alone, {n} votes", s[("crowd", n)]["project"] - s[("alone", n)]["project"],
                            "", ">= 0", ok=s[("crowd", n)]["project"] >= s[("alone", n)]["project"]))
    rows.append(Row("personal fit time (median)", float(np.median(fit_seconds)), "s"))
    print()
    print_table(rows, f"Learning speed ({args.world}), {args.seeds} seed(s), {len({r['rater'] for r in results})} raters "
                      f"({machine()})")
    per_rater = {}
    for r in results:
        per_rater.setdefault(f"{r['rater']}|{r['condition']}|{r['votes']}", []).append(r["project"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "learning_speed.json").write_text(json.dumps(
        {"results": results, "summary": {f"{c}|{n}": v for (c, n), v in s.items()},
         "per_rater": {k: float(np.mean(v)) for k, v in per_rater.items()}}, indent=1))
    print(f"total {time.perf_counter() - t:.0f}s; wrote {out}/learning_speed.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
