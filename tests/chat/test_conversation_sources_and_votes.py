"""Conversations record where they were started (the chat page lists the browser's own), and a
conversation read back carries the reader's votes."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from chat.models import Conversation
from ingestion.models import Collection
from tests.retrieval.helpers import collection_with_texts

pytestmark = pytest.mark.django_db

TEXTS = {"travel.txt": "Travel policy. Hotel nights in Zurich are reimbursed up to 240 francs per night."}
QUESTION = "How much is a hotel night in Zurich?"


@pytest.fixture
def default_collection(db, settings):  # type: ignore[no-untyped-def]
    settings.LLM_BASE_URL = ""
    import chat.llm as llm

    llm._backends.clear()
    Collection.objects.filter(slug="default").delete()
    return collection_with_texts("default", TEXTS)


def post(client: Client, path: str, body: dict) -> dict:  # type: ignore[type-arg]
    response = client.post(path, json.dumps(body), content_type="application/json", HTTP_X_CSRFTOKEN="x")
    assert response.status_code in (200, 201), response.content
    return response.json()


@pytest.fixture
def session(owner) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(owner)
    return client


def test_each_entry_point_records_where_the_conversation_came_from(api, session, live_server, default_collection):
    from openai import OpenAI

    from_browser = post(session, "/api/v1/chat", {"question": QUESTION})["conversation_id"]
    from_script = post(api, "/api/v1/chat", {"question": QUESTION})["conversation_id"]
    made_by_script = post(api, "/api/v1/conversations", {"title": "Script"})["id"]
    token = api.defaults["HTTP_AUTHORIZATION"].split(" ", 1)[1]
    client = OpenAI(base_url=f"{live_server.url}/v1", api_key=token, max_retries=0)
    completion = client.chat.completions.create(model="default", messages=[{"role": "user", "content": QUESTION}])
    from_openai = completion.model_extra["footnote"]["answer_id"]
    sources = dict(Conversation.objects.values_list("id", "source"))
    assert sources[from_browser] == "browser"
    assert sources[from_script] == sources[made_by_script] == "api"
    assert Conversation.objects.get(answers__id=from_openai).source == "openai"


def test_the_list_filters_by_source_and_says_each_ones(api, session, default_collection):
    from_browser = post(session, "/api/v1/chat", {"question": QUESTION})["conversation_id"]
    from_script = post(api, "/api/v1/chat", {"question": QUESTION})["conversation_id"]
    Conversation.objects.filter(pk=from_script).update(title="From a script")
    browser = session.get("/api/v1/conversations?source=browser").json()
    others = session.get("/api/v1/conversations?source=api").json()
    everything = session.get("/api/v1/conversations").json()
    assert [c["id"] for c in browser] == [from_browser] and browser[0]["source"] == "browser"
    assert [c["id"] for c in others] == [from_script] and others[0]["source"] == "api"
    assert {c["id"] for c in everything} == {from_browser, from_script}
    assert session.get("/api/v1/conversations?source=elsewhere").status_code == 422


def test_a_conversation_read_back_carries_the_readers_own_votes(api, member, default_collection):
    first = post(api, "/api/v1/chat", {"question": QUESTION})
    second = post(api, "/api/v1/chat", {"question": "And in Geneva?", "conversation_id": first["conversation_id"]})
    post(api, f"/api/v1/answers/{first['answer_id']}/feedback",
         {"rating": "down", "reasons": ["incomplete"], "comment": "Says nothing of breakfast."})
    answers = api.get(f"/api/v1/conversations/{first['conversation_id']}").json()["answers"]
    assert [a["vote"] for a in answers] == [
        {"rating": "down", "reasons": ["incomplete"], "comment": "Says nothing of breakfast."}, None]
    post(api, f"/api/v1/answers/{first['answer_id']}/feedback", {"rating": None})
    post(api, f"/api/v1/answers/{second['answer_id']}/feedback", {"rating": "up"})
    answers = api.get(f"/api/v1/conversations/{first['conversation_id']}").json()["answers"]
    assert [a["vote"] and a["vote"]["rating"] for a in answers] == [None, "up"]


def test_staff_reading_someone_elses_conversation_see_their_own_votes_not_the_owners(api, staff, default_collection):
    answer = post(api, "/api/v1/chat", {"question": QUESTION})
    post(api, f"/api/v1/answers/{answer['answer_id']}/feedback", {"rating": "up"})
    reader = Client()
    reader.force_login(staff)
    answers = reader.get(f"/api/v1/conversations/{answer['conversation_id']}").json()["answers"]
    assert answers[0]["vote"] is None
