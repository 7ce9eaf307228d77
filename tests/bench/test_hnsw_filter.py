"""The HNSW filter benchmark compares a small collection's own index with a shared one."""

from __future__ import annotations

import numpy as np
import pytest

from bench.hnsw_filter import SHARED_INDEX, format_filter_table, hnsw_filter_measure, small_collection_copy
from ingestion.chunking import ChunkDraft
from ingestion.index_writer import documents_store_prepared_bulk
from ingestion.models import Chunk
from ingestion.services import collection_create
from ingestion.vector_index import vector_index_exists

pytestmark = pytest.mark.django_db


def test_it_measures_every_variant_and_leaves_the_indexes_as_the_app_keeps_them():
    from django.db import connection

    rng = np.random.default_rng(3)
    large = collection_create(slug="hnsw-large", name="large", kind="evaluation")

    def chunk(i: int) -> tuple[ChunkDraft, np.ndarray]:
        vector = rng.normal(size=384).astype(np.float32)
        return ChunkDraft(text=f"chunk {i}", char_start=0, char_end=7, page_start=None, page_end=None,
                          heading_path=[], token_count=3), vector / np.linalg.norm(vector)

    documents_store_prepared_bulk(collection=large, documents=[(f"d{d}.txt", f"document {d}", [chunk(d * 20 + i) for i in range(20)])
                                                               for d in range(15)])
    small = small_collection_copy(large, count=12, seed=1)
    assert Chunk.objects.filter(collection=small).count() == 12
    queries = [rng.normal(size=384).astype(np.float32) for _ in range(5)]
    results = hnsw_filter_measure(large, small, queries, k=5, log=lambda line: None)
    assert set(results) == {"own partial index", "shared index, planner's choice",
                            "shared index, HNSW scan (pgvector 0.6 behaviour)",
                            "shared index, HNSW + iterative scan (relaxed)", "shared index, HNSW + iterative scan (strict)"}
    assert results["own partial index"]["results_mean"] == 5
    assert all(0.0 <= row["recall"] <= 1.0 for row in results.values())
    assert "| own partial index | 5.00 |" in format_filter_table(results, k=5)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", [SHARED_INDEX])
        assert cursor.fetchone() is None
    assert vector_index_exists(small.id)
