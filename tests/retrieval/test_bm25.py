from __future__ import annotations

import pytest
from rank_bm25 import BM25Okapi

from ingestion.models import Chunk
from retrieval.bm25 import BM25Retriever
from retrieval.tokenize import default_tokenizer
from tests.retrieval.helpers import collection_with_texts

pytestmark = pytest.mark.django_db

TEXTS = {
    "a.txt": "The cat sat on the mat. Cats purr when happy.",
    "b.txt": "Dogs bark at the postman every morning.",
    "c.txt": "A cat and a dog can live together peacefully.",
    "d.txt": "Quarterly revenue grew by ten percent in the third quarter.",
    "e.txt": "The mat was red and the cat was grey.",
}


@pytest.mark.parametrize("query", ["cat on the mat", "dog barking postman", "revenue quarter growth", "cat cat dog"])
def test_scores_equal_rank_bm25_on_the_same_tokens(query):
    collection = collection_with_texts("animals", TEXTS)
    tokenizer = default_tokenizer()
    chunks = list(Chunk.objects.filter(collection=collection).order_by("id"))
    from ingestion.chunking import embedding_input

    corpus = [tokenizer(embedding_input(c.heading_path, c.text)) for c in chunks]
    retriever = BM25Retriever(k1=1.2, b=0.75, epsilon=0.25)
    reference = BM25Okapi(corpus, k1=1.2, b=0.75, epsilon=0.25).get_scores(tokenizer(query))
    ours = {hit.chunk_id: hit.score for hit in retriever.run(query, collection_ids=[collection.id], top_k=100)}
    for chunk, expected in zip(chunks, reference):
        assert ours.get(chunk.id, 0.0) == pytest.approx(expected, abs=1e-9)


def test_term_in_most_chunks_uses_the_epsilon_floor_like_rank_bm25():
    texts = {f"{i}.txt": f"common word plus unique{i} token" for i in range(5)}
    collection = collection_with_texts("common", texts)
    tokenizer = default_tokenizer()
    chunks = list(Chunk.objects.filter(collection=collection).order_by("id"))
    corpus = [tokenizer(c.text) for c in chunks]
    reference = BM25Okapi(corpus, k1=0.9, b=0.4).get_scores(tokenizer("common unique3"))
    ours = {h.chunk_id: h.score for h in BM25Retriever(k1=0.9, b=0.4).run("common unique3", collection_ids=[collection.id], top_k=10)}
    assert [ours.get(c.id, 0.0) for c in chunks] == pytest.approx(list(reference), abs=1e-9)


def test_it_never_returns_another_collections_chunks():
    mine = collection_with_texts("mine", {"m.txt": "budget spreadsheet for marketing"})
    collection_with_texts("theirs", {"t.txt": "salary spreadsheet budget secret"})
    hits = BM25Retriever().run("spreadsheet budget salary", collection_ids=[mine.id], top_k=10)
    assert hits and {Chunk.objects.get(pk=h.chunk_id).collection_id for h in hits} == {mine.id}


def test_deleting_a_document_updates_the_statistics():
    from ingestion.models import CollectionStats, Document
    from ingestion.services import document_delete

    collection = collection_with_texts("stats", TEXTS)
    before = CollectionStats.objects.get(collection=collection)
    document_delete(document=Document.objects.get(collection=collection, original_filename="d.txt"))
    after = CollectionStats.objects.get(collection=collection)
    assert after.chunk_count == before.chunk_count - 1 and after.total_length < before.total_length
    assert BM25Retriever().run("revenue", collection_ids=[collection.id], top_k=5) == []
