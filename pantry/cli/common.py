"""What every command shares: the Lab and Store it works on, progress lines on stderr, plain
tables, and the recipes a command reads. The Lab comes from `pantry.cli._lab` at call time, so a
test (or another front end) can put its own Lab there."""

from __future__ import annotations

import sys
from typing import Sequence


def _lab():
    """The Lab a command works on: `pantry.cli._lab()` (looked up on each call)."""
    import pantry.cli
    return pantry.cli._lab()



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


def _print_table(rows: list[dict], columns: Sequence[str]) -> None:
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) if rows else len(c) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for r in rows:
        print("  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns))


def _fmt(x, digits: int = 4):
    return f"{x:.{digits}f}" if isinstance(x, float) else ("-" if x is None else x)


def _no_nan(d: dict) -> dict:
    return {k: (None if isinstance(v, float) and v != v else v) for k, v in d.items()}


def _json_default(x):
    """numpy numbers (in stored metrics) as plain JSON numbers."""
    item = getattr(x, "item", None)
    if callable(item):
        return item()
    raise TypeError(f"{type(x).__name__} is not JSON serialisable")


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


def _store():
    from pantry.settings import Settings
    from pantry.storage.store import Store
    return Store.open(Settings.from_env())
