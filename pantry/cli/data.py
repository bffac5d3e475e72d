"""Commands that make and move data: generate, synth, import, export, and pair (the pair the app
would show, for scripts)."""

from __future__ import annotations

import json
import sys

from pantry.cli.common import _json_default, _lab, _progress_printer, _store
from pantry.errors import PantryError


MAX_PAIR_CANDIDATES = 20  # = pantry.api.schemas.MAX_CANDIDATES, the most POST /pairs draws from


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
