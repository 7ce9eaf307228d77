"""Writes of ingestion: accept uploads, process documents, retry, delete.

`document_ingest` runs in the web request; `document_process` runs in the Celery worker.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
import uuid
from collections import Counter
from dataclasses import dataclass


from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from accounts.audit import Action, audit_record
from ingestion import checks
from ingestion.models import Chunk, ChunkTerm, Collection, CollectionStats, CollectionTerm, Document
from ingestion.parsing import ParseError, storage_path

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


def collection_get_default() -> Collection:
    collection = Collection.objects.filter(slug=DEFAULT_COLLECTION_SLUG).first()
    return collection if collection is not None else collection_create(slug=DEFAULT_COLLECTION_SLUG, name="Default")


@transaction.atomic
def collection_create(*, slug: str, name: str, kind: str = Collection.Kind.USER) -> Collection:
    """Create a collection with its own vector index (see ingestion.vector_index)."""
    from ingestion.vector_index import vector_index_ensure

    collection = Collection.objects.create(slug=slug, name=name, kind=kind)
    CollectionStats.objects.create(collection=collection)
    vector_index_ensure(collection.id)
    return collection


def reindex_running_message(collection: Collection) -> str:
    return (
        f"The collection '{collection.slug}' is being re-indexed with '{collection.reindex_to}' "
        f"(python manage.py reindex --collection {collection.slug}): upload this file again when it has finished."
    )


def document_ingest(
    *, collection: Collection, uploaded_by: AbstractBaseUser | None, file: UploadedFile, enqueue: bool = True
) -> IngestOutcome:
    """Store one uploaded file and queue it for processing, or say why it is refused.

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
    duplicate = (
        Document.objects.filter(collection=collection, sha256=sha256)
        .exclude(status=Document.Status.FAILED)
        .order_by("id")
        .first()
    )
    if duplicate is not None:
        path.unlink(missing_ok=True)
        return IngestOutcome(
            filename=filename,
            status="duplicate",
            document=duplicate,
            error=f"Identical to '{duplicate.original_filename}' already in this collection (not embedded again).",
            duplicate_of=duplicate.id,
        )
    with transaction.atomic():
        document = Document.objects.create(
            collection=collection,
            original_filename=filename,
            stored_name=stored_name,
            content_type=content_type,
            size_bytes=path.stat().st_size,
            sha256=sha256,
            uploaded_by=uploaded_by if uploaded_by is not None and uploaded_by.is_authenticated else None,
        )
        audit_record(action=Action.UPLOAD, actor=uploaded_by, target=("ingestion.document", document.id, filename),
                     collection=collection.slug, size_bytes=document.size_bytes, sha256=sha256)
        if enqueue:
            _enqueue_after_commit(document.id)
    return IngestOutcome(filename=filename, status=document.status, document=document)


def _rejected(filename: str, reason: str, http_status: int) -> IngestOutcome:
    return IngestOutcome(filename=filename, status="rejected", error=reason, http_status=http_status)


def _enqueue_after_commit(document_id: int) -> None:
    from ingestion.tasks import document_process_task

    transaction.on_commit(lambda: document_process_task.delay(document_id))


@transaction.atomic
def document_retry(*, document: Document) -> Document:
    document = Document.objects.select_for_update().get(pk=document.pk)
    document.status = Document.Status.QUEUED
    document.error = ""
    document.attempts = 0
    document.save(update_fields=["status", "error", "attempts", "updated_at"])
    _enqueue_after_commit(document.id)
    return document


@transaction.atomic
def document_delete(*, document: Document, actor: AbstractBaseUser | None = None) -> None:
    """Delete the document, its chunks, vectors and postings, its stored file, and its text in
    answer traces and review labels."""
    from chat.services import answers_forget_document
    from feedback.services import review_labels_forget_document

    document = Document.objects.select_for_update().get(pk=document.pk)
    audit_record(action=Action.DELETE, actor=actor, target=("ingestion.document", document.id, document.original_filename),
                 collection=document.collection.slug, size_bytes=document.size_bytes, sha256=document.sha256)
    _chunks_remove(document)
    # Its text also lives in answer traces and review labels (privacy: it goes with the document).
    answers_forget_document(document_id=document.id)
    review_labels_forget_document(document_id=document.id)
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
        _chunks_replace(document_id, chunks, parsed_text, parsed)
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
            if age < settings.WORKER_HARD_TIME_LIMIT:
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
        document.error = ""
        document.save(update_fields=["status", "attempts", "processing_started_at", "error", "updated_at"])
        return document


