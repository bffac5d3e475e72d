"""The command line: the whole loop without any UI.

Every command prints a short table for people, or JSON with `--json` for scripts: one JSON
object, on one line, on stdout per command run (progress and notes go to stderr), so
`json.loads(stdout)` reads any of them; bulk recipes go to a file (`generate --out`). A
problem with the input prints one line `error: ...` on stderr and exits with status 2,
having changed nothing.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Sequence

from pantry.errors import ImportFailed, PantryError

MAX_PAIR_CANDIDATES = 20  # = pantry.api.schemas.MAX_CANDIDATES, the most POST /pairs draws from


def _progress_printer(enabled: bool):
    """A terminal progress line on stderr (only when stderr is a terminal)."""
    if not enabled:
        return None

    def show(done: int, total: int, message: str) -> None:
        width = 30
        filled = int(width * done / max(total, 1))
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {message[:40]:<40}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()
    return show


def _progress_log(every_s: float = 10.0):
    """Progress as plain lines on stderr (a log, a pipe): the first report, then at most one
    line every `every_s` seconds, and the last; a terminal gets `_progress_printer`'s bar."""
    import time

    last = [None]

    def show(done: int, total: int, message: str) -> None:
        now = time.monotonic()
        if last[0] is not None and done < total and now - last[0] < every_s:
            return
        last[0] = now
        sys.stderr.write(f"progress {done}/{total} ({100 * done / max(total, 1):.0f}%): {message}\n")
        sys.stderr.flush()
    return show


def _lab():
    from pantry.lab import Lab
    return Lab()


