"""Passages for the model: retrieved chunks widened with their neighbours, one passage per region.

A chunk fits the embedding model's window (about 256 tokens), which is the right size to find
text but often too small to answer from: the sentence that holds the answer sits just before or
after the sentence that matched. So each retrieved chunk becomes a window of its document
(`window` chunks on each side), windows of the same document that overlap or touch are merged
into one passage, and at most `limit` passages and `budget_tokens` tokens go to the model.

A passage's text is a verbatim slice of the document's parsed text (from the first chunk's
`char_start` to the last chunk's `char_end`), and it knows where each of its chunks lies inside
it, so a quote found in the passage can be traced back to the chunk (and page) it comes from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db.models import Q
from django.db.models.functions import Substr

from ingestion.models import Chunk, Document
from retrieval.types import ScoredChunk


@dataclass
class ChunkSpan:
    """Where one chunk of a passage lies inside the passage's text ([start, end))."""

    chunk_id: int
    start: int
    end: int
    page_start: int | None
    page_end: int | None


@dataclass
class Passage(ScoredChunk):
    """A ScoredChunk widened to a region of its document. `chunk_id`, `scores` and `ranks` are
    those of the best retrieved chunk inside it; `hits` lists every retrieved chunk it holds."""

    spans: list[ChunkSpan] = field(default_factory=list)
    hits: list[int] = field(default_factory=list)

    def span_of(self, quote: str) -> tuple[ChunkSpan | None, str]:
        """The chunk that holds `quote` (verbatim in the passage) and the part of the quote that
        lies inside that chunk: the whole quote when one chunk holds it, otherwise the longest
        piece of it inside a single chunk (still verbatim in both the chunk and the passage)."""
        at = self.text.find(quote)
        if at < 0 or not self.spans:
            return None, quote
        end = at + len(quote)
        whole = [s for s in self.spans if s.start <= at and end <= s.end]
        if whole:
            return min(whole, key=lambda s: (s.chunk_id not in self.hits, s.end - s.start)), quote
        best = max(self.spans, key=lambda s: min(end, s.end) - max(at, s.start))
        piece = self.text[max(at, best.start) : min(end, best.end)].strip()
        return best, piece or quote


@dataclass
class _Region:
    document_id: int
    first: int  # ordinals, inclusive
    last: int
    seed: ScoredChunk
    hits: list[int]


def passages_build(
    hits: Sequence[ScoredChunk], *, limit: int, window: int, max_passage_tokens: int, budget_tokens: int
) -> list[Passage]:
    """Widen `hits` (best first) into at most `limit` passages of their documents.

    Each hit claims the chunks `window` ordinals around it. A hit already inside a passage only
    adds evidence; a hit whose window overlaps or touches passages of its document joins them
    into one while that stays under `max_passage_tokens`; otherwise it starts a new passage
    (without the chunks other passages hold) while there are fewer than `limit` and the total
    stays under `budget_tokens`. Passages keep the order of their best hit."""
    if not hits:
        return []
    ordinals, layout = _layout([h.chunk_id for h in hits], window)
    regions: list[_Region] = []
    used = 0
    for hit in hits:
        if hit.chunk_id not in ordinals:
            continue  # deleted since it was retrieved
        ordinal, chunks = ordinals[hit.chunk_id], layout[hit.document_id]
        first, last = max(ordinal - window, min(chunks)), min(ordinal + window, max(chunks))
        mine = [r for r in regions if r.document_id == hit.document_id]
        holder = next((r for r in mine if r.first <= ordinal <= r.last), None)
        if holder is not None:
            holder.hits.append(hit.chunk_id)
            continue
        touching = [r for r in mine if first <= r.last + 1 and r.first - 1 <= last]
        if touching:
            new_first, new_last = min(first, *(r.first for r in touching)), max(last, *(r.last for r in touching))
            size = _tokens(chunks, new_first, new_last)
            grown = size - sum(_tokens(chunks, r.first, r.last) for r in touching)
            if size <= max_passage_tokens and used + grown <= budget_tokens:
                keep = touching[0]
                keep.first, keep.last = new_first, new_last
                for other in touching[1:]:
                    keep.hits.extend(other.hits)
                    regions.remove(other)
                keep.hits.append(hit.chunk_id)
                used += grown
                continue
        if len(regions) >= limit:
            continue
        first, last = _free_run(first, last, ordinal, mine)
        first, last = _shrink(chunks, first, last, ordinal, max_passage_tokens)
        cost = _tokens(chunks, first, last)
        if regions and used + cost > budget_tokens:
            continue
        regions.append(_Region(hit.document_id, first, last, hit, [hit.chunk_id]))
        used += cost
    return _materialise(regions, layout)


