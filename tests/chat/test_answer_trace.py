"""An answer's trace has one type: written by the pipeline, read back typed, old rows included."""

from __future__ import annotations

import pytest

from chat.models import Answer
from chat.selectors import answer_trace
from chat.services import answer_create, answer_events, conversation_create
from chat.trace import AnswerTrace, PassageRecord, RetrievedChunk
from tests.retrieval.helpers import collection_with_texts

pytestmark = pytest.mark.django_db

TEXTS = {
    "travel.txt": "Travel policy. Hotel nights in Zurich are reimbursed up to 240 francs per night.",
    "it.txt": "IT handbook. Laptops are replaced every four years.",
}


@pytest.fixture
def conversation(owner, settings):  # type: ignore[no-untyped-def]
    settings.LLM_BACKEND = "extractive"
    return conversation_create(owner=owner, collection=collection_with_texts("trace", TEXTS))


def test_the_stored_trace_reads_back_as_the_same_answer_trace(conversation):
    result = answer_create(conversation=conversation, question="How much is a hotel night in Zurich?")
    answer = Answer.objects.get(pk=result["answer_id"])
    trace = answer_trace(answer)
    assert trace.to_json() == answer.trace
    assert trace.collection == "trace" and trace.backend == "extractive" and trace.model == "extractive-v2"
    assert trace.passages[0].filename == "travel.txt" and "240 francs" in trace.passages[0].text
    assert trace.retrieved[0].scores["vector"] is not None and trace.timings_ms.total is not None
    assert trace.raw_answer and trace.abstained_because is None and trace.fallback is None


def test_an_abstained_answer_says_why_in_its_trace(conversation):
    result = answer_create(conversation=conversation, question="What colour are the office chairs on Mars?")
    trace = answer_trace(Answer.objects.get(pk=result["answer_id"]))
    assert result["abstained"] and trace.abstained_because and trace.passages == []
    assert trace.abstained_because == trace.relevance


def test_old_rows_missing_keys_read_with_defaults():
    old = AnswerTrace.from_json({"passages": [{"n": 1, "chunk_id": 7, "document_id": 3, "text": "x"}],
                                 "retrieved": [{"chunk_id": 7, "document_id": 3}]})
    assert old.passages == [PassageRecord(n=1, chunk_id=7, document_id=3, text="x")]
    assert old.retrieved == [RetrievedChunk(chunk_id=7, document_id=3)]
    assert old.prompt.version == "" and old.tokens == {} and old.deleted_documents is None
    assert AnswerTrace.from_json({}).to_json()["passages"] == []
    assert AnswerTrace.from_json({"purged": True}).to_json() == {"purged": True}


def test_answering_makes_a_fixed_number_of_queries(conversation, django_assert_num_queries):
    answer_create(conversation=conversation, question="How often are laptops replaced?")  # models warm
    with django_assert_num_queries(QUERIES_PER_ANSWER):
        events = list(answer_events(conversation=conversation, question="How much is a hotel night in Zurich?"))
    assert events[-1][0] == "done" and not events[-1][1]["abstained"]


# The last answers (1), the answer cache's key (2: the collection's generation, the ranking
# version), search() (9, see tests/retrieval/test_search_queries.py), the passages (3: ordinals,
# neighbours, excerpts), the answer and the conversation's title in a savepoint (4).
QUERIES_PER_ANSWER = 19