def _print_table(rows: list[dict], columns: Sequence[str]) -> None:
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) if rows else len(c) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for r in rows:
        print("  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns))


def _fmt(x, digits: int = 4):
    return f"{x:.{digits}f}" if isinstance(x, float) else ("-" if x is None else x)


# ---- commands ------------------------------------------------------------------------------
def cmd_generate(args) -> int:
    from pantry.generators import GenerationRequest, generate_bulk, select_generator
    from pantry.generators.base import MAX_RECIPES_PER_REQUEST
    from pantry.kitchen import pantry_names, parse_pantry
    from pantry.settings import Settings
    settings = Settings.from_env()
    items = parse_pantry(args.pantry, max_chars=settings.max_pantry_chars)
    request = GenerationRequest(pantry=pantry_names(items), n=min(args.n, MAX_RECIPES_PER_REQUEST),
                                diets=tuple(args.diet or ()), cuisine=args.cuisine, max_minutes=args.max_minutes,
                                servings=args.servings, seed=args.seed)
    choice = select_generator(settings, args.backend)
    # above MAX_RECIPES_PER_REQUEST: several requests (seeds seed, seed+1, ...), distinct recipes
    recipes, choice = generate_bulk(choice, request, args.n, _progress_printer(sys.stderr.isatty()))
    if len(recipes) < args.n:
        print(f"note: {len(recipes)} distinct recipes of the {args.n} asked for (a narrow pantry or diet)",
              file=sys.stderr)
    if args.out:
        from pantry.storage.jsonl import write_jsonl
        write_jsonl(args.out, [r.to_json() for r in recipes])  # the Recipe format: score --recipes reads it
        print(f"wrote {len(recipes)} recipes to {args.out}", file=sys.stderr)
    if args.json:
        print(json.dumps({"generator": {"name": choice.name, "reason": choice.reason}, "pantry": list(request.pantry),
                          "n": len(recipes), "out": args.out,
                          "recipes": [] if args.out else [r.to_dict() for r in recipes]}))
        return 0
    if args.out:
        return 0
    from pantry.kitchen import missing_ingredients
    print(f"# generator: {choice.name} ({choice.reason})")
    for r in recipes:
        missing = missing_ingredients(r, request.pantry)
        print(f"\n## {r.title}  [{r.cuisine or '-'}, {r.minutes or '?'} min, serves {r.servings or '?'}]")
        for line in r.ingredients:
            print(f"  - {line}{'  (missing)' if line in missing else ''}")
        for i, s in enumerate(r.steps, 1):
            print(f"  {i}. {s}")
    return 0


def _read_recipes(path: str):
    from pantry.storage.jsonl import read_recipes_file
    return read_recipes_file(path)


def _model_choice(lab, args):
    """--model PATH (refused loudly if bad), else the user's active model with fallbacks."""
    if getattr(args, "model", None):
        from pantry.model.features import FEATURE_SPEC
        from pantry.lab import ModelChoice
        from pantry.model.reward import load_model
        model = load_model(args.model, lab.embedder_name, FEATURE_SPEC)
        model.check_compatible(lab.embedder_name, FEATURE_SPEC, lab.feature_dim)  # another width: refused
        return ModelChoice(model, "file", None, f"model file {args.model}")
    choice = lab.model_for(args.user)
    for problem in choice.problems:
        print(f"warning: {problem}; using the {choice.kind} model instead", file=sys.stderr)
    return choice


def cmd_score(args) -> int:
    from pantry.kitchen import pantry_names, parse_pantry
    recipes = _read_recipes(args.recipes)
    lab = _lab()
    pantry = pantry_names(parse_pantry(args.pantry)) if args.pantry else ()
    choice = _model_choice(lab, args)
    ranked = lab.score(recipes, args.user, pantry, choice, _progress_printer(sys.stderr.isatty()),
                       explain=args.explain)
    if args.top:
        ranked = ranked[:args.top]
    if args.json:
        print(json.dumps({"model": choice.label, "reason": choice.reason, "recipes": [
            {"rank": s.rank, "id": s.recipe.id, "title": s.recipe.title, "score": s.score,
             "uncertainty": s.uncertainty,
             **({"explanation": s.explanation.to_dict()} if s.explanation is not None else {})}
            for s in ranked]}))
        return 0
    print(f"# model: {choice.reason}")
    _print_table([{"rank": s.rank, "score": f"{s.score:+.4f}", "+/-": f"{s.uncertainty:.4f}",
                   "title": s.recipe.title[:60], "id": s.recipe.id} for s in ranked],
                 ["rank", "score", "+/-", "title", "id"])
    if args.explain:
        from pantry.model.explain import REMAINDER, phrase
        for s in ranked:
            why = s.explanation
            top = max(0, args.explain_top)
            parts = [phrase(c) for c in why.top(top)]
            rest = why.contributions[top:]
            if rest:
                parts.append(f"{sum(c.contribution for c in rest):+.2f} {len(rest)} smaller")
            print(f"{s.rank}. {s.recipe.title[:60]}: {why.score:+.2f} = "
                  + ", ".join(parts + [f"{why.remainder:+.2f} {REMAINDER}"]))
    return 0


def cmd_diagnose(args) -> int:
    from pantry.evaluation.diagnostics import diagnose_scores
    if not args.recipes and not args.user:
        raise ValueError("give --recipes FILE (score-collapse diagnostics), --user U (the profile's own "
                         "consistency), or both")
    figures = _consistency_figures(args.user) if args.user else None
    if not args.recipes:
        if args.json:
            print(json.dumps({"consistency": figures}))
        else:
            _print_consistency(figures)
        return 0
    recipes = _read_recipes(args.recipes)
    lab = _lab()
    choice = _model_choice(lab, args)
    x = lab.features(recipes, (), _progress_printer(sys.stderr.isatty()))
    mean, std = choice.model.score(x, [r.id for r in recipes])
    emb = lab.embedding_part(x)
    report = diagnose_scores(mean, emb)
    report["model"] = choice.label
    report["mean_uncertainty"] = float(std.mean())
    tokens = lab.embedder.token_counts([r.text for r in recipes])
    report["truncation_rate"] = float((tokens > lab.embedder.max_tokens).mean())
    if figures is not None:
        report["consistency"] = figures
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"# {args.recipes}: {len(recipes)} recipes, model: {choice.reason}")
    _print_table([{"metric": k, "value": _fmt(v)} for k, v in report.items()
                  if not isinstance(v, (list, dict))], ["metric", "value"])
    for a in report["alerts"]:
        print(f"ALERT: {a}")
    if not report["alerts"]:
        print("no collapse alerts")
    if figures is not None:
        _print_consistency(figures)
    return 0


# ---- rater self-consistency and households (pantry.evaluation.consistency, pantry.household) ----

def _no_nan(d: dict) -> dict:
    return {k: (None if isinstance(v, float) and v != v else v) for k, v in d.items()}


def _consistency_figures(user: str) -> dict:
    """The profile's consistency, and the active personal model's held-out accuracy beside it."""
    from pantry.domain.votes import validate_user_name
    from pantry.evaluation.consistency import profile_consistency
    store = _store()
    user = validate_user_name(user)
    if user not in store.list_users():
        raise ValueError(f"there is no profile named {user!r}")
    figures = _no_nan(profile_consistency(store, user).to_dict())
    active = store.active_model(user)
    figures["model_cv_accuracy"] = (active.metrics.get("cv_accuracy") if active is not None and active.user
                                    else None)
    return figures


