"""The LLM gateway: one place that talks to language models.

Backends, named the same everywhere (LLM_BACKEND, an answer's `backend`, `--backend`):
- `openai`: any OpenAI-compatible chat-completions endpoint (LLM_BASE_URL, LLM_API_KEY, LLM_MODEL);
- `local`: a GGUF model served by llama.cpp beside the app (opt-in; chat/local_llm.py);
- `extractive`: no LLM; the most relevant sentences of the top passages, each cited.
Every network call has a timeout and bounded retries. When the configured backend fails, the
failure is remembered for LLM_RETRY_SECONDS and `extractive` answers instead, so the user always
gets an answer and no request waits on an endpoint known to be down.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

import httpx
from django.conf import settings

from chat import extractive
from retrieval.types import ScoredChunk
from runtime.metrics import LLM_DOWN

logger = logging.getLogger(__name__)


class LLMError(Exception):
    """The backend could not answer. `endpoint_failed`: the backend itself is failing (no
    connection, a timeout, a 5xx, a model that does not load), which every request would meet;
    False for what concerns one request (a 4xx answer to its prompt, a malformed reply), which
    must not switch the LLM off for everyone (see mark_down)."""

    def __init__(self, message: str, *, endpoint_failed: bool = True) -> None:
        super().__init__(message)
        self.endpoint_failed = endpoint_failed


class LLMBackend(Protocol):
    """What answers a question from numbered passages. `stream` yields the answer's text pieces as
    they are made and puts the token counts it knows into `usage`; it raises LLMError when it
    cannot answer (the caller then falls back to the extractive backend)."""

    name: str
    model: str

    def stream(self, *, question: str, passages: Sequence[ScoredChunk], messages: list[dict[str, str]],
               usage: dict[str, int] | None = None) -> Iterator[str]: ...


class ExtractiveBackend:
    """Answers from the passages' own sentences and table rows, the one that answers first
    (chat.extractive): every quote is verbatim by construction."""

    name = "extractive"
    model = "extractive-v2"

    def __init__(self, *, settings: extractive.Settings = extractive.DEFAULT) -> None:
        self.settings = settings

    def stream(self, *, question: str, passages: Sequence[ScoredChunk], messages: list[dict[str, str]],
               usage: dict[str, int] | None = None, context: str = "") -> Iterator[str]:
        """`context`: the conversation's earlier question a follow-up is read with ("And in 2022?")."""
        yield from extractive.cited(extractive.select(question, passages, context=context, settings=self.settings))

    def select(self, question: str, passages: Sequence[ScoredChunk], *, context: str = "") -> list[tuple[int, str]]:
        return [(c.n, c.text) for c in extractive.select(question, passages, context=context, settings=self.settings)]


