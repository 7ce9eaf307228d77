"""Writes of ingestion: accept uploads, process documents, retry, delete.

`document_ingest` runs in the web request; `document_process` runs in the Celery worker.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
from celery import current_app
from celery.exceptions import SoftTimeLimitExceeded
from django.apps import apps as django_apps
from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from accounts.audit import Action, audit_record
from accounts.limits import LimitExceeded, upload_volume_reserve
from ingestion import checks
from ingestion.chunking import ChunkDraft, Chunker
from ingestion.embedding import Embedder, configured_label, get_embedder
from ingestion.holders import holder_dead, this_holder
from ingestion.hooks import document_forget
from ingestion.index_writer import chunks_remove, chunks_replace, reindex_running_message
from ingestion.keyword_index import (
    keyword_index_build,
    keyword_index_drop,
    keyword_index_ensure,
    textsearch_unavailable_reason,
)
from ingestion.models import Chunk, ChunkTerm, Collection, CollectionStats, Document
from ingestion.parsing import Element, ParsedDocument, ParseError, parse_file, storage_path
from ingestion.vector_index import chunk_table_lock_for_index_drop, vector_index_drop, vector_index_ensure

logger = logging.getLogger(__name__)

DEFAULT_COLLECTION_SLUG = "default"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass
class IngestOutcome:
    filename: str
    status: str  # queued | rejected | duplicate
    document: Document | None = None
    error: str = ""
    http_status: int = 202
    duplicate_of: int | None = None


def clean_filename(raw: str | None) -> str:
    """The uploader's filename without directories or control characters (display only)."""
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _CONTROL.sub("", name).strip().lstrip(".") or "unnamed"
    return name[:255]


def collection_default_ensure() -> Collection:
    """The `default` collection, made if it is missing: the one place it is created, called after
    every migrate (ingestion.apps), so a fresh install has somewhere to upload."""
    collection = Collection.objects.filter(slug=DEFAULT_COLLECTION_SLUG).first()
    return collection if collection is not None else collection_create(slug=DEFAULT_COLLECTION_SLUG, name="Default")


def collection_default_ensure_on_migrate(sender: object, using: str = "default", **kwargs: Any) -> None:
    """post_migrate receiver: ensure the default collection once ingestion's tables are current. A
    `migrate ingestion 0004` leaves them older than the models, which must not be queried then; the
    signal's `apps` is the migrated state (the project's own after a flush)."""
    state = kwargs.get("apps") or django_apps
    historical = state.get_model("ingestion", "Collection")
    if using == "default" and _columns(historical) == _columns(Collection):
        collection_default_ensure()


def _columns(model: Any) -> set[str]:
    return {field.column for field in model._meta.concrete_fields}


@transaction.atomic
def collection_create(*, slug: str, name: str, kind: str = Collection.Kind.USER) -> Collection:
    """Create a collection with its own vector index and, with pg_textsearch, its own bm25 index
    (see ingestion.vector_index, ingestion.keyword_index)."""
    collection = Collection.objects.create(slug=slug, name=name, kind=kind)
    CollectionStats.objects.create(collection=collection)
    vector_index_ensure(collection.id)
    keyword_index_ensure(collection.id)
    return collection


@transaction.atomic
def collection_add(*, slug: str, name: str, actor: User | None) -> Collection:
    """A new user collection (with its own vector index), created by staff."""
    collection = collection_create(slug=slug, name=name)
    audit_record(action=Action.COLLECTION_CHANGED, actor=actor, target=collection, change="created")
    return collection


@transaction.atomic
def collection_rename(*, collection: Collection, name: str, actor: User | None) -> Collection:
    audit_record(action=Action.COLLECTION_CHANGED, actor=actor, target=collection, change="renamed",
                 name_before=collection.name, name=name)
    collection.name = name
    collection.save(update_fields=["name"])
    return collection


@transaction.atomic
def collection_archive_set(*, collection: Collection, archived: bool, actor: User | None) -> Collection:
    """Archive (hide from pickers, search, chat and uploads; keep the data) or restore."""
    collection.archived_at = timezone.now() if archived else None
    collection.save(update_fields=["archived_at"])
    audit_record(action=Action.COLLECTION_CHANGED, actor=actor, target=collection,
                 change="archived" if archived else "restored")
    return collection


