"""search() makes the same small number of queries whatever the candidates are."""

from __future__ import annotations

import pytest

from retrieval.search import search
from tests.retrieval.helpers import collection_with_texts

pytestmark = pytest.mark.django_db


def test_a_hybrid_search_makes_a_fixed_number_of_queries(django_assert_num_queries):
    collection = collection_with_texts("counted", {f"n{i}.txt": f"Note {i}: the hotel {i} serves lunch at {i}."
                                                   for i in range(6)})
    search("hotel lunch", collection_ids=[collection.id], rerank=False)  # models warm
    with django_assert_num_queries(QUERIES_PER_SEARCH):
        result = search("which hotel serves lunch", collection_ids=[collection.id], top_k=5, rerank=False)
    assert len(result.results) == 5


# Learned tuning (1), BM25 statistics and postings (2), the vector index in a savepoint with its
# ef_search (4), the candidates' signals (1), the chunks shown (1).
QUERIES_PER_SEARCH = 9
