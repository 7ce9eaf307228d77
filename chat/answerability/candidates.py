"""The candidates an answer could come from: every sentence of the passages (with the next one)
and every table row, each with its neighbourhood and heading."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from chat.answerability.words import is_raw_row, is_row, stems_of
from ingestion.tables import TITLE_SEPARATOR
from retrieval.types import ScoredChunk

# A line this short above a paragraph or a table is its heading.
HEADING_CHARS = 100


# How much of the text on each side of a line of prose belongs to its neighbourhood (characters).
NEAR_CHARS = 300


@dataclass(frozen=True)
class Candidate:
    """A sentence (with the next one: answers often follow the sentence that matches) or a table row."""

    n: int  # the passage it lies in, 1-based
    text: str
    near: str = ""  # its neighbourhood: its paragraph and the ones either side; a table row alone
    row: bool = False
    heading: str = ""  # the short line above it or above its table ("Hardness of grade SNB22-3")
    cells: tuple[tuple[str, str], ...] = ()  # a table row's (column name, value) pairs


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[^a-z])")


def candidates(passages: Sequence[ScoredChunk]) -> list[Candidate]:
    """Every table row of the passages (a raw `a | b | c` row with its block's first row), and
    every sentence joined with the one after it; each with its neighbourhood."""
    return [c for n, passage in enumerate(passages, start=1) for c in _passage_candidates(n, passage.text)]


def _passage_candidates(n: int, text: str) -> list[Candidate]:
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line and line != "[…]"]
    found: list[Candidate] = []
    block_head = heading = ""
    for i, line in enumerate(lines):
        if is_row(line):
            cells = tuple((name, value) for name, _, value in (c.rpartition(": ") for c in
                                                               line.rsplit(TITLE_SEPARATOR, 1)[-1].split("; ")))
            found.append(Candidate(n=n, text=line, near=line, row=True, heading=heading, cells=cells))
            block_head = ""
            continue
        if is_raw_row(line):
            if not block_head:
                block_head = line
                found.append(Candidate(n=n, text=line, near=line, row=True, heading=heading))
            else:
                joined = f"{block_head} {line}"
                names, values = block_head.split(" | "), line.split(" | ")
                cells = tuple((name, values[k].strip() if k < len(values) else "") for k, name in enumerate(names))
                found.append(Candidate(n=n, text=joined, near=joined, row=True, heading=heading, cells=cells))
            continue
        block_head = ""
        above, heading = heading, line if len(line) <= HEADING_CHARS else ""
        near = _neighbourhood(lines, i)
        sentences = [s.strip() for s in _SENTENCE_END.split(line) if len(s.strip()) > 1]
        following = ""
        if i + 1 < len(lines) and not is_row(lines[i + 1]) and not is_raw_row(lines[i + 1]):
            following = _SENTENCE_END.split(lines[i + 1])[0].strip()
        for k, sentence in enumerate(sentences):
            after = sentences[k + 1] if k + 1 < len(sentences) else following
            found.append(Candidate(n=n, text=f"{sentence} {after}".strip(), near=near, heading=above))
    return found


def _neighbourhood(lines: Sequence[str], i: int) -> str:
    """Line `i` of prose with the lines around it, up to NEAR_CHARS of them on each side (a PDF's
    text breaks a paragraph into many short lines; a heading or a label is a short line too),
    stopping at a table row."""
    before: list[str] = []
    j, size = i - 1, 0
    while j >= 0 and size < NEAR_CHARS and not is_row(lines[j]) and not is_raw_row(lines[j]):
        before.insert(0, lines[j])
        size += len(lines[j])
        j -= 1
    after: list[str] = []
    j, size = i + 1, 0
    while j < len(lines) and size < NEAR_CHARS and not is_row(lines[j]) and not is_raw_row(lines[j]):
        after.append(lines[j])
        size += len(lines[j])
        j += 1
    return " ".join([*before, lines[i], *after])


def row_heads(text: str) -> list[set[str]]:
    """The stems of each self-describing row's own header (after its title, period and unit)."""
    heads = []
    for line in text.splitlines():
        if is_row(line):
            head = line.split(TITLE_SEPARATOR)[-1].split("; ")[0]
            if ": " in head:  # "In millions of CHF: Zone NA", "Assortment: Bars"
                head = head.rsplit(": ", 1)[-1]
            heads.append(stems_of(head.replace("-", " ")))
    return heads