def _check_evaluation(collection: Collection, what: str) -> None:
    if collection.kind != Collection.Kind.EVALUATION:
        raise ValueError(f"only evaluation collections can be {what}; '{collection.slug}' holds users' documents")


@transaction.atomic
def collection_delete(*, collection: Collection) -> None:
    """Delete an evaluation collection with its documents, chunks, postings and vector index.

    Users' collections are archived, never deleted: ValueError for them."""
    _check_evaluation(collection, "deleted")
    chunk_table_lock_for_index_drop()
    collection.chunks.all().delete()
    collection.documents.all().delete()
    vector_index_drop(collection.id)
    keyword_index_drop(collection.id)
    collection.delete()


@transaction.atomic
def collection_remove(*, collection: Collection, actor: User | None) -> None:
    """Delete a users' collection that was never used: no documents and no conversations (its
    memberships go with it). One that holds anything is archived instead: ValueError."""
    if collection.kind != Collection.Kind.USER or collection.slug == DEFAULT_COLLECTION_SLUG:
        raise ValueError(f"'{collection.slug}' cannot be deleted")
    chunk_table_lock_for_index_drop()
    locked = Collection.objects.select_for_update().get(pk=collection.pk)
    if locked.documents.exists() or Chunk.objects.filter(collection=locked).exists() or _has_conversations(locked):
        raise ValueError(f"'{collection.slug}' holds documents or conversations: archive it instead")
    audit_record(action=Action.COLLECTION_CHANGED, actor=actor, target=locked, change="deleted")
    vector_index_drop(locked.id)
    keyword_index_drop(locked.id)
    locked.delete()


def _has_conversations(collection: Collection) -> bool:
    # Conversations belong to chat, above ingestion: asked through the reverse relation by name.
    return bool(collection.conversations.exists())


def collection_build_signature_set(*, collection: Collection, signature: str) -> Collection:
    """Record the settings a collection was built with (evaluation corpora: rebuilt when they change)."""
    collection.build_signature = signature
    collection.save(update_fields=["build_signature"])
    return collection


def collection_kind_set(*, collection: Collection, kind: str) -> Collection:
    collection.kind = Collection.Kind(kind)
    collection.save(update_fields=["kind"])
    return collection


def collection_generation_advance(*, collection: Collection) -> None:
    """Move the collection's generation as every indexed or deleted document does, its chunks
    unchanged: whatever is cached for the collection's generation is computed again."""
    CollectionStats.objects.filter(collection=collection).update(generation=F("generation") + 1)


def collection_bulk_load_start(*, collection: Collection) -> None:
    """Drop an evaluation collection's HNSW and bm25 indexes before loading many chunks into it:
    building them once at the end (collection_bulk_load_finish) is much faster than updating them
    on every insert. Until then its vector searches scan exactly, and its pg_textsearch searches
    fail (the index they name is gone)."""
    _check_evaluation(collection, "bulk-loaded")
    chunk_table_lock_for_index_drop()
    vector_index_drop(collection.id)
    keyword_index_drop(collection.id)


def collection_bulk_load_finish(
    *, collection: Collection, maintenance_work_mem: str = "1GB", keyword_index: bool = False
) -> None:
    """Build the collection's HNSW index (and bm25 index: with pg_textsearch, or with
    `keyword_index` wherever the extension loads, so that a benchmark on an `sql` database can
    compare both engines on the same chunks) with `maintenance_work_mem`, then do what autovacuum
    does to tables at rest: planner statistics, and the visibility map without which the postings'
    covering index cannot be read by index-only scans. VACUUM cannot run in a transaction."""
    if connection.in_atomic_block:
        raise RuntimeError("collection_bulk_load_finish runs VACUUM: call it outside a transaction")
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = %s", [maintenance_work_mem])
        try:
            vector_index_ensure(collection.id)
            if keyword_index and not textsearch_unavailable_reason(cursor):
                cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_textsearch")
                keyword_index_build(collection.id)
            else:
                keyword_index_ensure(collection.id)
        finally:
            cursor.execute("RESET maintenance_work_mem")
        for model in (Chunk, ChunkTerm):
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")


