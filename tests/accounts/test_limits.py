"""Abuse controls: 429 with Retry-After past each limit, the token budget under concurrency,
stream slots, upload volume, sign-in throttling; each trip leaves one audit row."""

from __future__ import annotations

import json
import threading
import time

import pytest
from django.core.signals import request_finished
from django.db import close_old_connections, connection
from django.test import Client

import chat.llm as llm
from accounts.limits import ReleasingIterator, stream_slot_acquire
from accounts.models import AuditEvent, Role, UsageDay
from accounts.services import membership_set
from chat.models import Answer
from tests.chat.fake_openai import FakeOpenAI, Reply
from tests.conftest import bearer_client
from tests.factories.files import upload
from tests.redis import redis_reachable
from tests.retrieval.helpers import collection_with_texts

TEXTS = {"travel.txt": "Travel policy. Hotel nights in Zurich are reimbursed up to 240 francs per night. "
                       "Economy class is booked for flights under six hours."}
QUESTION = "How much is a hotel night in Zurich reimbursed?"


def _policies(*readers):  # type: ignore[no-untyped-def]
    collection = collection_with_texts("policies", TEXTS)
    for user in readers:  # collections are read by their members (ingestion.access)
        membership_set(collection=collection, role=Role.VIEWER, user=user, actor=None)
    return collection


@pytest.fixture
def policies(db, settings, owner, member):
    settings.LLM_BASE_URL = ""
    llm._backends.clear()
    return _policies(owner, member)


@pytest.fixture
def fake_llm(settings):
    fake = FakeOpenAI()
    settings.LLM_BASE_URL = fake.start()
    settings.LLM_BACKEND = "openai"
    settings.LLM_RETRIES = 0
    llm._backends.clear()
    llm._down_until.clear()
    yield fake
    fake.stop()
    llm._backends.clear()
    llm._down_until.clear()


def _ask(client: Client, **body):  # type: ignore[no-untyped-def]
    # Fresh answers: the same question again would come from the answer cache, at no token cost.
    return client.post("/api/v1/chat", {"question": QUESTION, "collection": "policies", "cache": False, **body},
                       content_type="application/json")


def _hang_up(response) -> None:  # type: ignore[no-untyped-def]
    """What the WSGI server does when the client goes away: close the response (the test
    client's own way, which keeps the test's database connection open)."""
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)


def _trips(limit: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="limit_tripped", target_id=limit))


def _assert_429(response, limit: str) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == 429, response.content
    assert int(response["Retry-After"]) >= 1
    body = response.json()
    assert body["limit"] == limit and body["retry_after"] == int(response["Retry-After"]) and body["detail"]
    return body


# -- rate limits ---------------------------------------------------------------------------------


def test_chat_answers_429_with_retry_after_past_the_rate_limit(api, policies, settings):
    settings.RATE_LIMIT_CHAT = 2
    assert [_ask(api).status_code for _ in range(2)] == [200, 200]
    body = _assert_429(_ask(api), "chat_rate")
    assert "at most 2 every 60 seconds" in body["detail"]
    _assert_429(_ask(api, stream=True), "chat_rate")
    [trip] = _trips("chat_rate")  # one row per trip, not one per refused request
    assert trip.actor.username == "owner" and trip.details["retry_after"] <= 60


def test_the_openai_endpoint_shares_the_chat_limit_and_speaks_openai_errors(owner, policies, settings):
    from accounts.services import api_token_create

    settings.RATE_LIMIT_CHAT = 1
    _, token = api_token_create(user=owner)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    body = {"model": "policies", "messages": [{"role": "user", "content": QUESTION}]}
    assert client.post("/v1/chat/completions", body, content_type="application/json").status_code == 200
    refused = client.post("/v1/chat/completions", body, content_type="application/json")
    assert _assert_429(refused, "chat_rate")["error"]["message"].startswith("Too many chat requests")


def test_search_answers_429_past_the_rate_limit_for_the_api_and_the_lab_page(api, staff, policies, settings):
    settings.RATE_LIMIT_SEARCH = 1
    search = {"query": "hotel Zurich", "collection": "policies"}
    assert api.post("/api/v1/search", search, content_type="application/json").status_code == 200
    _assert_429(api.post("/api/v1/search", search, content_type="application/json"), "search_rate")
    browser = Client()
    browser.force_login(staff)
    assert browser.get("/lab/", {"q": "hotel", "collection": "policies"}).status_code == 200
    page = browser.get("/lab/", {"q": "hotel", "collection": "policies"})
    assert page.status_code == 429 and int(page["Retry-After"]) >= 1
    assert "Too many search requests" in page.content.decode() and page["Content-Type"].startswith("text/html")


def test_upload_answers_429_past_the_rate_limit(api, settings):
    settings.RATE_LIMIT_UPLOAD = 1
    assert api.post("/api/v1/documents", {"files": [upload("a.txt", b"First file.")]}).status_code == 202
    _assert_429(api.post("/api/v1/documents", {"files": [upload("b.txt", b"Second file.")]}), "upload_rate")
    assert len(_trips("upload_rate")) == 1


