"""Upload API: what is accepted, refused, recognised as a duplicate; retry and delete."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from ingestion.models import Document
from ingestion.services import document_process
from tests.factories.files import docx_bytes, upload

pytestmark = pytest.mark.django_db


def _post(api, *files, field="files", **extra):
    return api.post("/api/v1/documents", {field: list(files), **extra})


def test_it_queues_a_valid_file_and_answers_202(api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = _post(api, upload("notes.docx", docx_bytes("Notes", ["Hello world."])))
    assert response.status_code == 202
    [entry] = response.json()
    assert entry["status"] == "queued" and entry["filename"] == "notes.docx"
    document = Document.objects.get(pk=entry["id"])
    assert document.content_type.endswith("wordprocessingml.document")
    assert len(callbacks) == 1  # enqueued only after the row committed


def test_singular_file_field_is_accepted_too(api):
    response = _post(api, upload("a.txt", b"plain text content"), field="file")
    assert response.status_code == 202


def test_all_refused_answers_4xx_with_per_file_reasons(api):
    response = _post(api, upload("empty.txt", b""))
    assert response.status_code == 400
    [entry] = response.json()
    assert entry["status"] == "rejected" and "empty" in entry["error"]


def test_unsupported_type_is_415(api):
    wav = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 64  # audio: nothing to read
    response = _post(api, upload("recording.wav", wav))
    assert response.status_code == 415
    assert response.json()[0]["status"] == "rejected"


def test_file_over_the_limit_is_413(api, settings):
    settings.UPLOAD_MAX_BYTES = 100
    response = _post(api, upload("big.txt", b"x " * 200))
    assert response.status_code == 413
    assert "limit" in response.json()[0]["error"]


def test_mixed_batch_answers_202_with_each_outcome(api):
    response = _post(api, upload("ok.txt", b"some words here"), upload("empty.txt", b""))
    assert response.status_code == 202
    assert [e["status"] for e in response.json()] == ["queued", "rejected"]


def test_same_bytes_twice_is_a_duplicate_and_not_stored_again(api):
    first = _post(api, upload("a.txt", b"identical content")).json()[0]
    second = _post(api, upload("b.txt", b"identical content")).json()[0]
    assert second["status"] == "duplicate" and second["duplicate_of"] == first["id"]
    assert Document.objects.count() == 1


def test_filename_with_path_and_control_characters_is_cleaned(api):
    response = _post(api, upload("../../etc/pass\x07wd.txt", b"content"))
    [entry] = response.json()
    assert entry["filename"] == "passwd.txt"
    document = Document.objects.get(pk=entry["id"])
    stored = list(Path(settings.MEDIA_ROOT).rglob("*"))
    assert any(p.name == document.stored_name for p in stored)
    assert all(Path(settings.MEDIA_ROOT) in p.parents for p in stored)


def test_processing_twice_leaves_one_set_of_chunks(api):
    entry = _post(api, upload("t.txt", b"First sentence here. Second sentence there.")).json()[0]
    document_process(document_id=entry["id"])
    document = Document.objects.get(pk=entry["id"])
    assert document.status == "indexed"
    first_ids = set(document.chunks.values_list("id", flat=True))
    document_process(document_id=entry["id"])  # indexed: a no-op
    Document.objects.filter(pk=entry["id"]).update(status="queued")
    document_process(document_id=entry["id"])  # forced again: replaced, not added
    document.refresh_from_db()
    assert document.chunks.count() == document.chunk_count == len(first_ids)


def test_a_file_that_keeps_killing_the_worker_ends_failed(api, settings):
    entry = _post(api, upload("t.txt", b"words")).json()[0]
    Document.objects.filter(pk=entry["id"]).update(attempts=settings.INGEST_MAX_ATTEMPTS)
    document_process(document_id=entry["id"])
    document = Document.objects.get(pk=entry["id"])
    assert document.status == "failed" and "stopped the worker" in document.error


def test_retry_and_delete(api):
    entry = _post(api, upload("t.txt", b"Some text to index.")).json()[0]
    Document.objects.filter(pk=entry["id"]).update(status="failed", error="boom", attempts=3)
    response = api.post(f"/api/v1/documents/{entry['id']}/retry")
    assert response.status_code == 202 and response.json()["status"] == "queued"
    document_process(document_id=entry["id"])
    assert api.get(f"/api/v1/documents/{entry['id']}").json()["status"] == "indexed"
    assert api.delete(f"/api/v1/documents/{entry['id']}").status_code == 204
    assert not Document.objects.filter(pk=entry["id"]).exists()


def test_list_filters_by_status(api):
    _post(api, upload("t.txt", b"text"))
    assert len(api.get("/api/v1/documents?status=queued").json()) == 1
    assert api.get("/api/v1/documents?status=indexed").json() == []
    assert api.get("/api/v1/documents?status=bogus").status_code == 400


def test_an_upload_makes_a_fixed_number_of_queries(api, django_assert_num_queries):
    _post(api, upload("first.txt", b"the first file"))
    with django_assert_num_queries(QUERIES_PER_UPLOAD):
        response = _post(api, upload("second.txt", b"the second file"))
    assert response.status_code == 202


# The token and its last use (2), the collection and its access check (2: the access selectors no
# longer look up the default collection to create it), the upload quota's check (1), the duplicate
# check (1), the document, its bytes counted against the quota (2) and its audit event in a
# savepoint (6).
QUERIES_PER_UPLOAD = 12
