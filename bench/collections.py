"""Collections of their own for benchmarks and evaluations, kept apart from users' data."""

from __future__ import annotations

from collections.abc import Callable

from ingestion.keyword_index import keyword_indexes_repair
from ingestion.models import Collection
from ingestion.services import collection_create, collection_delete


def fresh_collection(slug: str, name: str) -> Collection:
    """An empty evaluation collection named `slug` (an existing one is deleted first; a users'
    collection of that slug is refused, never deleted)."""
    old = Collection.objects.filter(slug=slug).first()
    if old is not None:
        collection_delete(collection=old)
    return collection_create(slug=slug, name=name, kind=Collection.Kind.EVALUATION)


def reused(collection: Collection, log: Callable[[str], None]) -> Collection:
    """A collection an evaluation reuses, its bm25 index rebuilt first if a PostgreSQL restart
    left it blind (ingestion.keyword_index.keyword_indexes_repair: every blind one is)."""
    for slug in keyword_indexes_repair():
        log(f"rebuilt the bm25 index of {slug}: it found none of its own words")
    return collection
