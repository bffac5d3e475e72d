"""Shared test helpers (plain functions, importable from any test module)."""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]


def shared_data() -> Path:
    """../shared/data (or $PANTRY_SHARED_DATA); tests that need it skip when it is absent."""
    return Path(os.environ.get("PANTRY_SHARED_DATA") or REPO.parent / "shared" / "data")


@functools.lru_cache(maxsize=1)
def shared_embedder():
    """One real all-MiniLM-L6-v2 per test process, with an in-memory cache shared by tests."""
    from pantry.model.embedding import Embedder
    return Embedder("all-MiniLM-L6-v2", device="cpu")


_SHARED = object()


def lab_at(home, embedder=_SHARED, db=None):
    """A Lab on a fresh home (`home`, usually tmp_path) with the environment's other settings,
    its store at `db` (default: the settings' own path) and the shared real encoder (or
    `embedder`: None builds the default lazily, a stub skips the real one)."""
    from pantry.lab import Lab
    from pantry.settings import Settings
    from pantry.storage.store import Store

    settings = Settings(**{**Settings.from_env().__dict__, "home": Path(home)})
    return Lab(settings, Store(db or settings.db_path), shared_embedder() if embedder is _SHARED else embedder)


# --- AppTest helpers shared by the page tests ------------------------------------------

