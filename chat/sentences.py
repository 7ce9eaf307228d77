"""Sentences of an answer or a passage: what citations quote and passages are ordered by.

Its own module because both chat.citations and chat.passages need it, and citations also
needs passages' types."""

from __future__ import annotations

import re

_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.findall(text) if len(s.strip()) > 1]
