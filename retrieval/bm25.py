"""Okapi BM25 over the postings table that ingestion keeps (ingestion.models.ChunkTerm).

Scores exactly as rank-bm25's `BM25Okapi` does on the same tokens: idf = ln((N - df + .5) /
(df + .5)), a negative idf replaced by `epsilon` x the collection's average idf, and each
query token counted as often as it occurs in the query. Corpus statistics are per collection
(CollectionStats, kept in the same transaction as the chunks), so nothing is rebuilt per query
and every process sees the same index.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from retrieval.tokenize import Tokenizer, default_tokenizer


MAX_CACHED_TERMS = 200_000


@dataclass(frozen=True)
class Bm25Hit:
    chunk_id: int
    score: float


class BM25Retriever:
    def __init__(
        self,
        *,
        k1: float | None = None,
        b: float | None = None,
        epsilon: float = 0.25,
        tokenizer: Tokenizer | None = None,
    ) -> None:
        self.k1 = k1 if k1 is not None else settings.BM25_K1
        self.b = b if b is not None else settings.BM25_B
        self.epsilon = epsilon
        self.tokenizer = tokenizer if tokenizer is not None else default_tokenizer()
        self._average_idf: dict[tuple[int, int], float] = {}
        # Document frequencies of query terms seen before, per (collection, generation): common
        # terms recur across queries, and their postings are the longest to count.
        self._df: dict[tuple[int, int], dict[str, int]] = {}
        self._lock = threading.Lock()

    def run(self, query: str, *, collection_ids: list[int], top_k: int) -> list[Bm25Hit]:
        """The `top_k` best chunks of the given collections, best first (no database writes)."""
        query_terms = Counter(self.tokenizer(query))
        if not query_terms or top_k <= 0:
            return []
        hits: list[Bm25Hit] = []
        for collection_id in collection_ids:
            hits.extend(self._run_one(query_terms, collection_id, top_k))
        hits.sort(key=lambda h: (-h.score, h.chunk_id))
        return hits[:top_k]

    def _run_one(self, query_terms: Counter[str], collection_id: int, top_k: int) -> list[Bm25Hit]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT chunk_count, total_length, generation FROM ingestion_collectionstats WHERE collection_id = %s",
                [collection_id],
            )
            row = cursor.fetchone()
            if row is None or row[0] == 0:
                return []
            n, total_length, generation = row
            df = self._document_frequencies(cursor, collection_id, generation, list(query_terms))
            if not df:
                return []
            idf = {term: math.log((n - d + 0.5) / (d + 0.5)) for term, d in df.items()}
            if any(value < 0 for value in idf.values()):
                floor = self.epsilon * self._collection_average_idf(cursor, collection_id, n, generation)
                idf = {term: (value if value >= 0 else floor) for term, value in idf.items()}
            # Okapi BM25 with the per-query constants folded in, so each posting costs a handful of
            # float8 operations: weight = qtf * idf * (k1 + 1), and k1 * (1 - b + b * dl / avgdl)
            # = k1 * (1 - b) + (k1 * b / avgdl) * dl. (Django binds Python floats as numeric
            # literals; numeric arithmetic on every posting made scoring three times slower.)
            weights = [(term, query_terms[term] * idf[term] * (self.k1 + 1)) for term in df]
            avgdl = total_length / n
            cursor.execute(
                """
                SELECT p.chunk_id,
                       SUM(w.weight * p.tf / (p.tf + %(base)s::float8 + %(per_length)s::float8 * p.doc_length)) AS score
                FROM ingestion_chunkterm p
                JOIN unnest(%(terms)s::text[], %(weights)s::float8[]) AS w(term, weight) ON w.term = p.term
                WHERE p.collection_id = %(collection)s
                GROUP BY p.chunk_id
                ORDER BY score DESC, p.chunk_id
                LIMIT %(limit)s
                """,
                {
                    "base": self.k1 * (1 - self.b), "per_length": self.k1 * self.b / avgdl,
                    "collection": collection_id, "limit": top_k,
                    "terms": [t for t, _ in weights], "weights": [w for _, w in weights],
                },
            )
            return [Bm25Hit(chunk_id=cid, score=float(score)) for cid, score in cursor.fetchall()]

    def _document_frequencies(self, cursor, collection_id: int, generation: int, terms: list[str]) -> dict[str, int]:  # type: ignore[no-untyped-def]
        """Document frequency of each term present in the collection (cached per generation)."""
        key = (collection_id, generation)
        with self._lock:
            known = dict(self._df.get(key, {}))
        missing = [term for term in terms if term not in known]
        if missing:
            cursor.execute(
                "SELECT term, count(*) FROM ingestion_chunkterm WHERE collection_id = %s AND term = ANY(%s) GROUP BY term",
                [collection_id, missing],
            )
            found = dict(cursor.fetchall())
            fresh = {term: int(found.get(term, 0)) for term in missing}
            known.update(fresh)
            with self._lock:
                if key not in self._df:
                    self._df = {k: v for k, v in self._df.items() if k[0] != collection_id}
                cache = self._df.setdefault(key, {})
                if len(cache) > MAX_CACHED_TERMS:
                    cache.clear()
                cache.update(fresh)
        return {term: known[term] for term in terms if known[term] > 0}

    def _collection_average_idf(self, cursor, collection_id: int, n: int, generation: int) -> float:  # type: ignore[no-untyped-def]
        """Mean idf over the collection's whole vocabulary, as rank-bm25 uses for its floor.

        Needed only when a query term occurs in more than half of the chunks; cached until the
        collection changes (its generation moves)."""
        key = (collection_id, generation)
        with self._lock:
            if key in self._average_idf:
                return self._average_idf[key]
        cursor.execute(
            """
            SELECT avg(ln((%(n)s - df + 0.5) / (df + 0.5))) FROM (
              SELECT count(*) AS df FROM ingestion_chunkterm WHERE collection_id = %(c)s GROUP BY term
            ) AS vocabulary
            """,
            {"n": n, "c": collection_id},
        )
        value = float(cursor.fetchone()[0] or 0.0)
        with self._lock:
            self._average_idf = {k: v for k, v in self._average_idf.items() if k[0] != collection_id}
            self._average_idf[key] = value
        return value