def _print_consistency(f: dict) -> None:
    def pct(x):
        return "-" if x is None else f"{100 * x:.1f}%"
    print(f"# consistency of {f['user']}: {f['decisive']} decisive votes of its own")
    rows = [
        {"figure": "agreement on repeats", "value": pct(f["agreement"]),
         "interval": "-" if f["agreement"] is None else f"[{pct(f['agreement_low'])}, {pct(f['agreement_high'])}]",
         "from": f"{f['agreements']} of {f['repeats']} repeats ({f['explicit_repeats']} shown as repeat rounds)"},
        {"figure": "intransitive triads", "value": pct(f["cyclic_rate"]),
         "interval": "-" if f["cyclic_rate"] is None else f"[{pct(f['cyclic_low'])}, {pct(f['cyclic_high'])}]",
         "from": f"{f['cyclic']} of {f['triads']} triads (A>B, B>C, C>A)"},
        {"figure": "flip probability", "value": pct(f["flip"]),
         "interval": f"[{pct(f['flip_low'])}, {pct(f['flip_high'])}]", "from": "repeats and triads"},
        {"figure": "reachable accuracy", "value": pct(f["ceiling"]), "interval": "-",
         "from": f"model: {pct(f['model_cv_accuracy'])} (cross-validated)"},
        {"figure": "weight per vote", "value": f"{f['weight']:.2f}", "interval": "-",
         "from": "Bradley-Terry likelihood weight"},
    ]
    _print_table(rows, ["figure", "value", "interval", "from"])


def cmd_household(args) -> int:
    from pantry.generators import GenerationRequest, select_generator
    from pantry.generators.base import check_recipe_count
    from pantry.household import plan_household
    from pantry.kitchen import read_pantry
    lab = _lab()
    check_recipe_count(args.n, "--n")
    members = [m.strip() for m in args.members.split(",") if m.strip()]
    reading = read_pantry(args.pantry, kitchen=lab.kitchen, max_chars=lab.settings.max_pantry_chars)
    request = GenerationRequest(pantry=reading.pantry, amounts=reading.amounts, cooked=reading.cooked, n=args.n,
                                seed=args.seed)
    ranking = plan_household(lab, select_generator(lab.settings, args.backend), request, members)
    if args.top:
        from dataclasses import replace
        ranking = replace(ranking, ranked=ranking.ranked[:args.top])
    if args.json:
        print(json.dumps(ranking.to_dict()))
        return 0
    words = {"likes": "likes it", "neutral": "is neutral", "would_rather_not": "would rather not"}
    for m in ranking.members:
        kind, label = ranking.models[m]
        limits = ", ".join(ranking.limits[m]) or "none"
        print(f"# {m}: {label} model; limits: {limits}")
    for p in ranking.ranked:
        print(f"{p.rank}. {p.recipe.title}  (lowest z {p.min_z:+.2f}, sum {p.sum_z:+.2f})  [{p.recipe.id}]")
        print("   " + "; ".join(f"{ms.member} {words[ms.liking]} ({ms.z:+.2f})" for ms in p.members))
    for r, why in ranking.removed:
        print(f"removed: {r.title}: {'; '.join(why)}")
    if not ranking.ranked:
        print("no recipe keeps to every member's limits: try another pantry")
    return 0


def cmd_diet(args) -> int:
    from pantry.household import member_limits, set_member_limits
    store = _store()
    if args.set is not None:
        limits = set_member_limits(store, args.user, [x for x in args.set.split(",") if x.strip()])
    else:
        limits = member_limits(store, args.user)
    print(json.dumps({"user": args.user, "limits": list(limits)}) if args.json else
          f"{args.user}: {', '.join(limits) or 'no limits'}")
    return 0


