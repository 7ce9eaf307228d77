"""What is learned from reviews (fusion weights, query adapter) is honoured by search() and falls
back to the defaults cleanly when absent, inactive, switched off or made for another model."""

from __future__ import annotations

import numpy as np
import pytest

from chat.models import Answer, Conversation
from feedback.learning import feedback_learn, labelled_queries
from feedback.models import LearnedRanking
from feedback.services import ReviewSource, review_submit
from ingestion.embedding import configured_model
from ingestion.models import Chunk, Collection, Document
from ingestion.parsing import Element
from ingestion.services import collection_create, documents_index_elements
from retrieval.search import search

pytestmark = pytest.mark.django_db

TEXTS = {
    "zurich.txt": "Hotel nights in Zurich are reimbursed up to 240 francs.",
    "laptops.txt": "Laptops are replaced every four years by the IT desk.",
    "lunch.txt": "Lunch is served in the cafeteria from noon until two.",
    "trains.txt": "Employees travel by train in second class for short trips.",
}


@pytest.fixture
def corpus() -> Collection:
    collection = collection_create(slug="learned", name="learned")
    documents_index_elements(collection=collection, items=[(name, [Element(kind="NarrativeText", text=text)])
                                                           for name, text in TEXTS.items()])
    return collection


def hybrid(collection: Collection, query: str = "where do we eat lunch on a trip"):  # type: ignore[no-untyped-def]
    return search(query, collection_ids=[collection.id], top_k=10, mode="hybrid", rerank=False)


def adapter_towards(chunk: Chunk, query: str) -> np.ndarray:
    """A rank-one adapter that maps this (unit) query embedding onto the chunk's own embedding."""
    from ingestion.embedding import get_embedder

    return np.outer(np.asarray(chunk.embedding, dtype=np.float32), get_embedder().embed_query(query)).astype(np.float32)


def store_adapter(matrix: np.ndarray, *, active: bool = True, model: str | None = None) -> LearnedRanking:
    return LearnedRanking.objects.create(kind="adapter", active=active, params={"dimensions": matrix.shape[0]},
                                         matrix=matrix.tobytes(), examples=30,
                                         embedding_model=model if model is not None else configured_model()[0])


def test_without_anything_learned_search_uses_the_defaults(corpus):
    result = hybrid(corpus)
    assert result.tuning is not None and result.tuning.notes == [] and result.tuning.fusion_weights == {}
    for hit in result.results:
        expected = sum(1.0 / (60 + rank) for stage, rank in hit.ranks.items() if stage in ("bm25", "vector") and rank)
        assert hit.scores.fused == pytest.approx(expected)


def test_learned_fusion_weights_are_honoured(corpus, settings):
    LearnedRanking.objects.create(kind="fusion", active=True, params={"bm25": 1.0, "vector": 4.0}, examples=40)
    result = hybrid(corpus)
    assert "fusion weights bm25 1.00 · vector 4.00" in result.tuning.notes[0]
    for hit in result.results:
        expected = (1.0 / (60 + hit.ranks["bm25"]) if hit.ranks.get("bm25") else 0.0) + \
                   (4.0 / (60 + hit.ranks["vector"]) if hit.ranks.get("vector") else 0.0)
        assert hit.scores.fused == pytest.approx(expected)
    settings.FEEDBACK_LEARNED_FUSION = False
    assert hybrid(corpus).tuning.fusion_weights == {}


def test_an_inactive_row_leaves_the_defaults_in_force(corpus):
    LearnedRanking.objects.create(kind="fusion", active=True, params={"bm25": 1.0, "vector": 4.0}, examples=40)
    LearnedRanking.objects.create(kind="fusion", active=False, params={"bm25": 1.0, "vector": 0.25}, examples=41)
    assert hybrid(corpus).tuning.fusion_weights == {}


def test_the_query_adapter_is_applied_to_the_query_embedding(corpus, settings):
    target = Chunk.objects.get(document__original_filename="laptops.txt")
    plain = search("hotel nights in Zurich", collection_ids=[corpus.id], mode="vector", rerank=False).results
    assert plain[0].filename == "zurich.txt"
    store_adapter(adapter_towards(target, "hotel nights in Zurich"))
    adapted = search("hotel nights in Zurich", collection_ids=[corpus.id], mode="vector", rerank=False).results
    assert adapted[0].filename == "laptops.txt" and adapted[0].scores.vector == pytest.approx(1.0, abs=0.01)
    settings.FEEDBACK_LEARNED_ADAPTER = False
    off = search("hotel nights in Zurich", collection_ids=[corpus.id], mode="vector", rerank=False).results
    assert off[0].filename == "zurich.txt"


def test_an_adapter_made_for_another_embedding_model_is_ignored(corpus):
    store_adapter(adapter_towards(Chunk.objects.get(document__original_filename="laptops.txt"), "hotel nights in Zurich"),
                  model="other-model")
    result = search("hotel nights in Zurich", collection_ids=[corpus.id], mode="vector", rerank=False)
    assert result.results[0].filename == "zurich.txt" and result.tuning.query_adapter is None


def test_learning_from_too_few_reviews_keeps_the_defaults(corpus):
    rows = feedback_learn(log=lambda line: None)
    assert {row.kind for row in rows} == {"fusion", "adapter"}
    assert not any(row.active for row in rows) and "fewer than" in rows[0].metrics["why"]
    assert hybrid(corpus).tuning.notes == []


QUESTIONS = {"zurich.txt": "How much is a hotel night in Zurich?", "laptops.txt": "When are laptops replaced?",
             "lunch.txt": "When is lunch served?", "trains.txt": "Which class do we travel by train?"}


def reviewed(collection: Collection, owner, staff, names: list[str]) -> None:  # type: ignore[no-untyped-def]
    """One reviewed answer per document named, its question labelled with that document."""
    conversation = Conversation.objects.create(owner=owner, collection=collection)
    for name in names:
        document = Document.objects.get(collection=collection, original_filename=name)
        answer = Answer.objects.create(conversation=conversation, question=QUESTIONS[name],
                                       standalone_query=QUESTIONS[name], answer="a", backend="extractive")
        review_submit(answer=answer, reviewer=staff, verdict="correct",
                      sources=[ReviewSource(document_id=document.id, quote=document.parsed_text[:20])])


@pytest.mark.parametrize("examples", [1, 3])
def test_learning_from_fewer_than_five_labelled_queries_does_not_crash(corpus, owner, staff, settings, examples):
    settings.FEEDBACK_LEARN_MIN_EXAMPLES = 1
    reviewed(corpus, owner, staff, list(QUESTIONS)[:examples])
    rows = feedback_learn(log=lambda line: None)
    assert {row.kind for row in rows} == {"fusion", "adapter"} and all(row.examples == examples for row in rows)
    if examples == 1:
        assert not any(row.active for row in rows) and all("cross-validate" in row.metrics["why"] for row in rows)
    else:
        assert all(len(row.metrics["cv_gain_per_fold"]) == examples for row in rows)


def test_labelled_queries_find_their_positive_chunks_in_one_query(corpus, owner, staff, django_assert_num_queries):
    reviewed(corpus, owner, staff, list(QUESTIONS))
    with django_assert_num_queries(3):  # reviews with their answers, their labels, the labelled chunks
        examples = labelled_queries()
    assert len(examples) == 4 and all(len(e.positives) == 1 and len(e.relevant) == 1 for e in examples)