def _layout(hit_ids: list[int], window: int) -> tuple[dict[int, int], dict[int, dict[int, Chunk]]]:
    """The hits' ordinals, and the chunks within `window` + 1 (to see touching passages) of
    each hit, by document and ordinal. Two queries."""
    found = Chunk.objects.filter(id__in=hit_ids).values_list("id", "ordinal", "document_id")
    ordinals = {chunk_id: ordinal for chunk_id, ordinal, _ in found}
    reach = window + 1
    condition = Q()
    for _, ordinal, document_id in found:
        condition |= Q(document_id=document_id, ordinal__gte=ordinal - reach, ordinal__lte=ordinal + reach)
    layout: dict[int, dict[int, Chunk]] = {}
    if ordinals:
        rows = Chunk.objects.filter(condition).only(
            "id", "document_id", "ordinal", "char_start", "char_end", "token_count", "page_start", "page_end"
        )
        for row in rows:
            layout.setdefault(row.document_id, {})[row.ordinal] = row
    return ordinals, layout


def _free_run(first: int, last: int, ordinal: int, regions: list[_Region]) -> tuple[int, int]:
    """The part of [first, last] around `ordinal` that no other passage holds."""
    for region in regions:
        if region.last < ordinal:
            first = max(first, region.last + 1)
        elif region.first > ordinal:
            last = min(last, region.first - 1)
    return first, last


def _tokens(chunks: dict[int, Chunk], first: int, last: int) -> int:
    return sum(chunks[o].token_count for o in range(first, last + 1) if o in chunks)


def _shrink(chunks: dict[int, Chunk], first: int, last: int, ordinal: int, max_tokens: int) -> tuple[int, int]:
    """Drop neighbours (farthest first, after before before) until the window fits `max_tokens`."""
    while _tokens(chunks, first, last) > max_tokens and (first < ordinal or last > ordinal):
        if last - ordinal >= ordinal - first and last > ordinal:
            last -= 1
        else:
            first += 1
    return first, last


def _materialise(regions: list[_Region], layout: dict[int, dict[int, Chunk]]) -> list[Passage]:
    """Read each region's text as one slice of its document's parsed text (one query per document)."""
    bounds = []
    for region in regions:
        chunks = [layout[region.document_id][o] for o in range(region.first, region.last + 1) if o in layout[region.document_id]]
        bounds.append((region, chunks, min(c.char_start for c in chunks), max(c.char_end for c in chunks)))
    texts: dict[int, str] = {}
    for document_id in {r.document_id for r in regions}:
        mine = [(i, start, end) for i, (r, _, start, end) in enumerate(bounds) if r.document_id == document_id]
        row = Document.objects.filter(pk=document_id).values(
            **{f"p{i}": Substr("parsed_text", start + 1, end - start) for i, start, end in mine}
        ).first() or {}
        texts.update({i: row.get(f"p{i}") or "" for i, _, _ in mine})
    passages = []
    for i, (region, chunks, start, _) in enumerate(bounds):
        seed = region.seed
        spans = [ChunkSpan(c.id, c.char_start - start, c.char_end - start, c.page_start, c.page_end) for c in chunks]
        if not texts[i]:  # no parsed text stored: the retrieved chunk alone
            texts[i] = seed.text
            spans = [ChunkSpan(seed.chunk_id, 0, len(seed.text), seed.page_start, seed.page_end)]
        pages = [p for c in chunks for p in (c.page_start, c.page_end) if p is not None]
        passages.append(Passage(
            chunk_id=seed.chunk_id, document_id=seed.document_id, collection_id=seed.collection_id,
            filename=seed.filename, page_start=min(pages) if pages else None, page_end=max(pages) if pages else None,
            heading_path=seed.heading_path, text=texts[i], scores=seed.scores, ranks=seed.ranks,
            spans=spans, hits=region.hits,
        ))
    return passages
