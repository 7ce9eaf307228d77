"""The audit log: a row per security-relevant event, carrying the request id; append-only."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.utils import timezone

from accounts.audit import Action, audit_purge, audit_record
from accounts.models import AuditEvent, Role
from accounts.services import membership_set
from chat.services import conversation_create
from tests.conftest import bearer_client
from tests.factories.files import upload
from tests.retrieval.helpers import collection_with_texts

pytestmark = pytest.mark.django_db


def _rows(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def test_sign_in_and_failed_sign_in_are_recorded_with_the_request_id(owner):
    client = Client()
    client.post("/accounts/login/", {"username": "owner", "password": "wrong"}, HTTP_X_REQUEST_ID="req-fail-1")
    response = client.post("/accounts/login/", {"username": "owner", "password": "owner-password-1"},
                           HTTP_X_REQUEST_ID="req-ok-1")
    assert response.status_code == 302 and response["X-Request-ID"] == "req-ok-1"
    [failed] = _rows(Action.SIGN_IN_FAILED)
    assert failed.actor is None and failed.actor_username == "owner" and failed.request_id == "req-fail-1"
    assert failed.ip == "127.0.0.1" and "password" not in failed.details
    [signed_in] = _rows(Action.SIGN_IN)
    assert signed_in.actor == owner and signed_in.request_id == "req-ok-1"


def test_a_request_id_is_generated_when_absent_or_malformed(api):
    generated = api.get("/api/v1/documents")["X-Request-ID"]
    assert len(generated) == 32
    assert api.get("/api/v1/documents", HTTP_X_REQUEST_ID="bad id\nwith newline")["X-Request-ID"] != "bad id\nwith newline"


def test_token_creation_and_revocation_are_recorded(owner):
    out = StringIO()
    call_command("create_api_token", "owner", stdout=out, stderr=StringIO())
    raw = out.getvalue().strip().splitlines()[-1]
    call_command("create_api_token", revoke=raw[:9], stdout=StringIO())
    [created] = _rows(Action.TOKEN_CREATED)
    [revoked] = _rows(Action.TOKEN_REVOKED)
    assert created.target_type == "accounts.apitoken" and created.target_id == revoked.target_id
    assert created.details["user"] == "owner" and raw not in str(created.details) + created.target_label


def test_upload_and_delete_are_recorded_with_the_actor(api, owner):
    response = api.post("/api/v1/documents", {"files": [upload("notes.txt", b"Plain notes about audits.")]},
                        HTTP_X_REQUEST_ID="req-upload")
    document_id = response.json()[0]["id"]
    api.delete(f"/api/v1/documents/{document_id}", HTTP_X_REQUEST_ID="req-delete")
    [uploaded] = _rows(Action.UPLOAD)
    [deleted] = _rows(Action.DELETE)
    assert (uploaded.actor, uploaded.target_id, uploaded.target_label, uploaded.request_id) == (owner, str(document_id), "notes.txt", "req-upload")
    assert (deleted.actor, deleted.target_id, deleted.request_id) == (owner, str(document_id), "req-delete")
    assert uploaded.details["size_bytes"] == len(b"Plain notes about audits.")


def test_staff_opening_another_users_conversation_is_recorded(owner, member, staff):
    collection = collection_with_texts("audited", {"a.txt": "Some text."})
    for user in (owner, member):  # both may read the collection; only the owner the conversation
        membership_set(collection=collection, role=Role.VIEWER, user=user, actor=None)
    conversation = conversation_create(owner=owner, collection=collection, title="Private")
    url = f"/api/v1/conversations/{conversation.id}"
    assert bearer_client(owner).get(url).status_code == 200
    assert bearer_client(member).get(url).status_code == 404
    assert not _rows(Action.CONVERSATION_VIEWED_BY_STAFF)
    assert bearer_client(staff).get(url).status_code == 200
    [viewed] = _rows(Action.CONVERSATION_VIEWED_BY_STAFF)
    assert viewed.actor == staff and viewed.target_id == str(conversation.id) and viewed.details["owner"] == "owner"


def test_the_audit_log_refuses_changes_through_the_orm(owner):
    event = audit_record(action=Action.UPLOAD, actor=owner, target=("thing", 1, "label"))
    event.target_label = "rewritten"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(target_label="rewritten")
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).target_label == "label"


@pytest.mark.parametrize("statement", [
    "UPDATE accounts_auditevent SET target_label = 'rewritten'",
    "DELETE FROM accounts_auditevent",
])
def test_the_database_refuses_updates_and_deletes(owner, statement):
    audit_record(action=Action.UPLOAD, actor=owner, target=("thing", 1, "label"))
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
    assert AuditEvent.objects.get().target_label == "label"


def test_deleting_a_user_keeps_their_audit_rows(owner):
    audit_record(action=Action.UPLOAD, actor=owner, target=("thing", 1, "label"))
    owner.delete()
    assert AuditEvent.objects.get().actor_username == "owner"


def test_retention_purge_is_the_one_way_to_delete(owner):
    audit_record(action=Action.UPLOAD, actor=owner)
    out = StringIO()
    call_command("audit_purge", days=1, stdout=out)
    assert "Deleted 0 audit rows" in out.getvalue()
    assert audit_purge(before=timezone.now() + datetime.timedelta(seconds=1)) == 1
    assert not AuditEvent.objects.exists()
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        audit_record(action=Action.UPLOAD, actor=owner)
        cursor.execute("DELETE FROM accounts_auditevent")  # the purge's setting did not outlive it


def test_the_audit_admin_is_staff_only_filterable_and_read_only(owner, member, staff):
    audit_record(action=Action.UPLOAD, actor=owner, target=("ingestion.document", 7, "upload-row.txt"))
    audit_record(action=Action.SIGN_IN, actor=member, target=("auth.user", member.pk, "signin-row"))
    url = "/admin/accounts/auditevent/"
    member_client = Client()
    member_client.force_login(member)
    assert member_client.get(url).status_code == 302  # to the admin login
    staff_client = Client()
    staff_client.force_login(staff)
    page = staff_client.get(url, {"action": "upload"}).content.decode()
    assert "upload-row.txt" in page and "signin-row" not in page
    assert "signin-row" in staff_client.get(url, {"q": "member"}).content.decode()
    assert staff_client.get(url + "add/").status_code == 403
    event_id = AuditEvent.objects.get(action="upload").pk
    staff_client.post(f"{url}{event_id}/change/", {"target_label": "rewritten"})
    staff_client.post(f"{url}{event_id}/delete/", {"post": "yes"})
    assert AuditEvent.objects.get(pk=event_id).target_label == "upload-row.txt"
