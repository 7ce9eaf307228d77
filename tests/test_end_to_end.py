"""The whole path on real parts: upload over HTTP, a real Celery worker process indexes the
file into the embedded Postgres + pgvector, a vector query finds it, delete removes it."""

from __future__ import annotations

import pytest
from django.db import connection

from ingestion.embedding import get_embedder
from ingestion.models import Chunk, ChunkTerm, Document
from tests.conftest import wait_for
from tests.factories.files import docx_bytes, pdf_bytes, upload

pytestmark = pytest.mark.slow


def _status(document_id: int) -> str | None:
    doc = Document.objects.filter(pk=document_id).first()
    return doc.status if doc and doc.status in ("indexed", "failed") else None


def test_upload_is_indexed_by_a_real_worker_and_found_by_vector_search(api, worker_process):
    files = [
        upload("policy.docx", docx_bytes("Travel policy", [
            "Employees may book economy class for flights shorter than six hours.",
            "The reimbursement limit for hotel nights in Zurich is 240 francs.",
        ])),
        upload("memo.pdf", pdf_bytes(["Quarterly memo\nThe cafeteria closes at 3 pm on Fridays.", "Page two\nParking permits renew in March."])),
        upload("broken.pdf", b"%PDF-1.7\n this is not really a pdf at all"),
    ]
    response = api.post("/api/v1/documents", {"files": files})
    assert response.status_code == 202, response.content
    body = {entry["filename"]: entry for entry in response.json()}
    assert {entry["status"] for entry in body.values()} == {"queued"}

    ids = {name: entry["id"] for name, entry in body.items()}
    for name, document_id in ids.items():
        wait_for(lambda d=document_id: _status(d), timeout=240, message=f"{name} to finish\n{worker_process.log()[-3000:]}")

    policy = Document.objects.get(pk=ids["policy.docx"])
    memo = Document.objects.get(pk=ids["memo.pdf"])
    broken = Document.objects.get(pk=ids["broken.pdf"])
    assert policy.status == "indexed", policy.error
    assert memo.status == "indexed", memo.error
    assert memo.page_count == 2
    assert broken.status == "failed" and broken.error
    assert Chunk.objects.filter(document=policy).count() == policy.chunk_count > 0
    memo_chunks = Chunk.objects.filter(document=memo)
    assert min(c.page_start for c in memo_chunks) == 1 and max(c.page_end for c in memo_chunks) == 2

    query = get_embedder().embed_query("How much may I spend on a hotel in Zurich?")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT document_id, text FROM ingestion_chunk WHERE collection_id = %s "
            "ORDER BY embedding <=> %s::vector LIMIT 1",
            [policy.collection_id, "[" + ",".join(f"{x:.6f}" for x in query) + "]"],
        )
        top_document, top_text = cursor.fetchone()
    assert top_document == policy.id and "240 francs" in top_text

    assert api.delete(f"/api/v1/documents/{policy.id}").status_code == 204
    assert not Chunk.objects.filter(document_id=policy.id).exists()
    assert not ChunkTerm.objects.filter(chunk__document_id=policy.id).exists()
    assert api.get(f"/api/v1/documents/{policy.id}").status_code == 404
