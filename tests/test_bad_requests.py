"""Every API failure answers JSON with a reason: the malformed inputs an attack run found answering
500 (or an HTML 400) now answer 4xx where the input is read; an unexpected exception is still a
500, with a JSON body and a log line carrying the request id; a database that is down is a 503."""

from __future__ import annotations

import json
import logging

import pytest
from django.db import connection
from django.test import Client

from tests.conftest import bearer_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(owner) -> Client:  # type: ignore[no-untyped-def]
    client = bearer_client(owner)
    client.raise_request_exception = False
    return client


def _json(client: Client, url: str, raw: str):  # type: ignore[no-untyped-def]
    return client.post(url, raw, content_type="application/json")


def _assert_refused(response, status: int = 400, *, mentions: str = "") -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    reason = body.get("detail") or body.get("error", {}).get("message", "")
    assert reason and mentions in reason, body
    return body


def test_it_refuses_an_unpaired_surrogate_in_the_collection(api):
    _assert_refused(_json(api, "/api/v1/chat", '{"question": "hi", "collection": "\\ud800"}'), mentions="collection")


def test_it_refuses_a_nul_in_the_question(api):
    _assert_refused(_json(api, "/api/v1/chat", '{"question": "hi\\u0000there"}'), mentions="question")


def test_it_refuses_a_nul_in_a_conversation_title(api):
    _assert_refused(_json(api, "/api/v1/conversations", '{"title": "a\\u0000b"}'), mentions="title")


def test_it_refuses_a_nul_in_a_query_parameter_of_the_api_and_of_a_page(api, owner):
    _assert_refused(api.get("/api/v1/documents?collection=a%00b"), mentions="collection")
    browser = Client(raise_request_exception=False)
    browser.force_login(owner)
    response = browser.get("/documents/?collection=a%00b")
    assert response.status_code == 400 and b"NUL" in response.content


def test_it_refuses_json_nested_too_deeply(api):
    _assert_refused(_json(api, "/api/v1/chat", "[" * 100_000 + "]" * 100_000), mentions="nests deeper")


@pytest.mark.parametrize("messages", ["null", "5", "[" * 100_000 + "]" * 100_000, '"hello"', "[1]", '[{"role": "user", "content": 3}]'])
def test_chat_completions_type_checks_messages(api, messages):
    body = _assert_refused(_json(api, "/v1/chat/completions", '{"model": "default", "messages": ' + messages + '}'))
    assert body["error"]["type"] == "invalid_request_error"


def test_chat_completions_refuses_a_body_that_is_not_an_object(api):
    _assert_refused(_json(api, "/v1/chat/completions", "[]"), mentions="object")


def test_the_review_dashboard_ignores_a_superscript_digit(staff):
    client = Client(raise_request_exception=False)
    client.force_login(staff)
    assert client.get("/review/?days=%C2%B2").status_code == 200


def _multipart(filename: str, *, boundary: str = "XyZ") -> bytes:
    return (f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{filename}"\r\n'
            f"Content-Type: text/plain\r\n\r\nsome words\r\n--{boundary}--\r\n").encode()


def test_an_upload_with_a_filename_over_a_kilobyte_answers_json(api):
    response = api.post("/api/v1/documents", _multipart("a" * 1100 + ".txt"), content_type="multipart/form-data; boundary=XyZ")
    _assert_refused(response, mentions="header")


def test_an_upload_of_too_many_files_answers_json(api, settings):
    parts = b"".join(_multipart(f"f{i}.txt")[: -len(b"--XyZ--\r\n")] for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FILES + 1))
    response = api.post("/api/v1/documents", parts + b"--XyZ--\r\n", content_type="multipart/form-data; boundary=XyZ")
    _assert_refused(response, mentions=f"at most {settings.DATA_UPLOAD_MAX_NUMBER_FILES}")


def test_a_multipart_upload_without_boundary_answers_json(api):
    response = api.post("/api/v1/documents", _multipart("a.txt"), content_type="multipart/form-data")
    _assert_refused(response, mentions="boundary")


def test_an_unsafe_call_without_credentials_is_401_not_a_csrf_403():
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    response = _json(client, "/api/v1/chat", '{"question": "hi"}')
    assert response.status_code == 401


def test_a_signed_in_browser_still_needs_the_csrf_token(owner):
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.force_login(owner)
    assert _json(client, "/api/v1/conversations", '{"title": "x"}').status_code == 403


def test_an_unexpected_exception_is_a_json_500_with_a_logged_request_id(api, settings, caplog):
    settings.ROOT_URLCONF = "tests.errors_urls"
    with caplog.at_level(logging.ERROR, logger="footnote.errors"):
        response = api.get("/api/v1/test-boom", HTTP_X_REQUEST_ID="req-boom-1")
    body = _assert_refused(response, 500, mentions="req-boom-1")
    assert body["request_id"] == "req-boom-1" and "a bug the tests put here" not in json.dumps(body)
    assert any("req-boom-1" in r.getMessage() and r.exc_info for r in caplog.records)
    page = api.get("/test-boom/")
    assert page.status_code == 500 and page["Content-Type"].startswith("text/html")


@pytest.mark.django_db(transaction=True)
def test_a_database_that_is_down_answers_503_with_retry_after(owner):
    client = Client(raise_request_exception=False)
    client.force_login(owner)
    saved = dict(connection.settings_dict)
    connection.close()
    # A real connection failure: the server is asked for on a port where none listens.
    connection.settings_dict.update(HOST="127.0.0.1", PORT="9")
    try:
        response = client.get("/api/v1/documents")
        page = client.get("/documents/")
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)
    assert response.status_code == 503 and response["Retry-After"]
    assert "database" in response.json()["detail"]
    assert page.status_code == 503 and b"database" in page.content
