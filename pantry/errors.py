"""The project's own exceptions: each carries a one-line message meant for a person.

The CLI prints `str(err)` and exits non-zero; the app shows it in the page. Nothing
that raises these should have changed any saved data first.
"""


class PantryError(Exception):
    """Base class: a problem a user can act on, with a clear one-line message."""


class InvalidRecipe(PantryError):
    """A recipe object is missing a field or has a field of the wrong type."""


class InvalidInput(PantryError):
    """Input text (pantry, file, option) is empty, too large or malformed."""


class ImportFailed(PantryError):
    """A JSONL file had bad lines; nothing from it was imported.

    `problems` lists `(line_number, message)` for every bad line.
    """

    def __init__(self, path: str, problems: list[tuple[int, str]]):
        self.path = path
        self.problems = problems
        first = "; ".join(f"line {n}: {m}" for n, m in problems[:3])
        more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
        super().__init__(f"{path}: {len(problems)} bad line(s), nothing imported: {first}{more}")


class NotEnoughVotes(PantryError):
    """Training was asked for with too few decisive votes."""


class ModelFileError(PantryError):
    """A weights file is missing, truncated, corrupt or made for another embedder/feature spec."""


class EmbedderError(PantryError):
    """The sentence-transformers model could not be loaded or failed its checksum."""


class GeneratorError(PantryError):
    """A recipe generator failed (Ollama unreachable, bad answers, timeouts...)."""


class GeneratorUnavailable(GeneratorError):
    """The generator cannot be used right now (not reachable, model not pulled)."""
