"""Tables behind the Scores & diagnostics, Retrain and Data pages (no Streamlit here).

Each function takes the `Lab` (or its store) and plain values and returns pandas
DataFrames or small dataclasses that the pages chart and show:

- `votes_summary`: votes per profile and outcome; `votes_frame`: every vote, one row each;
- `probe_recipes`: the recipe set to score (recent, all, or an uploaded JSONL);
- `score_table`: every chosen model version's scores and uncertainty on the probe set;
- `held_out_votes`: the validation split training uses (a refitted model has seen it: never
  call its accuracy held out);
- `vote_features` / `vote_margins` / `reliability`: how scores explain human votes;
- `metrics_table`: collapse metrics, the held-out (cross-validated) accuracy with a Wilson
  interval, the in-sample agreement with the votes, alerts;
- `human_position_bias`: how often the left card won;
- `distance_table`: each probe recipe's distance to the model's training recipes;
- `versions_table` / `retrain_comparison`: the cross-validated accuracy of versions and of a Retrain;
- `diagnostics_report`: the Scores & diagnostics page's whole analysis in one call (a version
  that cannot be loaded is left out and named in `DiagnosticsReport.skipped`).

Numbers and tables only: the pages word and format them (intervals, labels, hints).
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from pantry.evaluation.diagnostics import (PositionBias, bt_probability, collapse_alerts, expected_calibration_error,
                          nearest_distance, position_bias, score_spread, strict_pairwise_accuracy)
from pantry.errors import InvalidInput
from pantry.domain.recipes import Recipe
from pantry.domain.votes import OUTCOMES, Vote
from pantry.model.training import validation_split

PROBE_SOURCES = {"recent": "recent generated recipes", "all": "all recipes in the store",
                 "upload": "an uploaded recipes JSONL"}
# Column names of `votes_summary`: a vote's a/b are storage order, meaningless to people, so
# both count as "one recipe won" (the Data page names the winner of each vote).
OUTCOME_LABELS = {"a": "one recipe won", "b": "one recipe won", "tie": "about equal", "both_bad": "both bad"}


# ------------------------------------------------------------------------------- votes

def votes_summary(store, user: str | None = None) -> pd.DataFrame:
    """One row per profile: votes where one recipe won (decisive), about equal, both bad, the
    total, and deleted (undone) votes.
    Counted by the database (`Store.vote_tallies`), not by reading every vote."""
    rows: dict[str, dict] = {}
    for name, outcome, deleted, n in store.vote_tallies(user):
        row = rows.setdefault(name, {"profile": name, **{OUTCOME_LABELS[o]: 0 for o in OUTCOMES},
                                     "total": 0, "deleted": 0})
        if deleted:
            row["deleted"] += n
            continue
        row[OUTCOME_LABELS[outcome]] += n
        row["total"] += n
    columns = ["profile", *dict.fromkeys(OUTCOME_LABELS.values()), "total", "deleted"]
    return pd.DataFrame(list(rows.values()), columns=columns)


def votes_frame(store, user: str | None = None, include_deleted: bool = False,
                since: str | datetime | None = None) -> pd.DataFrame:
    """`store`'s votes as a DataFrame (the Data page's table), one row per vote, with recipe
    titles and a UTC datetime column.

    Columns: id, user, a, b, a_title, b_title, outcome, strength, left, reasons, pantry (tuples:
    a frame of lists cannot be hashed for `st.cache_data`),
    created_at (datetime64, UTC), model_version, generator, deleted, batch (the import
    batch id, <NA> for votes cast in the app). Data only: the page words each vote
    (`ui.wording.votes_in_words`).
    """
    votes = store.votes(user=user, include_deleted=include_deleted, since=since)
    titles = {rid: r.title for rid, r in store.get_recipes({x for v in votes for x in (v.a, v.b)}).items()}
    batches = store.vote_batches() if votes else {}
    columns = ["id", "user", "a", "b", "a_title", "b_title", "outcome", "strength", "left", "reasons",
               "pantry", "created_at", "model_version", "generator", "deleted", "batch"]
    rows = [{"id": v.id, "user": v.user, "a": v.a, "b": v.b, "a_title": titles.get(v.a),
             "b_title": titles.get(v.b), "outcome": v.outcome, "strength": v.strength, "left": v.left,
             "reasons": tuple(v.reasons), "pantry": tuple(v.pantry), "created_at": v.created_at,
             "model_version": v.model_version, "generator": v.generator, "deleted": v.deleted,
             "batch": batches.get(v.id)}
            for v in votes]
    frame = pd.DataFrame(rows, columns=columns)
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True, format="ISO8601")
    frame["batch"] = frame["batch"].astype("Int64")
    return frame


def human_position_bias(votes: Sequence[Vote]) -> PositionBias:
    """Left-card win rate over decisive votes whose left side is known (Wilson interval)."""
    left_won = [v.outcome == v.left for v in votes if v.decisive and v.left in ("a", "b") and not v.deleted]
    return position_bias(np.array(left_won, dtype=bool))


@dataclass(frozen=True)
class HeldOut:
    """The votes diagnostics check scores against: training's validation split, or every
    usable vote when the split would leave fewer than 2 on either side (`split` False)."""

    votes: list[Vote]
    usable: int  # a/b/tie votes (what training splits)
    seed: int
    split: bool


def held_out_votes(votes: Sequence[Vote], seed: int = 0, val_split: float = 0.2) -> HeldOut:
    """The votes training holds out for validation (same rule as `train_reward_model`).

    Training keeps a/b/tie votes in order and splits them with `training.validation_split`.
    When no split exists, every usable vote is returned with `split` False.
    """
    usable = [v for v in votes if v.outcome in ("a", "b", "tie") and not v.deleted]
    held, _ = validation_split(len(usable), val_split, seed)
    if not len(held):
        return HeldOut(usable, len(usable), seed, False)
    return HeldOut([usable[k] for k in sorted(int(k) for k in held)], len(usable), seed, True)


@dataclass
class VoteFeatures:
    votes: list[Vote]
    xa: np.ndarray
    xb: np.ndarray

    @property
    def outcomes(self) -> np.ndarray:
        return np.array([v.outcome for v in self.votes], dtype=object)

    @property
    def ids_a(self) -> list[str]:
        return [v.a for v in self.votes]

    @property
    def ids_b(self) -> list[str]:
        return [v.b for v in self.votes]


def vote_features(lab, votes: Sequence[Vote]) -> VoteFeatures:
    """Features of both recipes of each vote (with the vote's own pantry)."""
    votes = [v for v in votes if not v.deleted]
    if not votes:
        dim = 0
        return VoteFeatures([], np.zeros((0, dim), np.float32), np.zeros((0, dim), np.float32))
    recipes = lab.store.get_recipes({x for v in votes for x in (v.a, v.b)})
    votes = [v for v in votes if v.a in recipes and v.b in recipes]
    pantries = [tuple(v.pantry) for v in votes]
    xa = lab.features([recipes[v.a] for v in votes], pantries)
    xb = lab.features([recipes[v.b] for v in votes], pantries)
    return VoteFeatures(votes, xa, xb)


# ------------------------------------------------------------------------------- probe set

def recipes_from_jsonl(data: bytes, name: str = "upload") -> list[Recipe]:
    """Recipes from an uploaded JSONL file; ImportFailed lists every bad line."""
    from pantry.storage.jsonl import read_recipes_file

    fd, path = tempfile.mkstemp(suffix=".jsonl")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            return read_recipes_file(path)
        except Exception as e:  # re-label the temporary path with the uploaded name
            if hasattr(e, "path"):
                e.path = name
                e.args = (str(e).replace(path, name),)
            raise
    finally:
        os.unlink(path)


def probe_recipes(store, source: str, user: str | None = None, upload: bytes | None = None,
                  upload_name: str = "upload", limit: int | None = None) -> list[Recipe]:
    """The probe set: "recent" generated recipes, "all" stored recipes, or an "upload".

    Every recipe unless `limit` (a visible setting on the page) is given; the caller says
    what a limit left out (`len(all) - limit`). "recent" is capped at 500 by default.
    """
    if source == "recent":
        return store.recent_generated(user=None, limit=limit or 500)
    if source == "all":
        found = store.all_recipes()
        return found[-limit:] if limit else found
    if source == "upload":
        if not upload:
            raise InvalidInput("choose a recipes JSONL file to upload")
        found = recipes_from_jsonl(upload, upload_name)
        return found[:limit] if limit else found
    raise InvalidInput(f"unknown probe set {source!r}; use one of {', '.join(PROBE_SOURCES)}")


def score_table(lab, models: Mapping[str, object], recipes: Sequence[Recipe],
                pantry: Sequence[str] = (), on_progress=None,
                explanations: dict | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """Scores of each model (label -> RewardModel) on the recipes, long format, and the embeddings.

    Columns: version, recipe_id, title, score, uncertainty, rank (1 = best for that version).
    `explanations` (a dict), when given, gets label -> recipe id -> `explain.Explanation`
    (why each score: named taste-feature contributions and the remainder).
    """
    if not recipes:
        return pd.DataFrame(columns=["version", "recipe_id", "title", "score", "uncertainty", "rank"]), np.zeros((0, 0))
    x = lab.features(list(recipes), tuple(pantry), on_progress=on_progress)
    emb = lab.embedding_part(x)
    frames = []
    for label, model in models.items():
        mean, std = model.score(x, [r.id for r in recipes])
        f = pd.DataFrame({"version": label, "recipe_id": [r.id for r in recipes],
                          "title": [r.title for r in recipes], "score": mean, "uncertainty": std})
        f["rank"] = f["score"].rank(ascending=False, method="min").astype(int)
        frames.append(f)
        if explanations is not None:
            from pantry.model.explain import explain
            ids = [r.id for r in recipes]
            explanations[label] = dict(zip(ids, explain(model, x, ids)))
    return pd.concat(frames, ignore_index=True), emb


def vote_margins(models: Mapping[str, object], vf: VoteFeatures) -> pd.DataFrame:
    """Per model and decisive vote: preferred-minus-other score margin and BT probability of 'a'.

    Columns: version, vote_id, outcome, score_a, score_b, margin, p_a.
    """
    frames = []
    for label, model in models.items():
        if not vf.votes:
            continue
        sa, _ = model.score(vf.xa, vf.ids_a)
        sb, _ = model.score(vf.xb, vf.ids_b)
        out = vf.outcomes
        margin = np.where(out == "a", sa - sb, np.where(out == "b", sb - sa, np.nan))
        frames.append(pd.DataFrame({"version": label, "vote_id": [v.id for v in vf.votes], "outcome": out,
                                    "score_a": sa, "score_b": sb, "margin": margin,
                                    "p_a": bt_probability(sa, sb)}))
    if not frames:
        return pd.DataFrame(columns=["version", "vote_id", "outcome", "score_a", "score_b", "margin", "p_a"])
    return pd.concat(frames, ignore_index=True)


def reliability(margins: pd.DataFrame, n_bins: int = 10) -> tuple[pd.DataFrame, dict[str, float]]:
    """Reliability-diagram bins per version (decisive votes only) and each version's ECE.

    Each vote is seen from the model's favourite (the recipe it scores higher): `predicted`
    is the model's probability that its favourite wins (0.5-1), `observed` the share of those
    votes the favourite did win. Storage order (a/b) means nothing to a person; this does.
    """
    rows, eces = [], {}
    for label, g in margins.groupby("version", sort=False):
        dec = g[g["outcome"].isin(["a", "b"])]
        if dec.empty:
            continue
        p_a = dec["p_a"].to_numpy(dtype=float)
        a_fav = p_a >= 0.5
        confidence = np.where(a_fav, p_a, 1.0 - p_a)
        fav_won = np.where(a_fav, dec["outcome"].to_numpy() == "a", dec["outcome"].to_numpy() == "b")
        ece, bins = expected_calibration_error(confidence, fav_won, n_bins)
        eces[label] = ece
        rows += [{"version": label, "predicted": b.mean_pred, "observed": b.frac_pos, "count": b.count}
                 for b in bins]
    return pd.DataFrame(rows, columns=["version", "predicted", "observed", "count"]), eces


# field ids; the page names them (ui.wording.COLUMN_NAMES)
METRIC_COLUMNS = ["version", "recipes", "distinct", "distinct_ratio", "mode_share", "std", "iqr", "entropy",
                  "mean_uncertainty", "cv_accuracy", "cv_low", "cv_high", "cv_pairs", "in_sample_accuracy",
                  "in_sample_votes", "tie_rate"]


def metrics_table(scores: pd.DataFrame, margins: pd.DataFrame,
                  held_out: Mapping[str, Mapping | None] | None = None) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """One row of collapse and accuracy metrics per version, and plain-language alerts per version.

    Columns are field ids (`METRIC_COLUMNS`; the page names them). Two accuracies: `cv_accuracy`
    (with `cv_low`, `cv_high`, `cv_pairs`) is measured on votes the model was not fitted on:
    `held_out[label]` (a mapping with accuracy, low, high, n, tie_rate: a version's
    cross-validated figure), or, for a label not in `held_out` (a model fitted on no votes, like
    the heuristic), its agreement with the votes in `margins`; None: no held-out figure (NaN).
    `in_sample_accuracy` (over `in_sample_votes`) is the strict accuracy on the votes in
    `margins` whatever the model was fitted on (for a trained version, mostly its own training
    votes). Alerts use the held-out one.
    """
    held_out = held_out or {}
    rows, alerts = [], {}
    for label, g in scores.groupby("version", sort=False):
        spread = score_spread(g["score"].to_numpy())
        m = margins[margins["version"] == label] if not margins.empty else margins
        acc = None
        if m is not None and len(m):
            acc = strict_pairwise_accuracy(m["score_a"].to_numpy(), m["score_b"].to_numpy(), m["outcome"].to_numpy())
        fitted_on_none = label not in held_out
        h = ({"accuracy": acc.accuracy, "low": acc.low, "high": acc.high, "n": acc.n, "tie_rate": acc.tie_rate}
             if fitted_on_none and acc is not None and acc.n else None if fitted_on_none else held_out[label])
        alerts[label] = collapse_alerts(spread, acc if fitted_on_none else h)
        rows.append({
            "version": label, "recipes": spread.n, "distinct": spread.distinct,
            "distinct_ratio": spread.distinct_ratio, "mode_share": spread.mode_share,
            "std": spread.std, "iqr": spread.iqr, "entropy": spread.entropy,
            "mean_uncertainty": float(g["uncertainty"].mean()),
            "cv_accuracy": h["accuracy"] if h else math.nan,
            "cv_low": h["low"] if h else math.nan,
            "cv_high": h["high"] if h else math.nan,
            "cv_pairs": int(h["n"]) if h else 0,
            "in_sample_accuracy": acc.accuracy if acc else math.nan,
            "in_sample_votes": acc.n if acc else 0,
            "tie_rate": acc.tie_rate if acc else math.nan,
        })
    return pd.DataFrame(rows, columns=METRIC_COLUMNS), alerts


def cv_figure(metrics: Mapping | None) -> dict | None:
    """A version's cross-validated figure from its stored metrics (`cv_accuracy`, `cv_low`,
    `cv_high`, `cv_pairs`), as `metrics_table` takes it; None when it has none."""
    m = metrics or {}
    if not isinstance(m.get("cv_accuracy"), (int, float)) or not m.get("cv_pairs"):
        return None
    return {"accuracy": float(m["cv_accuracy"]), "low": float(m.get("cv_low", math.nan)),
            "high": float(m.get("cv_high", math.nan)), "n": int(m["cv_pairs"]),
            "tie_rate": float(m.get("cv_tie_rate", 0.0) or 0.0)}


def training_recipes(lab, user: str | None) -> list[Recipe]:
    """Recipes a model of this scope was trained on: those in the scope's votes (all users for None)."""
    votes = lab.store.votes(user=user)
    return list(lab.store.get_recipes({x for v in votes for x in (v.a, v.b)}).values())


def distance_table(lab, scores: pd.DataFrame, probe_emb: np.ndarray, train: Sequence[Recipe]) -> pd.DataFrame:
    """Scores with each probe recipe's cosine distance to the nearest training recipe."""
    if scores.empty:
        return scores.assign(distance=[])
    train_emb = lab.embedder.encode([r.text for r in train]) if train else np.zeros((0, probe_emb.shape[1]))
    dist = nearest_distance(probe_emb, train_emb)
    n = len(dist)
    out = scores.copy()
    out["distance"] = np.tile(dist, len(out) // n) if n else []
    return out


def version_label(v) -> str:
    """'v3 personal (ana)' / 'v2 population (active)' for a store ModelVersion (plain text)."""
    scope = f"personal ({v.user})" if v.user is not None else "population"
    return f"v{v.id} {scope}" + (" (active)" if v.active else "")


VERSION_COLUMNS = ["id", "scope", "active", "created", "decisive_votes", "cv_accuracy", "cv_low", "cv_high",
                   "cv_pairs", "cv_folds", "prior"]
COMPARISON_COLUMNS = ["version", "pairs", "correct", "accuracy", "low", "high", "tie_rate", "loss", "folds"]


def versions_table(versions) -> pd.DataFrame:
    """Model versions with their one accuracy figure, newest first.

    The figure is the version's cross-validated strict accuracy (metrics `cv_accuracy`,
    `cv_low`, `cv_high`, `cv_pairs`, `cv_folds`): measured on votes no fit saw, the same
    number the Retrain comparison and the sidebar show. Versions trained before it existed
    (and population versions) have none: blank, never replaced by an accuracy on votes the
    model was fitted on.

    Returns
    -------
    One row per version, columns `VERSION_COLUMNS` (ids: the metrics' own keys; the page
    names them, `ui.wording`).
    """
    rows = []
    for v in versions:
        m = v.metrics or {}
        rows.append({"id": v.id, "scope": v.user if v.user is not None else "population",
                     "active": v.active, "created": v.created_at[:19].replace("T", " "),
                     "decisive_votes": m.get("n_decisive"), "cv_accuracy": m.get("cv_accuracy"),
                     "cv_low": m.get("cv_low"), "cv_high": m.get("cv_high"),
                     "cv_pairs": m.get("cv_pairs"), "cv_folds": m.get("cv_folds"), "prior": m.get("prior")})
    return pd.DataFrame(rows, columns=VERSION_COLUMNS)


def retrain_comparison(rows: Mapping[str, object]) -> pd.DataFrame:
    """One row per label -> `training.CrossValidation` (or None: no held-out figure).

    Returns
    -------
    Columns `COMPARISON_COLUMNS`: version, pairs (held-out votes), correct, accuracy (strict),
    low and high (its 95% interval), tie_rate, loss (held-out), folds: `CrossValidation`'s
    field names. Numbers only; the page names and formats them (`ui.wording`).
    """
    out = []
    for label, cv in rows.items():
        if cv is None:
            out.append({"version": label, "pairs": 0, "correct": 0, "accuracy": math.nan, "low": math.nan,
                        "high": math.nan, "tie_rate": math.nan, "loss": math.nan, "folds": 0})
            continue
        out.append({"version": label, "pairs": cv.pairs, "correct": cv.correct, "accuracy": cv.accuracy,
                    "low": cv.low, "high": cv.high, "tie_rate": cv.tie_rate, "loss": cv.loss, "folds": cv.folds})
    return pd.DataFrame(out, columns=COMPARISON_COLUMNS)


# ------------------------------------------------------------------------- one report

HEURISTIC = "heuristic"  # stands for the pantry heuristic among model version ids


@dataclass
class DiagnosticsReport:
    """Everything the Scores & diagnostics page shows, as numbers and tables (no text to
    display except the plain-language alerts of `diagnostics.collapse_alerts`).

    `probe_total` recipes were in the probe set, `scores` covers the first `scored` of them
    (the limit); fewer than 2 scored recipes: nothing else was computed (empty tables).
    """

    probe_total: int
    scored: int
    models: list[str]  # labels: "heuristic", "v3", ...
    scores: pd.DataFrame  # score_table + distance to the nearest training recipe
    margins: pd.DataFrame  # vote_margins on the votes in scope (in-sample for trained versions)
    metrics: pd.DataFrame  # metrics_table + ECE per version (column ece)
    alerts: dict[str, list[str]]  # per version label
    reliability: pd.DataFrame  # reliability-diagram bins
    held_out: HeldOut  # the votes checked: every usable vote in scope (`split` False)
    position_bias: PositionBias  # of the human votes in scope
    skipped: dict[str, str] = field(default_factory=dict)  # label -> why that version was left out
    # label -> recipe id -> `pantry.model.explain.Explanation`: why each score
    explanations: dict[str, dict[str, object]] = field(default_factory=dict)


def report_models(lab, versions: Sequence[int | str], skipped: dict[str, str] | None = None) -> dict[str, object]:
    """label -> model for model version ids (and HEURISTIC), loaded once by the Lab.

    With `skipped` (a dict), a version that cannot score here (missing, truncated, NaN/inf
    weights, another embedder, feature spec or dimension) is left out and `skipped[label]`
    says why; without it the first such version raises (`PantryError`).
    """
    from pantry.errors import PantryError
    from pantry.model.reward import heuristic_model

    models: dict[str, object] = {}
    for item in versions:
        if item == HEURISTIC:
            models[HEURISTIC] = heuristic_model(lab.embedder_name, lab.embedder.dim)
            continue
        label = f"v{item}"
        try:
            v = lab.store.get_model_version(int(item))
            if v is None:
                raise InvalidInput(f"there is no model version {item}")
            models[label] = lab.load_version(v)
        except (PantryError, ValueError) as e:
            if skipped is None:
                raise
            skipped[label] = str(e).splitlines()[0] if str(e) else type(e).__name__
    return models


def diagnostics_report(lab, versions: Sequence[int | str], source: str, user: str | None = None,
                       everyone: bool = False, upload: bytes | None = None, upload_name: str = "upload",
                       limit: int = 0, seed: int = 0, val_split: float = 0.2,
                       on_progress=None, pantry: Sequence[str] = ()) -> DiagnosticsReport:
    """The whole Scores & diagnostics analysis in one call.

    Reads the probe set (`probe_recipes`, at most `limit` recipes, 0 = all: the newest for
    "all", the first lines of an upload), scores it with each version, checks the scores
    against every vote of `user` (everyone's with `everyone`), and measures collapse,
    calibration, distance to the training recipes and the votes' position bias. `pantry`
    (canonical items): the pantry the recipes are scored for, as Compare scores them (the
    scores depend on it: the model's pantry-coverage columns and the heuristic).

    One held-out accuracy: a trained version's is the cross-validated figure it was saved with
    (the sidebar's and Retrain's); the heuristic, fitted on nothing, is measured on the votes.
    A trained version's agreement with the votes is in-sample (it was refitted on all of them)
    and is named so (`metrics_table`). `seed` and `val_split` are accepted for old callers.
    """
    everything = probe_recipes(lab.store, source, user, upload, upload_name)
    recipes = everything[-int(limit):] if limit and source == "all" else everything[:int(limit) or None]
    scope = None if everyone else user
    votes = lab.store.votes(user=scope)
    usable = [v for v in votes if v.outcome in ("a", "b", "tie") and not v.deleted]
    held = HeldOut(usable, len(usable), seed, False)  # every vote in scope: trained versions saw most
    bias = human_position_bias(votes)
    skipped: dict[str, str] = {}
    if len(recipes) < 2:
        empty = pd.DataFrame()
        return DiagnosticsReport(len(everything), len(recipes), [], empty, empty, empty, {}, empty, held, bias)
    models = report_models(lab, versions, skipped)  # one bad version is reported, not fatal for all
    if not models:
        empty = pd.DataFrame()
        return DiagnosticsReport(len(everything), len(recipes), [], empty, empty, empty, {}, empty, held, bias,
                                 skipped)
    explanations: dict[str, dict[str, object]] = {}
    scores, emb = score_table(lab, models, recipes, pantry, on_progress=on_progress, explanations=explanations)
    margins = vote_margins(models, vote_features(lab, held.votes))
    cv = {label: cv_figure(lab.store.get_model_version(int(label[1:])).metrics)
          for label in models if label != HEURISTIC}
    metrics, alerts = metrics_table(scores, margins, cv)
    bins, eces = reliability(margins)
    metrics["ece"] = metrics["version"].map(eces).astype(float)
    with_dist = distance_table(lab, scores, emb, training_recipes(lab, scope))
    return DiagnosticsReport(len(everything), len(recipes), list(models), with_dist, margins, metrics, alerts,
                             bins, held, bias, skipped, explanations)
