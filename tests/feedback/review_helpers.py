"""An answer with many retrieved passages, one widened passage holding two chunks, and a
citation that points at the second of them (the chunk the answer quoted, not the passage's lead)."""

from __future__ import annotations

from typing import Any

from chat.models import Answer
from tests.feedback.factories import make_answer, make_chunks, make_document


def answer_with_many_passages(owner: Any, *, retrieved: int = 50) -> tuple[Answer, list[Any]]:
    """`retrieved` chunks, each retrieved; passage 1 is chunks 2 and 3 (lead 2) and is cited at
    chunk 3; passage 2 is chunk 0 (given, not cited); the rest are retrieved only."""
    pieces = [f"Paragraph {i}: the otters of river {i} gather {i} stones before the winter." for i in range(retrieved)]
    document = make_document(" ".join(pieces), name="rivers.txt")
    chunks = make_chunks(document, pieces)
    answer = make_answer(owner, question="What do otters gather?", answer="Stones. [1]", chunks=[])
    lead, quoted = chunks[2], chunks[3]
    widened = lead.text + " " + quoted.text
    answer.trace["passages"] = [
        {"n": 1, "chunk_id": lead.id, "document_id": document.id, "filename": "rivers.txt", "page": None,
         "text": widened, "chunks": [{"chunk_id": lead.id, "start": 0, "end": len(lead.text)},
                                     {"chunk_id": quoted.id, "start": len(lead.text) + 1, "end": len(widened)}],
         "hits": [lead.id, quoted.id]},
        {"n": 2, "chunk_id": chunks[0].id, "document_id": document.id, "filename": "rivers.txt", "page": None,
         "text": chunks[0].text},
    ]
    answer.trace["retrieved"] = [
        {"chunk_id": c.id, "document_id": document.id, "scores": {"bm25": 1.0}, "ranks": {"bm25": rank}}
        for rank, c in enumerate(chunks, start=1)
    ]
    answer.citations = [{"n": 1, "chunk_id": quoted.id, "document_id": document.id, "filename": "rivers.txt",
                         "page": None, "quote": "gather 3 stones", "passage": 1}]
    answer.save()
    return answer, chunks
