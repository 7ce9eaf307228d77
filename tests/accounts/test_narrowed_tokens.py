"""API tokens act as their user, narrowed: read-only, or limited to listed collections."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from accounts.models import ApiToken, AuditEvent, Role
from accounts.services import api_token_create
from ingestion.services import collection_create
from tests.accounts.helpers import make_member, search, stored_document, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def hr(db):  # type: ignore[no-untyped-def]
    return collection_create(slug="hr", name="HR")


@pytest.fixture
def eng(db):  # type: ignore[no-untyped-def]
    return collection_create(slug="eng", name="Engineering")


def _client(user, **narrowing) -> Client:  # type: ignore[no-untyped-def]
    _, raw = api_token_create(user=user, **narrowing)
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def _token_from_command(*args: str) -> str:
    out = StringIO()
    call_command("create_api_token", *args, stdout=out, stderr=StringIO())
    return out.getvalue().strip().splitlines()[-1]


def test_a_read_only_token_searches_and_chats_but_is_refused_uploads_with_a_clear_error(hr, owner):
    make_member(hr, Role.MANAGER, user=owner)
    document = stored_document(hr, uploaded_by=owner)
    client = _client(owner, read_only=True)
    refused = upload(client, "hr")
    assert refused.status_code == 403
    assert refused.json()["detail"].startswith("This API token is read-only")
    assert client.delete(f"/api/v1/documents/{document.id}").status_code == 403
    assert client.post(f"/api/v1/documents/{document.id}/retry").status_code == 403
    assert search(client, "hr").status_code == 200
    chat = client.post("/api/v1/chat", {"question": "budget?", "collection": "hr"}, content_type="application/json")
    assert chat.status_code == 200, chat.content
    conversation_id = chat.json()["conversation_id"]
    assert client.get(f"/api/v1/conversations/{conversation_id}").status_code == 200
    assert client.delete(f"/api/v1/conversations/{conversation_id}").status_code == 403
    assert client.post(f"/api/v1/answers/{chat.json()['answer_id']}/feedback", {"rating": "up"},
                       content_type="application/json").status_code == 403
    # The same user with a full token may do all of it.
    assert upload(_client(owner), "hr").status_code == 202


def test_a_collection_narrowed_token_reads_only_its_collections(hr, eng, owner):
    make_member(hr, Role.CONTRIBUTOR, user=owner)
    make_member(eng, Role.CONTRIBUTOR, user=owner)
    in_eng = stored_document(eng, uploaded_by=owner)
    client = _client(owner, collections=[hr])
    assert search(client, "hr").status_code == 200
    hidden, missing = search(client, "eng"), search(client, "nothing-here")
    assert (hidden.status_code, hidden.content) == (missing.status_code, missing.content)
    assert client.get(f"/api/v1/documents/{in_eng.id}").status_code == 404
    assert [d["collection"] for d in client.get("/api/v1/documents").json()] == []
    assert [m["id"] for m in client.get("/v1/models").json()["data"]] == ["hr"]
    assert upload(client, "eng").status_code == 404
    assert upload(client, "hr").status_code == 202


def test_narrowing_never_widens_what_the_user_may_read(hr, eng, owner):
    make_member(hr, Role.VIEWER, user=owner)
    client = _client(owner, collections=[hr, eng])
    assert search(client, "hr").status_code == 200
    assert search(client, "eng").status_code == 404


def test_a_token_whose_collections_were_all_deleted_reads_nothing(hr, owner):
    make_member(hr, Role.VIEWER, user=owner)
    other = collection_create(slug="temp", name="Temp")
    client = _client(owner, collections=[other])
    other.delete()
    assert search(client, "hr").status_code == 404


def test_the_command_creates_narrowed_tokens_and_audits_the_narrowing(hr, eng, owner):
    make_member(hr, Role.CONTRIBUTOR, user=owner)
    make_member(eng, Role.CONTRIBUTOR, user=owner)
    raw = _token_from_command("owner", "--read-only", "--collections", "hr,eng")
    token = ApiToken.objects.get(user=owner)
    assert token.read_only and token.collections_limited
    assert sorted(token.collections.values_list("slug", flat=True)) == ["eng", "hr"]
    assert upload(Client(HTTP_AUTHORIZATION=f"Bearer {raw}"), "hr").status_code == 403
    created = AuditEvent.objects.get(action="token_created")
    assert created.details["read_only"] is True and created.details["collections"] == ["hr", "eng"]


def test_the_command_refuses_an_unknown_collection(owner):
    with pytest.raises(CommandError, match="no collection named 'nope'"):
        call_command("create_api_token", "owner", "--collections", "nope", stdout=StringIO())
    assert not ApiToken.objects.exists()


def test_a_read_only_token_may_ask_through_the_openai_compatible_endpoint(hr, owner):
    make_member(hr, Role.VIEWER, user=owner)
    client = _client(owner, read_only=True, collections=[hr])
    body = {"model": "hr", "messages": [{"role": "user", "content": "budget?"}]}
    assert client.post("/v1/chat/completions", body, content_type="application/json").status_code == 200
    body["model"] = "default"
    assert client.post("/v1/chat/completions", body, content_type="application/json").status_code == 404
