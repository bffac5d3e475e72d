"""One escaping helper for every string from outside the app that reaches Markdown.

Recipe titles, ingredients, steps, cuisines, reasons, profile names, file names, Ollama's
version and model names, and error messages that quote any of them go through `md` before
`st.markdown`, `st.caption`, `st.info`/`warning`/`error`/`success`, `st.toast`, and the
labels that render Markdown (subheaders, expanders, tabs, status, metrics). Ordinary text
looks exactly as typed: the escaping is invisible once rendered.
"""

from __future__ import annotations

import re
import string

# Every ASCII punctuation character may be backslash-escaped in CommonMark (and GFM):
# an escaped character is always literal text, never the start of emphasis, a link, an
# image, raw HTML, a code span, a list, a table, `$` math or a `:color[...]` directive.
_PUNCT = frozenset(string.punctuation)
# Escapes alone do not stop what works on the parsed text: GFM's bare-URL autolinks
# (`www.x.org`, `http://x`, `a@b.org`) and Streamlit's `:shortcode:` emoji and
# `:material/icon:` icons. A WORD JOINER (U+2060, zero width, no line break) after each
# colon and '@' that touches the next word, and inside 'www.', breaks those while showing nothing.
WJ = "\u2060"
_WWW = re.compile(r"(?i)(w)(ww\\\.)")


def md(text: object) -> str:
    """`text` as Markdown that renders literally, on one line."""
    s = " ".join(str(text).split()) if text is not None else ""  # no blocks, indents or line breaks
    out = []
    for i, ch in enumerate(s):
        if ch in _PUNCT:
            out.append("\\" + ch)
            if ch in ":@" and i + 1 < len(s) and not s[i + 1].isspace():  # ': ' can start nothing
                out.append(WJ)
        else:
            out.append(ch)
    return _WWW.sub(r"\1" + WJ + r"\2", "".join(out))
