"""search() takes tuning and signals only from the registered RankingFeedback: feedback's own
provider after start-up, the neutral default without it."""

from __future__ import annotations

import pytest

import retrieval.feedback_port as port
from feedback.models import LearnedRanking
from feedback.ranking import LearnedFeedback
from feedback.signals import ranking_signal_set
from ingestion.models import Collection, Document
from ingestion.parsing import Element
from ingestion.services import collection_create, documents_index_elements
from retrieval.search import search

pytestmark = pytest.mark.django_db

TEXTS = {
    "a.txt": "Hotel policy. Hotel nights are reimbursed; hotel receipts are needed; book the hotel early.",
    "b.txt": "Hotel nights are reimbursed up to 240 francs when the hotel is booked.",
    "c.txt": "Travel rules. Trains are second class; a hotel is allowed for long trips.",
}


@pytest.fixture
def corpus(staff) -> Collection:  # type: ignore[no-untyped-def]
    collection = collection_create(slug="port", name="port")
    documents_index_elements(collection=collection, items=[(name, [Element(kind="NarrativeText", text=text)])
                                                           for name, text in TEXTS.items()])
    return collection


def ranked(collection: Collection) -> list[str]:
    result = search("hotel nights reimbursed", collection_ids=[collection.id], top_k=10, rerank=False)
    return [hit.filename for hit in result.results]


def test_feedback_registers_its_provider_when_the_app_is_ready():
    assert isinstance(port.ranking_feedback(), LearnedFeedback)


def test_the_default_provider_gives_no_tuning_and_no_signals():
    neutral = port.NoFeedback()
    tuning = neutral.tuning()
    assert tuning.fusion_weights == {} and tuning.query_adapter is None and tuning.notes == []
    assert neutral.signals([1, 2, 3]) == {}


def test_without_feedbacks_provider_search_ignores_signals_and_learned_weights(corpus, staff, monkeypatch):
    before = ranked(corpus)
    for name in before[1:]:
        ranking_signal_set(document=Document.objects.get(original_filename=name), action="hide", set_by=staff)
    LearnedRanking.objects.create(kind="fusion", active=True, params={"bm25": 1.0, "vector": 4.0}, examples=30)
    assert ranked(corpus) == before[:1]  # feedback's provider applies them
    monkeypatch.setattr(port, "_provider", port.NoFeedback())
    result = search("hotel nights reimbursed", collection_ids=[corpus.id], top_k=10, rerank=False)
    assert [hit.filename for hit in result.results] == before and result.hidden == 0
    assert result.tuning is not None and result.tuning.fusion_weights == {}
    assert all(hit.scores.signal is None and hit.signal_note == "" for hit in result.results)
