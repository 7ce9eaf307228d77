"""Cosine similarity search with pgvector's HNSW index, one collection's partial index at a time.

The collection id is written into the SQL as a literal so that the planner matches the
collection's partial index (`WHERE collection_id = N`, see ingestion.vector_index), and
`hnsw.ef_search` is raised to at least the number of candidates asked for, because pgvector 0.6
returns at most ef_search rows from an index scan.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.db import connection, transaction

MAX_EF_SEARCH = 1000


@dataclass(frozen=True)
class VectorHit:
    chunk_id: int
    score: float  # cosine similarity


def vector_literal(vector: np.ndarray) -> str:
    return "[" + ",".join(f"{float(x):.7g}" for x in vector) + "]"


class VectorRetriever:
    def __init__(self, *, ef_search_min: int = 100) -> None:
        self.ef_search_min = ef_search_min

    def run(self, query_vector: np.ndarray, *, collection_ids: list[int], top_k: int) -> list[VectorHit]:
        if top_k <= 0:
            return []
        literal = vector_literal(query_vector)
        ef_search = min(MAX_EF_SEARCH, max(self.ef_search_min, top_k))
        hits: list[VectorHit] = []
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL hnsw.ef_search = {int(ef_search)}")
            for collection_id in collection_ids:
                cursor.execute(
                    f"""
                    SELECT id, 1 - (embedding <=> %s::vector) AS similarity
                    FROM ingestion_chunk
                    WHERE collection_id = {int(collection_id)}
                    ORDER BY embedding <=> %s::vector
                    LIMIT {int(top_k)}
                    """,
                    [literal, literal],
                )
                hits.extend(VectorHit(chunk_id=cid, score=float(sim)) for cid, sim in cursor.fetchall())
        hits.sort(key=lambda h: (-h.score, h.chunk_id))
        return hits[:top_k]