def cmd_train(args) -> int:
    from pantry.errors import InvalidInput
    from pantry.model.training import TrainConfig, train_options
    values = {}
    for o in train_options():  # limits checked here, so a bad value is one `error: --flag ...` line
        try:
            values[o.name] = o.check(getattr(args, o.name), o.flag)
        except ValueError as e:
            raise InvalidInput(str(e)) from None
    cfg = TrainConfig(**values)
    if args.cv_folds < 0:
        raise InvalidInput(f"--cv-folds must be 0 (skip) or more, got {args.cv_folds}")
    lab = _lab()
    activate = not args.no_activate
    if args.no_population and not args.user:
        raise InvalidInput("--no-population trains only a personal model: give --user")
    out = lab.train(args.user, cfg, activate=activate, cv_folds=args.cv_folds,
                    train_population=not args.no_population, on_progress=_progress_printer(sys.stderr.isatty()))
    m = out.metrics
    new = [f"population v{out.population_version}" if out.population_version else None,
           f"personal v{out.personal_version}" if out.personal_version else None]
    new = [x for x in new if x]
    if args.json:
        print(json.dumps({"population_version": out.population_version, "personal_version": out.personal_version,
                          "activated": activate, "metrics": m, "seconds": out.seconds}))
        return 0
    who = args.user or "population"
    print(f"trained {who}: {', '.join(new) or 'nothing'} in {out.seconds:.1f}s; "
          + ("activated (the default; --no-activate saves them inactive)" if activate
             else "saved inactive (activate with: python -m pantry models --activate ID)"))
    keys = ["n_pairs", "n_decisive"]
    if m.get("cv_folds"):  # the held-out figure: each vote scored by a fit that did not see it
        keys += ["cv_accuracy", "cv_low", "cv_high", "cv_pairs", "cv_folds", "cv_loss"]
    keys += ["best_epoch", "reward_min", "reward_mean", "reward_max"]
    _print_table([{"metric": k, "value": _fmt(m.get(k))} for k in keys], ["metric", "value"])
    return 0


def cmd_import(args) -> int:
    report = _lab().import_file(args.file, default_user=args.user)  # one batch, all or nothing
    if args.json:
        print(json.dumps({"file": args.file, "batch_id": report.batch_id, "nothing_new": report.nothing_new,
                          "recipes": report.recipes, "recipes_new": report.recipes_new, "votes": report.votes,
                          "pairs": report.pairs, "skipped": report.skipped,
                          "skipped_deleted": report.skipped_deleted}))
        return 0
    if report.nothing_new:
        print(f"imported {args.file}: nothing new: {report.summary()}")
    else:
        print(f"imported {args.file}: {report.summary()} (import batch #{report.batch_id})")
    return 0


def _store():
    from pantry.settings import Settings
    from pantry.storage.store import Store
    return Store.open(Settings.from_env())


def cmd_export(args) -> int:
    from pantry.storage import jsonl
    store = _store()
    if args.format == "votes":
        text = "".join(line + "\n" for line in jsonl.export_votes(store, args.user))
    elif args.format == "trl":
        text = "".join(line + "\n" for line in jsonl.export_trl(store, args.user))
    else:
        text = jsonl.export_csv(store, args.user)
    if args.out:
        jsonl.write_text_atomic(args.out, text)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_synth(args) -> int:
    from pantry.evaluation.synth import persona_names, simulate_votes
    if args.persona not in persona_names():
        raise PantryError(f"unknown persona {args.persona!r}: choose one of {', '.join(persona_names())}")
    votes = simulate_votes(args.persona, args.n, seed=args.seed, user=args.user)
    lines = [json.dumps(v) for v in votes]
    if args.out:
        from pantry.storage.jsonl import write_jsonl
        write_jsonl(args.out, lines)
        print(f"wrote {len(lines)} votes for persona {args.persona} to {args.out}", file=sys.stderr)
    else:
        for line in lines:
            print(line)
    if args.do_import:
        report = _lab().import_file(lines)
        print(f"imported {report.votes} votes, {report.recipes} recipes", file=sys.stderr)
    return 0


def cmd_persona_check(args) -> int:
    from pantry.evaluation.personas import persona_check
    report = persona_check(_lab(), args.persona, args.user, n=args.n, seed=args.seed,
                           on_progress=_progress_printer(sys.stderr.isatty()))
    if args.json:
        print(json.dumps(report))
        return 0
    _print_table([{"metric": k, "value": _fmt(v)} for k, v in report.items()
                  if not isinstance(v, (list, dict))], ["metric", "value"])
    for a in report.get("alerts", []):
        print(f"ALERT: {a}")
    return 0


def cmd_models(args) -> int:
    if args.activate is not None:  # the same check the app and the API make: it must load here
        _lab().activate([args.activate])
        print(json.dumps({"activated": args.activate}) if args.json else f"activated model v{args.activate}")
        return 0
    from pantry.model.kinds import ModelKind

    store = _store()
    versions = store.model_versions(args.user)
    if args.json:
        print(json.dumps({"profile": args.user, "models": [
            {"id": v.id, "profile": v.user, "kind": (ModelKind.POPULATION if v.user is None else ModelKind.PERSONAL).value,
             "active": bool(v.active), "created_at": v.created_at, "metrics": v.metrics or {}} for v in versions]},
            default=_json_default))
        return 0
    rows = []
    for v in versions:
        m = v.metrics or {}
        rows.append({"id": v.id, "user": v.user or "(population)", "active": "*" if v.active else "",
                     "created": v.created_at, "cv_acc": _fmt(m.get("cv_accuracy"), 3),
                     "cv_pairs": m.get("cv_pairs", "-"), "pairs": m.get("n_pairs", "-")})
    # cv_acc: the cross-validated held-out accuracy the app shows (blank for population versions)
    _print_table(rows, ["id", "user", "active", "created", "cv_acc", "cv_pairs", "pairs"])
    return 0


