"""Commands about the reward model: train, score, models, persona-check, diagnose (with a
profile's consistency with itself), evaluate; and the training flags built from `TrainConfig`."""

from __future__ import annotations

import argparse
import json
import os
import sys

from pantry.model.kinds import ModelKind, version_label
from pantry.cli.common import (_fmt, _json_default, _lab, _model_choice, _no_nan, _print_table, _progress_log,
                               _progress_printer, _read_recipes, _store)



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
    new = [version_label(ModelKind.POPULATION, out.population_version) if out.population_version else None,
           version_label(ModelKind.PERSONAL, out.personal_version) if out.personal_version else None]
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
    if m.get("rater_weight") is not None:  # the rater's own consistency, beside the held-out figure
        keys += ["rater_ceiling", "rater_weight"]
    keys += ["best_epoch", "reward_min", "reward_mean", "reward_max"]
    _print_table([{"metric": k, "value": _fmt(m.get(k))} for k in keys], ["metric", "value"])
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
        from pantry.model.explain import BASELINE, REMAINDER, phrase
        if ranked and ranked[0].explanation.relative:
            print(f"# each part against {BASELINE} (the average of the recipes the model learned from)")
        for s in ranked:
            why = s.explanation
            top = max(0, args.explain_top)
            parts = ([f"{why.baseline:+.2f} {BASELINE}"] if why.relative else []) + [phrase(c) for c in why.top(top)]
            rest = why.contributions[top:]
            if rest:
                parts.append(f"{sum(c.contribution for c in rest):+.2f} {len(rest)} smaller features")
            print(f"{s.rank}. {s.recipe.title[:60]}: {why.score:+.2f} = "
                  + ", ".join(parts + [f"{why.own:+.2f} {REMAINDER}"]))
    return 0


def cmd_models(args) -> int:
    if args.activate is not None:  # the same check the app and the API make: it must load here
        _lab().activate([args.activate])
        print(json.dumps({"activated": args.activate}) if args.json else f"activated model v{args.activate}")
        return 0

    store = _store()
    if args.user is not None:
        from pantry.household import existing_profile

        args.user = existing_profile(store, args.user)
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


def cmd_persona_check(args) -> int:
    from pantry.evaluation.personas import persona_check
    from pantry.household import existing_profile
    lab = _lab()
    report = persona_check(lab, args.persona, existing_profile(lab.store, args.user), n=args.n, seed=args.seed,
                           on_progress=_progress_printer(sys.stderr.isatty()))
    if args.json:
        print(json.dumps(report))
        return 0
    _print_table([{"metric": k, "value": _fmt(v)} for k, v in report.items()
                  if not isinstance(v, (list, dict))], ["metric", "value"])
    for a in report.get("alerts", []):
        print(f"ALERT: {a}")
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


def _consistency_figures(user: str) -> dict:
    """The profile's consistency, and the active personal model's held-out accuracy beside it."""
    from pantry.evaluation.consistency import profile_consistency
    store = _store()
    from pantry.household import existing_profile

    user = existing_profile(store, user)
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
