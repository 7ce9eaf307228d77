"""BM25 keyword search, by the engine the database keeps (ingestion.keyword_index).

`BM25Retriever` runs each query on the database's engine, `pg_textsearch` (retrieval.bm25_textsearch)
or `sql` (retrieval.bm25_sql), unless it was made for one of them. Benchmarks that compare the two
on one database name the engine for a block with `engine_override`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ingestion.keyword_index import PG_TEXTSEARCH, SQL, engine_current
from ingestion.tokenize import Tokenizer, default_tokenizer
from retrieval.bm25_sql import SqlBM25
from retrieval.bm25_textsearch import TextsearchBM25
from retrieval.types import Bm25Hit

__all__ = ["BM25Retriever", "Bm25Hit", "engine_override"]

_override = threading.local()


@contextmanager
def engine_override(engine: str) -> Iterator[None]:
    """Within the block, in this thread, retrievers without an engine of their own use `engine`."""
    if engine not in (PG_TEXTSEARCH, SQL):
        raise ValueError(f"unknown BM25 engine {engine!r}")
    previous = getattr(_override, "engine", None)
    _override.engine = engine
    try:
        yield
    finally:
        _override.engine = previous


class BM25Retriever:
    def __init__(self, *, engine: str | None = None, tokenizer: Tokenizer | None = None, **sql_options: Any) -> None:
        tokenizer = tokenizer if tokenizer is not None else default_tokenizer()
        self.engine = engine
        self.sql = SqlBM25(tokenizer=tokenizer, **sql_options)
        self.textsearch = TextsearchBM25(tokenizer=tokenizer)
        self._local = threading.local()

    def engine_for_query(self) -> str:
        return self.engine or getattr(_override, "engine", None) or engine_current()

    def run(self, query: str, *, collection_ids: list[int], top_k: int) -> list[Bm25Hit]:
        """The `top_k` best chunks of the given collections, best first (no database writes)."""
        engine = self.engine_for_query()
        self._local.engine = engine
        if engine == PG_TEXTSEARCH:
            return self.textsearch.run(query, collection_ids=collection_ids, top_k=top_k)
        return self.sql.run(query, collection_ids=collection_ids, top_k=top_k)

    @property
    def last_engine(self) -> str | None:
        return getattr(self._local, "engine", None)

    @property
    def last_paths(self) -> list[str]:
        """How the last `run` in this thread scored: "index" (pg_textsearch), or per collection
        "full", "pruned" or "fallback" (the sql engine, retrieval.bm25_sql)."""
        return self.textsearch.last_paths if self.last_engine == PG_TEXTSEARCH else self.sql.last_paths
