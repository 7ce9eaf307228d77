"""The collection services that evaluation and benchmark corpora write through (bench/)."""

from __future__ import annotations

import pytest

from ingestion.models import Chunk, ChunkTerm, Collection, CollectionStats, Document
from ingestion.services import (
    collection_bulk_load_finish,
    collection_bulk_load_start,
    collection_delete,
    collection_generation_advance,
)
from ingestion.vector_index import vector_index_exists
from tests.retrieval.helpers import collection_with_texts

TEXTS = {"a.txt": "Otters float on their backs.", "b.txt": "Glaciers carve valleys slowly."}


@pytest.mark.django_db
def test_it_refuses_to_delete_a_users_collection():
    collection = collection_with_texts("users", TEXTS)
    with pytest.raises(ValueError, match="evaluation"):
        collection_delete(collection=collection)
    assert Document.objects.filter(collection=collection).count() == 2
    assert vector_index_exists(collection.id)


@pytest.mark.django_db
def test_deleting_an_evaluation_collection_takes_its_documents_chunks_postings_and_index():
    collection = collection_with_texts("eval", TEXTS, kind=Collection.Kind.EVALUATION)
    other = collection_with_texts("kept", TEXTS)
    gone = collection.id
    collection_delete(collection=collection)
    assert not Collection.objects.filter(pk=gone).exists()
    assert not Chunk.objects.filter(collection_id=gone).exists()
    assert not ChunkTerm.objects.filter(collection_id=gone).exists()
    assert not vector_index_exists(gone)
    assert Chunk.objects.filter(collection=other).count() == 2 and vector_index_exists(other.id)


@pytest.mark.django_db
def test_advancing_the_generation_keeps_the_chunks():
    collection = collection_with_texts("gen", TEXTS, kind=Collection.Kind.EVALUATION)
    before = CollectionStats.objects.get(collection=collection)
    collection_generation_advance(collection=collection)
    after = CollectionStats.objects.get(collection=collection)
    assert after.generation == before.generation + 1
    assert (after.chunk_count, after.total_length) == (before.chunk_count, before.total_length)


@pytest.mark.django_db(transaction=True)  # VACUUM runs outside a transaction
def test_a_bulk_load_drops_the_vector_index_and_builds_it_again_at_the_end():
    collection = collection_with_texts("bulk", TEXTS, kind=Collection.Kind.EVALUATION)
    collection_bulk_load_start(collection=collection)
    assert not vector_index_exists(collection.id)
    collection_bulk_load_finish(collection=collection, maintenance_work_mem="64MB")
    assert vector_index_exists(collection.id)


@pytest.mark.django_db
def test_a_bulk_load_is_refused_on_a_users_collection():
    collection = collection_with_texts("users-bulk", TEXTS)
    with pytest.raises(ValueError):
        collection_bulk_load_start(collection=collection)
    assert vector_index_exists(collection.id)


@pytest.mark.django_db(transaction=True)
def test_two_collections_deleted_at_once_do_not_deadlock(monkeypatch):
    """Each deletion drops its collection's partial indexes on the shared chunk table. Both
    threads are held just before the first DROP INDEX: had each deleted its chunks already
    (ROW EXCLUSIVE) before asking for the table (ACCESS EXCLUSIVE), PostgreSQL would find a
    deadlock and fail one of them."""
    import contextlib
    import threading

    from django.db import connection

    import ingestion.services as services
    from ingestion.models import Collection
    from tests.retrieval.helpers import collection_with_texts

    first = collection_with_texts("delete-a", {"a.txt": "Apples are red."}, kind=Collection.Kind.EVALUATION)
    second = collection_with_texts("delete-b", {"b.txt": "Bananas are yellow."}, kind=Collection.Kind.EVALUATION)
    both_deleted_chunks = threading.Barrier(2)
    real_drop = services.vector_index_drop

    def drop_when_both_are_here(collection_id):
        # The other deletion may wait for the table lock: then it cannot be here yet.
        with contextlib.suppress(threading.BrokenBarrierError):
            both_deleted_chunks.wait(timeout=3)
        real_drop(collection_id)

    monkeypatch.setattr(services, "vector_index_drop", drop_when_both_are_here)
    errors = []

    def delete(collection):
        try:
            services.collection_delete(collection=collection)
        except Exception as exc:  # noqa: BLE001 - the test reports whatever a deletion raised
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=delete, args=(c,)) for c in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert not Collection.objects.filter(slug__in=["delete-a", "delete-b"]).exists()
