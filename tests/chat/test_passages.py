"""Passages group the retrieved chunks by document, widen the best ones with their neighbours,
stay verbatim, and a citation names the chunk its quote lies in."""

from __future__ import annotations

import pytest

from chat.citations import check_citations
from chat.passages import EXCERPT_SEPARATOR, passages_build, sentence_match_order
from ingestion.models import Chunk, Document
from retrieval.types import ScoredChunk
from tests.retrieval.helpers import collection_with_texts

SENTENCES = [f"Clause {i} of the handbook says that item number {i} is stored in cabinet {i * 7 % 13}." for i in range(1, 121)]


@pytest.fixture
def chunks(db):
    collection_with_texts("handbook", {
        "handbook.txt": " ".join(SENTENCES),
        "memo.txt": "Memo. The canteen opens at eight. Parking permits are renewed in January.",
    })
    rows = list(Chunk.objects.select_related("document").filter(document__original_filename="handbook.txt").order_by("ordinal"))
    assert len(rows) >= 9, "the handbook must span several chunks"
    return rows


def hit(chunk: Chunk, text: str | None = None) -> ScoredChunk:
    return ScoredChunk(chunk_id=chunk.id, document_id=chunk.document_id, collection_id=chunk.collection_id,
                       filename=chunk.document.original_filename, page_start=chunk.page_start,
                       page_end=chunk.page_end, heading_path=chunk.heading_path, text=text if text is not None else chunk.text)


def build(hits, **options):
    return passages_build(hits, **{"limit": 8, "window": 1, "widen_top": 8, "budget_tokens": 100_000, **options})


def test_a_chunk_is_widened_with_its_neighbours_verbatim(chunks):
    [passage] = build([hit(chunks[3])])
    parsed = Document.objects.get(original_filename="handbook.txt").parsed_text
    assert passage.text == parsed[chunks[2].char_start : chunks[4].char_end]
    assert passage.chunk_id == chunks[3].id and [s.chunk_id for s in passage.spans] == [c.id for c in chunks[2:5]]
    for span, chunk in zip(passage.spans, chunks[2:5]):
        assert passage.text[span.start : span.end] == chunk.text


def test_chunks_of_one_document_share_a_passage_as_verbatim_excerpts(chunks):
    [passage] = build([hit(chunks[1]), hit(chunks[2]), hit(chunks[7])], widen_top=1)
    parsed = Document.objects.get(original_filename="handbook.txt").parsed_text
    excerpts = passage.text.split(EXCERPT_SEPARATOR)
    assert excerpts == [parsed[chunks[0].char_start : chunks[2].char_end], chunks[7].text]
    assert passage.hits == [chunks[1].id, chunks[2].id, chunks[7].id]
    for span in passage.spans:
        assert passage.text[span.start : span.end] == Chunk.objects.get(pk=span.chunk_id).text


def test_documents_budget_and_limit(chunks):
    memo = Chunk.objects.select_related("document").get(document__original_filename="memo.txt")
    both = build([hit(chunks[0]), hit(memo), hit(chunks[5])])
    assert [p.filename for p in both] == ["handbook.txt", "memo.txt"]
    assert [p.filename for p in build([hit(chunks[0]), hit(memo)], limit=1)] == ["handbook.txt"]
    [tight] = build([hit(chunks[4]), hit(chunks[8]), hit(memo)], budget_tokens=1)
    assert [s.chunk_id for s in tight.spans] == [chunks[4].id]  # the best chunk always goes in


def test_a_citation_names_the_chunk_its_quote_is_in(chunks):
    [passage] = build([hit(chunks[3])])
    neighbour = chunks[4]
    sentence = next(s for s in SENTENCES if s in neighbour.text and s not in chunks[3].text)
    [citation] = check_citations(f"{sentence[:-1]} [1].", [passage]).citations
    assert citation.chunk_id == neighbour.id and citation.quote in neighbour.text
    assert neighbour.text[citation.start : citation.end] == citation.quote  # the exact span to highlight
    assert citation.quote in passage.text


def test_a_chunk_whose_sentence_matches_the_question_moves_up(chunks):
    texts = ["The canteen menu changes weekly.", "Parking is free on Sundays.", "Visitors sign in at reception.",
             "Cabinet keys for archived contracts are kept by the legal team."]
    hits = [hit(c, text) for c, text in zip(chunks, texts)]
    ordered = sentence_match_order("Who keeps the cabinet keys for archived contracts?", hits)
    assert [h.text for h in ordered].index(texts[3]) == 1
    assert sentence_match_order("", hits) == hits


def test_a_citation_never_quotes_the_excerpt_separator(chunks):
    [passage] = build([hit(chunks[1]), hit(chunks[7])], widen_top=0)
    assert EXCERPT_SEPARATOR in passage.text
    later = next(s for s in SENTENCES if s in chunks[7].text and s not in chunks[1].text)
    number, cabinet = later.split()[1], later.rstrip(".").split()[-1]
    # Not verbatim: the check picks the passage sentence that supports it.
    [citation] = check_citations(f"Item number {number} is in cabinet {cabinet}, says clause {number} of the handbook [1].",
                                 [passage]).citations
    assert citation.quote == later
    assert "…" not in citation.quote and citation.quote in Chunk.objects.get(pk=citation.chunk_id).text


def test_the_passages_of_many_documents_are_read_in_three_queries(db, django_assert_num_queries):
    collection_with_texts("many", {f"note{i}.txt": f"Note {i}. The archive room {i} holds box {i}." for i in range(4)})
    hits = [hit(c) for c in Chunk.objects.select_related("document").filter(document__collection__slug="many")]
    assert len({h.document_id for h in hits}) == 4
    with django_assert_num_queries(3):  # the hits' ordinals, their neighbours, every excerpt's text
        passages = build(hits)
    assert sorted(p.filename for p in passages) == [f"note{i}.txt" for i in range(4)]
    assert all(p.text == Chunk.objects.get(pk=p.chunk_id).text for p in passages)
