"""What every page and the API docs carry: a favicon, and a schema with every endpoint."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_favicon_ico_is_served_to_anyone_and_linked_from_every_page(browser_client):
    response = Client().get("/favicon.ico")
    assert response.status_code == 200 and response["Content-Type"] == "image/x-icon"
    assert b"".join(response.streaming_content)[:4] == b"\x00\x00\x01\x00"  # an ICO file
    page = browser_client.get("/documents/").content.decode()
    assert 'rel="icon" href="/static/favicon.svg"' in page and 'rel="icon" href="/favicon.ico"' in page


def test_the_openapi_schema_lists_the_openai_compatible_endpoints_with_their_bodies():
    schema = Client().get("/api/v1/openapi.json").json()
    completions = schema["paths"]["/v1/chat/completions"]["post"]
    models = schema["paths"]["/v1/models"]["get"]
    assert completions["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ChatCompletionIn"}
    assert set(completions["responses"]) == {"200", "400", "401", "404", "429"}
    components = schema["components"]["schemas"]
    assert {"messages", "model", "stream"} <= set(components["ChatCompletionIn"]["properties"])
    assert "citations" in components["ChatCompletionOut"]["properties"]
    assert models["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/ModelListOut")
    for ref in _refs(schema):
        assert ref.rsplit("/", 1)[1] in components, ref
    # The ninja API is still described as before.
    assert "/api/v1/collections" in schema["paths"] and "/api/v1/chat" in schema["paths"]


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_the_documented_chat_completion_body_is_what_the_endpoint_answers(api, settings):
    from chat.openai_schema import ChatCompletionOut, ModelListOut
    from tests.retrieval.helpers import collection_with_texts

    settings.LLM_BASE_URL = ""
    import chat.llm as llm

    llm._backends.clear()
    from ingestion.models import Collection

    Collection.objects.filter(slug="default").delete()
    collection_with_texts("default", {"travel.txt": "Hotel nights in Zurich are reimbursed up to 240 francs."})
    body = {"model": "default", "messages": [{"role": "user", "content": "How much is a hotel night in Zurich?"}]}
    answered = api.post("/v1/chat/completions", body, content_type="application/json")
    assert answered.status_code == 200, answered.content
    ChatCompletionOut.model_validate(answered.json())
    ModelListOut.model_validate(api.get("/v1/models").json())
