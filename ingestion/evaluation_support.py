"""Collections of their own for benchmarks and evaluations, kept apart from users' data."""

from __future__ import annotations

from ingestion.models import Collection


def fresh_collection(slug: str, name: str) -> Collection:
    """An empty evaluation collection named `slug` (an existing one is deleted first)."""
    from ingestion.services import collection_create
    from ingestion.vector_index import vector_index_drop

    old = Collection.objects.filter(slug=slug).first()
    if old is not None:
        old.chunks.all().delete()
        old.documents.all().delete()
        vector_index_drop(old.id)
        old.delete()
    return collection_create(slug=slug, name=name, kind=Collection.Kind.EVALUATION)
