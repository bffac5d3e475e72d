"""PantryPilot preference lab: learn one person's taste in recipes.

The library behind the Streamlit app and the `python -m pantry` command line. It never
imports streamlit: pages call into it and get plain Python objects back.

Layout (each package's docstring says what it is for and what it may import):

    base, errors, paths, settings   shared pieces every package may import
    domain/       Recipe, Vote and their file formats (pydantic models)
    kitchen/      ingredient knowledge, pantry text, diets, near-duplicates
    generators/   the offline composer, the Ollama generator, the choice between them
    model/        embedding, features, reward model, the one trainer, pair selection
    storage/      the SQLite store and JSONL import/export
    evaluation/   offline protocols, diagnostics, the pages' reports, personas
    compare.py    one Compare round: a pair to show, a click into a vote
    household.py  one recipe for 2-6 profiles (diet limits, each member's model, maximin)
    lab.py        the whole loop behind one object (`Lab`)
    cli/          `python -m pantry ...` (the parser; commands by area: data, model, household, serve)
    api/          the HTTP API (`python -m pantry serve`, FastAPI) over the same Lab

The curated API below loads lazily: `import pantry` is cheap, and torch is imported only
when a model is used.
"""

from pantry.base import lazy_exports

__version__ = "0.1.0"

_NAMES = {
    "Lab": "pantry.lab", "ModelChoice": "pantry.lab", "ScoredRecipe": "pantry.lab",
    "Settings": "pantry.settings", "SettingsError": "pantry.settings",
    "PantryError": "pantry.errors", "InvalidInput": "pantry.errors", "InvalidRecipe": "pantry.errors",
    "Recipe": "pantry.domain", "Vote": "pantry.domain",
    "read_pantry": "pantry.kitchen", "load_kitchen": "pantry.kitchen",
    "GenerationRequest": "pantry.generators", "select_generator": "pantry.generators",
    "generate_with_fallback": "pantry.generators",
    "TrainConfig": "pantry.model", "RewardModel": "pantry.model",
    "Store": "pantry.storage",
    "prepare_round": "pantry.compare", "vote_from_click": "pantry.compare", "Matchup": "pantry.compare",
    "evaluate": "pantry.evaluation", "diagnose_scores": "pantry.evaluation",
}
__all__ = sorted(_NAMES)
__getattr__, __dir__ = lazy_exports(__name__, _NAMES)
