"""Roles in a collection: viewer, contributor, manager; groups; the open default; archive; staff."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from accounts.models import AuditEvent, Role
from ingestion.models import Document
from ingestion.services import collection_create, collection_default_ensure
from tests.accounts.helpers import make_member, search, session_client, stored_document, upload
from tests.conftest import bearer_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def hr(db):  # type: ignore[no-untyped-def]
    return collection_create(slug="hr", name="HR")


@pytest.fixture
def stranger(django_user_model):  # type: ignore[no-untyped-def]
    return django_user_model.objects.create_user(username="stranger", password="stranger-password-1")


def test_a_viewer_searches_but_cannot_upload_or_delete(hr, owner, member):
    make_member(hr, Role.VIEWER, user=owner)
    document = stored_document(hr, uploaded_by=member)
    client = bearer_client(owner)
    assert search(client, "hr").status_code == 200
    refused = upload(client, "hr")
    assert refused.status_code == 403
    assert refused.json()["detail"] == "Your role in this collection is viewer; this needs contributor."
    assert client.delete(f"/api/v1/documents/{document.id}").status_code == 403
    assert client.get(f"/api/v1/documents/{document.id}").status_code == 200


def test_a_contributor_uploads_and_deletes_their_own_uploads_only(hr, owner, member):
    make_member(hr, Role.CONTRIBUTOR, user=owner)
    make_member(hr, Role.CONTRIBUTOR, user=member)
    client = bearer_client(owner)
    response = upload(client, "hr")
    assert response.status_code == 202, response.content
    own_id = response.json()[0]["id"]
    theirs = stored_document(hr, uploaded_by=member)
    refused = client.delete(f"/api/v1/documents/{theirs.id}")
    assert refused.status_code == 403 and "needs manager" in refused.json()["detail"]
    assert client.post(f"/api/v1/documents/{theirs.id}/retry").status_code == 403
    assert client.post(f"/api/v1/documents/{own_id}/retry").status_code == 202
    assert client.delete(f"/api/v1/documents/{own_id}").status_code == 204
    assert list(Document.objects.values_list("id", flat=True)) == [theirs.id]


def test_a_manager_changes_every_document_and_manages_members(hr, owner, member, stranger):
    make_member(hr, Role.MANAGER, user=owner)
    theirs = stored_document(hr, uploaded_by=member)
    assert bearer_client(owner).delete(f"/api/v1/documents/{theirs.id}").status_code == 204
    client = session_client(owner)
    assert client.get("/collections/hr/").status_code == 200
    response = client.post("/collections/hr/members", {"username": "stranger", "role": "viewer"})
    assert response.status_code == 302
    assert search(bearer_client(stranger), "hr").status_code == 200
    assert AuditEvent.objects.filter(action="membership_changed", details__member="user stranger").exists()


def test_a_group_membership_gives_its_role_to_every_user_in_the_group(hr, owner):
    finance = Group.objects.create(name="finance")
    owner.groups.add(finance)
    client = bearer_client(owner)
    assert search(client, "hr").status_code == 404
    make_member(hr, Role.CONTRIBUTOR, group=finance)
    assert search(client, "hr").status_code == 200
    assert upload(client, "hr").status_code == 202


def test_the_highest_of_a_users_roles_counts(hr, owner):
    finance = Group.objects.create(name="finance")
    owner.groups.add(finance)
    make_member(hr, Role.VIEWER, user=owner)
    make_member(hr, Role.MANAGER, group=finance)
    assert session_client(owner).get("/collections/hr/").status_code == 200


def test_a_non_member_gets_the_same_404_as_for_a_collection_that_does_not_exist(hr, owner):
    client = bearer_client(owner)
    hidden, missing = search(client, "hr"), search(client, "no-such-collection")
    assert (hidden.status_code, hidden.content) == (missing.status_code, missing.content) == (404, b'{"detail": "Not Found"}')
    assert upload(client, "hr").status_code == 404
    chat = client.post("/api/v1/chat", {"question": "salaries?", "collection": "hr"}, content_type="application/json")
    assert chat.status_code == 404


@pytest.mark.parametrize("is_open", [True, False])
def test_the_default_collection_is_open_to_every_user_only_when_the_setting_says_so(settings, owner, staff, is_open):
    settings.DEFAULT_COLLECTION_OPEN = is_open
    collection_default_ensure()
    client = bearer_client(owner)
    assert search(client, "default").status_code == (200 if is_open else 404)
    assert upload(client, "default").status_code == (202 if is_open else 404)
    assert ("default" in [m["id"] for m in client.get("/v1/models").json()["data"]]) is is_open
    assert search(bearer_client(staff), "default").status_code == 200


def test_an_archived_collection_is_hidden_unsearchable_and_closed_to_uploads_but_keeps_its_documents(hr, owner, staff):
    make_member(hr, Role.CONTRIBUTOR, user=owner)
    document = stored_document(hr, uploaded_by=owner)
    response = session_client(staff).post("/collections/hr/settings", {"archive": "1"})
    assert response.status_code == 302
    client = bearer_client(owner)
    assert search(client, "hr").status_code == 404
    assert upload(client, "hr").status_code == 404
    assert client.get(f"/api/v1/documents/{document.id}").status_code == 404
    assert "hr" not in [m["id"] for m in client.get("/v1/models").json()["data"]]
    assert 'value="hr"' not in session_client(owner).get("/chat/").content.decode()
    assert Document.objects.filter(pk=document.id).exists()
    session_client(staff).post("/collections/hr/settings", {"restore": "1"})
    assert client.get(f"/api/v1/documents/{document.id}").status_code == 200


def test_staff_create_rename_and_archive_collections_in_the_browser_and_each_change_is_audited(staff):
    client = session_client(staff)
    assert client.post("/collections/", {"slug": "legal", "name": "Legal"}).status_code == 302
    assert client.post("/collections/", {"slug": "legal", "name": "Again"}).status_code == 200  # form error
    client.post("/collections/legal/settings", {"name": "Legal and compliance"})
    client.post("/collections/legal/settings", {"archive": "1"})
    page = client.get("/collections/").content.decode()
    assert "Legal and compliance" in page and "archived" in page
    changes = list(AuditEvent.objects.filter(action="collection_changed").values_list("details__change", flat=True))
    assert sorted(changes) == ["archived", "created", "renamed"]


def test_role_changes_and_removals_are_audited(hr, staff, owner):
    make_member(hr, Role.VIEWER, user=owner)
    membership = hr.memberships.get()
    client = session_client(staff)
    client.post(f"/collections/hr/members/{membership.id}", {"role": "manager"})
    membership.refresh_from_db()
    assert membership.role == "manager"
    client.post(f"/collections/hr/members/{membership.id}", {"remove": "1"})
    assert not hr.memberships.exists()
    role_change = AuditEvent.objects.get(action="role_changed")
    assert role_change.actor == staff and role_change.details["role_before"] == "viewer"
    assert AuditEvent.objects.filter(action="membership_changed", details__change="removed").count() == 1


def test_only_staff_create_collections_and_only_managers_open_a_collections_members(hr, owner, stranger):
    make_member(hr, Role.CONTRIBUTOR, user=owner)
    client = session_client(owner)
    assert client.post("/collections/", {"slug": "mine", "name": "Mine"}).status_code == 403
    assert client.get("/collections/hr/").status_code == 403
    assert client.post("/collections/hr/members", {"username": "stranger", "role": "manager"}).status_code == 403
    assert session_client(stranger).get("/collections/hr/").status_code == 404
    assert "HR" in client.get("/collections/").content.decode()


def test_losing_access_hides_ones_own_conversations_and_answers_in_that_collection(hr, owner):
    make_member(hr, Role.VIEWER, user=owner)
    client = bearer_client(owner)
    answer = client.post("/api/v1/chat", {"question": "salaries?", "collection": "hr"}, content_type="application/json").json()
    vote = {"rating": "up"}
    assert client.post(f"/api/v1/answers/{answer['answer_id']}/feedback", vote, content_type="application/json").status_code == 200
    hr.memberships.all().delete()
    assert client.get(f"/api/v1/conversations/{answer['conversation_id']}").status_code == 404
    assert client.get("/api/v1/conversations").json() == []
    assert client.post(f"/api/v1/answers/{answer['answer_id']}/feedback", vote, content_type="application/json").status_code == 404
