"""The `sql` BM25 engine: Okapi BM25 over the postings table that ingestion keeps
(ingestion.models.ChunkTerm) on a database without pg_textsearch (ingestion.keyword_index).

Scores exactly as rank-bm25's `BM25Okapi` does on the same tokens: idf = ln((N - df + .5) /
(df + .5)), a negative idf replaced by `epsilon` x the collection's average idf, and each
query token counted as often as it occurs in the query. Corpus statistics are per collection
(CollectionStats, and each term's document frequency in CollectionTerm, kept in the same
transaction as the chunks), so nothing is rebuilt or counted per query and every process sees
the same index.

Queries that mix rare terms with very common ones (whose posting lists are most of the work) are
answered by exact MaxScore pruning (`BM25Retriever._run_pruned`): the common terms are only read
for the chunks the rare terms rank first, and the result is returned only when no other chunk can
reach it; otherwise the single full query runs. Ranking is by score rounded to 1e-9, then chunk
id, so that float summation order (which differs between plans) never reorders equal scores.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.backends.utils import CursorWrapper

from ingestion.tokenize import Tokenizer, default_tokenizer
from retrieval.types import Bm25Hit

# Scores are float8 sums; the pruning check keeps this relative margin so that rounding can
# never let a chunk outside the candidates tie with or pass the k-th candidate.
ROUNDING_MARGIN = 1e-8


@dataclass(frozen=True)
class _Scoring:
    """The per-query constants of one collection's scoring SQL."""

    collection_id: int
    weights: dict[str, float]
    base: float
    per_length: float

    def params(self, terms: list[str], *, limit: int) -> dict[str, float | int | list[str] | list[float]]:
        return {
            "base": self.base, "per_length": self.per_length, "collection": self.collection_id, "limit": limit,
            "terms": terms, "weights": [self.weights[t] for t in terms],
        }


def _score_all(cursor: CursorWrapper, scoring: _Scoring, top_k: int) -> list[Bm25Hit]:
    """The full query: every posting of every query term, aggregated per chunk."""
    return [Bm25Hit(chunk_id=cid, score=float(score))
            for cid, score in _score_terms(cursor, scoring, list(scoring.weights), limit=top_k)]


def _score_terms(cursor: CursorWrapper, scoring: _Scoring, terms: list[str], *, limit: int) -> list[tuple[int, float]]:
    """(chunk id, score over `terms` only) of the `limit` best chunks, best first (score, then id)."""
    cursor.execute(
        """
        SELECT p.chunk_id,
               SUM(w.weight * p.tf / (p.tf + %(base)s::float8 + %(per_length)s::float8 * p.doc_length)) AS score
        FROM ingestion_chunkterm p
        JOIN unnest(%(terms)s::text[], %(weights)s::float8[]) AS w(term, weight) ON w.term = p.term
        WHERE p.collection_id = %(collection)s
        GROUP BY p.chunk_id
        ORDER BY round(SUM(w.weight * p.tf / (p.tf + %(base)s::float8 + %(per_length)s::float8 * p.doc_length)) * 1e9) DESC, p.chunk_id
        LIMIT %(limit)s
        """,
        scoring.params(terms, limit=limit),
    )
    return cursor.fetchall()