def chunker_for(embedder):  # type: ignore[no-untyped-def]
    """The chunker sized to `embedder`'s window (its token counts exclude [CLS]/[SEP])."""
    from ingestion.chunking import Chunker

    return Chunker(
        count_tokens=lambda text: embedder.count_tokens(text) - 2,
        max_tokens=embedder.max_tokens,
        overlap_tokens=settings.CHUNK_OVERLAP_TOKENS,
    )


def _build_chunks(document: Document):  # type: ignore[no-untyped-def]
    from ingestion.embedding import get_embedder
    from ingestion.parsing import parse_file

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


def _chunks_remove(document: Document) -> None:
    old = Chunk.objects.filter(document=document)
    count = old.count()
    if count:
        from django.db.models import Sum

        # Writers of a collection's index take its row first (as _chunks_replace does), so that
        # their updates of the shared statistics and term rows never wait on each other in a cycle.
        Collection.objects.select_for_update().filter(pk=document.collection_id).first()
        total = old.aggregate(total=Sum("bm25_length"))["total"] or 0
        CollectionStats.objects.filter(collection_id=document.collection_id).update(
            chunk_count=F("chunk_count") - count,
            total_length=F("total_length") - total,
            generation=F("generation") + 1,
        )
        _document_frequencies_remove(document)
        ChunkTerm.objects.filter(chunk__document=document).delete()
        old.delete()


