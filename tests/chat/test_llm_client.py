"""The OpenAI client against a real HTTP stand-in: a 4xx is one request's failure (no retry, the
LLM stays on for the next user), an endpoint failure opens the circuit breaker, a malformed stream
chunk ends in the usual fallback, and every fallback answer says so in its notice."""

from __future__ import annotations

import pytest

import chat.llm as llm
from chat.generation import TRUNCATED_NOTICE, UNAVAILABLE_NOTICE
from chat.services import answer_create, conversation_create
from tests.chat.fake_openai import Reply
from tests.retrieval.helpers import collection_with_texts

pytestmark = pytest.mark.django_db

TEXTS = {"travel.txt": "Travel policy. Hotel nights in Zurich are reimbursed up to 240 francs per night."}
QUESTION = "How much is a hotel night in Zurich reimbursed?"


@pytest.fixture
def fake_llm(fake_llm, settings):
    """The shared fake endpoint, chosen by name and with two retries (what retrying is tested on)."""
    settings.LLM_BACKEND = "openai"
    settings.LLM_RETRIES = 2
    llm.backends_reset()
    return fake_llm


@pytest.fixture
def collection(db):
    return collection_with_texts("policies", TEXTS)


def _ask(user, collection):  # type: ignore[no-untyped-def]
    return answer_create(conversation=conversation_create(owner=user, collection=collection), question=QUESTION)


def test_a_4xx_is_not_retried_and_leaves_the_next_users_answer_on_the_llm(fake_llm, collection, owner, member):
    fake_llm.replies.extend([Reply(status=400), Reply(text="Up to 240 francs per night [1].")])
    first = _ask(owner, collection)
    assert first["backend"] == "extractive" and first["notice"].startswith(UNAVAILABLE_NOTICE)
    assert len(fake_llm.requests) == 1  # no retry of a 400, although LLM_RETRIES is 2
    assert llm.is_down("openai") == ""
    second = _ask(member, collection)
    assert second["backend"] == "openai" and "language model" not in second["notice"]


def test_a_5xx_is_retried_then_opens_the_breaker_with_a_notice_on_every_fallback(fake_llm, collection, owner, member):
    fake_llm.replies.extend([Reply(status=503)] * 3)
    first = _ask(owner, collection)
    assert first["backend"] == "extractive" and first["notice"].startswith(UNAVAILABLE_NOTICE)
    assert len(fake_llm.requests) == 3  # the first try and LLM_RETRIES retries
    assert "HTTP 503" in llm.is_down("openai")
    skipped = _ask(member, collection)  # the breaker is open: the endpoint is not asked
    assert skipped["backend"] == "extractive" and skipped["notice"].startswith(UNAVAILABLE_NOTICE)
    assert len(fake_llm.requests) == 3


def test_a_connection_failure_opens_the_breaker(fake_llm, collection, owner, settings):
    fake_llm.stop()
    settings.LLM_RETRIES = 0
    answer = _ask(owner, collection)
    assert answer["backend"] == "extractive" and answer["notice"].startswith(UNAVAILABLE_NOTICE)
    assert llm.is_down("openai")


def test_a_malformed_stream_chunk_ends_in_the_fallback_without_opening_the_breaker(fake_llm, collection, owner):
    fake_llm.replies.append(Reply(raw=b"data: {not json\n\ndata: [DONE]\n\n"))
    answer = _ask(owner, collection)
    assert answer["backend"] == "extractive" and "240 francs" in answer["answer"]
    assert answer["notice"].startswith(UNAVAILABLE_NOTICE)
    assert llm.is_down("openai") == ""


def test_a_malformed_chunk_after_text_keeps_the_text_and_says_it_stopped(fake_llm, collection, owner):
    good = b'data: {"choices": [{"index": 0, "delta": {"content": "Up to 240 francs [1]."}}]}\n\n'
    fake_llm.replies.append(Reply(raw=good + b'data: ["a list"]\n\n'))
    answer = _ask(owner, collection)
    assert answer["backend"] == "openai" and "240 francs" in answer["answer"]
    assert answer["notice"].startswith(TRUNCATED_NOTICE)
