"""Citation markers: `[n]` is a citation only when the answerer assigned it.

Text copied from a document into an answer keeps the document's own bracketed numbers
(reference numbers such as "[7]", footnotes, "[1]" in contracts) as text: `neutralise` puts a
WORD JOINER (U+2060, invisible, not a space) after the opening bracket, so neither the citation
check nor the renderer reads them as markers, while a reader sees "[7]" as before.
"""

from __future__ import annotations

import re

MARKER = re.compile(r"\[(\d{1,3})\]")
WORD_JOINER = "\u2060"


def neutralise(text: str) -> str:
    """`text` with every `[n]` it holds made plain text (for text copied from a document)."""
    return MARKER.sub(lambda m: f"[{WORD_JOINER}{m.group(1)}]", text)


def plain(text: str) -> str:
    """`text` with neutralised brackets back as the document had them (to compare with it)."""
    return text.replace(f"[{WORD_JOINER}", "[")
