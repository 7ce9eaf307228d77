"""Collections of their own for benchmarks and evaluations, kept apart from users' data."""

from __future__ import annotations

from ingestion.models import Collection


def collection_drop(collection: Collection) -> None:
    """Delete a collection with its documents, chunks, postings and vector index."""
    from ingestion.vector_index import vector_index_drop

    collection.chunks.all().delete()
    collection.documents.all().delete()
    vector_index_drop(collection.id)
    collection.delete()


def fresh_collection(slug: str, name: str) -> Collection:
    """An empty evaluation collection named `slug` (an existing one is deleted first)."""
    from ingestion.services import collection_create

    old = Collection.objects.filter(slug=slug).first()
    if old is not None:
        collection_drop(old)
    return collection_create(slug=slug, name=name, kind=Collection.Kind.EVALUATION)
