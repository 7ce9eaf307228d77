"""Answers, documents and chunks built in code for the feedback tests (no embedding needed:
the review pages, exports and deletion read what the trace and the chunk rows hold)."""

from __future__ import annotations

import uuid

from django.conf import settings

from chat.models import Answer, Conversation
from ingestion.models import Chunk, Collection, Document
from ingestion.services import collection_default_ensure


def make_document(text: str, *, name: str = "otters.txt", collection: Collection | None = None) -> Document:
    collection = collection if collection is not None else collection_default_ensure()
    stored_name = uuid.uuid4().hex
    # A content hash of its own: one collection holds one live document per content.
    return Document.objects.create(collection=collection, original_filename=name, stored_name=stored_name,
                                   content_type="text/plain", size_bytes=len(text), sha256=stored_name * 2,
                                   status=Document.Status.INDEXED, parsed_text=text)


def make_chunks(document: Document, pieces: list[str]) -> list[Chunk]:
    """Chunks that are verbatim consecutive slices of the document's parsed text."""
    chunks, start = [], 0
    for ordinal, piece in enumerate(pieces):
        start = document.parsed_text.index(piece, start)
        chunks.append(Chunk.objects.create(
            document=document, collection=document.collection, ordinal=ordinal, text=piece, char_start=start,
            char_end=start + len(piece), token_count=len(piece.split()), embedding=[0.0] * (settings.EMBEDDING_DIMENSIONS - 1) + [1.0]))
        start += len(piece)
    return chunks


def make_answer(owner, *, question: str, answer: str, chunks: list[Chunk], backend: str = "extractive") -> Answer:  # type: ignore[no-untyped-def]
    conversation = Conversation.objects.create(owner=owner, collection=collection_default_ensure())
    passages = [{"n": n, "chunk_id": c.id, "document_id": c.document_id, "filename": c.document.original_filename,
                 "page": None, "text": c.text} for n, c in enumerate(chunks, start=1)]
    retrieved = [{"chunk_id": c.id, "document_id": c.document_id,
                  "scores": {"bm25": 1.5, "vector": 0.5, "fused": 0.03, "rerank": None},
                  "ranks": {"bm25": n, "vector": n, "fused": n}} for n, c in enumerate(chunks, start=1)]
    citations = [{"n": 1, "chunk_id": chunks[0].id, "document_id": chunks[0].document_id,
                  "filename": chunks[0].document.original_filename, "page": None, "quote": chunks[0].text}] if chunks else []
    return Answer.objects.create(
        conversation=conversation, question=question, standalone_query=question, answer=answer, backend=backend,
        citations=citations, trace={"passages": passages, "retrieved": retrieved, "raw_answer": answer,
                                    "prompt": {"name": "grounded-answer", "version": "1"}})
