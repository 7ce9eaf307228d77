"""LOG_FORMAT=json: every log line a JSON object carrying the request, user and answer ids."""

from __future__ import annotations

import io
import json
import logging

import pytest

from config.logging import JsonFormatter
from ingestion.models import Collection
from tests.conftest import bearer_client
from tests.retrieval.helpers import collection_with_texts

pytestmark = pytest.mark.django_db


@pytest.fixture
def json_lines():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("chat.services")
    logger.addHandler(handler)
    level, logger.level = logger.level, logging.INFO
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)
    logger.level = level


def test_an_answer_logs_a_json_line_with_its_request_user_and_answer(owner, settings, json_lines):
    settings.LLM_BASE_URL = ""
    Collection.objects.filter(slug="default").delete()
    collection_with_texts("default", {"travel.txt": "Hotel nights in Zurich are reimbursed up to 240 francs."})
    response = bearer_client(owner).post("/api/v1/chat", {"question": "How much is a hotel night in Zurich?"},
                                         content_type="application/json", HTTP_X_REQUEST_ID="req-42")
    assert response.status_code == 200
    [line] = [entry for entry in json_lines() if entry["message"].startswith("answer ")]
    assert line["request_id"] == "req-42" and line["user_id"] == owner.pk
    assert line["answer_id"] == response.json()["answer_id"] and line["level"] == "INFO"
    assert line["logger"] == "chat.services" and "time" in line