def test_limits_are_per_user(api, member, policies, settings):
    settings.RATE_LIMIT_CHAT = 1
    assert _ask(api).status_code == 200
    assert _ask(api).status_code == 429
    assert _ask(bearer_client(member)).status_code == 200


# -- upload volume -------------------------------------------------------------------------------


def test_daily_upload_volume_refuses_the_upload_that_would_pass_it(api, owner, settings):
    settings.UPLOAD_DAILY_BYTES = 100
    assert api.post("/api/v1/documents", {"files": [upload("a.txt", b"x" * 60)]}).status_code == 202
    body = _assert_429(api.post("/api/v1/documents", {"files": [upload("b.txt", b"y" * 60)]}), "upload_volume")
    assert "daily upload volume" in body["detail"] and "midnight UTC" in body["detail"]
    assert api.post("/api/v1/documents", {"files": [upload("c.txt", b"z" * 40)]}).status_code == 202
    assert UsageDay.objects.get(user=owner).upload_bytes == 100  # the refused upload was not counted
    assert [t.details["size_bytes"] for t in _trips("upload_volume")] == [60]


# -- question length -----------------------------------------------------------------------------


def test_a_long_question_is_refused_with_a_clear_message_on_both_chat_endpoints(api, owner, policies, settings):
    settings.CHAT_MAX_QUESTION_CHARS = 20
    response = _ask(api, question="x" * 21)
    assert response.status_code == 400 and "longer than 20 characters" in response.json()["detail"]
    body = {"model": "policies", "messages": [{"role": "user", "content": "x" * 21}]}
    response = bearer_client(owner).post("/v1/chat/completions", body, content_type="application/json")
    assert response.status_code == 400 and "longer than 20 characters" in response.json()["error"]["message"]


# -- concurrent streams --------------------------------------------------------------------------


def test_concurrent_streams_are_limited_and_a_closed_stream_frees_its_slot(api, owner, policies, settings):
    settings.CHAT_MAX_CONCURRENT_STREAMS = 1
    first = _ask(api, stream=True)
    assert first.status_code == 200
    _assert_429(_ask(api, stream=True), "concurrent_streams")
    openai_body = {"model": "policies", "stream": True, "messages": [{"role": "user", "content": QUESTION}]}
    _assert_429(bearer_client(owner).post("/v1/chat/completions", openai_body, content_type="application/json"),
                "concurrent_streams")
    assert _ask(api).status_code == 200  # answers that do not stream are not counted
    _hang_up(first)  # the client went away before reading anything
    second = _ask(api, stream=True)
    assert second.status_code == 200
    b"".join(second.streaming_content)  # read to the end: the slot is released
    third = _ask(api, stream=True)
    assert third.status_code == 200
    _hang_up(third)
    assert len(_trips("concurrent_streams")) == 1


def test_a_stream_slot_left_by_a_crashed_process_expires(owner, settings):
    settings.CHAT_MAX_CONCURRENT_STREAMS = 1
    settings.CHAT_STREAM_SLOT_SECONDS = 1
    stream_slot_acquire(user=owner)  # never released
    with pytest.raises(Exception, match="At most 1 answers"):
        stream_slot_acquire(user=owner)
    time.sleep(1.2)
    stream_slot_acquire(user=owner)()


def test_releasing_iterator_releases_once_on_end_error_or_close():
    released: list[int] = []
    items = ReleasingIterator(iter([1, 2]), lambda: released.append(1))
    assert list(items) == [1, 2]
    items.close()

    def failing():  # type: ignore[no-untyped-def]
        yield 1
        raise RuntimeError("boom")

    broken = ReleasingIterator(failing(), lambda: released.append(2))
    with pytest.raises(RuntimeError):
        list(broken)
    ReleasingIterator(iter([1]), lambda: released.append(3)).close()
    assert released == [1, 2, 3]


# -- token budget --------------------------------------------------------------------------------


def test_over_budget_the_extractive_backend_answers_and_says_so(api, owner, policies, fake_llm, settings):
    settings.LLM_DAILY_TOKEN_BUDGET = 50  # less than one request's maximum
    body = _ask(api).json()
    assert body["backend"] == "extractive" and "240 francs" in body["answer"]
    assert "daily language-model budget (50 tokens) is used up" in body["notice"]
    assert fake_llm.requests == []
    assert UsageDay.objects.get(user=owner).tokens_reserved == 0
    [trip] = _trips("token_budget")
    assert trip.actor == owner and trip.details["tokens"] > 50


