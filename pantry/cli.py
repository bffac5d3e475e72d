"""The command line: the whole loop without any UI.

Every command prints a short table for people, or JSON with `--json` for scripts. A
problem with the input prints one line `error: ...` on stderr and exits with status 2,
having changed nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Sequence

from pantry.errors import ImportFailed, PantryError


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
    from pantry.generators import GenerationRequest, generate_with_fallback, select_generator
    from pantry.kitchen import pantry_names, parse_pantry
    from pantry.settings import Settings
    settings = Settings.from_env()
    from pantry.generators.base import check_recipe_count
    check_recipe_count(args.n, "--n")
    items = parse_pantry(args.pantry, max_chars=settings.max_pantry_chars)
    request = GenerationRequest(pantry=pantry_names(items), n=args.n, diets=tuple(args.diet or ()),
                                cuisine=args.cuisine, max_minutes=args.max_minutes,
                                servings=args.servings, seed=args.seed)
    choice = select_generator(settings, args.backend)
    recipes, choice = generate_with_fallback(choice, request, _progress_printer(sys.stderr.isatty()))
    if args.json:
        for r in recipes:
            print(r.to_json())
        print(f"generator: {choice.name} ({choice.reason})", file=sys.stderr)
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
    out = lab.train(args.user, cfg, activate=activate, cv_folds=args.cv_folds,
                    on_progress=_progress_printer(sys.stderr.isatty()))
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
    from pantry.storage.jsonl import import_jsonl
    lab_store = _store()
    report = import_jsonl(lab_store, args.file, default_user=args.user)
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
        from pantry.storage.jsonl import import_jsonl
        report = import_jsonl(_store(), lines)
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
        print(f"activated model v{args.activate}")
        return 0
    store = _store()
    rows = []
    for v in store.model_versions(args.user):
        m = v.metrics or {}
        rows.append({"id": v.id, "user": v.user or "(population)", "active": "*" if v.active else "",
                     "created": v.created_at, "cv_acc": _fmt(m.get("cv_accuracy"), 3),
                     "cv_pairs": m.get("cv_pairs", "-"), "pairs": m.get("n_pairs", "-")})
    # cv_acc: the cross-validated held-out accuracy the app shows (blank for population versions)
    _print_table(rows, ["id", "user", "active", "created", "cv_acc", "cv_pairs", "pairs"])
    return 0


def cmd_evaluate(args) -> int:
    from pantry.evaluation.protocols import evaluate_files
    report = evaluate_files(args.recipes, args.votes, protocol=args.protocol, labels=args.labels,
                            selection=args.selection, seed=args.seed, seeds=args.seeds,
                            on_progress=_progress_printer(sys.stderr.isatty()))
    if args.json:
        print(json.dumps(report))
        return 0
    seeds = report["seeds"]
    print(f"# protocol {report['protocol']}, labels {report['labels']}, selection {report['selection']}, "
          f"seeds {seeds[0]}..{seeds[-1]}, {report['users']} users, {report['test_pairs']} test pairs pooled "
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


def cmd_serve(args) -> int:
    """The HTTP API (pantry.api) on uvicorn: one Lab and one Store for the whole process."""
    import uvicorn

    from pantry.api import create_app
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="info")
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


def build_parser() -> argparse.ArgumentParser:
    from pantry.kitchen.vocab import DIETS  # not the knowledge base (pydantic): a constant
    from pantry.model.training import LEGACY_DEFAULTS
    p = argparse.ArgumentParser(prog="python -m pantry", description="PantryPilot preference lab")
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="generate recipes from a pantry")
    g.add_argument("--pantry", required=True, help='free text, e.g. "2 eggs, half an onion, spinach"')
    g.add_argument("--n", type=int, default=2)
    g.add_argument("--diet", action="append", choices=list(DIETS))
    g.add_argument("--cuisine")
    g.add_argument("--max-minutes", type=int)
    g.add_argument("--servings", type=int, default=2)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--backend", choices=["auto", "ollama", "offline"], default=None)
    g.add_argument("--json", action="store_true", help="one recipe JSON object per line")
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

    dg = sub.add_parser("diagnose", help="score-collapse diagnostics on a recipes file")
    dg.add_argument("--recipes", required=True)
    dg.add_argument("--user")
    dg.add_argument("--model", help="diagnose this weights file instead of the active version")
    dg.add_argument("--json", action="store_true")
    dg.set_defaults(func=cmd_diagnose)

    from pantry.model.training import CV_FOLDS
    t = sub.add_parser("train", help="train the population model and (with --user) a personal model, "
                                     "and activate them (--no-activate: do not)",
                       epilog=f"the legacy trainer used: {LEGACY_DEFAULTS}")
    t.add_argument("--user")
    _add_train_options(t)
    t.add_argument("--cv-folds", type=int, default=CV_FOLDS,
                   help=f"cross-validate the personal settings with this many folds (default {CV_FOLDS}; 0: skip); "
                        "stored as the version's cv_accuracy, the held-out figure the app shows")
    t.add_argument("--no-activate", action="store_true",
                   help="save the new versions inactive (by default this command activates them, unlike the "
                        "app's Retrain page, which waits for Activate)")
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=cmd_train)

    i = sub.add_parser("import", help="import votes, recipes or prompt/chosen/rejected JSONL")
    i.add_argument("file")
    i.add_argument("--user", default="me", help="user for prompt/chosen/rejected lines without one")
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
    ev.add_argument("--json", action="store_true")
    ev.set_defaults(func=cmd_evaluate)

    sv = sub.add_parser("serve", help="serve the HTTP API (JSON; OpenAPI at /openapi.json)")
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sv.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    sv.set_defaults(func=cmd_serve)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    # the process entry point: offline by default (DESIGN "Offline first"), set here, before
    # any command imports the encoder, and never as a side effect of importing the library
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ImportFailed as e:
        print(f"error: {e}", file=sys.stderr)
        for line, msg in e.problems[:20]:
            print(f"  line {line}: {msg}", file=sys.stderr)
        return 2
    except (PantryError, ValueError) as e:
        print(f"error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: {e.strerror or e}: {e.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