def cmd_evaluate(args) -> int:
    from pantry.evaluation.protocols import evaluate_files
    for flag, value, least in (("--users", args.users, 1), ("--workers", args.workers, 0), ("--folds", args.folds, 0)):
        if value is not None and value < least:
            raise ValueError(f"{flag} must be at least {least}, got {value}")
    if args.folds == 1:
        raise ValueError("--folds must be 0 (leave one user out) or at least 2, got 1")
    workers = args.workers or min(os.cpu_count() or 1, 4)
    progress = _progress_printer(True) if sys.stderr.isatty() else _progress_log()
    report = evaluate_files(args.recipes, args.votes, protocol=args.protocol, labels=args.labels,
                            selection=args.selection, seed=args.seed, seeds=args.seeds, on_progress=progress,
                            folds=args.folds, users=args.users, workers=workers)
    if args.json:
        print(json.dumps(report))
        return 0
    seeds = report["seeds"]
    folds = report["runs"][0]["folds"]
    print(f"# protocol {report['protocol']}, labels {report['labels']}, selection {report['selection']}, "
          f"seeds {seeds[0]}..{seeds[-1]}, {report['users']} test users of {report['runs'][0]['users_in_data']}, "
          f"population per {'user (leave one out)' if folds == report['runs'][0]['users_in_data'] else f'{folds} user folds'}, "
          f"{report['test_pairs']} test pairs pooled "
          f"(per seed {', '.join(map(str, report['test_pairs_per_seed']))}), {report['seconds']:.1f}s")
    print(f"# mean over seeds, {report['interval']}" if len(seeds) > 1
          else "# one seed: no seed-to-seed interval (use --seeds 5)")

    def row(model: str, s: dict) -> dict:
        interval = "-" if s["low"] is None else f"[{s['low']:.3f}, {s['high']:.3f}]"
        return {"model": model, "mean": _fmt(s["mean"], 3), "95% interval": interval,
                "per seed": " ".join(f"{v:.3f}" for v in s["per_seed"])}
    rows = [row("pantry (this project)", report["project"])]
    rows += [row(k, s) for k, s in report["baselines"].items()]
    rows += [{"model": k, "mean": "n/a", "95% interval": "-", "per seed": why}
             for k, why in report["unavailable"].items()]
    _print_table(rows, ["model", "mean", "95% interval", "per seed"])
    return 0


# ---- scripting: the pair the app would show (pantry.compare.next_pair, as POST /pairs) ----------

def _json_default(x):
    """numpy numbers (in stored metrics) as plain JSON numbers."""
    item = getattr(x, "item", None)
    if callable(item):
        return item()
    raise TypeError(f"{type(x).__name__} is not JSON serialisable")


def cmd_pair(args) -> int:
    """The next pair the app would show `--user` for `--pantry`, chosen by `pantry.compare.next_pair`
    (what POST /pairs uses): the same seed and store give the same pair. The candidates are
    stored and logged for the profile, so a vote (an import, POST /votes) can name them."""
    import secrets

    from pantry.compare import next_pair
    from pantry.domain.votes import validate_new_user_name
    from pantry.generators import GenerationRequest, select_generator
    from pantry.kitchen import read_pantry
    if not 2 <= args.n <= MAX_PAIR_CANDIDATES:
        raise ValueError(f"--n must be from 2 to {MAX_PAIR_CANDIDATES} candidates, got {args.n}")
    lab = _lab()
    user = lab.store.find_user(args.user) or validate_new_user_name(args.user)
    reading = read_pantry(args.pantry, kitchen=lab.kitchen, max_chars=lab.settings.max_pantry_chars)
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    request = GenerationRequest(pantry=reading.pantry, amounts=reading.amounts, cooked=reading.cooked, n=args.n,
                                diets=tuple(args.diet or ()), cuisine=args.cuisine,
                                max_minutes=args.max_minutes or None, seed=seed)
    rnd = next_pair(lab, select_generator(lab.settings, args.backend), request, user)
    m = rnd.matchup
    if args.json:
        side = lambda x: {"recipe": x.recipe.to_dict(), "score": x.score, "uncertainty": x.uncertainty}  # noqa: E731
        print(json.dumps({"profile": user, "seed": seed, "a": side(m.a), "b": side(m.b), "left": m.left,
                          "why": m.why, "repeat_of": m.repeat_of,
                          "model": {"label": m.model_label, "kind": m.model_kind},
                          "generator": {"name": rnd.generator_name, "reason": rnd.generator_reason},
                          "pantry": list(m.pantry), "candidates": rnd.candidates,
                          "dropped_duplicates": rnd.dropped_duplicates}, default=_json_default))
        return 0
    first, second = (m.a, m.b) if m.left == "a" else (m.b, m.a)
    print(f"# {user}: pair from {rnd.candidates} candidates ({m.why}); model: {m.model_label}; seed {seed}")
    for label, x in (("left", first), ("right", second)):
        print(f"{label}: {x.recipe.title}  [{x.recipe.id}]  score {x.score:+.4f} +/- {x.uncertainty:.4f}")
    return 0