class SqlBM25:
    def __init__(
        self,
        *,
        k1: float | None = None,
        b: float | None = None,
        epsilon: float = 0.25,
        tokenizer: Tokenizer | None = None,
        candidate_limit: int = 1000,
        prune_bound_ratio: float = 0.25,
        prune_common_share: float = 0.05,
        prune_min_postings: int = 20_000,
    ) -> None:
        self.k1 = k1 if k1 is not None else settings.BM25_K1
        self.b = b if b is not None else settings.BM25_B
        self.epsilon = epsilon
        self.tokenizer = tokenizer if tokenizer is not None else default_tokenizer()
        self._average_idf: dict[tuple[int, int], float] = {}
        self._lock = threading.Lock()
        # MaxScore pruning (see `_run_pruned`): how many candidates step 1 keeps, how large the
        # common terms' bound may be next to the rare terms' weight, and how many common-term
        # postings make pruning worth its two queries (below that, one full query is cheaper).
        self.candidate_limit = candidate_limit
        self.prune_bound_ratio = prune_bound_ratio
        self.prune_common_share = prune_common_share
        self.prune_min_postings = prune_min_postings
        self._local = threading.local()

    def run(self, query: str, *, collection_ids: list[int], top_k: int) -> list[Bm25Hit]:
        """The `top_k` best chunks of the given collections, best first (no database writes)."""
        query_terms = Counter(self.tokenizer(query))
        self._local.paths = []
        if not query_terms or top_k <= 0:
            return []
        hits: list[Bm25Hit] = []
        for collection_id in collection_ids:
            hits.extend(self._run_one(query_terms, collection_id, top_k))
        hits.sort(key=lambda h: (-round(h.score * 1e9), h.chunk_id))
        return hits[:top_k]

    def _run_one(self, query_terms: Counter[str], collection_id: int, top_k: int) -> list[Bm25Hit]:
        with connection.cursor() as cursor:
            # The collection's statistics and the query terms' document frequencies, read in one
            # statement (one snapshot): both are kept by ingestion in the transaction that writes
            # the postings (CollectionStats, CollectionTerm), so nothing is counted per query.
            cursor.execute(
                """
                SELECT s.chunk_count, s.total_length, s.generation, t.term, t.df
                FROM ingestion_collectionstats s
                LEFT JOIN ingestion_collectionterm t
                  ON t.collection_id = s.collection_id AND t.term = ANY(%s::text[]) AND t.df > 0
                WHERE s.collection_id = %s
                """,
                [list(query_terms), collection_id],
            )
            rows = cursor.fetchall()
            if not rows or rows[0][0] == 0:
                return []
            n, total_length, generation = rows[0][:3]
            df = {term: int(count) for *_, term, count in rows if term is not None}
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
            weights = {term: query_terms[term] * idf[term] * (self.k1 + 1) for term in df}
            avgdl = total_length / n
            scoring = _Scoring(
                collection_id=collection_id, weights=weights,
                base=self.k1 * (1 - self.b), per_length=self.k1 * self.b / avgdl,
            )
            essential, non_essential = self._split_terms(weights, df, n)
            if non_essential:
                hits = self._run_pruned(cursor, scoring, essential, non_essential, top_k)
                if hits is not None:
                    self._trace().append("pruned")
                    return hits
                self._trace().append("fallback")
            else:
                self._trace().append("full")
            return _score_all(cursor, scoring, top_k)

    @property
    def last_paths(self) -> list[str]:
        """How the last `run` in this thread scored each collection: "full" (one query over every
        posting), "pruned" (MaxScore, exact) or "fallback" (pruning could not prove the result)."""
        return list(self._trace())

    def _trace(self) -> list[str]:
        if not hasattr(self._local, "paths"):
            self._local.paths = []
        return self._local.paths

    def _split_terms(self, weights: dict[str, float], df: dict[str, int], n: int) -> tuple[list[str], list[str]]:
        """Split the query terms into essential (rarer) and non-essential (very common) ones.

        Only terms in at least `prune_common_share` of the chunks (whose long posting lists are
        what makes a query slow) can be non-essential; the most common go first, one at a time,
        while their summed upper bound U (a term adds at most its weight, see `_run_pruned`)
        stays at most `prune_bound_ratio` x the largest essential weight, so that a chunk
        matching a rare term well clears U. The split affects speed only, never the result."""
        common = sorted((t for t, w in weights.items() if w > 0 and df[t] >= self.prune_common_share * n), key=lambda t: (-df[t], t))
        bound = 0.0
        non_essential: list[str] = []
        for term in common:
            rest = [w for t, w in weights.items() if t != term and t not in non_essential]
            if not rest or bound + weights[term] > self.prune_bound_ratio * max(rest):
                break
            bound += weights[term]
            non_essential.append(term)
        if sum(df[t] for t in non_essential) < self.prune_min_postings:
            return list(weights), []
        return [t for t in weights if t not in non_essential], non_essential

    def _run_pruned(
        self, cursor: CursorWrapper, scoring: _Scoring, essential: list[str], non_essential: list[str], top_k: int
    ) -> list[Bm25Hit] | None:
        """The exact top `top_k` by MaxScore pruning, or None when it cannot be proven exact.

        A term t scores weight_t * tf / (tf + K) with K = k1 * (1 - b + b * dl / avgdl) >= 0, so
        it adds at most weight_t to any chunk. Let U be the sum of the non-essential terms'
        (positive) weights. Step 1 ranks chunks by their essential terms only and keeps the best
        `candidate_limit` as the candidate set C; a chunk outside C has an essential score of at
        most E (the last kept essential score when the limit cut the list, else 0: the chunk has
        no essential posting), hence a full score of at most E + U. Step 2 computes the full score
        of every chunk in C, with the same SQL expression as the full query, restricted to C (the
        common terms' postings are only read, not aggregated). If C holds at least `top_k` chunks and the
        `top_k`-th best full score is strictly above E + U (plus a rounding margin), no chunk
        outside C can reach it or tie with it, so C's top `top_k` (same order: score, then chunk
        id) is exactly the full query's answer. Otherwise return None and the caller runs the
        full query."""
        limit = max(self.candidate_limit, top_k)
        partial = _score_terms(cursor, scoring, essential, limit=limit)
        if len(partial) < top_k:
            return None
        outside_essential = max(float(partial[-1][1]), 0.0) if len(partial) == limit else 0.0
        outside_bound = outside_essential + sum(scoring.weights[t] for t in non_essential)
        candidates = [chunk_id for chunk_id, _ in partial]
        # `IN (SELECT unnest(...))` lets Postgres hash C and probe it with the postings read from
        # the covering (collection, term) index; `chunk_id = ANY(C)` was either a linear search of
        # C per posting or a heap fetch of every candidate's postings (each 15x slower at 100k).
        cursor.execute(
            """
            SELECT p.chunk_id,
                   SUM(w.weight * p.tf / (p.tf + %(base)s::float8 + %(per_length)s::float8 * p.doc_length)) AS score
            FROM ingestion_chunkterm p
            JOIN unnest(%(terms)s::text[], %(weights)s::float8[]) AS w(term, weight) ON w.term = p.term
            WHERE p.collection_id = %(collection)s AND p.term = ANY(%(terms)s::text[])
              AND p.chunk_id IN (SELECT unnest(%(candidates)s::bigint[]))
            GROUP BY p.chunk_id
            ORDER BY round(SUM(w.weight * p.tf / (p.tf + %(base)s::float8 + %(per_length)s::float8 * p.doc_length)) * 1e9) DESC, p.chunk_id
            LIMIT %(limit)s
            """,
            {**scoring.params(list(scoring.weights), limit=top_k), "candidates": candidates},
        )
        rows = cursor.fetchall()
        if len(rows) < top_k:
            return None
        kth = float(rows[top_k - 1][1])
        if not kth > outside_bound + ROUNDING_MARGIN * max(1.0, abs(outside_bound)):
            return None
        return [Bm25Hit(chunk_id=cid, score=float(score)) for cid, score in rows]

    def _collection_average_idf(self, cursor: CursorWrapper, collection_id: int, n: int, generation: int) -> float:
        """Mean idf over the collection's whole vocabulary (one row per term), as rank-bm25 uses
        for its floor.

        Needed only when a query term occurs in more than half of the chunks; cached until the
        collection changes (its generation moves)."""
        key = (collection_id, generation)
        with self._lock:
            if key in self._average_idf:
                return self._average_idf[key]
        cursor.execute(
            "SELECT avg(ln((%(n)s::float8 - df + 0.5) / (df + 0.5))) FROM ingestion_collectionterm WHERE collection_id = %(c)s AND df > 0",
            {"n": n, "c": collection_id},
        )
        value = float(cursor.fetchone()[0] or 0.0)
        with self._lock:
            self._average_idf = {k: v for k, v in self._average_idf.items() if k[0] != collection_id}
            self._average_idf[key] = value
        return value
