"""An answer's claims: its sentences (or table rows), each with the citation markers it carries.

A claim ends at a full stop, question or exclamation mark followed by white space, or at a line
break; a decimal point ("3.5"), a section number ("3.1 Operating segments"), an abbreviation's or
an initial's full stop ("Galaxy Gaming, Inc. is", "Mr. J. Smith", "Streptococcus sp. (streptopain)")
does not end one.
Markers standing after the full stop ("... night. [1]") belong to the sentence before them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from chat.markers import MARKER

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_LINE_END = re.compile(r"\s*\n+\s*")
# Words whose full stop ends no sentence ("Ste. 305", "Dr. Owen", "e.g. this", "Fig. 3", "No. 8").
ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st ste no nos vol fig figs e.g i.e etc al vs inc ltd co corp jr sr dept approx est ca "
    "jan feb mar apr jun jul aug sep sept oct nov dec u.s u.k p pp sp spp sec".split()
)
_INITIALS = re.compile(r"^(?:[^\W\d_]\.)*[^\W\d_]$")  # "J", "F.C", "U.S"


def abbreviated(text: str, stop: int) -> bool:
    """Whether the full stop at `text[stop]` ends an abbreviation or an initial, not a sentence."""
    if text[stop : stop + 1] != ".":
        return False
    before = text[:stop].rsplit(None, 1)
    word = before[-1].lower().lstrip("(\"'") if before else ""
    return word in ABBREVIATIONS or _INITIALS.match(word) is not None


def _sentence_ends(text: str) -> list[re.Match[str]]:
    """The white space after each full stop, ! or ? that ends a sentence (not an abbreviation's)."""
    return [m for m in _SENTENCE_END.finditer(text) if not abbreviated(text, m.start() - 1)]


def _ends(text: str) -> list[re.Match[str]]:
    """The boundaries between the text's claims: sentence ends and line breaks."""
    found: list[re.Match[str]] = []
    for m in sorted([*_sentence_ends(text), *_LINE_END.finditer(text)], key=lambda m: (m.start(), -m.end())):
        if not found or m.start() >= found[-1].end():
            found.append(m)
    return found


def pieces(line: str) -> list[str]:
    """The claims of one line, as `spans` cuts them (for a backend that cites each one)."""
    found, start = [], 0
    for end in _sentence_ends(line):
        found.append(line[start : end.start()])
        start = end.end()
    return [*found, line[start:]]
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
    for boundary in [*_ends(text), None]:
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