def cmd_serve(args) -> int:
    """The HTTP API (pantry.api) on uvicorn: one Lab and one Store for the whole process."""
    import uvicorn

    from pantry.api import create_app
    from pantry.settings import Settings

    settings = Settings.from_env()
    config = uvicorn.Config(create_app(settings), host=args.host, port=args.port, log_level="info")
    install_log_redaction(settings.redact, "uvicorn", "uvicorn.error", "")  # not uvicorn.access: its
    uvicorn.Server(config).run()  # formatter needs the record's args, and a request line holds no secret
    return 0


class RedactingFilter(logging.Filter):
    """A logging filter that takes credentials out of a record's message and traceback
    (`Settings.redact`) before any handler writes it."""

    def __init__(self, clean):
        super().__init__()
        self.clean = clean

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.clean(record.getMessage()), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = self.clean(logging.Formatter().formatException(record.exc_info))
        return True


def install_log_redaction(clean, *loggers: str) -> None:
    """Put a RedactingFilter on every handler of these loggers ("" is the root logger)."""
    for name in loggers:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter(clean))


def cmd_token(args) -> int:
    """Print a bearer token for the HTTP API that reaches only one profile's data (derived
    from PANTRY_API_TOKEN by HMAC: every server with that admin token accepts it)."""
    from pantry.api.tokens import profile_token
    from pantry.settings import Settings

    settings = Settings.from_env()
    if not settings.api_token:
        raise PantryError("PANTRY_API_TOKEN is not set: profile tokens are derived from it (the admin token)")
    print(profile_token(settings.api_token, args.profile))
    return 0


def _add_train_options(parser: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field, from `train_options()` (help, type, limits, default)."""
    from pantry.model.training import train_options

    for o in train_options():
        flag = "--" + o.name.replace("_", "-")
        limits = "" if o.minimum is None else f"; {o.minimum}..{o.maximum}"
        if o.kind == "bool":
            parser.add_argument(flag, dest=o.name, action=argparse.BooleanOptionalAction, default=o.default,
                                help=f"{o.help} (default: {'on' if o.default else 'off'})")
            continue
        parser.add_argument(flag, dest=o.name, default=o.default, help=f"{o.help} (default {o.default}{limits})",
                            choices=list(o.choices) or None,
                            type=None if o.kind == "choice" else _checked(o))


def _checked(option):
    """An argparse type that converts the text to the option's type (a value that does not
    convert is kept as text); `cmd_train` checks type and limits, so a bad value is one
    `error: --flag must be ...` line with exit status 2, not argparse's usage text."""
    def convert(text: str):
        try:
            return int(text) if option.kind == "int" else float(text)
        except ValueError:
            return text
    convert.__name__ = option.kind
    return convert


ALL_COMMANDS = "*"


