"""Does a small collection inside a large table still need an HNSW index of its own on pgvector 0.8?

pgvector 0.6 returned at most `hnsw.ef_search` rows from an index scan *before* the WHERE clause,
so a small collection sharing an index with a large one got fewer than k results (starvation):
that is why each collection has a partial index (ingestion.vector_index). pgvector 0.8's
iterative index scans (`hnsw.iterative_scan`) keep scanning until enough rows pass the filter,
up to `hnsw.max_scan_tuples`. This measures, for a small collection next to a large one: its own
partial index, one index shared by both with and without iterative scans; against the exact
top-k (no index), in results returned, recall@k and latency.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from django.db import connection, transaction

from bench.collections import fresh_collection
from bench.latency import summarise
from ingestion.models import Chunk, Collection
from ingestion.vector_index import vector_index_create_sql, vector_index_drop
from retrieval.vector import vector_literal

SHARED_INDEX = "bench_hnsw_shared"
SMALL_SLUG = "hnsw-filter-small"

Log = Callable[[str], None]


def small_collection_copy(large: Collection, *, count: int, seed: int) -> Collection:
    """An evaluation collection of `count` chunks copied (text, vector) from `large` at random."""
    small = fresh_collection(SMALL_SLUG, f"{count} chunks copied from {large.slug}")
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [seed / 1000])
        cursor.execute(
            f"""
            INSERT INTO ingestion_document (collection_id, original_filename, stored_name, content_type, size_bytes,
                sha256, status, error, attempts, chunk_count, parse_summary, parsed_text, embedding_model,
                created_at, updated_at, worker_host, dispatched_at)
            VALUES ({small.id}, 'copies.txt', md5(random()::text), 'text/plain', 0, md5(random()::text), 'indexed',
                '', 0, {int(count)}, '{{}}', '', '', now(), now(), '', now())
            RETURNING id
            """
        )
        document_id = cursor.fetchone()[0]
        cursor.execute(
            f"""
            INSERT INTO ingestion_chunk (document_id, collection_id, ordinal, text, heading_path, char_start, char_end,
                token_count, is_table, embedding, bm25_length, bm25_text)
            SELECT {document_id}, {small.id}, row_number() OVER () - 1, text, '[]', 0, 0, token_count, false, embedding,
                bm25_length, bm25_text
            FROM (SELECT * FROM ingestion_chunk WHERE collection_id = {large.id} ORDER BY random() LIMIT {int(count)}) c
            """
        )
    return small


def _top(query: np.ndarray, collection_id: int, k: int, settings: list[str]) -> tuple[list[int], float]:
    literal = vector_literal(query)
    with transaction.atomic(), connection.cursor() as cursor:
        for setting in settings:
            cursor.execute(f"SET LOCAL {setting}")
        started = time.perf_counter()
        cursor.execute(
            f"SELECT id FROM ingestion_chunk WHERE collection_id = {int(collection_id)} "
            f"ORDER BY embedding <=> %s::vector LIMIT {int(k)}",
            [literal],
        )
        ids = [row[0] for row in cursor.fetchall()]
        return ids, (time.perf_counter() - started) * 1000


def hnsw_filter_measure(large: Collection, small: Collection, queries: list[np.ndarray], *, k: int, log: Log) -> dict[str, dict[str, float]]:
    exact = [_top(q, small.id, k, ["enable_indexscan = off", "enable_bitmapscan = off"])[0] for q in queries]
    # For a selective filter the planner may prefer the exact plan (the collection's rows through
    # the btree on collection_id, then a sort): "planner's choice" is what the app would get with a
    # shared index; the other shared rows force the HNSW scan (no sort allowed).
    forced = ["hnsw.ef_search = 100", "enable_sort = off"]
    variants = {
        "own partial index": (["hnsw.ef_search = 100"], "own"),
        "shared index, planner's choice": (["hnsw.ef_search = 100", "hnsw.iterative_scan = relaxed_order"], "shared"),
        "shared index, HNSW scan (pgvector 0.6 behaviour)": ([*forced, "hnsw.iterative_scan = off"], "shared"),
        "shared index, HNSW + iterative scan (relaxed)": ([*forced, "hnsw.iterative_scan = relaxed_order"], "shared"),
        "shared index, HNSW + iterative scan (strict)": ([*forced, "hnsw.iterative_scan = strict_order"], "shared"),
    }
    results: dict[str, dict[str, float]] = {}
    for phase in ("own", "shared"):
        with connection.cursor() as cursor:
            if phase == "own":
                cursor.execute(f"DROP INDEX IF EXISTS {SHARED_INDEX}")
                cursor.execute(vector_index_create_sql(small.id))
            else:
                vector_index_drop(small.id)
                log(f"building an HNSW index shared by {large.slug} and {small.slug} ...")
                started = time.monotonic()
                cursor.execute("SET maintenance_work_mem = '2GB'")
                cursor.execute(
                    f"CREATE INDEX {SHARED_INDEX} ON ingestion_chunk USING hnsw (embedding vector_cosine_ops) "
                    f"WHERE collection_id IN ({large.id}, {small.id})"
                )
                cursor.execute("ANALYZE ingestion_chunk")
                log(f"  built in {time.monotonic() - started:.0f} s")
        for name, (settings, uses) in variants.items():
            if uses != phase:
                continue
            returned, recall, times = [], [], []
            for query, truth in zip(queries, exact):
                ids, ms = _top(query, small.id, k, settings)
                returned.append(len(ids))
                recall.append(len(set(ids) & set(truth)) / max(len(truth), 1))
                times.append(ms)
            timing = summarise(times)
            results[name] = {"results_mean": round(float(np.mean(returned)), 2), "recall": round(float(np.mean(recall)), 3),
                             "p50_ms": timing["p50_ms"], "p95_ms": timing["p95_ms"]}
    with connection.cursor() as cursor:  # as the app keeps it
        cursor.execute(f"DROP INDEX IF EXISTS {SHARED_INDEX}")
        cursor.execute(vector_index_create_sql(small.id))
    return results


def format_filter_table(results: dict[str, dict[str, float]], *, k: int) -> str:
    lines = [f"| index | results of {k} (mean) | recall@{k} vs exact | p50 ms | p95 ms |", "|---|---:|---:|---:|---:|"]
    for name, row in results.items():
        lines.append(f"| {name} | {row['results_mean']:.2f} | {row['recall']:.3f} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} |")
    return "\n".join(lines)


def chunk_count(collection: Collection) -> int:
    return Chunk.objects.filter(collection=collection).count()
