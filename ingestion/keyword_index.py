"""The keyword (BM25) index a database keeps: which engine, and pg_textsearch's indexes.

Two engines, one analysis (ingestion.tokenize: lower-case words, English stop-words dropped,
Snowball stems):
- `pg_textsearch` (the default wherever the extension is loaded): Timescale's bm25 index access
  method. Each collection has a partial index of its own on Chunk.bm25_text (`WHERE collection_id
  = N`), so a collection's scores use its own statistics (chunk count, average length, document
  frequencies) and a small collection gets its full top-k however large the others are. The column
  holds the chunk's tokens separated by spaces and is indexed with the `simple` configuration,
  which keeps each token as it is: the project's tokenizer, not PostgreSQL's parser and stop list,
  decides what a term is. PostgreSQL keeps the index in the transaction that writes the chunks.
- `sql`: our own BM25 over postings tables (ChunkTerm, CollectionTerm), for a PostgreSQL without
  the extension.

The engine is recorded in the database (KeywordEngine, one row) because it decides what the
indexing transaction writes; `manage.py bm25_engine` switches it, building what the other engine
needs. Both keep CollectionStats, whose generation keys caches.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper

from ingestion.models import Chunk, ChunkTerm, Collection, CollectionTerm, KeywordEngine

logger = logging.getLogger(__name__)

TEXT_CONFIG = "simple"
EXTENSION = "pg_textsearch"
PG_TEXTSEARCH = KeywordEngine.Engine.PG_TEXTSEARCH.value
SQL = KeywordEngine.Engine.SQL.value


def textsearch_unavailable_reason(cursor: CursorWrapper) -> str:
    """Why this server cannot keep pg_textsearch indexes ("" when it can)."""
    cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = %s", [EXTENSION])
    if cursor.fetchone() is None:
        return (f"the {EXTENSION} extension is not installed on this PostgreSQL server "
                "(README: \"Adding the extensions to an existing server\")")
    cursor.execute("SELECT current_setting('shared_preload_libraries')")
    preloaded = [name.strip() for name in str(cursor.fetchone()[0]).split(",")]
    if EXTENSION not in preloaded:
        return f"{EXTENSION} is installed but not in shared_preload_libraries: add it there and restart PostgreSQL"
    return ""


def engine_current() -> str:
    """The database's engine. Without its row (a database emptied by `flush`, as the test runner
    does between tests: no chunks either) the engine a new database takes: pg_textsearch when its
    extension is created and loadable here, else sql."""
    engine = KeywordEngine.objects.values_list("engine", flat=True).first()
    if engine:
        return engine
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = %s", [EXTENSION])
        created = cursor.fetchone() is not None
        return PG_TEXTSEARCH if created and not textsearch_unavailable_reason(cursor) else SQL


def engine_status() -> dict[str, str]:
    """The engine and, for `sql`, why; for `pg_textsearch`, whether the server can still load it."""
    row = KeywordEngine.objects.first()
    engine = row.engine if row else engine_current()
    with connection.cursor() as cursor:
        unavailable = textsearch_unavailable_reason(cursor)
    if engine == PG_TEXTSEARCH:
        return {"engine": engine, "status": "unavailable" if unavailable else "ok", "reason": unavailable}
    return {"engine": engine, "status": "fallback",
            "reason": (row.reason if row and row.reason else unavailable) or "chosen with manage.py bm25_engine sql"}


def keyword_indexes_blind() -> list[tuple[int, str]]:
    """The collections whose bm25 index finds none of their own words: for each collection with
    chunks, the first token of one of its chunks is searched in its index. One small query or two
    per collection.

    pg_textsearch 1.0.0 loses an index's corpus statistics (its document count becomes 0) when
    PostgreSQL restarts, seen for an index created empty and filled by inserts, as every
    collection filled by uploads is (its recovery pages rebuild the postings, not the count): the
    index is valid and ready, and every score is 0, so keyword search silently returns nothing
    there. An index built over existing rows (CREATE INDEX, REINDEX) kept its count, even with a
    few hundred inserts after. `keyword_indexes_repair` rebuilds the blind ones."""
    blind = []
    with connection.cursor() as cursor:
        for collection_id, slug in Collection.objects.values_list("id", "slug"):
            cid = int(collection_id)
            cursor.execute(f"SELECT bm25_text FROM {Chunk._meta.db_table} WHERE collection_id = {cid} "
                           "AND bm25_text <> '' LIMIT 1")
            row = cursor.fetchone()
            if row is None:
                continue
            token = row[0].split()[0]
            # As the retriever asks (retrieval.bm25_textsearch): ordered by the index, the best first.
            cursor.execute(
                f"SELECT -(bm25_text <@> to_bm25query(%(q)s, %(index)s)) FROM {Chunk._meta.db_table} "
                f"WHERE collection_id = {cid} ORDER BY bm25_text <@> to_bm25query(%(q)s, %(index)s) LIMIT 1",
                {"q": token, "index": keyword_index_name(cid)},
            )
            best = cursor.fetchone()
            if best is None or not best[0] or best[0] <= 0:
                blind.append((cid, slug))
    return blind


def keyword_indexes_repair() -> list[str]:
    """Rebuild (REINDEX) each collection's bm25 index that finds none of its own words, and say
    which (their slugs); nothing when the engine is not pg_textsearch. The worker runs it at start
    and every minute (a PostgreSQL restart is what breaks them); `manage.py bm25_engine --repair`
    runs it by hand."""
    if engine_status()["status"] != "ok":
        return []
    repaired = []
    for collection_id, slug in keyword_indexes_blind():
        with connection.cursor() as cursor:
            cursor.execute(f"REINDEX INDEX {keyword_index_name(collection_id)}")
        repaired.append(slug)
    if repaired:
        logger.warning("rebuilt the bm25 index of %s: it found none of its own words (pg_textsearch lost its "
                       "statistics, as it does on a PostgreSQL restart after inserts)", ", ".join(repaired))
    return repaired


def keyword_index_name(collection_id: int) -> str:
    return f"chunk_bm25_c{int(collection_id)}"


def keyword_index_create_sql(collection_id: int) -> str:
    cid = int(collection_id)
    return (
        f"CREATE INDEX IF NOT EXISTS {keyword_index_name(cid)} ON {Chunk._meta.db_table} USING bm25 (bm25_text) "
        f"WITH (text_config='{TEXT_CONFIG}', k1={float(settings.BM25_K1)}, b={float(settings.BM25_B)}) "
        f"WHERE collection_id = {cid}"
    )


def keyword_index_ensure(collection_id: int) -> None:
    """The collection's bm25 index, when the database's engine is pg_textsearch."""
    if engine_current() == PG_TEXTSEARCH:
        keyword_index_build(collection_id)


def keyword_index_build(collection_id: int) -> None:
    """The collection's bm25 index, whatever the engine (the extension must be created)."""
    with connection.cursor() as cursor:
        if connection.in_atomic_block:
            # As for the vector index: deferred foreign-key checks of earlier writes run first.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(keyword_index_create_sql(collection_id))