def build_parser(command: str | None = ALL_COMMANDS) -> argparse.ArgumentParser:
    """The parser. `command`: the command about to run (None: none, e.g. `--help`); the training
    flags come from `pantry.model.training` (numpy, about 0.5 s), so they are built only for
    `train` (and for ALL_COMMANDS, the default), keeping every other command's start-up low."""
    from pantry.kitchen.vocab import DIETS  # not the knowledge base (pydantic): a constant
    p = argparse.ArgumentParser(prog="python -m pantry", description="PantryPilot preference lab")
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="generate recipes from a pantry")
    g.add_argument("--pantry", required=True, help='free text, e.g. "2 eggs, half an onion, spinach"')
    g.add_argument("--n", type=int, default=2, help="recipes (default 2); above 50, several requests of at most 50 "
                                                    "(seeds SEED, SEED+1, ...), up to 10,000 distinct recipes")
    g.add_argument("--diet", action="append", choices=list(DIETS))
    g.add_argument("--cuisine")
    g.add_argument("--max-minutes", type=int)
    g.add_argument("--servings", type=int, default=2)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--backend", choices=["auto", "ollama", "offline"], default=None)
    g.add_argument("--out", help="write the recipes to this JSONL file (the Recipe format score --recipes reads)")
    g.add_argument("--json", action="store_true", help="one JSON object: generator, pantry, n, recipes")
    g.set_defaults(func=cmd_generate)

    s = sub.add_parser("score", help="rank recipes for a user, best first")
    s.add_argument("--recipes", required=True)
    s.add_argument("--user")
    s.add_argument("--pantry")
    s.add_argument("--top", type=int)
    s.add_argument("--model", help="score with this weights file instead of the active version")
    s.add_argument("--json", action="store_true")
    s.add_argument("--explain", action="store_true",
                   help="why each score: its named taste-feature contributions and one 'this dish overall' "
                        "remainder, summing to the score (with --json: an explanation per recipe)")
    s.add_argument("--explain-top", type=int, default=4, help="contributions shown per recipe (default 4)")
    s.set_defaults(func=cmd_score)

    dg = sub.add_parser("diagnose", help="score-collapse diagnostics on a recipes file; with --user, that "
                                         "profile's consistency with itself (repeats, intransitive triads)")
    dg.add_argument("--recipes")
    dg.add_argument("--user")
    dg.add_argument("--model", help="diagnose this weights file instead of the active version")
    dg.add_argument("--json", action="store_true")
    dg.set_defaults(func=cmd_diagnose)

    full = command in (ALL_COMMANDS, "train")
    if full:
        from pantry.model.training import CV_FOLDS, LEGACY_DEFAULTS
    t = sub.add_parser("train", help="train the population model and (with --user) a personal model, "
                                     "and activate them (--no-activate: do not)",
                       epilog=f"the legacy trainer used: {LEGACY_DEFAULTS}" if full else None)
    t.add_argument("--user")
    if full:
        _add_train_options(t)
        t.add_argument("--cv-folds", type=int, default=CV_FOLDS,
                       help=f"cross-validate the personal settings with this many folds (default {CV_FOLDS}; "
                            "0: skip); stored as the version's cv_accuracy, the held-out figure the app shows")
    t.add_argument("--no-population", action="store_true",
                   help="train only the personal model of --user (its prior is still fitted on the other "
                        "profiles' votes); the population model stays as it is")
    t.add_argument("--no-activate", action="store_true",
                   help="save the new versions inactive (by default this command activates them, unlike the "
                        "app's Retrain page, which waits for Activate)")
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=cmd_train)

    i = sub.add_parser("import", help="import votes, recipes or prompt/chosen/rejected JSONL")
    i.add_argument("file")
    i.add_argument("--user", default="me", help="user for prompt/chosen/rejected lines without one")
    i.add_argument("--json", action="store_true", help="one JSON object: batch_id, recipes, votes, pairs, skipped")
    i.set_defaults(func=cmd_import)

    e = sub.add_parser("export", help="export votes")
    e.add_argument("--format", choices=["votes", "trl", "csv"], default="votes")
    e.add_argument("--user")
    e.add_argument("--out")
    e.set_defaults(func=cmd_export)

    sy = sub.add_parser("synth", help="simulate a persona voting on composer recipes")
    sy.add_argument("--persona", required=True)
    sy.add_argument("--n", type=int, default=200)
    sy.add_argument("--seed", type=int, default=0)
    sy.add_argument("--user")
    sy.add_argument("--out")
    sy.add_argument("--import", dest="do_import", action="store_true", help="also import into the store")
    sy.set_defaults(func=cmd_synth)

    pc = sub.add_parser("persona-check", help="held-out accuracy of a user's model against a persona "
                                              "on fresh composer recipes, plus collapse diagnostics")
    pc.add_argument("--persona", required=True)
    pc.add_argument("--user", required=True)
    pc.add_argument("--n", type=int, default=500)
    pc.add_argument("--seed", type=int, default=12345)
    pc.add_argument("--json", action="store_true")
    pc.set_defaults(func=cmd_persona_check)

    mo = sub.add_parser("models", help="list model versions or activate one")
    mo.add_argument("--user")
    mo.add_argument("--activate", type=int)
    mo.add_argument("--json", action="store_true", help="one JSON object: profile, models (newest first)")
    mo.set_defaults(func=cmd_models)

    ev = sub.add_parser("evaluate", help="offline evaluation on a recipes file and a votes file")
    ev.add_argument("--recipes", required=True)
    ev.add_argument("--votes", required=True)
    ev.add_argument("--protocol", choices=["seen", "unseen", "cold"], default="seen",
                    help="cold: a third of all recipes held out of everyone's training votes")
    ev.add_argument("--labels", type=int, default=25)
    ev.add_argument("--selection", choices=["random", "active"], default="random")
    ev.add_argument("--seed", type=int, default=0, help="the first seed (default 0)")
    ev.add_argument("--seeds", type=int, default=5,
                    help="run seeds SEED..SEED+N-1 and report the mean with a t interval (default 5)")
    ev.add_argument("--folds", type=int, default=5,
                    help="folds of users: each fold's test users are scored against a population model fitted "
                         "on every other fold's users (default 5; 0: leave one user out, one fit per user)")
    ev.add_argument("--users", type=int, default=None,
                    help="test a seeded sample of N users (default: all); the population still learns from "
                         "every user outside the test user's fold")
    ev.add_argument("--workers", type=int, default=0,
                    help="worker processes for the population and per-user fits (default 0: one per CPU, "
                         "at most 4; used from 200 test users on)")
    ev.add_argument("--json", action="store_true")
    ev.set_defaults(func=cmd_evaluate)

    hh = sub.add_parser("household", help="rank recipes for 2-6 profiles sharing one pantry")
    hh.add_argument("--members", required=True, help="profile names, comma-separated: ana,ben,cy")
    hh.add_argument("--pantry", required=True)
    hh.add_argument("--n", type=int, default=8, help="candidates to generate (default 8)")
    hh.add_argument("--seed", type=int, default=0)
    hh.add_argument("--top", type=int)
    hh.add_argument("--backend", choices=["auto", "ollama", "offline"], default=None)
    hh.add_argument("--json", action="store_true")
    hh.set_defaults(func=cmd_household)

    dt = sub.add_parser("diet", help="show or set (--set) a profile's diet limits, used by household rankings")
    dt.add_argument("--user", required=True)
    dt.add_argument("--set", help='comma-separated limits, e.g. "vegetarian, no pork, nut allergy" ("" clears)')
    dt.add_argument("--json", action="store_true")
    dt.set_defaults(func=cmd_diet)

    pr = sub.add_parser("pair", help="the next pair the app would show a profile (chosen as POST /pairs and "
                                     "the Compare page choose it; the same --seed gives the same pair)")
    pr.add_argument("--user", required=True)
    pr.add_argument("--pantry", required=True)
    pr.add_argument("--n", type=int, default=6, help=f"candidates to choose from (2..{MAX_PAIR_CANDIDATES}, default 6)")
    pr.add_argument("--diet", action="append", choices=list(DIETS))
    pr.add_argument("--cuisine")
    pr.add_argument("--max-minutes", type=int)
    pr.add_argument("--seed", type=int, help="default: a new random seed (printed)")
    pr.add_argument("--backend", choices=["auto", "ollama", "offline"], default=None)
    pr.add_argument("--json", action="store_true", help="one JSON object: a, b, left, why, model, generator, seed")
    pr.set_defaults(func=cmd_pair)

    sv = sub.add_parser("serve", help="serve the HTTP API (JSON; OpenAPI at /openapi.json)")
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sv.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    sv.set_defaults(func=cmd_serve)

    tk = sub.add_parser("token", help="print an HTTP API token that reaches only one profile's data "
                                      "(needs PANTRY_API_TOKEN, the admin token)")
    tk.add_argument("--profile", required=True)
    tk.set_defaults(func=cmd_token)
    return p


def _clean(message: str) -> str:
    """A message with the configured credentials removed (`pantry.base.redact`)."""
    from pantry.base import redact

    return redact(message, os.environ.get("PANTRY_DATABASE_URL", ""), os.environ.get("OLLAMA_HOST", ""),
                  os.environ.get("PANTRY_API_TOKEN", ""))


def main(argv: Sequence[str] | None = None) -> int:
    # the process entry point: offline by default (docs/ARCHITECTURE.md, "Offline first"), set here, before
    # any command imports the encoder, and never as a side effect of importing the library
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    words = [a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")]
    args = build_parser(words[0] if words else None).parse_args(argv)
    try:
        return args.func(args)
    except ImportFailed as e:
        print(_clean(f"error: {e}"), file=sys.stderr)
        for line, msg in e.problems[:20]:
            print(_clean(f"  line {line}: {msg}"), file=sys.stderr)
        return 2
    except (PantryError, ValueError) as e:
        print(_clean(f"error: {str(e).splitlines()[0] if str(e) else type(e).__name__}"), file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: {e.strerror or e}: {e.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