def _document_frequencies_remove(document: Document) -> None:
    """Take the document's chunks out of its collection's document frequencies (CollectionTerm),
    before its postings go; a term no chunk holds any more leaves the vocabulary."""
    table = CollectionTerm._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {table} AS c SET df = c.df - d.n
            FROM (
              SELECT p.term, count(*) AS n FROM {ChunkTerm._meta.db_table} p
              JOIN {Chunk._meta.db_table} ch ON ch.id = p.chunk_id
              WHERE ch.document_id = %s GROUP BY p.term
            ) AS d
            WHERE c.collection_id = %s AND c.term = d.term
            RETURNING c.term, c.df
            """,
            [document.id, document.collection_id],
        )
        gone = [term for term, df in cursor.fetchall() if df <= 0]
        if gone:
            cursor.execute(f"DELETE FROM {table} WHERE collection_id = %s AND term = ANY(%s)", [document.collection_id, gone])


@transaction.atomic
def _chunks_replace(document_id: int, chunks, parsed_text: str, parsed) -> None:  # type: ignore[no-untyped-def]
    from ingestion.embedding import get_embedder
    from retrieval.tokenize import default_tokenizer, term_frequencies

    document = Document.objects.select_for_update().filter(pk=document_id).first()
    if document is None:
        return  # deleted while it was being processed
    label = get_embedder().label
    collection = Collection.objects.select_for_update().get(pk=document.collection_id)
    if collection.reindex_to:
        raise ParseError(reindex_running_message(collection))
    if collection.embedding_model and collection.embedding_model != label:
        raise ParseError(
            f"This collection is indexed with the embedding model '{collection.embedding_model}', but the "
            f"server is configured with '{label}'. Re-index the collection (python manage.py reindex "
            f"--collection {collection.slug}) or restore EMBEDDING_MODEL and EMBEDDING_BACKEND."
        )
    if not collection.embedding_model:
        collection.embedding_model = label
        collection.save(update_fields=["embedding_model"])
    _chunks_remove(document)
    tokenizer = default_tokenizer()
    rows: list[Chunk] = []
    frequencies = []
    for ordinal, (draft, vector) in enumerate(chunks):
        tf = term_frequencies(tokenizer(draft.embedding_input))
        frequencies.append(tf)
        rows.append(
            Chunk(
                document=document,
                collection_id=document.collection_id,
                ordinal=ordinal,
                text=draft.text,
                page_start=draft.page_start,
                page_end=draft.page_end,
                heading_path=draft.heading_path,
                char_start=draft.char_start,
                char_end=draft.char_end,
                token_count=draft.token_count,
                is_table=draft.is_table,
                embedding=vector,
                bm25_length=sum(tf.values()),
            )
        )
    Chunk.objects.bulk_create(rows, batch_size=500)
    _postings_write(rows, frequencies, document.collection_id)
    stats, _ = CollectionStats.objects.select_for_update().get_or_create(collection_id=document.collection_id)
    stats.chunk_count += len(rows)
    stats.total_length += sum(r.bm25_length for r in rows)
    stats.generation += 1
    stats.save()
    document.status = Document.Status.INDEXED
    document.chunk_count = len(rows)
    document.page_count = parsed.page_count
    document.parse_summary = parsed.summary
    document.parsed_text = parsed_text
    document.embedding_model = label
    document.indexed_at = timezone.now()
    document.error = ""
    document.save()


def _postings_write(rows: list[Chunk], frequencies: list, collection_id: int) -> None:  # type: ignore[type-arg]
    """The chunks' BM25 postings (ChunkTerm rows), streamed with COPY: a long document has
    hundreds of thousands of them, which ORM inserts write several times slower."""
    columns = "chunk_id, collection_id, term, tf, doc_length"
    df: Counter[str] = Counter()
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {ChunkTerm._meta.db_table} ({columns}) FROM STDIN") as copy:
            for row, tf in zip(rows, frequencies):
                df.update(tf.keys())
                for term, count in tf.items():
                    copy.write_row((row.id, collection_id, term, count, row.bm25_length))
        if df:
            terms = sorted(df)
            cursor.execute(
                f"""
                INSERT INTO {CollectionTerm._meta.db_table} (collection_id, term, df)
                SELECT %s, t.term, t.df FROM unnest(%s::text[], %s::bigint[]) AS t(term, df)
                ON CONFLICT (collection_id, term)
                DO UPDATE SET df = {CollectionTerm._meta.db_table}.df + EXCLUDED.df
                """,
                [collection_id, terms, [df[t] for t in terms]],
            )


def _fail(document_id: int, reason: str) -> None:
    Document.objects.filter(pk=document_id).update(
        status=Document.Status.FAILED, error=reason[:4000], updated_at=timezone.now()
    )


def _requeue(document_id: int) -> None:
    Document.objects.filter(pk=document_id).update(status=Document.Status.QUEUED, updated_at=timezone.now())


def documents_requeue_stale(*, include_queued: bool = True) -> int:
    """Queue again what a dead worker left behind: queued documents whose message may be lost,
    and documents stuck in processing past the hard time limit. Processing is idempotent, so a
    document queued twice is indexed once."""
    from datetime import timedelta

    from ingestion.tasks import document_process_task

    cutoff = timezone.now() - timedelta(seconds=settings.WORKER_HARD_TIME_LIMIT + 30)
    stale = Document.objects.filter(status=Document.Status.PROCESSING, processing_started_at__lt=cutoff)
    if include_queued:
        stale = stale | Document.objects.filter(status=Document.Status.QUEUED)
    ids = list(stale.values_list("id", flat=True))
    for document_id in ids:
        document_process_task.delay(document_id)
    return len(ids)





def documents_index_elements(
    *, collection: Collection, items: list[tuple[str, list]], embed_batch: int = 256  # type: ignore[type-arg]
) -> list[int]:
    """Index already-parsed documents (name, elements) through the real chunk + embed + store path.

    For corpora that arrive as text (evaluation datasets): the same chunker, embedder and
    transactional chunk write as uploaded files, with embedding batched across documents.
    Returns the new documents' ids."""
    from ingestion.embedding import get_embedder
    from ingestion.parsing import ParsedDocument

    embedder = get_embedder()
    chunker = chunker_for(embedder)
    prepared = []
    for name, elements in items:
        parsed_text, drafts = chunker.run(elements)
        if drafts:
            prepared.append((name, elements, parsed_text, drafts))
    inputs = [d.embedding_input for _, _, _, drafts in prepared for d in drafts]
    vectors = [v for start in range(0, len(inputs), embed_batch) for v in embedder.embed(inputs[start : start + embed_batch])]
    ids: list[int] = []
    position = 0
    for name, elements, parsed_text, drafts in prepared:
        document = _text_document_create(collection=collection, name=name, parsed_text=parsed_text)
        pairs = list(zip(drafts, vectors[position : position + len(drafts)]))
        position += len(drafts)
        _chunks_replace(document.id, pairs, parsed_text, ParsedDocument(elements=elements, page_count=None))
        ids.append(document.id)
    return ids


def _text_document_create(*, collection: Collection, name: str, parsed_text: str) -> Document:
    """The Document row of a text that arrives parsed (evaluation and benchmark corpora)."""
    return Document.objects.create(
        collection=collection,
        original_filename=name[:255],
        stored_name=uuid.uuid4().hex,
        content_type="text/plain",
        size_bytes=len(parsed_text.encode()),
        sha256=hashlib.sha256(parsed_text.encode()).hexdigest(),
        status=Document.Status.PROCESSING,
    )


@transaction.atomic
def document_store_prepared(*, collection: Collection, name: str, parsed_text: str, chunks: list) -> int:  # type: ignore[type-arg]
    """Store one document whose chunks (ChunkDraft, vector) were prepared elsewhere.

    For synthetic benchmark corpora: the chunks, their BM25 postings and the collection's
    statistics go through the same transactional write as uploaded files. Returns the id."""
    from ingestion.parsing import ParsedDocument

    document = _text_document_create(collection=collection, name=name, parsed_text=parsed_text)
    _chunks_replace(document.id, chunks, parsed_text, ParsedDocument(elements=[], page_count=None))
    return document.id
