"""Writing a document's chunks into its collection's index, in one transaction each.

The chunks with their vectors and BM25 tokens, the keyword index the database's engine keeps
(ingestion.keyword_index: PostgreSQL's bm25 index on the tokens, or our postings, ChunkTerm, and
the collection's document frequencies, CollectionTerm) and the collection's statistics
(CollectionStats) change together: a search sees a document entirely or not at all. Every writer takes the collection's row first, so that writers of
one collection queue up instead of waiting on each other's statistics and term rows in a cycle.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from collections.abc import Sequence

import numpy as np
from django.db import connection, transaction
from django.db.models import F, Sum
from django.utils import timezone
from psycopg.types.json import Jsonb

from ingestion.chunking import ChunkDraft
from ingestion.embedding import get_embedder
from ingestion.keyword_index import writes_postings
from ingestion.models import Chunk, ChunkTerm, Collection, CollectionStats, CollectionTerm, Document
from ingestion.parsing import ParsedDocument, ParseError
from ingestion.tokenize import default_tokenizer, term_frequencies


def reindex_running_message(collection: Collection) -> str:
    return (
        f"The collection '{collection.slug}' is being re-indexed with '{collection.reindex_to}' "
        f"(python manage.py reindex --collection {collection.slug}): upload this file again when it has finished."
    )


def chunks_remove(document: Document) -> None:
    old = Chunk.objects.filter(document=document)
    count = old.count()
    if count:
        # Writers of a collection's index take its row first (as chunks_replace does), so that
        # their updates of the shared statistics and term rows never wait on each other in a cycle.
        Collection.objects.select_for_update().filter(pk=document.collection_id).first()
        total = old.aggregate(total=Sum("bm25_length"))["total"] or 0
        CollectionStats.objects.filter(collection_id=document.collection_id).update(
            chunk_count=F("chunk_count") - count,
            total_length=F("total_length") - total,
            generation=F("generation") + 1,
        )
        if writes_postings():
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
def chunks_replace(
    document_id: int, chunks: Sequence[tuple[ChunkDraft, np.ndarray]], parsed_text: str, parsed: ParsedDocument
) -> None:
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
    chunks_remove(document)
    tokenizer = default_tokenizer()
    rows: list[Chunk] = []
    frequencies: list[Counter[str]] = []
    for ordinal, (draft, vector) in enumerate(chunks):
        tokens = tokenizer(draft.embedding_input)
        tf = term_frequencies(tokens)
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
                bm25_length=len(tokens),
                bm25_text=" ".join(tokens),
            )
        )
    Chunk.objects.bulk_create(rows, batch_size=500)
    if writes_postings():
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


def _postings_write(rows: list[Chunk], frequencies: list[Counter[str]], collection_id: int) -> None:
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


@transaction.atomic
def documents_store_prepared_bulk(
    *, collection: Collection, documents: Sequence[tuple[str, str, Sequence[tuple[ChunkDraft, np.ndarray]]]]
) -> int:
    """Store many documents whose chunks (ChunkDraft, vector) were prepared elsewhere, in one
    transaction: the Document rows, the chunks streamed with binary COPY (vectors included) and the
    collection's statistics. For large synthetic benchmark corpora on a pg_textsearch database
    (PostgreSQL keeps the bm25 index; there are no postings to write): the per-document writer
    makes 1M chunks take hours on two cores. Returns how many chunks were written."""
    if writes_postings():
        raise RuntimeError("the bulk writer writes no postings: use it on a pg_textsearch database")
    from pgvector.psycopg import register_vector

    Collection.objects.select_for_update().get(pk=collection.pk)
    label = get_embedder().label
    now = timezone.now()
    rows = Document.objects.bulk_create([
        Document(collection=collection, original_filename=name[:255], stored_name=uuid.uuid4().hex,
                 content_type="text/plain", size_bytes=len(text.encode()),
                 sha256=hashlib.sha256(text.encode()).hexdigest(), status=Document.Status.INDEXED,
                 chunk_count=len(chunks), parsed_text=text, embedding_model=label, indexed_at=now)
        for name, text, chunks in documents
    ])
    tokenizer = default_tokenizer()
    written = total_length = 0
    columns = ("document_id, collection_id, ordinal, text, page_start, page_end, heading_path, char_start, char_end, "
               "token_count, is_table, embedding, bm25_length, bm25_text")
    register_vector(connection.connection)
    copying = f"COPY {Chunk._meta.db_table} ({columns}) FROM STDIN WITH (FORMAT BINARY)"
    with connection.cursor() as cursor, cursor.cursor.copy(copying) as copy:
        copy.set_types(["int8", "int8", "int4", "text", "int4", "int4", "jsonb", "int4", "int4", "int4", "bool",
                        "vector", "int4", "text"])
        for document, (_, _, chunks) in zip(rows, documents):
            for ordinal, (draft, vector) in enumerate(chunks):
                tokens = tokenizer(draft.embedding_input)
                copy.write_row((document.id, collection.id, ordinal, draft.text, draft.page_start, draft.page_end,
                                Jsonb(draft.heading_path), draft.char_start, draft.char_end, draft.token_count,
                                draft.is_table, np.asarray(vector, dtype=np.float32), len(tokens), " ".join(tokens)))
                written += 1
                total_length += len(tokens)
    CollectionStats.objects.filter(collection=collection).update(
        chunk_count=F("chunk_count") + written, total_length=F("total_length") + total_length,
        generation=F("generation") + 1,
    )
    return written
