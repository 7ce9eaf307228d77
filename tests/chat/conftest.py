"""Fixtures of the chat tests: a fake OpenAI-compatible endpoint, a real HTTP server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import chat.llm as llm
from tests.chat.fake_openai import FakeOpenAI


@pytest.fixture
def fake_llm(settings) -> Iterator[FakeOpenAI]:  # type: ignore[no-untyped-def]
    """The configured LLM endpoint is the fake (no retries, short timeout); backends are built
    again for it and forgotten after."""
    fake = FakeOpenAI()
    settings.LLM_BASE_URL = fake.start()
    settings.LLM_BACKEND = ""
    settings.LLM_TIMEOUT = 2.0
    settings.LLM_RETRIES = 0
    llm.backends_reset()
    yield fake
    fake.stop()
    llm.backends_reset()
