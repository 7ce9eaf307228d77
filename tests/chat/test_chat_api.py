"""Chat over HTTP: conversations are private, /chat streams SSE, and the official openai client
talks to our OpenAI-compatible endpoint through a live server."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from accounts.services import api_token_create
from ingestion.models import Collection
from tests.conftest import bearer_client
from tests.retrieval.helpers import collection_with_texts

TEXTS = {"travel.txt": "Travel policy. Hotel nights in Zurich are reimbursed up to 240 francs per night."}


@pytest.fixture
def default_collection(db, settings):
    settings.LLM_BASE_URL = ""
    import chat.llm as llm

    llm._backends.clear()
    Collection.objects.filter(slug="default").delete()
    return collection_with_texts("default", TEXTS)


def _ask(client: Client, **body):
    return client.post("/api/v1/chat", body, content_type="application/json")


@pytest.mark.django_db
def test_chat_answers_with_citations_and_a_conversation(api, default_collection):
    response = _ask(api, question="How much is a hotel night in Zurich?")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["backend"] == "extractive" and not body["abstained"]
    assert body["citations"][0]["filename"] == "travel.txt" and "240 francs" in body["citations"][0]["quote"]
    conversation = api.get(f"/api/v1/conversations/{body['conversation_id']}").json()
    assert [a["answer_id"] for a in conversation["answers"]] == [body["answer_id"]]


@pytest.mark.django_db
def test_conversations_are_private_to_their_owner(api, member, default_collection):
    conversation_id = _ask(api, question="hotel Zurich?").json()["conversation_id"]
    stranger = bearer_client(member)
    assert stranger.get(f"/api/v1/conversations/{conversation_id}").status_code == 404
    assert _ask(stranger, question="and?", conversation_id=conversation_id).status_code == 404
    assert stranger.delete(f"/api/v1/conversations/{conversation_id}").status_code == 404
    assert stranger.get("/api/v1/conversations").json() == []
    assert api.patch(f"/api/v1/conversations/{conversation_id}", {"title": "Hotels"}, content_type="application/json").json()["title"] == "Hotels"
    assert api.delete(f"/api/v1/conversations/{conversation_id}").status_code == 204


@pytest.mark.django_db
def test_chat_streams_server_sent_events(api, default_collection):
    response = _ask(api, question="How much is a hotel night in Zurich?", stream=True)
    assert response["Content-Type"] == "text/event-stream"
    raw = b"".join(response.streaming_content).decode()
    events = [(block.split("\n")[0][7:], json.loads(block.split("\n")[1][6:])) for block in raw.strip().split("\n\n")]
    names = [name for name, _ in events]
    assert names[0] == "token" and names[-2:] == ["citations", "done"]
    assert events[-1][1]["citations"] == events[-2][1]["citations"]


@pytest.mark.django_db
def test_chat_rejects_an_unknown_collection_and_a_long_question(api, default_collection, settings):
    assert _ask(api, question="x", collection="nope").status_code == 404
    settings.CHAT_MAX_QUESTION_CHARS = 10
    assert _ask(api, question="x" * 11).status_code == 400


@pytest.mark.django_db(transaction=True)
def test_the_openai_client_talks_to_our_endpoint(live_server, owner, default_collection):
    from openai import OpenAI

    _, token = api_token_create(user=owner)
    client = OpenAI(base_url=f"{live_server.url}/v1", api_key=token, max_retries=0)
    assert "default" in [m.id for m in client.models.list().data]

    completion = client.chat.completions.create(
        model="default", messages=[{"role": "user", "content": "How much is a hotel night in Zurich?"}]
    )
    assert "240 francs" in completion.choices[0].message.content
    extra = completion.model_extra
    assert extra["citations"][0]["filename"] == "travel.txt" and extra["footnote"]["backend"] == "extractive"

    chunks = list(client.chat.completions.create(
        model="default", stream=True, messages=[{"role": "user", "content": "hotel night Zurich price?"}]
    ))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "240 francs" in text
    assert chunks[-1].model_extra["citations"] and chunks[-1].choices[0].finish_reason == "stop"


@pytest.mark.django_db(transaction=True)
def test_openai_endpoint_needs_a_token_and_an_existing_model(live_server, owner, default_collection):
    from openai import AuthenticationError, NotFoundError, OpenAI

    bad = OpenAI(base_url=f"{live_server.url}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(AuthenticationError):
        bad.models.list()
    _, token = api_token_create(user=owner)
    good = OpenAI(base_url=f"{live_server.url}/v1", api_key=token, max_retries=0)
    with pytest.raises(NotFoundError):
        good.chat.completions.create(model="secret-hr", messages=[{"role": "user", "content": "salaries?"}])


def test_a_failure_after_the_stream_started_becomes_an_error_event_without_its_text():
    from chat.api import sse

    def events():
        yield "token", {"text": "Hotel nights"}
        raise RuntimeError("the database went away")

    raw = "".join(sse(events()))
    blocks = [block.split("\n") for block in raw.strip().split("\n\n")]
    assert [b[0] for b in blocks] == ["event: token", "event: error"]
    detail = json.loads(blocks[1][1][6:])["detail"]
    assert "failed" in detail and "the database went away" not in detail


@pytest.mark.django_db
def test_answers_carry_sanitised_html_with_citation_buttons(api, default_collection):
    body = _ask(api, question="How much is a hotel night in Zurich?").json()
    assert '<button type="button" class="cite" data-n="1">[1]</button>' in body["answer_html"]
    conversation = api.get(f"/api/v1/conversations/{body['conversation_id']}").json()
    assert conversation["answers"][0]["answer_html"] == body["answer_html"]
