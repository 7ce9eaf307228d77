"""The exact answer cache: a repeated question is answered from the cache only while nothing that
shapes the answer changed, and never for someone who may not read the collection."""

from __future__ import annotations

import pytest

from accounts.models import Role
from accounts.services import membership_remove, membership_set
from chat.models import Answer
from chat.services import answer_create, conversation_create
from feedback.models import RankingSignal
from ingestion.models import Chunk
from ingestion.services import document_ingest, document_process
from tests.conftest import bearer_client
from tests.factories.files import upload
from tests.retrieval.helpers import collection_with_texts

pytestmark = pytest.mark.django_db

QUESTION = "How much is a hotel night in Zurich reimbursed?"
TEXTS = {"travel.txt": "Travel policy. Hotel nights in Zurich are reimbursed up to 240 francs per night. "
                       "Economy class is booked for flights under six hours."}


@pytest.fixture
def collection(settings):
    settings.LLM_BASE_URL = ""
    return collection_with_texts("policies", TEXTS)


def ask(owner, collection, **options):
    return answer_create(conversation=conversation_create(owner=owner, collection=collection), question=QUESTION,
                         **options)


def trace(answer):
    return Answer.objects.get(pk=answer["answer_id"]).trace


def test_a_repeated_question_is_answered_from_the_cache_as_an_answer_of_its_own(owner, collection):
    first = ask(owner, collection)
    again = ask(owner, collection)
    assert again["answer_id"] != first["answer_id"] and trace(again)["cache_hit"] == first["answer_id"]
    assert again["answer"] == first["answer"] and again["citations"] == first["citations"]
    assert "cache_hit" not in trace(first)
    assert "cache_hit" not in trace(ask(owner, collection, cache=False))  # Regenerate: a fresh answer


def test_an_upload_to_the_collection_changes_the_key(owner, collection):
    first = ask(owner, collection)
    outcome = document_ingest(collection=collection, uploaded_by=None,
                              file=upload("zurich.txt", b"Zurich hotel nights above 240 francs need approval."))
    document_process(document_id=outcome.document.id)
    again = ask(owner, collection)
    assert "cache_hit" not in trace(again) and again["answer_id"] != first["answer_id"]


def test_a_hidden_chunk_changes_the_key(owner, collection):
    first = ask(owner, collection)
    chunk = Chunk.objects.get(pk=first["citations"][0]["chunk_id"])
    RankingSignal.objects.create(document=chunk.document, chunk=chunk, action=RankingSignal.Action.HIDE, set_by=owner)
    again = ask(owner, collection)
    assert "cache_hit" not in trace(again) and again["abstained"]


def test_a_user_who_lost_access_gets_no_cached_answer(owner, member, collection):
    membership = membership_set(collection=collection, role=Role.VIEWER, user=member, actor=None)
    client = bearer_client(member)
    body = {"question": QUESTION, "collection": "policies"}
    assert client.post("/api/v1/chat", body, content_type="application/json").status_code == 200
    membership_remove(membership=membership, actor=None)
    refused = client.post("/api/v1/chat", body, content_type="application/json")
    assert refused.status_code in (403, 404) and "answer" not in refused.json()


def test_a_cache_that_fails_costs_only_the_hit(owner, collection, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache",
                                   "LOCATION": "no_such_cache_table"}}
    first, again = ask(owner, collection), ask(owner, collection)
    assert not first["abstained"] and again["answer"] == first["answer"]
    assert "cache_hit" not in trace(again)
