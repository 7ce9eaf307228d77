"""Passages for the model: the retrieved chunks of each document, widened and merged, in one
passage per document.

A chunk fits the embedding model's window (about 256 tokens): the right size to find text, but
often too small to answer from, and long documents are split into dozens of them. So:

1. `sentence_match_order` re-orders the candidate chunks by how well their best *sentence*
   matches the question (the sum of idf weights of the question's terms it contains, idf taken
   over the candidates' sentences), fused with the retrieval order by reciprocal rank. Questions
   are usually worded like the one sentence that answers them; a chunk's embedding or BM25
   score is diluted by everything else in it. No model, a few milliseconds.
2. `passages_build` walks the candidates best first. Each one brings its chunk, and the best
   `widen_top` also bring `window` neighbouring chunks on each side (the answer often sits in
   the sentence after the one that matched). Chunks are grouped by document, at most `limit`
   documents (one passage each) and `budget_tokens` tokens in all.

A passage's text is one or more excerpts of its document, each a verbatim slice of the parsed
text (from a run of consecutive chunks' first `char_start` to last `char_end`), joined by
EXCERPT_SEPARATOR. The passage knows where each chunk lies in its text, so a quote found in it
can be traced back to the chunk (and page) it comes from.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from django.db.models import Case, Q, TextField, Value, When
from django.db.models.functions import Substr

from chat.sentences import sentences
from ingestion.models import Chunk, Document
from ingestion.tokenize import default_tokenizer
from retrieval.types import ScoredChunk

EXCERPT_SEPARATOR = "\n\n[…]\n\n"
RRF_K = 60


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
    """The chosen chunks of one document. `chunk_id`, `scores` and `ranks` are those of its best
    candidate; `hits` lists the candidates it holds, best first."""

    spans: list[ChunkSpan] = field(default_factory=list)
    hits: list[int] = field(default_factory=list)

    def span_of(self, quote: str) -> tuple[ChunkSpan | None, str]:
        """The chunk that holds `quote` (verbatim in the passage) and the part of the quote that
        lies inside that chunk (see span_at)."""
        at = self.text.find(quote)
        if at < 0:
            return None, quote
        span, start, end = self.span_at(at, at + len(quote))
        return (span, self.text[start:end]) if span is not None else (None, quote)

    def span_at(self, start: int, end: int) -> tuple[ChunkSpan | None, int, int]:
        """The chunk that holds the passage's text [start, end), and the part of it inside that
        chunk: all of it when one chunk holds it (a chunk the search found preferred, then the
        shortest), otherwise the longest piece inside a single chunk, without edge spaces."""
        whole = [s for s in self.spans if s.start <= start and end <= s.end]
        if whole:
            return min(whole, key=lambda s: (s.chunk_id not in self.hits, s.end - s.start)), start, end
        if not self.spans:
            return None, start, end
        best = max(self.spans, key=lambda s: min(end, s.end) - max(start, s.start))
        a, b = max(start, best.start), min(end, best.end)
        while a < b and self.text[a].isspace():
            a += 1
        while b > a and self.text[b - 1].isspace():
            b -= 1
        return (best, a, b) if a < b else (None, start, end)


def sentence_match_order(query: str, hits: Sequence[ScoredChunk]) -> list[ScoredChunk]:
    """`hits` re-ordered by reciprocal rank fusion of their given order and the score of their
    best-matching sentence (sum over the query terms it holds of ln(1 + S / s_t), S sentences in
    all candidates, s_t of them holding term t)."""
    tokenizer = default_tokenizer()
    terms = set(tokenizer(query))
    if not terms or len(hits) < 2:
        return list(hits)
    per_hit = [[set(tokenizer(s)) & terms for s in sentences(h.text)] for h in hits]
    holding = Counter(t for sentence_terms in per_hit for matched in sentence_terms for t in matched)
    total = max(1, sum(len(sentence_terms) for sentence_terms in per_hit))

    def best(sentence_terms: list[set[str]]) -> float:
        return max((sum(math.log(1 + total / holding[t]) for t in matched) for matched in sentence_terms), default=0.0)

    by_sentence = sorted(range(len(hits)), key=lambda i: -best(per_hit[i]))
    fused = {i: 1 / (RRF_K + i + 1) for i in range(len(hits))}
    for rank, i in enumerate(by_sentence, start=1):
        fused[i] += 1 / (RRF_K + rank)
    return [hits[i] for i in sorted(fused, key=lambda i: (-fused[i], i))]


def passages_build(
    hits: Sequence[ScoredChunk], *, limit: int, window: int, widen_top: int, budget_tokens: int
) -> list[Passage]:
    """Group `hits` (best first) into at most `limit` passages, one per document.

    Each hit adds its own chunk and, for the first `widen_top` hits, the chunks up to `window`
    ordinals around it (nearest first), while the total stays within `budget_tokens` (the best
    hit's own chunk always goes in). Passages keep the order of their best hit."""
    ordinals, layout = _layout([h.chunk_id for h in hits], window)
    chosen: dict[int, set[int]] = {}
    seeds: dict[int, ScoredChunk] = {}
    held: dict[int, list[int]] = {}
    used = 0
    for rank, hit in enumerate(hits):
        if hit.chunk_id not in ordinals:
            continue  # deleted since it was retrieved
        document, ordinal = hit.document_id, ordinals[hit.chunk_id]
        if document not in chosen:
            if len(chosen) >= limit:
                continue
            chosen[document], seeds[document], held[document] = set(), hit, []
        reach = window if rank < widen_top else 0
        wanted = sorted(range(ordinal - reach, ordinal + reach + 1), key=lambda o: (abs(o - ordinal), o))
        for o in wanted:
            if o not in layout[document] or o in chosen[document]:
                continue
            cost = _new_tokens(layout[document], chosen[document], o)
            if used + cost > budget_tokens and used > 0:
                break
            chosen[document].add(o)
            used += cost
        if ordinal in chosen[document]:
            held[document].append(hit.chunk_id)
        elif not chosen[document]:
            del chosen[document], seeds[document], held[document]
    return _materialise(chosen, seeds, held, layout)


def _layout(hit_ids: list[int], window: int) -> tuple[dict[int, int], dict[int, dict[int, Chunk]]]:
    """The hits' ordinals, and the chunks within `window` of each hit, by document and ordinal."""
    found = list(Chunk.objects.filter(id__in=hit_ids).values_list("id", "ordinal", "document_id"))
    ordinals = {chunk_id: ordinal for chunk_id, ordinal, _ in found}
    layout: dict[int, dict[int, Chunk]] = {}
    if not found:
        return ordinals, layout
    condition = Q()
    for _, ordinal, document_id in found:
        condition |= Q(document_id=document_id, ordinal__gte=ordinal - window, ordinal__lte=ordinal + window)
    rows = Chunk.objects.filter(condition).only(
        "id", "document_id", "ordinal", "char_start", "char_end", "token_count", "page_start", "page_end"
    )
    for row in rows:
        layout.setdefault(row.document_id, {})[row.ordinal] = row
    return ordinals, layout


def _new_tokens(chunks: dict[int, Chunk], chosen: set[int], ordinal: int) -> int:
    """Tokens chunk `ordinal` adds to a passage: consecutive chunks overlap (the chunker repeats a
    few sentences), and the text already there from a chosen neighbour is not counted twice."""
    chunk = chunks[ordinal]
    length = max(1, chunk.char_end - chunk.char_start)
    covered = 0
    for neighbour in (ordinal - 1, ordinal + 1):
        if neighbour in chosen and neighbour in chunks:
            other = chunks[neighbour]
            covered += max(0, min(chunk.char_end, other.char_end) - max(chunk.char_start, other.char_start))
    return max(0, round(chunk.token_count * (length - min(covered, length)) / length))


def _runs(ordinals: list[int]) -> list[list[int]]:
    """Consecutive ordinals grouped: [1, 2, 3, 7, 8] -> [[1, 2, 3], [7, 8]]."""
    runs: list[list[int]] = []
    for o in sorted(ordinals):
        if runs and o == runs[-1][-1] + 1:
            runs[-1].append(o)
        else:
            runs.append([o])
    return runs


def _excerpt_texts(excerpts: dict[int, list[tuple[int, int, list[int]]]]) -> dict[tuple[int, int], str]:
    """(document id, excerpt index) -> the slice [start, end) of that document's parsed text, read
    in one query: one column per excerpt, computed only on its own document's row."""
    columns = {f"e{document}_{i}": Case(When(pk=document, then=Substr("parsed_text", start + 1, end - start)),
                                        default=Value(""), output_field=TextField())
               for document, spans in excerpts.items() for i, (start, end, _) in enumerate(spans)}
    if not columns:
        return {}
    texts: dict[tuple[int, int], str] = {}
    # The excerpt columns are computed, so the stubs cannot type the rows.
    rows = cast(Iterable[dict[str, Any]], Document.objects.filter(pk__in=list(excerpts)).values("id", **columns))
    for row in rows:
        for i in range(len(excerpts[row["id"]])):
            texts[(row["id"], i)] = row[f"e{row['id']}_{i}"] or ""
    return texts


def _materialise(
    chosen: dict[int, set[int]], seeds: dict[int, ScoredChunk], held: dict[int, list[int]],
    layout: dict[int, dict[int, Chunk]],
) -> list[Passage]:
    """Each document's excerpts read as slices of its parsed text (one query for all of them)."""
    excerpts = {document: [(min(layout[document][o].char_start for o in run),
                            max(layout[document][o].char_end for o in run), run) for run in _runs(list(ordinals))]
                for document, ordinals in chosen.items()}
    texts = _excerpt_texts(excerpts)
    passages = []
    for document in chosen:
        chunks = layout[document]
        seed = seeds[document]
        parts: list[str] = []
        spans: list[ChunkSpan] = []
        offset = 0
        for i, (start, _end, run) in enumerate(excerpts[document]):
            text = texts.get((document, i), "")
            if not text:
                continue
            if parts:
                offset += len(EXCERPT_SEPARATOR)
            spans += [ChunkSpan(chunks[o].id, offset + chunks[o].char_start - start, offset + chunks[o].char_end - start,
                                chunks[o].page_start, chunks[o].page_end) for o in run]
            parts.append(text)
            offset += len(text)
        if not parts:  # no parsed text stored: the best chunk alone
            parts = [seed.text]
            spans = [ChunkSpan(seed.chunk_id, 0, len(seed.text), seed.page_start, seed.page_end)]
        pages = [p for s in spans for p in (s.page_start, s.page_end) if p is not None]
        passages.append(Passage(
            chunk_id=seed.chunk_id, document_id=seed.document_id, collection_id=seed.collection_id,
            filename=seed.filename, page_start=min(pages) if pages else None, page_end=max(pages) if pages else None,
            heading_path=seed.heading_path, text=EXCERPT_SEPARATOR.join(parts), scores=seed.scores,
            ranks=seed.ranks, spans=spans, hits=held[document],
        ))
    return passages