def open_app(profile: str | None = "ana", page: str | None = None, timeout: int = 120):
    """The app as opened by a link with `?profile=` (None: no profile), optionally on `page`."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=timeout)
    if profile:
        at.query_params["profile"] = profile
    at.run()
    if page:
        at.switch_page(page)
        at.run()
        assert_ok(at)
    return at


def vote_button(at, choice: str):
    """The Compare page's button for `choice` (left, right, tie, both_bad) of the round on
    screen: each round's buttons have their own keys (`vote_<choice>_r<round>`), so that a
    double press never votes twice."""
    found = [b for b in at.button if (b.key or "").startswith(f"vote_{choice}_r")]
    assert len(found) == 1, [b.key for b in at.button]
    return found[0]


def assert_ok(at) -> None:
    """No exception and no error box on the page."""
    assert not at.exception, [e.message for e in at.exception]
    errors = [e.value for e in at.error]
    assert not errors, errors


def texts(elements) -> list[str]:
    return [str(e.value) for e in elements]


def store_at(home):
    from pantry.storage.store import Store

    return Store(home / "pantry.sqlite3")


def seed_votes(store, user: str, n: int = 12, seed: int = 0) -> list:
    """Store offline-composer recipes and `n` votes by `user` that prefer the quicker recipe."""
    from pantry.generators import GenerationRequest, OfflineComposer
    from pantry.domain.votes import Vote

    recipes = OfflineComposer().generate(GenerationRequest(pantry=("egg", "rice", "spinach", "onion", "tomato"),
                                                           n=2 * n, seed=seed))
    store.add_recipes(recipes)
    votes = []
    for k in range(n):
        a, b = recipes[2 * k], recipes[2 * k + 1]
        outcome = "a" if (a.minutes or 0) <= (b.minutes or 0) else "b"
        votes.append(Vote(user=user, a=a.id, b=b.id, outcome=outcome, left="a" if k % 2 else "b"))
    store.add_votes(votes)
    return recipes


def _four_pantries(store) -> list:
    """About 64 offline-composer recipes from four pantries, stored."""
    from pantry.generators import GenerationRequest, OfflineComposer

    recipes = [r for pantry in (("egg", "rice", "spinach", "onion"), ("chicken", "pasta", "tomato", "garlic"),
                                ("tofu", "noodles", "broccoli", "ginger"), ("beef", "potato", "carrot", "onion"))
               for r in OfflineComposer().generate(GenerationRequest(pantry=pantry, n=16, seed=4))]
    recipes = list({r.id: r for r in recipes}.values())
    store.add_recipes(recipes)
    return recipes


def shared_view_votes(store, raters: int = 8, votes: int = 60, newcomer: str | None = None, seed: int = 0):
    """Store offline-composer recipes and votes by `raters` profiles ("crowd-0", ...) who share a
    view of each dish (an appeal beyond its features); with `newcomer`, that profile's 12 votes
    that never meet the favourite dish. Returns (recipes, the favourite's id)."""
    import math

    from pantry.domain.votes import Vote

    recipes = _four_pantries(store)
    rng = np.random.default_rng(seed)
    appeal = {r.id: 6.0 * k / len(recipes) for k, r in enumerate(rng.permutation(recipes))}
    favourite = max(appeal, key=appeal.get)
    out = []
    for u in range(raters):
        for _ in range(votes):
            a, b = rng.choice(len(recipes), 2, replace=False)
            ra, rb = recipes[a], recipes[b]
            p = 1 / (1 + math.exp(-(appeal[ra.id] - appeal[rb.id])))
            out.append(Vote(user=f"crowd-{u}", a=ra.id, b=rb.id, outcome="a" if rng.random() < p else "b"))
    if newcomer:
        others = [r for r in recipes if r.id != favourite]
        for k in range(12):
            ra, rb = others[k % len(others)], others[(k * 5 + 3) % len(others)]
            if ra.id != rb.id:
                out.append(Vote(user=newcomer, a=ra.id, b=rb.id,
                                outcome="a" if appeal[ra.id] > appeal[rb.id] else "b"))
    store.add_votes(out)
    return recipes, favourite


def camp_votes(store, raters: int = 8, votes: int = 60, newcomer: str | None = None, seed: int = 0):
    """Store offline-composer recipes and votes by `raters` profiles ("camp-0", ...) in two camps
    that love the dishes the other camp hates (so the crowd as a whole has no view of a dish);
    with `newcomer`, that profile's 40 votes as camp 0 votes, among two thirds of the recipes.
    Returns (recipes, the ids the newcomer never rated, camp 0's appeal per id)."""
    import math

    from pantry.domain.votes import Vote

    recipes = _four_pantries(store)
    rng = np.random.default_rng(seed)
    appeal = {r.id: float(v) for r, v in zip(recipes, rng.normal(0, 2.5, len(recipes)))}
    out = []
    for u in range(raters):
        side = 1.0 if u % 2 == 0 else -1.0
        for _ in range(votes):
            a, b = rng.choice(len(recipes), 2, replace=False)
            ra, rb = recipes[a], recipes[b]
            p = 1 / (1 + math.exp(-side * (appeal[ra.id] - appeal[rb.id])))
            out.append(Vote(user=f"camp-{u}", a=ra.id, b=rb.id, outcome="a" if rng.random() < p else "b"))
    never: list[str] = []
    if newcomer:
        order = rng.permutation(len(recipes))
        rated = [recipes[k] for k in order[: 2 * len(recipes) // 3]]
        seen: set[str] = set()
        for _ in range(40):
            a, b = rng.choice(len(rated), 2, replace=False)
            ra, rb = rated[a], rated[b]
            seen |= {ra.id, rb.id}
            out.append(Vote(user=newcomer, a=ra.id, b=rb.id, outcome="a" if appeal[ra.id] > appeal[rb.id] else "b"))
        never = [r.id for r in recipes if r.id not in seen]
    store.add_votes(out)
    return recipes, never, appeal


class HashEmbedder:
    """Deterministic unit vectors from each text's hash; same interface as `Embedder` (for tests
    of the HTTP layer and the store, where what is under test is not the embedding)."""

    def __init__(self, name: str, dim: int = 384):
        self.name, self.dim, self.cache = name, dim, None

    def encode(self, texts, on_progress=None, **_):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(t.encode("utf-8", "surrogatepass")).digest()[:8], "little")
            v = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
            out[i] = v / np.linalg.norm(v)
        if on_progress:
            on_progress(len(texts), len(texts), "embedded")
        return out

    def token_counts(self, texts):
        return np.array([len(t.split()) for t in texts])


def store_flip_rater(store, user: str = "ana", n: int = 150, flip: float = 0.1, n_recipes: int = 30,
                     share: float | None = 0.15) -> list[int]:
    """A simulated rater who flips `flip` of their votes (`consistency.flip_rater_votes`, repeats
    included: a `share` of rounds) stored as the app would hold it, on `n_recipes` plain dishes
    r0..; each repeat points at the stored id of the vote it repeats. Returns the stored ids."""
    from dataclasses import replace

    from pantry.domain.recipes import recipe_from_dict
    from pantry.evaluation.consistency import flip_rater_votes

    store.ensure_user(user)
    store.add_recipes([recipe_from_dict({"id": f"r{k}", "title": f"Dish {k}", "ingredients": ["rice"]})
                       for k in range(n_recipes)])
    kwargs = {} if share is None else {"share": share}
    votes = flip_rater_votes(np.random.default_rng(1).normal(size=n_recipes), n, flip, seed=2, user=user, **kwargs)
    ids, batch = [], []
    for v in votes:  # a repeat names a stored vote: each batch ends before the vote it repeats would be needed
        if v.repeat_of is not None and v.repeat_of > len(ids):
            ids += store.add_votes(batch)
            batch = []
        batch.append(replace(v, id=None))
    return ids + store.add_votes(batch)


def train_two_profiles(store):
    """ana and bo with 20 votes each, and `Lab.train("ana")` (population + ana's personal
    model, two members, activated): the trained app most page tests start from."""
    from pantry.lab import Lab
    from pantry.model.training import TrainConfig
    from pantry.settings import Settings

    seed_votes(store, "ana", n=20, seed=0)
    seed_votes(store, "bo", n=20, seed=1)
    return Lab(Settings.from_env(), store).train("ana", TrainConfig(members=2))


def crowd_pairs(rows, x):
    """`Pairs` of votes (rater, recipe index a, recipe index b, outcome) over recipe features `x`,
    the recipes named "r<index>", with who cast each vote."""
    from pantry.model.pairs import Pairs

    who, a, b, y = zip(*rows)
    a, b = np.array(a), np.array(b)
    return Pairs(x[a].astype(np.float32), x[b].astype(np.float32), np.array(y, np.float32),
                 np.zeros(len(y), np.float32), np.array([f"r{k}" for k in a], dtype=object),
                 np.array([f"r{k}" for k in b], dtype=object), rater=np.array(who))


def newcomer_pairs(x, util, votes: int, rng, drawn: bool = False):
    """A newcomer's votes (no rater) among two thirds of the recipes of `x` (named as
    `crowd_pairs` names them) by their utility `util`: the better one wins, or with `drawn` a
    Bradley-Terry draw; `rng` a numpy Generator. Returns (their Pairs, the recipe indices they
    never rated)."""
    n = len(x)
    rated = rng.permutation(n)[: 2 * n // 3]
    rows = []
    for _ in range(votes):
        a, b = rng.choice(rated, 2, replace=False)
        win = rng.random() < 1 / (1 + np.exp(-(util[a] - util[b]))) if drawn else util[a] > util[b]
        rows.append(("newcomer", a, b, float(win)))
    pairs = crowd_pairs(rows, x)
    pairs.rater = None
    judged = set(pairs.ids_a) | set(pairs.ids_b)
    return pairs, np.array([k for k in range(n) if f"r{k}" not in judged])
