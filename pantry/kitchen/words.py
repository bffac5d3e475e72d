"""Text normalisation shared by every kitchen module (the same function on the knowledge
base's side and on the query's side is what makes "tomatoes" find "tomato" and "leaves" find
"leaf").

- `fold("Jalapeño")` -> "jalapeno": lowercase, accents stripped, ligatures spelled out;
- `tokens("2 Tomatoes")` -> ("2", "tomato"): folded word tokens, singularised;
- `clean_name`: whitespace collapsed, surrounding punctuation dropped;
- `is_header("For the sauce:")`: section headers and notes in ingredient lists.

Imports only the standard library.
"""

from __future__ import annotations

import functools
import re
import unicodedata

TOKEN_RE = re.compile(r"[a-z]+|\d+")
_IRREGULAR_SINGULAR = {
    "leaves": "leaf", "halves": "half", "loaves": "loaf", "knives": "knife",
    "calves": "calf", "wives": "wife", "children": "child", "geese": "goose",
    "mice": "mouse", "teeth": "tooth", "feet": "foot",
}
_KEEP_S = ("ss", "us", "is", "ous")


def singular(word: str) -> str:
    """A rule-based singular: good enough for ingredient words, and consistent.

    It only needs to map a singular and its plural to the same key; odd stems
    ("molasses" stays "molasses", "cookies" -> "cooky") are harmless because aliases
    go through the same function.
    """
    if len(word) <= 3:
        return word
    if word in _IRREGULAR_SINGULAR:
        return _IRREGULAR_SINGULAR[word]
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("oes"):
        return word[:-2]
    if word.endswith(("ches", "shes", "sses", "xes", "zes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(_KEEP_S):
        return word[:-1]
    return word


_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss", "ø": "o", "ł": "l"})


def fold(text: str) -> str:
    """Lowercase and strip accents (jalapeño -> jalapeno, crème -> creme, œufs -> oeufs)."""
    if text.isascii():  # no ligature, accent or compatibility form: the same as below, without the work
        return text.lower()
    text = unicodedata.normalize("NFKD", text.lower().translate(_LIGATURES))
    return "".join(ch for ch in text if not unicodedata.combining(ch))


@functools.lru_cache(maxsize=32_768)
def _singular_cached(word: str) -> str:
    return singular(word)


def tokens(text: str) -> tuple[str, ...]:
    """Word tokens of `text`, folded and singularised."""
    return tuple(map(_singular_cached, TOKEN_RE.findall(fold(text))))


def clean_name(text: str) -> str:
    """Whitespace collapsed to one space, surrounding spaces and punctuation dropped."""
    return re.sub(r"\s+", " ", text).strip(" .-:!?\"'`*")


def is_header(line: str) -> bool:
    """Section headers and notes in ingredient lists ("For the sauce:")."""
    s = line.strip().lower()
    return (not s or s.endswith(":") or s.startswith(("for the ", "special equipment"))
            or not TOKEN_RE.search(fold(s)))
