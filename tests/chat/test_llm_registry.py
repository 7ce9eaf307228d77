"""LLM backends are found by name in a registry; a registered backend answers like the built-in ones."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

import chat.llm as llm
from chat.models import Answer
from chat.selectors import answer_trace
from chat.services import answer_create, conversation_create
from retrieval.types import ScoredChunk
from tests.retrieval.helpers import collection_with_texts


class HalfwayBackend:
    """Quotes the first passage, then fails: the pipeline keeps the text and says it was cut."""

    name = "halfway"
    model = "halfway-1"

    def stream(self, *, question: str, passages: Sequence[ScoredChunk], messages: list[dict[str, str]],
               usage: dict[str, int] | None = None) -> Iterator[str]:
        yield f"{passages[0].text} [1]"
        raise llm.LLMError("connection reset")


@pytest.fixture
def halfway():  # type: ignore[no-untyped-def]
    llm.backend_register("halfway", HalfwayBackend)
    yield
    llm._factories.pop("halfway")
    llm.backends_reset()


def test_the_built_in_backends_are_registered_by_name():
    assert set(llm.backend_names()) >= {"openai", "local", "extractive"}
    assert isinstance(llm.get_backend("extractive"), llm.ExtractiveBackend)
    assert llm.get_backend("extractive") is llm.get_backend("extractive")  # one per process


def test_an_unknown_backend_is_an_llm_error():
    with pytest.raises(llm.LLMError, match="no LLM backend called 'nonesuch'"):
        llm.get_backend("nonesuch")


@pytest.mark.django_db
def test_a_registered_backend_answers_and_its_failure_is_recorded(halfway, owner):
    collection = collection_with_texts("registry", {"travel.txt": "Hotel nights in Zurich are reimbursed up to 240 francs."})
    result = answer_create(conversation=conversation_create(owner=owner, collection=collection),
                           question="How much is a hotel night in Zurich?", backend="halfway")
    trace = answer_trace(Answer.objects.get(pk=result["answer_id"]))
    assert result["backend"] == "halfway" and result["model"] == "halfway-1"
    assert trace.truncated is True and trace.fallback == "halfway failed: connection reset"
    assert llm.is_down("halfway") == "connection reset"
