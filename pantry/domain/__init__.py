"""The domain: what a recipe and a vote are, and the file formats that carry them.

What the package is for, one module per job:
- `fields`: the field types every format is built from (whole numbers, finite numbers,
  choices, texts, lists of texts), `loads_json` (numbers too large to hold are kept as
  `OutOfRange` and reported by their field), and `describe`, which turns a pydantic
  ValidationError into one line naming each bad field;
- `recipes`: the `Recipe` type, its file format `RecipeRecord`, the generator answer
  `RecipeAnswer` (whose JSON Schema is Ollama's `format`), the content-hash id, the text
  used for embedding, and the plain-text form;
- `votes`: the `Vote` type, its file format `VoteRecord`, the TRL pair `TrlPair`, user
  names and timestamps, and `line_kind` (which format an import line is).
Each format is one pydantic model: the only place where its fields' rules are written.
The frozen dataclasses `Recipe` and `Vote` are what the rest of the library passes around.

What it may import: pydantic, `pantry.errors` and `pantry.base`, nothing else of the library
(every other package may import the domain).
"""

from pantry.domain.fields import describe, loads_json
from pantry.domain.recipes import (FIELDS, MAX_LINE_CHARS, MAX_LIST_ITEMS, MAX_TITLE_CHARS, Recipe, RecipeAnswer,
                                   RecipeRecord, content_id, embedding_text, parse_recipe_json, recipe_from_answer,
                                   recipe_from_dict, recipe_from_text, recipe_json_schema, recipe_to_text)
from pantry.domain.votes import (DECISIVE, MAX_PANTRY_ITEMS, OUTCOMES, SIDES, STRENGTHS, InvalidVote, TrlPair, Vote,
                                 VoteRecord, check_vote, describe_vote, line_kind, normalize_timestamp, now_iso,
                                 pair_from_trl, trl_prompt, user_key, validate_new_user_name, validate_user_name,
                                 vote_content_key, vote_from_dict)

__all__ = [
    "describe", "loads_json",
    "FIELDS", "MAX_LINE_CHARS", "MAX_LIST_ITEMS", "MAX_TITLE_CHARS", "Recipe", "RecipeAnswer", "RecipeRecord",
    "content_id", "embedding_text", "parse_recipe_json", "recipe_from_answer", "recipe_from_dict",
    "recipe_from_text", "recipe_json_schema", "recipe_to_text",
    "DECISIVE", "MAX_PANTRY_ITEMS", "OUTCOMES", "SIDES", "STRENGTHS", "InvalidVote", "TrlPair", "Vote",
    "VoteRecord", "check_vote", "describe_vote", "line_kind", "normalize_timestamp", "now_iso", "pair_from_trl",
    "trl_prompt", "user_key", "validate_new_user_name", "validate_user_name", "vote_content_key", "vote_from_dict",
]