class OpenAIBackend:
    name = "openai"

    def __init__(self, *, base_url: str, api_key: str, model: str, timeout: float, retries: int,
                 max_output_tokens: int = 512) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.model = model
        self.timeout = timeout
        self.retries = retries
        self.max_output_tokens = max_output_tokens

    def stream(self, *, question: str, passages: Sequence[ScoredChunk], messages: list[dict[str, str]],
               usage: dict[str, int] | None = None) -> Iterator[str]:
        """Text pieces as the endpoint sends them; the token counts it reports go into `usage`
        (one dict per call: the backend object is shared by every request of the process)."""
        payload = {"model": self.model, "messages": messages, "stream": True, "temperature": 0.1,
                   "max_tokens": self.max_output_tokens, "stream_options": {"include_usage": True}}
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        attempt = 0
        while True:
            attempt += 1
            started = False
            try:
                timeout = httpx.Timeout(self.timeout, connect=min(5.0, self.timeout))
                url = f"{self.base_url}/chat/completions"
                with httpx.Client(timeout=timeout) as client, client.stream(
                    "POST", url, json=payload, headers=headers
                ) as response:
                    if response.status_code >= 400:
                        # A 4xx refuses this request (its prompt, its size): retrying cannot help.
                        raise LLMError(f"the LLM endpoint answered HTTP {response.status_code}",
                                       endpoint_failed=response.status_code >= 500)
                    for piece in self._pieces(response, usage if usage is not None else {}):
                        started = True
                        yield piece
                return
            except httpx.HTTPError as exc:  # no connection, a timeout, a broken stream
                failure = LLMError(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
                failure.__cause__ = exc
            except LLMError as exc:
                failure = exc
            if started or attempt > self.retries or not failure.endpoint_failed:
                raise failure
            time.sleep(0.2 * attempt)

    def _pieces(self, response: httpx.Response, usage: dict[str, int]) -> Iterator[str]:
        for line in response.iter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                return
            chunk = _stream_chunk(data)
            if isinstance(chunk.get("usage"), dict):
                usage.update({k: int(v) for k, v in chunk["usage"].items() if isinstance(v, int)})
            choices = chunk.get("choices")
            for choice in choices if isinstance(choices, list) else []:
                delta = choice.get("delta") if isinstance(choice, dict) else None
                content = delta.get("content") if isinstance(delta, dict) else None
                if isinstance(content, str) and content:
                    yield content


def _stream_chunk(data: str) -> dict[str, Any]:
    """One server-sent chunk as a JSON object; LLMError (ending in the usual fallback) otherwise."""
    try:
        chunk = json.loads(data)
    except ValueError:
        chunk = None
    if not isinstance(chunk, dict):
        raise LLMError(f"the LLM endpoint sent a malformed stream chunk: {data[:80]!r}", endpoint_failed=False)
    return chunk


_down_until: dict[str, float] = {}
_down_reason: dict[str, str] = {}
# Backends by name: how to build each, and the one instance per process built on first use
# (shared by every request, so a backend keeps no per-request state).
_factories: dict[str, Callable[[], LLMBackend]] = {}
_backends: dict[str, LLMBackend] = {}
# What a backend can say about itself before it is used ('' when nothing is wrong), for /health.
_problems: dict[str, Callable[[], str]] = {}
_lock = threading.Lock()


def backend_register(name: str, factory: Callable[[], LLMBackend], *, problem: Callable[[], str] | None = None) -> None:
    """Make `factory` build the backend called `name` (LLM_BACKEND, an answer's `backend`);
    `problem` says what keeps it from answering ('' when nothing does), for /health."""
    with _lock:
        _factories[name] = factory
        _backends.pop(name, None)
        if problem is not None:
            _problems[name] = problem


def backend_names() -> tuple[str, ...]:
    return tuple(_factories)


def get_backend(name: str) -> LLMBackend:
    """The backend called `name`, built once per process. Raises LLMError for an unknown name or
    a backend that cannot be built from the settings (it is built again on the next call)."""
    with _lock:
        if name not in _backends:
            factory = _factories.get(name)
            if factory is None:
                raise LLMError(f"no LLM backend called {name!r}: use one of {', '.join(_factories)}")
            _backends[name] = factory()
        return _backends[name]


def backends_reset() -> None:
    """Forget the built backends and what is known to be down (settings changed; tests)."""
    with _lock:
        _backends.clear()
    _down_until.clear()
    _down_reason.clear()


def _openai() -> LLMBackend:
    if not settings.LLM_BASE_URL:
        raise LLMError("LLM_BASE_URL is not set")
    return OpenAIBackend(base_url=settings.LLM_BASE_URL, api_key=settings.LLM_API_KEY, model=settings.LLM_MODEL,
                         timeout=settings.LLM_TIMEOUT, retries=settings.LLM_RETRIES,
                         max_output_tokens=settings.LLM_MAX_OUTPUT_TOKENS)


backend_register("openai", _openai)
backend_register("extractive", ExtractiveBackend)
# The names every entry point offers (--backend, the chat API's `backend`, LLM_BACKEND); `local`
# is registered by chat.local_llm, which ChatConfig.ready() imports.
BACKENDS = ("openai", "local", "extractive")


def configured_backend_name() -> str:
    name = settings.LLM_BACKEND or ("openai" if settings.LLM_BASE_URL else "extractive")
    if name not in _factories:
        raise LLMError(f"LLM_BACKEND must be one of {', '.join(_factories)}")
    return name


def estimate_tokens(text: str) -> int:
    """A generous token count for budgeting before the model's tokenizer has seen the text:
    English averages about 4 characters per token; 3 leaves room for code and other languages."""
    return len(text) // 3 + 1


def request_max_tokens(messages: list[dict[str, str]]) -> int:
    """The most one call can cost: the prompt's estimate plus the maximum output."""
    return sum(estimate_tokens(m.get("content", "")) + 4 for m in messages) + settings.LLM_MAX_OUTPUT_TOKENS


def mark_down(name: str, failure: LLMError | str) -> bool:
    """Open the circuit breaker: skip `name` for LLM_RETRY_SECONDS, when `failure` says the
    endpoint itself is failing (a reason given as text always does). A failure of one request
    (a 4xx, a malformed reply) leaves it closed: returns whether it opened."""
    if isinstance(failure, LLMError) and not failure.endpoint_failed:
        return False
    _down_until[name] = time.monotonic() + settings.LLM_RETRY_SECONDS
    _down_reason[name] = str(failure)
    LLM_DOWN.labels(name).set(1)
    return True


def is_down(name: str) -> str:
    """The reason `name` is known to be unavailable right now, or ''."""
    if _down_until.get(name, 0) > time.monotonic():
        return _down_reason.get(name, "unavailable")
    if _down_until.pop(name, None) is not None:
        LLM_DOWN.labels(name).set(0)
    return ""


def llm_status() -> dict[str, Any]:
    name = configured_backend_name()
    reason = is_down(name) or (_problems[name]() if name in _problems else "")
    if reason:
        return {"ok": False, "optional": True, "backend": name, "error": reason, "fallback": "extractive"}
    return {"ok": True, "backend": name}
