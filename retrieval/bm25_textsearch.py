"""The `pg_textsearch` BM25 engine: top-k from the collection's bm25 index (ingestion.keyword_index).

The query is analysed by the project's tokenizer, as the chunks were, and its tokens are given to
the index with the `simple` configuration that reads them as they are. Each collection's index
holds only its chunks, so its scores come from its own statistics; the index scan (Block-Max
WAND) reads only the postings that can still reach the top k.

How the scores differ from rank-bm25's BM25Okapi (and the `sql` engine): idf is
ln(1 + (N - df + 0.5) / (df + 0.5)), always positive, where rank-bm25 uses
ln((N - df + 0.5) / (df + 0.5)) and replaces a negative idf (a term in more than half of the
chunks) by epsilon x the mean idf; term frequency and length normalisation are Okapi's with the
index's k1 and b (BM25_K1, BM25_B when the index was built). Scores are float4 in the index; rows
deleted but not yet vacuumed still count in N and df until VACUUM, never in the results.
"""

from __future__ import annotations

from django.db import connection

from ingestion.keyword_index import keyword_index_name
from ingestion.tokenize import Tokenizer, default_tokenizer
from retrieval.types import Bm25Hit


class TextsearchBM25:
    def __init__(self, *, tokenizer: Tokenizer | None = None) -> None:
        self.tokenizer = tokenizer if tokenizer is not None else default_tokenizer()

    def run(self, query: str, *, collection_ids: list[int], top_k: int) -> list[Bm25Hit]:
        """The `top_k` best chunks of the given collections, best first (each collection's scores
        from its own index, merged as the sql engine merges them)."""
        tokens = self.tokenizer(query)
        if not tokens or top_k <= 0:
            return []
        text = " ".join(tokens)
        hits: list[Bm25Hit] = []
        with connection.cursor() as cursor:
            for collection_id in collection_ids:
                cid = int(collection_id)
                # The collection id is a literal so that the planner matches the partial index;
                # `<@>` is the negated score (indexes scan ascending).
                cursor.execute(
                    f"""
                    SELECT id, -(bm25_text <@> to_bm25query(%(q)s, %(index)s)) AS score
                    FROM ingestion_chunk
                    WHERE collection_id = {cid}
                    ORDER BY bm25_text <@> to_bm25query(%(q)s, %(index)s)
                    LIMIT {int(top_k)}
                    """,
                    {"q": text, "index": keyword_index_name(cid)},
                )
                hits.extend(Bm25Hit(chunk_id=chunk_id, score=float(score)) for chunk_id, score in cursor.fetchall()
                            if score > 0)
        hits.sort(key=lambda h: (-h.score, h.chunk_id))
        return hits[:top_k]

    @property
    def last_paths(self) -> list[str]:
        return ["index"]
