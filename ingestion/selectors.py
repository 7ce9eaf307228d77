"""Reads of ingestion."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db.models import Count, Min, QuerySet
from django.utils import timezone

from ingestion.embedding import configured_label
from ingestion.models import Collection, Document


def document_list(
    *, readable: QuerySet[Collection], status: str | None = None, collection: str | None = None
) -> QuerySet[Document]:
    """Documents of the `readable` collections (from ingestion.access.collections_readable)."""
    documents = Document.objects.select_related("collection", "uploaded_by").filter(collection__in=readable)
    if status:
        documents = documents.filter(status=status)
    if collection:
        documents = documents.filter(collection__slug=collection)
    return documents.defer("parsed_text")


def document_get(*, document_id: int) -> Document | None:
    """A document by id, unchecked: callers that serve a user go through ingestion.access."""
    return Document.objects.select_related("collection", "uploaded_by").defer("parsed_text").filter(pk=document_id).first()


def document_as_dict(document: Document) -> dict[str, Any]:
    return {
        "id": document.id,
        "collection": document.collection.slug,
        "filename": document.original_filename,
        "content_type": document.content_type,
        "size_bytes": document.size_bytes,
        "sha256": document.sha256,
        "status": document.status,
        "error": document.error,
        "attempts": document.attempts,
        "page_count": document.page_count,
        "chunk_count": document.chunk_count,
        "embedding_model": document.embedding_model,
        "uploaded_by": document.uploaded_by.get_username() if document.uploaded_by else None,
        "created_at": document.created_at,
        "updated_at": document.updated_at,
        "indexed_at": document.indexed_at,
        "parse_summary": document.parse_summary,
    }


def vectors_notice(collection: Collection) -> str:
    """Why vector search in `collection` may compare the query with vectors of another model or
    backend than the one that embeds queries now ("" when its vectors match)."""
    configured = configured_label()
    if collection.reindex_to:
        return (
            f"The collection '{collection.slug}' is being re-indexed with '{collection.reindex_to}': until it "
            f"finishes, part of its vectors are of '{collection.embedding_model}' and vector scores are less reliable."
        )
    if collection.embedding_model and collection.embedding_model != configured:
        return (
            f"The collection '{collection.slug}' was embedded with '{collection.embedding_model}', but queries are "
            f"embedded with '{configured}': vector scores are unreliable until "
            f"`python manage.py reindex --collection {collection.slug}` has run."
        )
    return ""


def vectors_notices() -> list[str]:
    """`vectors_notice` of every collection whose vectors do not match the configured embedder."""
    collections = Collection.objects.exclude(embedding_model="").only("slug", "embedding_model", "reindex_to")
    return [notice for collection in collections.order_by("slug") if (notice := vectors_notice(collection))]


@dataclass(frozen=True)
class QueueSummary:
    queued: int
    oldest_queued_seconds: int | None  # how long the oldest has waited since it was (re)queued
    stuck: bool  # queued for `stuck_after` and nothing finished (indexed or failed) meanwhile


def documents_queue_summary(*, stuck_after_seconds: int) -> QueueSummary:
    """The queue as /health reports it (two queries; the second only when something is queued)."""
    now = timezone.now()
    queued = Document.objects.filter(status=Document.Status.QUEUED).aggregate(count=Count("id"), oldest=Min("updated_at"))
    if not queued["count"]:
        return QueueSummary(queued=0, oldest_queued_seconds=None, stuck=False)
    age = max(0, int((now - queued["oldest"]).total_seconds()))
    stuck = age >= stuck_after_seconds and not Document.objects.filter(
        status__in=[Document.Status.INDEXED, Document.Status.FAILED],
        updated_at__gte=now - timedelta(seconds=stuck_after_seconds)).exists()
    return QueueSummary(queued=queued["count"], oldest_queued_seconds=age, stuck=stuck)


_REASON_KINDS = (
    ("corrupt", ("corrupt", "truncated", "damaged", "could not be read")),
    ("no_text", ("no text",)),
    ("unsupported", ("cannot be indexed", "legacy office", "needs ocr")),
    ("too_long", ("longer than", "over the", "stopped the worker")),
    ("missing_file", ("stored file is missing",)),
)


def failure_kind(reason: str) -> str:
    """A failure reason as one of a few kinds (a metric label: never the free text itself)."""
    text = reason.lower()
    return next((kind for kind, words in _REASON_KINDS if any(w in text for w in words)), "other")
