"""Per-collection HNSW indexes on chunk embeddings.

pgvector 0.6 has no iterative index scans: an HNSW scan yields at most `hnsw.ef_search` rows
*before* a WHERE clause filters them, so a small collection inside a big table would be starved
by a shared index. Each collection gets a partial index (`WHERE collection_id = N`) instead,
which the planner uses for queries that filter on that collection.
"""

from __future__ import annotations

from django.db import connection


def vector_index_name(collection_id: int) -> str:
    return f"chunk_embedding_hnsw_c{int(collection_id)}"


def vector_index_create_sql(collection_id: int) -> str:
    cid = int(collection_id)
    return (
        f"CREATE INDEX IF NOT EXISTS {vector_index_name(cid)} ON ingestion_chunk "
        f"USING hnsw (embedding vector_cosine_ops) WHERE collection_id = {cid}"
    )


def vector_index_ensure(collection_id: int) -> None:
    with connection.cursor() as cursor:
        if connection.in_atomic_block:
            # CREATE INDEX refuses to run while deferred foreign-key checks of earlier chunk
            # writes in the same transaction are pending: run those checks now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(vector_index_create_sql(collection_id))


def vector_index_drop(collection_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX IF EXISTS {vector_index_name(collection_id)}")


def vector_index_exists(collection_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", [vector_index_name(collection_id)])
        return cursor.fetchone() is not None


def chunk_table_lock_for_index_drop() -> None:
    """Lock the chunk table as DROP INDEX will, first thing in the transaction. Dropping a
    collection's partial index takes an ACCESS EXCLUSIVE lock on the whole table; a transaction
    that deleted chunks first (holding ROW EXCLUSIVE) and then asks for it can deadlock with
    another doing the same (two collections deleted at once). Asked first, it only waits.
    Outside a transaction each statement is its own: nothing to do."""
    if not connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        cursor.execute("LOCK TABLE ingestion_chunk IN ACCESS EXCLUSIVE MODE")
