"""Collections of their own for benchmarks and evaluations, kept apart from users' data."""

from __future__ import annotations

from ingestion.models import Collection
from ingestion.services import collection_create, collection_delete


def fresh_collection(slug: str, name: str) -> Collection:
    """An empty evaluation collection named `slug` (an existing one is deleted first; a users'
    collection of that slug is refused, never deleted)."""
    old = Collection.objects.filter(slug=slug).first()
    if old is not None:
        collection_delete(collection=old)
    return collection_create(slug=slug, name=name, kind=Collection.Kind.EVALUATION)
