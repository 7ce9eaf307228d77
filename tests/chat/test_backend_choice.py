"""Choosing the LLM backend is for staff: anyone else who names one, in the chat API or the
OpenAI-compatible endpoint, gets 400 with the reason, and nothing is answered or stored."""

from __future__ import annotations

import pytest

from chat.models import Answer
from ingestion.models import Collection
from tests.conftest import bearer_client
from tests.retrieval.helpers import collection_with_texts

pytestmark = pytest.mark.django_db

TEXTS = {"travel.txt": "Travel policy. Hotel nights in Zurich are reimbursed up to 240 francs per night."}


@pytest.fixture
def default_collection(settings):  # type: ignore[no-untyped-def]
    settings.LLM_BASE_URL = ""
    settings.LLM_BACKEND = ""
    Collection.objects.filter(slug="default").delete()
    return collection_with_texts("default", TEXTS)


def _chat(client, **body):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/chat", {"question": "How much is a hotel night in Zurich?", **body},
                       content_type="application/json")


def _completions(client, **body):  # type: ignore[no-untyped-def]
    messages = [{"role": "user", "content": "How much is a hotel night in Zurich?"}]
    return client.post("/v1/chat/completions", {"model": "default", "messages": messages, **body},
                       content_type="application/json")


@pytest.mark.parametrize("backend", ["local", "openai", "extractive", "gpt-5"])
@pytest.mark.parametrize("stream", [False, True])
def test_it_refuses_a_backend_named_by_a_non_staff_user(api, default_collection, backend, stream):
    response = _chat(api, backend=backend, stream=stream)
    assert response.status_code == 400
    assert "staff only" in response.json()["detail"]
    response = _completions(api, backend=backend, stream=stream)
    assert response.status_code == 400
    assert "staff only" in response.json()["error"]["message"]
    assert not Answer.objects.exists()


def test_a_non_staff_user_gets_the_configured_backend_without_naming_one(api, default_collection):
    assert _chat(api).json()["backend"] == "extractive"
    assert _completions(api).json()["footnote"]["backend"] == "extractive"


def test_staff_may_choose_a_backend(staff, default_collection):
    client = bearer_client(staff)
    assert _chat(client, backend="extractive").json()["backend"] == "extractive"
    assert _completions(client, backend="extractive").json()["footnote"]["backend"] == "extractive"
    response = _chat(client, backend="gpt-5")
    assert response.status_code == 400 and "one of" in response.json()["detail"]
    assert _completions(client, backend="gpt-5").status_code == 400
