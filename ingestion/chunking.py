"""Split parsed elements into passages that fit the embedding model's window.

Chunks follow the document's structure: a heading starts a new section and no chunk spans two
sections; a table gets chunks of its own (whole when it fits, otherwise split between rows);
prose is packed by sentences with a small overlap. A table's rows are self-describing lines
(each names its table and columns, see ingestion/tables.py), so a split table needs no header
repeated: every chunk's text is a verbatim slice of the parsed text (`char_start:char_end`).
Nothing is silently truncated: a chunk's embedding input (heading context + text) is at most
`max_tokens` model tokens, special tokens included.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ingestion.parsing import Element

SPECIAL_TOKENS = 2  # [CLS] and [SEP]
MAX_HEADING_TOKENS = 48
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n+")


@dataclass
class ChunkDraft:
    text: str
    char_start: int
    char_end: int
    page_start: int | None
    page_end: int | None
    heading_path: list[str]
    token_count: int
    is_table: bool = False

    @property
    def embedding_input(self) -> str:
        return embedding_input(self.heading_path, self.text)


@dataclass
class _Unit:
    start: int
    end: int
    tokens: int
    page: int | None


@dataclass
class _Block:
    """A run of units that chunks may not cross: one section's prose, or one table."""

    heading_path: list[str]
    units: list[_Unit] = field(default_factory=list)
    is_table: bool = False


def embedding_input(heading_path: Sequence[str], text: str) -> str:
    """What the model embeds: the heading trail (when the text does not start with it) + text."""
    trail = " > ".join(h for h in heading_path if h)
    if not trail or text.startswith(heading_path[-1]):
        trail = " > ".join(heading_path[:-1])
    return f"{trail}\n{text}" if trail else text


def render_element(element: Element) -> str:
    """The element's text as it appears in the parsed text (a table's text is its rows' lines)."""
    return element.text.strip()


def parsed_text_of(elements: Sequence[Element]) -> tuple[str, list[int]]:
    """The document's parsed text and the offset where each element starts in it."""
    parts: list[str] = []
    offsets: list[int] = []
    position = 0
    for element in elements:
        rendered = render_element(element)
        offsets.append(position)
        parts.append(rendered)
        position += len(rendered) + 2
    return "\n\n".join(parts), offsets


