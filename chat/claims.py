"""An answer's claims: its sentences (or table rows), each with the citation markers it carries.

A claim ends at a full stop, question or exclamation mark followed by white space, or at a line
break; a decimal point ("3.5") or a section number ("3.1 Operating segments") does not end one.
Markers standing after the full stop ("... night. [1]") belong to the sentence before them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from chat.markers import MARKER

_BOUNDARY = re.compile(r"(?<=[.!?])\s+|\s*\n+\s*")
_ONLY_MARKERS = re.compile(r"^(?:\s*\[\d{1,3}\])+\s*[.,;:]?\s*$")


@dataclass
class Claim:
    start: int  # the claim's span [start, end) in the answer, markers included
    end: int
    text: str
    markers: list[int] = field(default_factory=list)

    @property
    def body(self) -> str:
        """The claim without its markers (and the space before each)."""
        return without_markers(self.text)


def without_markers(text: str) -> str:
    return re.sub(r"\s*\[\d{1,3}\]", "", text).strip()


def spans(text: str) -> list[tuple[int, int]]:
    """The [start, end) spans of the text's sentences and lines, by the same boundaries."""
    found, start = [], 0
    for boundary in [*_BOUNDARY.finditer(text), None]:
        end = boundary.start() if boundary is not None else len(text)
        if text[start:end].strip():
            found.append((start, end))
        start = boundary.end() if boundary is not None else len(text)
    return found


def claims(answer: str) -> list[Claim]:
    found: list[Claim] = []
    for start, end in spans(answer):
        piece = answer[start:end]
        markers = [int(m.group(1)) for m in MARKER.finditer(piece)]
        if found and _ONLY_MARKERS.match(piece):
            last = found[-1]
            last.end, last.text = end, answer[last.start : end]
            last.markers += [n for n in markers if n not in last.markers]
        else:
            found.append(Claim(start=start, end=end, text=piece, markers=list(dict.fromkeys(markers))))
    return found