def keyword_index_drop(collection_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX IF EXISTS {keyword_index_name(collection_id)}")


def keyword_index_exists(collection_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", [keyword_index_name(collection_id)])
        return cursor.fetchone() is not None


def writes_postings() -> bool:
    """Whether the indexing transaction writes postings (ChunkTerm, CollectionTerm)."""
    return engine_current() == SQL


@transaction.atomic
def engine_switch(engine: str) -> str:
    """Make `engine` the database's keyword engine, in one transaction: build what it needs from
    what the other kept (each chunk's tokens are in Chunk.bm25_text, and in its postings), and drop
    what it does not need. Returns a summary; ValueError when pg_textsearch cannot be loaded."""
    if engine not in (PG_TEXTSEARCH, SQL):
        raise ValueError(f"unknown BM25 engine {engine!r}: choose {PG_TEXTSEARCH} or {SQL}")
    KeywordEngine.objects.select_for_update().first()
    # Writers of a collection take its row first (ingestion.index_writer): taking them all waits for
    # indexing in progress and holds new indexing back until the switch commits.
    collections = list(Collection.objects.select_for_update().order_by("id").values_list("id", flat=True))
    with connection.cursor() as cursor:
        if engine == PG_TEXTSEARCH:
            unavailable = textsearch_unavailable_reason(cursor)
            if unavailable:
                raise ValueError(f"cannot use {PG_TEXTSEARCH}: {unavailable}")
            cursor.execute(f"CREATE EXTENSION IF NOT EXISTS {EXTENSION}")
            for collection_id in collections:
                keyword_index_build(collection_id)
            # After the indexes exist, so that they take these rows as ordinary updates: rows
            # updated before an index is built leave broken HOT chains, and PostgreSQL then keeps
            # the new index from every transaction older than it (indcheckxmin), where keyword
            # search would find nothing.
            filled = _texts_from_postings(cursor)
            postings_drop()
            summary = f"{len(collections)} bm25 indexes built ({filled} chunks' tokens taken from their postings); postings removed"
        else:
            postings_drop()
            postings = postings_build()
            for collection_id in collections:
                keyword_index_drop(collection_id)
            summary = f"{postings} postings written for {len(collections)} collections; bm25 indexes dropped"
    KeywordEngine.objects.all().delete()
    KeywordEngine.objects.create(engine=engine, reason="" if engine == PG_TEXTSEARCH else "chosen with manage.py bm25_engine sql")
    return summary


def engine_record(engine: str, reason: str) -> None:
    """Record `engine` without building anything: for a benchmark database that keeps both
    engines' structures for the same chunks (the caller built them), so that its writes keep
    both up to date. Users switch with `engine_switch`."""
    KeywordEngine.objects.all().delete()
    KeywordEngine.objects.create(engine=engine, reason=reason)


def _texts_from_postings(cursor: CursorWrapper) -> int:
    """Chunk.bm25_text for chunks indexed before the column existed, from their postings (BM25
    needs each term's count, not the order)."""
    cursor.execute(
        f"""
        UPDATE {Chunk._meta.db_table} AS c SET bm25_text = p.tokens
        FROM (
          SELECT chunk_id, string_agg(rtrim(repeat(term || ' ', tf)), ' ' ORDER BY term) AS tokens
          FROM {ChunkTerm._meta.db_table} GROUP BY chunk_id
        ) AS p
        WHERE c.id = p.chunk_id AND c.bm25_text = ''
        """
    )
    return int(cursor.rowcount)


def postings_build(collection_id: int | None = None) -> int:
    """Postings and document frequencies of every chunk (of one collection, or all), from its
    tokens; there must be none yet. Returns how many postings were written."""
    where = "" if collection_id is None else f" AND c.collection_id = {int(collection_id)}"
    grouped = "" if collection_id is None else f" WHERE collection_id = {int(collection_id)}"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {ChunkTerm._meta.db_table} (chunk_id, collection_id, term, tf, doc_length)
            SELECT c.id, c.collection_id, t.term, count(*), c.bm25_length
            FROM {Chunk._meta.db_table} c, unnest(string_to_array(c.bm25_text, ' ')) AS t(term)
            WHERE c.bm25_text <> ''{where}
            GROUP BY c.id, c.collection_id, t.term, c.bm25_length
            """
        )
        written = int(cursor.rowcount)
        cursor.execute(
            f"""
            INSERT INTO {CollectionTerm._meta.db_table} (collection_id, term, df)
            SELECT collection_id, term, count(*) FROM {ChunkTerm._meta.db_table}{grouped} GROUP BY collection_id, term
            """
        )
    return written


def postings_drop(collection_id: int | None = None) -> None:
    """The postings and document frequencies of one collection (a benchmark's, built to compare),
    or of all."""
    postings, frequencies = ChunkTerm.objects.all(), CollectionTerm.objects.all()
    if collection_id is not None:
        postings, frequencies = postings.filter(collection_id=collection_id), frequencies.filter(collection_id=collection_id)
    postings.delete()
    frequencies.delete()
