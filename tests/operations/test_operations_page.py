"""The Operations page: renders with data and with none, staff only, a bounded number of queries."""

from __future__ import annotations

import pytest
from django.test import Client

from chat.models import Answer
from feedback.models import Review, Vote
from ingestion.models import Document
from tests.feedback.factories import make_answer, make_chunks, make_document

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(staff):
    client = Client()
    client.force_login(staff)
    return client


def test_it_renders_with_no_data_and_is_staff_only(staff_client, owner):
    page = staff_client.get("/review/operations/")
    assert page.status_code == 200 and "None in the last 30 days." in page.content.decode()
    normal = Client()
    normal.force_login(owner)
    assert normal.get("/review/operations/").status_code == 403


def test_it_shows_latency_tokens_rates_failures_and_content_gaps(staff_client, owner, django_assert_max_num_queries):
    document = make_document("Otters hold hands while sleeping.", name="otters.txt")
    chunks = make_chunks(document, ["Otters hold hands while sleeping."])
    for i in range(6):
        answer = make_answer(owner, question=f"Why do otters hold hands {i}?", answer="They sleep [1].", chunks=chunks,
                             backend="openai")
        answer.trace["timings_ms"] = {"retrieval": 40.0 + i, "ttft": 100.0 + 10 * i, "total": 300.0,
                                      "search_breakdown": {"bm25": 2.0, "vector": 20.0}}
        answer.trace["tokens"] = {"total_tokens": 1000}
        answer.save()
    Vote.objects.create(answer=answer, user=owner, rating="up")
    gap = make_answer(owner, question="What is the canteen's phone number?", answer="The documents do not cover this.",
                      chunks=[])
    Answer.objects.filter(pk=gap.pk).update(abstained=True)
    reviewed = make_answer(owner, question="Who founded the otter club?", answer="Bob [1].", chunks=chunks)
    Review.objects.create(answer=reviewed, reviewer=owner, verdict="wrong", not_in_documents=True)
    Document.objects.filter(pk=document.pk).update(status="failed", error="The file is corrupt or truncated.")
    with django_assert_max_num_queries(15):
        page = staff_client.get("/review/operations/").content.decode()
    latency = page[page.index('id="latency"'):]
    assert "<td>ttft</td><td>125.0</td>" in latency  # the median of 100..150 over the last 24 h
    assert "6000 tokens in 30 days" in page
    assert "The file is corrupt or truncated." in page
    gaps = page[page.index('id="gaps"'):]
    assert "What is the canteen&#x27;s phone number?" in gaps and "abstained" in gaps
    assert "Who founded the otter club?" in gaps and "not in the documents (review)" in gaps
    assert "Why do otters hold hands 1?" not in gaps
