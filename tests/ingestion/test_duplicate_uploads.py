"""Two uploads of one file into one collection store one document, however close together."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

import ingestion.services as services
from ingestion.models import Document
from ingestion.parsing import Element, storage_path
from ingestion.services import collection_create, document_ingest, documents_index_elements
from tests.factories.files import upload

CONTENT = b"Otters hold hands while they sleep, so that they do not drift apart."


@pytest.mark.django_db
def test_an_upload_that_got_past_the_check_gets_the_duplicate_answer(monkeypatch):
    collection = collection_create(slug="race", name="race")
    first = document_ingest(collection=collection, uploaded_by=None, file=upload("otters.txt", CONTENT), enqueue=False)
    real_check = services._live_duplicate
    calls: list[dict[str, object]] = []

    def check_that_ran_too_early(**kwargs):  # type: ignore[no-untyped-def]
        # The second request's check ran before the first one committed: it found nothing.
        calls.append(kwargs)
        return None if len(calls) == 1 else real_check(**kwargs)

    monkeypatch.setattr(services, "_live_duplicate", check_that_ran_too_early)
    second = document_ingest(collection=collection, uploaded_by=None, file=upload("copy.txt", CONTENT), enqueue=False)
    assert first.document is not None
    assert second.status == "duplicate" and second.duplicate_of == first.document.id
    assert "Identical to 'otters.txt'" in second.error
    assert Document.objects.filter(collection=collection).count() == 1
    assert sorted(p.name for p in storage_path("x").parent.iterdir()) == [first.document.stored_name]


@pytest.mark.django_db(transaction=True)
def test_two_uploads_of_one_file_at_once_store_one_document(monkeypatch):
    collection = collection_create(slug="race-threads", name="race")
    both_checked = threading.Barrier(2, timeout=60)
    real_create = Document.objects.create

    def create_once_both_checked(**kwargs):  # type: ignore[no-untyped-def]
        both_checked.wait()  # each request has run its duplicate check; now both insert
        return real_create(**kwargs)

    monkeypatch.setattr(Document.objects, "create", create_once_both_checked)
    outcomes: list[services.IngestOutcome] = []

    def ingest(name: str) -> None:
        try:
            outcomes.append(document_ingest(collection=collection, uploaded_by=None, file=upload(name, CONTENT),
                                            enqueue=False))
        finally:
            connection.close()

    threads = [threading.Thread(target=ingest, args=(name,)) for name in ("a.txt", "b.txt")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(o.status for o in outcomes) == ["duplicate", "queued"]
    [stored] = Document.objects.filter(collection=collection)
    assert next(o for o in outcomes if o.status == "duplicate").duplicate_of == stored.id


@pytest.mark.django_db
def test_a_failed_document_is_not_retried_once_its_content_was_uploaded_again(api):
    [failed] = api.post("/api/v1/documents", {"files": [upload("a.txt", CONTENT)]}).json()
    Document.objects.filter(pk=failed["id"]).update(status=Document.Status.FAILED, error="could not be read")
    [again] = api.post("/api/v1/documents", {"files": [upload("again.txt", CONTENT)]}).json()
    assert again["status"] == "queued"  # a failed document does not count as a duplicate
    response = api.post(f"/api/v1/documents/{failed['id']}/retry")
    assert response.status_code == 409 and "again.txt" in response.json()["detail"]
    assert Document.objects.get(pk=failed["id"]).status == Document.Status.FAILED


@pytest.mark.django_db
def test_a_corpus_text_that_repeats_is_indexed_once():
    collection = collection_create(slug="corpus", name="corpus", kind="evaluation")
    same = [Element(kind="NarrativeText", text="Glaciers carve valleys.")]
    ids = documents_index_elements(collection=collection, items=[("d1", same), ("d2", same)])
    assert len(ids) == 1
    assert documents_index_elements(collection=collection, items=[("d3", same)]) == []
    assert list(Document.objects.filter(collection=collection).values_list("original_filename", flat=True)) == ["d1"]


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_the_indexed_copy_of_earlier_duplicates_and_fails_the_others():
    executor = MigrationExecutor(connection)
    before, after = [("ingestion", "0005_collection_reindex_marker")], [("ingestion", "0006_document_live_content_unique")]
    executor.migrate(before)
    apps = executor.loader.project_state(before).apps
    Collection = apps.get_model("ingestion", "Collection")
    Old = apps.get_model("ingestion", "Document")
    collection = Collection.objects.create(slug="old", name="old")

    def row(name: str, status: str, sha256: str = "a" * 64):  # type: ignore[no-untyped-def]
        return Old.objects.create(collection=collection, original_filename=name, stored_name=name, status=status,
                                  content_type="text/plain", size_bytes=1, sha256=sha256)

    queued, indexed, later, failed, other = (row("q.txt", "queued"), row("i.txt", "indexed"), row("l.txt", "queued"),
                                             row("f.txt", "failed"), row("o.txt", "indexed", "b" * 64))
    executor = MigrationExecutor(connection)
    executor.migrate(after)
    # Read with the models as of `after`: later migrations add columns this database does not have yet.
    New = executor.loader.project_state(after).apps.get_model("ingestion", "Document")
    try:
        status = dict(New.objects.values_list("pk", "status"))
        assert status == {queued.pk: "failed", indexed.pk: "indexed", later.pk: "failed", failed.pk: "failed",
                          other.pk: "indexed"}
        assert "Identical to 'i.txt'" in New.objects.get(pk=queued.pk).error
        assert New.objects.get(pk=failed.pk).error == ""
    finally:  # a transactional test's schema changes are not rolled back: leave it current for the next tests
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