def document_ingest(
    *, collection: Collection, uploaded_by: User | None, file: UploadedFile, enqueue: bool = True
) -> IngestOutcome:
    """Store one uploaded file and queue it for processing, or say why it is refused. Its bytes are
    counted against the uploader's daily volume only when it is stored as a new document.

    `enqueue=False` leaves the processing to the caller (benchmarks that run it in-process)."""
    filename = clean_filename(file.name)
    if collection.reindex_to:
        return _rejected(filename, reindex_running_message(collection), 409)
    if file.size is not None and file.size > settings.UPLOAD_MAX_BYTES:
        return _rejected(filename, checks.too_large_message(file.size), 413)
    if not file.size:
        return _rejected(filename, "The file is empty (0 bytes). Upload a file with content.", 400)
    stored_name = uuid.uuid4().hex
    path = storage_path(stored_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for block in file.chunks():
            digest.update(block)
            out.write(block)
    try:
        content_type = checks.check_upload(path, filename)
    except checks.Rejected as exc:
        path.unlink(missing_ok=True)
        return _rejected(filename, str(exc), exc.http_status)
    sha256 = digest.hexdigest()
    duplicate = _live_duplicate(collection=collection, sha256=sha256)
    if duplicate is not None:
        path.unlink(missing_ok=True)
        return _duplicate(filename, duplicate)
    charged = uploaded_by if uploaded_by is not None and uploaded_by.is_authenticated else None
    try:
        with transaction.atomic():
            if charged is not None:  # counted in the transaction that stores it: a rollback refunds it
                upload_volume_reserve(user=charged, size_bytes=path.stat().st_size)
            document = Document.objects.create(
                collection=collection,
                original_filename=filename,
                stored_name=stored_name,
                content_type=content_type,
                size_bytes=path.stat().st_size,
                sha256=sha256,
                uploaded_by=charged,
            )
            audit_record(action=Action.UPLOAD, actor=uploaded_by, target=("ingestion.document", document.id, filename),
                         collection=collection.slug, size_bytes=document.size_bytes, sha256=sha256)
            if enqueue:
                _enqueue_after_commit(document.id)
    except LimitExceeded as exc:  # another upload of this user's was counted since the request's check
        path.unlink(missing_ok=True)
        return _rejected(filename, exc.message, 429)
    except IntegrityError:
        # Another upload of the same content committed between the check above and this insert:
        # the unique constraint over live documents (collection, sha256) refused this one.
        duplicate = _live_duplicate(collection=collection, sha256=sha256)
        if duplicate is None:
            raise
        path.unlink(missing_ok=True)
        return _duplicate(filename, duplicate)
    return IngestOutcome(filename=filename, status=document.status, document=document)


def _live_duplicate(*, collection: Collection, sha256: str, exclude_id: int | None = None) -> Document | None:
    """The collection's document of this content that duplicate detection counts: any that has
    not failed (a failed one may be uploaded again). The constraint document_live_content_unique
    holds this set to one per content."""
    found = Document.objects.filter(collection=collection, sha256=sha256).exclude(status=Document.Status.FAILED)
    if exclude_id is not None:
        found = found.exclude(pk=exclude_id)
    return found.order_by("id").first()


def _duplicate(filename: str, duplicate: Document) -> IngestOutcome:
    return IngestOutcome(
        filename=filename,
        status="duplicate",
        document=duplicate,
        error=f"Identical to '{duplicate.original_filename}' already in this collection (not embedded again).",
        duplicate_of=duplicate.id,
    )


def _rejected(filename: str, reason: str, http_status: int) -> IngestOutcome:
    return IngestOutcome(filename=filename, status="rejected", error=reason, http_status=http_status)


DOCUMENT_PROCESS_TASK = "ingestion.document_process"


def _enqueue_after_commit(document_id: int) -> None:
    # Looked up by name in the Celery app's registry: the task module (an entry point) calls this
    # module, so importing it here would make a cycle.
    transaction.on_commit(lambda: current_app.tasks[DOCUMENT_PROCESS_TASK].delay(document_id))


class DuplicateContent(Exception):
    """A failed document cannot be processed again: its content is now in another live document."""

    def __init__(self, duplicate: Document) -> None:
        super().__init__(f"Identical to '{duplicate.original_filename}', uploaded to this collection since: "
                         "delete this one, or that one first.")
        self.duplicate = duplicate


@transaction.atomic
def document_retry(*, document: Document) -> Document:
    """Queue a document for processing again. DuplicateContent when a failed document's content
    was uploaded again meanwhile (only one live document per content and collection)."""
    document = Document.objects.select_for_update().get(pk=document.pk)
    duplicate = _live_duplicate(collection=document.collection, sha256=document.sha256, exclude_id=document.id)
    if duplicate is not None:
        raise DuplicateContent(duplicate)
    document.status = Document.Status.QUEUED
    document.error = ""
    document.attempts = 0
    document.dispatched_at = timezone.now()
    try:
        with transaction.atomic():
            document.save(update_fields=["status", "error", "attempts", "dispatched_at", "updated_at"])
    except IntegrityError:  # an upload of the same content committed since the check
        duplicate = _live_duplicate(collection=document.collection, sha256=document.sha256, exclude_id=document.id)
        if duplicate is None:
            raise
        raise DuplicateContent(duplicate) from None
    _enqueue_after_commit(document.id)
    return document


@dataclass(frozen=True)
class ReparseOutcome:
    queued: list[int]
    # Documents of collections whose index cannot take new chunks now (a re-index under way, or
    # vectors of another embedding model): re-parsing them would fail them.
    skipped: list[int]


@transaction.atomic
def documents_reparse(*, documents: QuerySet[Document]) -> ReparseOutcome:
    """Queue the indexed ones of `documents` to be parsed, chunked and embedded again, after the
    parser or chunker changed (e.g. tables written as self-describing rows).

    A queued document keeps its chunks, and stays searchable, until its new chunks replace them
    in one transaction (`chunks_replace`); what refers to its old chunks (chunk-level ranking
    signals and vote evidence) goes with them. Idempotent: documents already queued or being
    processed are left alone, and a document queued twice is processed once (`_claim`)."""
    rows = list(
        Document.objects.select_for_update(of=("self",))
        .filter(pk__in=documents.values("pk"), status=Document.Status.INDEXED)
        .values_list("id", "collection__reindex_to", "collection__embedding_model")
    )
    label = configured_label()
    skipped = [i for i, reindex_to, model in rows if reindex_to or model not in ("", label)]
    queued = [i for i, _, _ in rows if i not in set(skipped)]
    now = timezone.now()
    Document.objects.filter(pk__in=queued).update(
        status=Document.Status.QUEUED, attempts=0, error="", updated_at=now, dispatched_at=now)
    for document_id in queued:
        _enqueue_after_commit(document_id)
    return ReparseOutcome(queued=queued, skipped=skipped)


@transaction.atomic
def document_delete(*, document: Document, actor: User | None = None) -> None:
    """Delete the document, its chunks, vectors and postings, its stored file, and its text in
    answer traces and review labels."""
    document = Document.objects.select_for_update().get(pk=document.pk)
    audit_record(action=Action.DELETE, actor=actor, target=("ingestion.document", document.id, document.original_filename),
                 collection=document.collection.slug, size_bytes=document.size_bytes, sha256=document.sha256)
    chunks_remove(document)
    # Its text also lives in answer traces and review labels (privacy: it goes with the document);
    # chat and feedback register what to erase (ingestion.hooks), in this transaction.
    document_forget(document_id=document.id)
    stored = storage_path(document.stored_name)
    document.delete()
    transaction.on_commit(lambda: stored.unlink(missing_ok=True))


# -- processing (worker side) ------------------------------------------------------------------


def document_process(*, document_id: int) -> None:
    """Parse, chunk, embed and index one document. Idempotent; never raises for bad input."""
    document = _claim(document_id)
    if document is None:
        return
    try:
        chunks, parsed_text, parsed = _build_chunks(document)
        chunks_replace(document_id, chunks, parsed_text, parsed)
    except ParseError as exc:
        _fail(document_id, str(exc))
    except SoftTimeLimitExceeded:
        _fail(
            document_id,
            f"Processing took longer than {settings.WORKER_SOFT_TIME_LIMIT} s and was stopped. "
            "Split the file into smaller parts and upload them.",
        )
    except Exception as exc:
        if checks.is_transient(exc):
            _requeue(document_id)
            raise
        logger.exception("document %s failed", document_id)
        _fail(document_id, f"Unexpected error while processing ({type(exc).__name__}: {exc}). Retry, or report it.")


def _claim(document_id: int) -> Document | None:
    with transaction.atomic():
        document = Document.objects.select_for_update().filter(pk=document_id).first()
        if document is None or document.status in (Document.Status.INDEXED, Document.Status.FAILED):
            return None
        if document.status == Document.Status.PROCESSING and document.processing_started_at:
            age = (timezone.now() - document.processing_started_at).total_seconds()
            if age < settings.WORKER_HARD_TIME_LIMIT and not holder_dead(document.worker_host, document.worker_pid):
                return None  # another worker child is on it
        if document.attempts >= settings.INGEST_MAX_ATTEMPTS:
            document.status = Document.Status.FAILED
            document.error = (
                f"Processing this file stopped the worker {document.attempts} times (out of memory, or over "
                f"the {settings.WORKER_HARD_TIME_LIMIT} s limit). The file may be damaged or too large: "
                "split it, or save it again in another format."
            )
            document.save(update_fields=["status", "error", "updated_at"])
            return None
        document.status = Document.Status.PROCESSING
        document.attempts += 1
        document.processing_started_at = timezone.now()
        document.worker_host, document.worker_pid = this_holder()
        document.error = ""
        document.save(update_fields=["status", "attempts", "processing_started_at", "worker_host", "worker_pid",
                                     "error", "updated_at"])
        return document


def chunker_for(embedder: Embedder) -> Chunker:
    """The chunker sized to `embedder`'s window (its token counts exclude [CLS]/[SEP])."""
    return Chunker(
        count_tokens=lambda text: embedder.count_tokens(text) - 2,
        max_tokens=embedder.max_tokens,
        overlap_tokens=settings.CHUNK_OVERLAP_TOKENS,
    )


def _build_chunks(document: Document) -> tuple[list[tuple[ChunkDraft, np.ndarray]], str, ParsedDocument]:
    path = storage_path(document.stored_name)
    if not path.exists():
        raise ParseError("The stored file is missing on the server; upload it again.")
    parsed = parse_file(path, filename=document.original_filename, content_type=document.content_type)
    embedder = get_embedder()
    parsed_text, drafts = chunker_for(embedder).run(parsed.elements)
    if not drafts:
        raise ParseError("No text was found in this file.")
    vectors = embedder.embed([d.embedding_input for d in drafts])
    return list(zip(drafts, vectors)), parsed_text, parsed


def _fail(document_id: int, reason: str) -> None:
    Document.objects.filter(pk=document_id).update(
        status=Document.Status.FAILED, error=reason[:4000], updated_at=timezone.now()
    )


def _requeue(document_id: int) -> None:
    # Queued again until a worker has it: the task's own retry is its next dispatch.
    now = timezone.now()
    Document.objects.filter(pk=document_id).update(status=Document.Status.QUEUED, updated_at=now, dispatched_at=now)


def documents_requeue_stale(*, queued_for_seconds: int | None = None) -> int:
    """Send the task again of documents whose task is gone, and return how many:
    - processing ones whose worker child is dead (ingestion.holders), or past the hard time limit
      (a holder that cannot be checked from here);
    - queued ones whose task was sent at least `queued_for_seconds` ago (default
      QUEUE_REDISPATCH_SECONDS; 0: all): a task that spent its retries while the database was down,
      or was lost with a worker that had fetched it.
    Processing is idempotent and a document is claimed once (`_claim`), so a task sent twice does
    the work once."""
    now = timezone.now()
    wait = settings.QUEUE_REDISPATCH_SECONDS if queued_for_seconds is None else queued_for_seconds
    cutoff = now - timedelta(seconds=settings.WORKER_HARD_TIME_LIMIT + 30)
    processing = Document.objects.filter(status=Document.Status.PROCESSING).values_list(
        "id", "processing_started_at", "worker_host", "worker_pid")
    ids = [i for i, started, host, pid in processing  # never claimed (text documents): not a task's
           if started is not None and (started < cutoff or holder_dead(host, pid))]
    queued = Document.objects.filter(status=Document.Status.QUEUED, dispatched_at__lte=now - timedelta(seconds=wait))
    ids += list(queued.values_list("id", flat=True))
    Document.objects.filter(pk__in=ids).update(dispatched_at=now)
    for document_id in ids:
        current_app.tasks[DOCUMENT_PROCESS_TASK].delay(document_id)
    return len(ids)


def documents_index_elements(
    *, collection: Collection, items: list[tuple[str, list[Element]]], embed_batch: int = 256
) -> list[int]:
    """Index already-parsed documents (name, elements) through the real chunk + embed + store path.

    For corpora that arrive as text (evaluation datasets): the same chunker, embedder and
    transactional chunk write as uploaded files, with embedding batched across documents.
    A text already in the collection (or earlier in `items`) is skipped, as an upload of it
    would be. Returns the new documents' ids."""
    embedder = get_embedder()
    chunker = chunker_for(embedder)
    chunked = [(name, elements, *chunker.run(elements)) for name, elements in items]
    digests = [_text_sha256(parsed_text) for _, _, parsed_text, _ in chunked]
    seen = set(
        Document.objects.filter(collection=collection, sha256__in=digests)
        .exclude(status=Document.Status.FAILED).values_list("sha256", flat=True)
    )
    prepared = []
    for (name, elements, parsed_text, drafts), digest in zip(chunked, digests):
        if drafts and digest not in seen:
            seen.add(digest)
            prepared.append((name, elements, parsed_text, drafts))
    inputs = [d.embedding_input for _, _, _, drafts in prepared for d in drafts]
    vectors = [v for start in range(0, len(inputs), embed_batch) for v in embedder.embed(inputs[start : start + embed_batch])]
    ids: list[int] = []
    position = 0
    for name, elements, parsed_text, drafts in prepared:
        document = _text_document_create(collection=collection, name=name, parsed_text=parsed_text)
        pairs = list(zip(drafts, vectors[position : position + len(drafts)]))
        position += len(drafts)
        chunks_replace(document.id, pairs, parsed_text, ParsedDocument(elements=elements, page_count=None))
        ids.append(document.id)
    return ids


def _text_sha256(parsed_text: str) -> str:
    return hashlib.sha256(parsed_text.encode()).hexdigest()


def _text_document_create(*, collection: Collection, name: str, parsed_text: str) -> Document:
    """The Document row of a text that arrives parsed (evaluation and benchmark corpora)."""
    return Document.objects.create(
        collection=collection,
        original_filename=name[:255],
        stored_name=uuid.uuid4().hex,
        content_type="text/plain",
        size_bytes=len(parsed_text.encode()),
        sha256=_text_sha256(parsed_text),
        status=Document.Status.PROCESSING,
    )


@transaction.atomic
def document_store_prepared(
    *, collection: Collection, name: str, parsed_text: str, chunks: list[tuple[ChunkDraft, np.ndarray]]
) -> int:
    """Store one document whose chunks (ChunkDraft, vector) were prepared elsewhere.

    For synthetic benchmark corpora: the chunks, their BM25 postings and the collection's
    statistics go through the same transactional write as uploaded files. Returns the id."""
    document = _text_document_create(collection=collection, name=name, parsed_text=parsed_text)
    chunks_replace(document.id, chunks, parsed_text, ParsedDocument(elements=[], page_count=None))
    return document.id
