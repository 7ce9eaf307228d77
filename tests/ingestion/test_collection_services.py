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