def test_the_budget_is_settled_to_reported_usage_and_released_on_failure(api, owner, policies, fake_llm, settings):
    settings.LLM_DAILY_TOKEN_BUDGET = 100_000
    reply = "Up to 240 francs per night [1]."
    fake_llm.replies.extend([Reply(text=reply), Reply(status=500)])
    assert _ask(api).json()["backend"] == "openai"
    usage = UsageDay.objects.get(user=owner)
    billed = 100 + len(reply.split(" "))  # what the fake reports: 100 prompt tokens, one per word
    assert usage.tokens_used == billed and usage.tokens_reserved == 0
    assert fake_llm.requests[0]["max_tokens"] == settings.LLM_MAX_OUTPUT_TOKENS
    assert _ask(api).json()["backend"] == "extractive"  # the endpoint failed before its first token
    usage.refresh_from_db()
    assert usage.tokens_used == billed and usage.tokens_reserved == 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_budget_holds_under_20_concurrent_requests(owner, fake_llm, settings):
    _policies(owner)
    settings.LLM_MAX_OUTPUT_TOKENS = 1000
    settings.LLM_DAILY_TOKEN_BUDGET = 4000
    settings.RATE_LIMIT_CHAT = 0
    settings.CHAT_MAX_CONCURRENT_STREAMS = 0
    words = " ".join(["francs"] * 300)
    fake_llm.replies.extend(Reply(text=f"Up to 240 {words} [1].", delay=0.3) for _ in range(20))
    client = bearer_client(owner)
    start = threading.Barrier(20)
    results: list[dict] = []

    def ask() -> None:
        try:
            start.wait()
            results.append(_ask(client).json())
        finally:
            connection.close()  # each thread had its own connection to the test database

    threads = [threading.Thread(target=ask) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 20
    answered_by_llm = [r for r in results if r["backend"] == "openai"]
    refused = [r for r in results if "budget" in r["notice"]]
    assert answered_by_llm and refused and len(answered_by_llm) + len(refused) == 20
    usage = UsageDay.objects.get(user=owner)
    one_request_max = max(Answer.objects.get(pk=r["answer_id"]).trace["tokens"]["total_tokens"] for r in answered_by_llm) + 1000
    assert usage.tokens_reserved == 0
    assert usage.tokens_used <= settings.LLM_DAILY_TOKEN_BUDGET + one_request_max
    assert usage.tokens_used == sum(Answer.objects.get(pk=r["answer_id"]).trace["tokens"]["total_tokens"]
                                    for r in answered_by_llm)  # no increment was lost
    assert len(fake_llm.requests) == len(answered_by_llm)


# -- sign-in throttling --------------------------------------------------------------------------


def test_sign_in_is_refused_after_repeated_failures_from_one_address(owner, settings):
    settings.SIGN_IN_MAX_FAILURES = 3
    client = Client()
    for _ in range(3):
        assert client.post("/accounts/login/", {"username": "owner", "password": "wrong"}).status_code == 200
    refused = client.post("/accounts/login/", {"username": "owner", "password": "owner-password-1"})
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    assert "Too many failed sign-ins" in refused.content.decode()
    admin = client.post("/admin/login/", {"username": "owner", "password": "owner-password-1"})
    assert admin.status_code == 429  # the admin's sign-in form goes through the same check
    other_address = Client(REMOTE_ADDR="10.1.2.3")
    assert other_address.post("/accounts/login/", {"username": "owner", "password": "owner-password-1"}).status_code == 302
    [trip] = _trips("sign_in")
    assert trip.actor is None and trip.actor_username == "owner" and trip.ip == "127.0.0.1"


def test_a_successful_sign_in_clears_the_failures(owner, settings):
    settings.SIGN_IN_MAX_FAILURES = 2
    client = Client()
    client.post("/accounts/login/", {"username": "owner", "password": "wrong"})
    assert client.post("/accounts/login/", {"username": "owner", "password": "owner-password-1"}).status_code == 302
    client.post("/accounts/login/", {"username": "owner", "password": "wrong"})
    assert client.post("/accounts/login/", {"username": "owner", "password": "owner-password-1"}).status_code == 302


# -- the caches the counters live in -------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_local_database_cache_counts_atomically_across_threads(settings):
    settings.CACHES = {"default": {"BACKEND": "accounts.cache.LockingDatabaseCache", "LOCATION": "footnote_cache"}}
    from django.core.cache import cache

    cache.clear()
    cache.add("counter", 0, timeout=60)

    def bump() -> None:
        try:
            for _ in range(10):
                cache.incr("counter")
        finally:
            connection.close()

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert cache.get("counter") == 80
    with connection.cursor() as cursor:  # incr kept the key's expiry instead of resetting it
        cursor.execute("SELECT expires - now() FROM footnote_cache")
        assert cursor.fetchone()[0].total_seconds() <= 60
    cache.clear()



@pytest.mark.skipif(not redis_reachable(), reason="no Redis server on 127.0.0.1:6379")
def test_limits_work_on_redis_the_production_cache(api, owner, policies, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:6379/14", "KEY_PREFIX": "footnote-tests"}}
    from django.core.cache import cache

    cache.clear()
    try:
        settings.RATE_LIMIT_CHAT = 1
        settings.CHAT_MAX_CONCURRENT_STREAMS = 1
        stream = _ask(api, stream=True)
        assert stream.status_code == 200
        _assert_429(_ask(api), "chat_rate")
        _hang_up(stream)
        settings.RATE_LIMIT_CHAT = 10
        again = _ask(api, stream=True)  # the closed stream's slot is free again
        assert again.status_code == 200 and json.loads(b"".join(again.streaming_content).split(b"data: ")[-1])["answer"]
    finally:
        cache.clear()