class Chunker:
    def __init__(
        self, *, count_tokens: Callable[[str], int], max_tokens: int, overlap_tokens: int = 32
    ) -> None:
        """`count_tokens` counts model tokens of a text without special tokens."""
        self.count_tokens = count_tokens
        self.max_tokens = max_tokens
        self.overlap_tokens = overlap_tokens

    def run(self, elements: Sequence[Element]) -> tuple[str, list[ChunkDraft]]:
        text, offsets = parsed_text_of(elements)
        blocks = self._blocks(elements, offsets, text)
        chunks: list[ChunkDraft] = []
        for block in blocks:
            chunks.extend(self._pack(block, text))
        return text, chunks

    # -- structure ---------------------------------------------------------------------------
    def _blocks(self, elements: Sequence[Element], offsets: list[int], text: str) -> list[_Block]:
        headings: list[tuple[int, str]] = []
        blocks: list[_Block] = []
        prose: _Block | None = None
        for element, start in zip(elements, offsets):
            rendered = render_element(element)
            end = start + len(rendered)
            if element.kind == "Title":
                headings = [(d, h) for d, h in headings if d < element.depth] + [(element.depth, rendered[:300])]
                prose = None
            path = [h for _, h in headings]
            if element.kind == "Table":
                blocks.append(self._table_block(element, start, path, text))
                prose = None
                continue
            if prose is None:
                prose = _Block(heading_path=path)
                blocks.append(prose)
            prose.units.extend(self._sentence_units(text, start, end, element.page))
        return [b for b in blocks if b.units]

    def _table_block(self, element: Element, start: int, path: list[str], text: str) -> _Block:
        block = _Block(heading_path=path, is_table=True)
        # A row is cut into word windows only when it alone overflows a chunk: its header context
        # is in its first window only.
        row_limit = self._budget(MAX_HEADING_TOKENS)
        position = start
        for line in render_element(element).split("\n"):
            block.units.extend(self._word_windows(text, position, position + len(line), element.page, limit=row_limit))
            position += len(line) + 1
        return block

    def _sentence_units(self, text: str, start: int, end: int, page: int | None) -> list[_Unit]:
        units: list[_Unit] = []
        cursor = start
        for match in _SENTENCE_END.finditer(text, start, end):
            units.extend(self._word_windows(text, cursor, match.start(), page))
            cursor = match.end()
        units.extend(self._word_windows(text, cursor, end, page))
        return units

    def _word_windows(
        self, text: str, start: int, end: int, page: int | None, *, limit: int | None = None
    ) -> list[_Unit]:
        """One unit for the span, or several word windows when it alone exceeds `limit` tokens
        (default: half a chunk, so that prose packs well)."""
        piece = text[start:end]
        if not piece.strip():
            return []
        tokens = self.count_tokens(piece)
        limit = limit if limit is not None else self._budget(MAX_HEADING_TOKENS) // 2
        if tokens <= limit:
            return [_Unit(start, end, tokens, page)]
        units: list[_Unit] = []
        words = list(re.finditer(r"\S+", piece))
        window_start = 0
        while window_start < len(words):
            window_end = window_start + 1
            best = window_end
            while window_end <= len(words):
                span = piece[words[window_start].start() : words[window_end - 1].end()]
                if self.count_tokens(span) > limit and window_end > window_start + 1:
                    break
                best = window_end
                window_end += max(1, (window_end - window_start) // 4)
            a = start + words[window_start].start()
            b = start + words[best - 1].end()
            units.append(_Unit(a, b, self.count_tokens(text[a:b]), page))
            window_start = best
        return units

    # -- packing -----------------------------------------------------------------------------
    def _budget(self, context_tokens: int) -> int:
        return self.max_tokens - SPECIAL_TOKENS - context_tokens

    def _pack(self, block: _Block, text: str) -> list[ChunkDraft]:
        trail = " > ".join(block.heading_path)
        context = min(self.count_tokens(trail) + 1, MAX_HEADING_TOKENS) if trail else 0
        if context == MAX_HEADING_TOKENS:
            block.heading_path = [h[:80] for h in block.heading_path[-2:]]
        budget = self._budget(context)
        groups: list[list[_Unit]] = []
        current: list[_Unit] = []
        used = 0
        for unit in block.units:
            if current and used + unit.tokens > budget:
                groups.append(current)
                current, used = self._overlap(current, block.is_table)
            current.append(unit)
            used += unit.tokens
        if current:
            groups.append(current)
        return [self._draft(group, block, text) for group in groups]

    def _overlap(self, previous: list[_Unit], is_table: bool) -> tuple[list[_Unit], int]:
        if is_table or self.overlap_tokens <= 0:
            return [], 0
        kept: list[_Unit] = []
        used = 0
        for unit in reversed(previous[1:]):
            if used + unit.tokens > self.overlap_tokens:
                break
            kept.insert(0, unit)
            used += unit.tokens
        return kept, used

    def _draft(self, units: list[_Unit], block: _Block, text: str) -> ChunkDraft:
        start, end = units[0].start, units[-1].end
        pages = [u.page for u in units if u.page is not None]
        draft = ChunkDraft(
            text=text[start:end],
            char_start=start,
            char_end=end,
            page_start=min(pages) if pages else None,
            page_end=max(pages) if pages else None,
            heading_path=list(block.heading_path),
            token_count=0,
            is_table=block.is_table,
        )
        draft.token_count = self.count_tokens(draft.embedding_input) + SPECIAL_TOKENS
        return draft
