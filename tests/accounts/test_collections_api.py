"""The collections API: the same rule as the pages (staff manage collections, managers their
members; 403 for a role too low, 404 for a collection one may not read), each change audited."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from accounts.models import AuditEvent, Role
from accounts.services import api_token_create
from ingestion.models import Collection
from ingestion.services import collection_create
from tests.accounts.helpers import make_member, search, stored_document, upload
from tests.conftest import bearer_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def hr(db):  # type: ignore[no-untyped-def]
    return collection_create(slug="hr", name="HR")


@pytest.fixture
def stranger(django_user_model):  # type: ignore[no-untyped-def]
    return django_user_model.objects.create_user(username="stranger", password="stranger-password-1")


def send(client: Client, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    call = getattr(client, method)
    if body is None:
        return call(f"/api/v1{path}")
    return call(f"/api/v1{path}", json.dumps(body), content_type="application/json")


def test_staff_create_rename_archive_restore_and_delete_a_collection_and_each_step_is_audited(staff):
    client = bearer_client(staff)
    created = send(client, "post", "/collections", {"slug": "legal", "name": "Legal"})
    assert created.status_code == 201, created.content
    assert created.json() | {"created_at": None} == {
        "slug": "legal", "name": "Legal", "role": "manager", "archived": False, "archived_at": None,
        "created_at": None, "document_count": 0,
    }
    assert send(client, "post", "/collections", {"slug": "legal", "name": "Again"}).status_code == 409
    renamed = send(client, "patch", "/collections/legal", {"name": "Legal and compliance"})
    assert renamed.json()["name"] == "Legal and compliance"
    assert send(client, "patch", "/collections/legal", {"archived": True}).json()["archived"] is True
    assert "legal" not in [c["slug"] for c in send(client, "get", "/collections").json()]
    assert "legal" in [c["slug"] for c in send(client, "get", "/collections?archived=true").json()]
    assert send(client, "patch", "/collections/legal", {"archived": False}).json()["archived_at"] is None
    assert send(client, "delete", "/collections/legal").status_code == 204
    assert not Collection.objects.filter(slug="legal").exists()
    changes = list(AuditEvent.objects.filter(action="collection_changed").order_by("id").values_list("details__change", flat=True))
    assert changes == ["created", "renamed", "archived", "restored", "deleted"]
    assert set(AuditEvent.objects.filter(action="collection_changed").values_list("actor_username", flat=True)) == {"staff"}


def test_a_created_collection_takes_uploads_and_answers_searches(staff):
    client = bearer_client(staff)
    send(client, "post", "/collections", {"slug": "ops", "name": "Operations"})
    assert upload(client, "ops").status_code == 202
    assert search(client, "ops").status_code == 200


@pytest.mark.parametrize("slug", ["Has Spaces", "UPPER", "", "-leading", "a" * 65, "default\x00"])
def test_a_bad_slug_is_refused(staff, slug):
    response = send(bearer_client(staff), "post", "/collections", {"slug": slug, "name": "X"})
    # NUL is refused where the body is read (400, accounts.inputs), the rest by the slug's rule (422).
    assert response.status_code == (400 if "\x00" in slug else 422)
    assert response.json()["detail"]
    assert not Collection.objects.exclude(slug="default").exists()


def test_a_collection_that_holds_documents_is_archived_not_deleted(hr, staff):
    stored_document(hr)
    response = send(bearer_client(staff), "delete", "/collections/hr")
    assert response.status_code == 409 and "archive it instead" in response.json()["detail"]
    assert Collection.objects.filter(slug="hr").exists()
    assert send(bearer_client(staff), "delete", "/collections/default").status_code == 409


def test_the_list_shows_only_readable_collections_with_the_callers_role(hr, owner, settings):
    settings.DEFAULT_COLLECTION_OPEN = True
    collection_create(slug="secret", name="Secret")
    make_member(hr, Role.VIEWER, user=owner)
    finance = Group.objects.create(name="finance")
    owner.groups.add(finance)
    make_member(hr, Role.CONTRIBUTOR, group=finance)
    listed = {c["slug"]: c["role"] for c in send(bearer_client(owner), "get", "/collections").json()}
    assert listed == {"default": "contributor", "hr": "contributor"}


def test_a_viewer_or_a_manager_who_is_not_staff_gets_403_for_collection_changes(hr, owner, member):
    make_member(hr, Role.VIEWER, user=owner)
    make_member(hr, Role.MANAGER, user=member)
    for user in (owner, member):
        client = bearer_client(user)
        assert send(client, "post", "/collections", {"slug": "mine", "name": "Mine"}).status_code == 403
        assert send(client, "patch", "/collections/hr", {"name": "Renamed"}).status_code == 403
        assert send(client, "patch", "/collections/hr", {"archived": True}).status_code == 403
        assert send(client, "delete", "/collections/hr").status_code == 403
    hr.refresh_from_db()
    assert (hr.name, hr.archived_at) == ("HR", None)
    assert not Collection.objects.filter(slug="mine").exists()
    assert not AuditEvent.objects.filter(action="collection_changed").exists()


def test_a_viewer_gets_403_for_members_and_a_hidden_collection_is_404_like_a_missing_one(hr, owner, stranger):
    make_member(hr, Role.VIEWER, user=owner)
    membership = hr.memberships.get()
    viewer = bearer_client(owner)
    assert send(viewer, "get", "/collections/hr").json()["role"] == "viewer"
    refused = send(viewer, "get", "/collections/hr/members")
    assert refused.status_code == 403 and refused.json()["detail"] == "Your role in this collection is viewer; this needs manager."
    assert send(viewer, "post", "/collections/hr/members", {"username": "stranger", "role": "manager"}).status_code == 403
    assert send(viewer, "patch", f"/collections/hr/members/{membership.id}", {"role": "manager"}).status_code == 403
    assert send(viewer, "delete", f"/collections/hr/members/{membership.id}").status_code == 403
    outsider = bearer_client(stranger)
    for path in ("/collections/hr", "/collections/hr/members"):
        hidden, missing = send(outsider, "get", path), send(outsider, "get", path.replace("hr", "nope"))
        assert (hidden.status_code, hidden.content) == (missing.status_code, missing.content) == (404, b'{"detail": "Not Found"}')
    for method, body in (("patch", {"name": "Mine"}), ("delete", None)):
        assert send(outsider, method, "/collections/hr", body).status_code == 404
    assert send(outsider, "post", "/collections/hr/members", {"username": "stranger", "role": "manager"}).status_code == 404
    assert hr.memberships.get().role == "viewer" and hr.memberships.count() == 1


def test_a_manager_adds_changes_and_removes_members_and_each_change_is_audited(hr, owner, stranger):
    make_member(hr, Role.MANAGER, user=owner)
    Group.objects.create(name="finance")
    client = bearer_client(owner)
    added = send(client, "post", "/collections/hr/members", {"username": "stranger", "role": "viewer"})
    assert added.status_code == 201 and added.json()["user"] == "stranger"
    assert search(bearer_client(stranger), "hr").status_code == 200
    again = send(client, "post", "/collections/hr/members", {"username": "stranger", "role": "contributor"})
    assert again.status_code == 200 and again.json()["id"] == added.json()["id"]
    group = send(client, "post", "/collections/hr/members", {"group": "finance", "role": "viewer"})
    assert group.status_code == 201 and group.json()["group"] == "finance"
    changed = send(client, "patch", f"/collections/hr/members/{added.json()['id']}", {"role": "manager"})
    assert changed.json()["role"] == "manager"
    listed = {(m["user"], m["group"], m["role"]) for m in send(client, "get", "/collections/hr/members").json()}
    assert listed == {("owner", None, "manager"), ("stranger", None, "manager"), (None, "finance", "viewer")}
    assert send(client, "delete", f"/collections/hr/members/{added.json()['id']}").status_code == 204
    assert search(bearer_client(stranger), "hr").status_code == 404
    events = list(AuditEvent.objects.filter(actor=owner).order_by("id").values_list("action", "details__member"))
    assert events == [("membership_changed", "user stranger"), ("role_changed", "user stranger"),
                      ("membership_changed", "group finance"), ("role_changed", "user stranger"),
                      ("membership_changed", "user stranger")]


def test_a_member_is_a_known_user_or_group_with_a_known_role(hr, owner, staff):
    client = bearer_client(staff)
    assert send(client, "post", "/collections/hr/members", {"username": "nobody", "role": "viewer"}).status_code == 400
    assert send(client, "post", "/collections/hr/members", {"role": "viewer"}).status_code == 400
    both = {"username": "owner", "group": "finance", "role": "viewer"}
    assert send(client, "post", "/collections/hr/members", both).status_code == 400
    assert send(client, "post", "/collections/hr/members", {"username": "owner", "role": "owner"}).status_code == 422
    assert send(client, "patch", "/collections/hr/members/999999", {"role": "viewer"}).status_code == 404
    assert not hr.memberships.exists()


def test_a_member_of_another_collection_is_not_reachable_through_this_one(hr, owner, staff):
    other = collection_create(slug="other", name="Other")
    make_member(other, Role.VIEWER, user=owner)
    foreign = other.memberships.get()
    client = bearer_client(staff)
    assert send(client, "delete", f"/collections/hr/members/{foreign.id}").status_code == 404
    assert other.memberships.count() == 1


def test_a_read_only_token_of_staff_changes_nothing(staff):
    _, raw = api_token_create(user=staff, name="ro", read_only=True)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert send(client, "get", "/collections").status_code == 200
    assert send(client, "post", "/collections", {"slug": "ro", "name": "RO"}).status_code == 403
    assert not Collection.objects.filter(slug="ro").exists()


def test_the_browser_session_needs_its_csrf_token(staff):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    assert send(client, "post", "/collections", {"slug": "csrf", "name": "CSRF"}).status_code == 403
    assert send(client, "get", "/collections").status_code == 200


def test_an_archived_collection_is_hidden_from_its_viewers_but_its_managers_still_manage_members(hr, owner, member, staff):
    make_member(hr, Role.VIEWER, user=owner)
    make_member(hr, Role.MANAGER, user=member)
    send(bearer_client(staff), "patch", "/collections/hr", {"archived": True})
    assert send(bearer_client(owner), "get", "/collections/hr").status_code == 404
    assert "hr" not in [c["slug"] for c in send(bearer_client(owner), "get", "/collections?archived=true").json()]
    assert send(bearer_client(member), "get", "/collections/hr/members").status_code == 200
