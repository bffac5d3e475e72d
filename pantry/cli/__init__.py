"""The command line: the whole loop without any UI (`python -m pantry ...`).

Every command prints a short table for people, or JSON with `--json` for scripts: one JSON
object, on one line, on stdout per command run (progress and notes go to stderr), so
`json.loads(stdout)` reads any of them; bulk recipes go to a file (`generate --out`). A
problem with the input prints one line `error: ...` on stderr and exits with status 2,
having changed nothing.

The commands live by area: `data` (generate, synth, import, export, pair), `model` (train,
score, models, persona-check, diagnose, evaluate), `household` (household, diet) and `serve`
(serve, token); this module builds the parser and runs one. Importing it stays light (no
numpy): each command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from pantry.cli.data import MAX_PAIR_CANDIDATES, cmd_export, cmd_generate, cmd_import, cmd_pair, cmd_synth
from pantry.cli.household import cmd_diet, cmd_household
from pantry.cli.model import (_add_train_options, cmd_diagnose, cmd_evaluate, cmd_models, cmd_persona_check,
                              cmd_score, cmd_train)
from pantry.cli.serve import RedactingFilter, cmd_serve, cmd_token, install_log_redaction
from pantry.errors import ImportFailed, PantryError


def _lab():
    """The Lab every command works on (one per run; tests put their own here)."""
    from pantry.lab import Lab
    return Lab()


ALL_COMMANDS = "*"


def _port(text: str) -> int:
    """A TCP port for `serve --port` (argparse type): 0..65535, else a usage error."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0..65535, got {port}")
    return port


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
    sv.add_argument("--port", type=_port, default=8000, help="port (default 8000; 0: any free port)")
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


__all__ = ["ALL_COMMANDS", "MAX_PAIR_CANDIDATES", "RedactingFilter", "build_parser", "install_log_redaction", "main"]
