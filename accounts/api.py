"""The collections API: list, create, rename, archive and delete collections; their members.

The same rule as the collection pages (accounts.views): staff create, rename, archive and delete
collections; staff and the collection's managers manage its members; others get 403 for a
collection they may read and 404 for one they may not (as if it did not exist). Every change is
written to the audit log by the services.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.http import Http404, HttpRequest
from ninja import Router, Status
from ninja.errors import HttpError

from accounts.access import has_role
from accounts.auth import user_of
from accounts.models import CollectionMembership, Role
from accounts.schemas import CollectionIn, CollectionOut, CollectionPatch, MemberIn, MemberOut, MemberPatch
from accounts.services import membership_remove, membership_set
from ingestion.access import access_collection, collection_role, collections_with_roles
from ingestion.models import Collection
from ingestion.services import collection_add, collection_archive_set, collection_remove, collection_rename

router = Router(tags=["collections"])

STAFF_ONLY = "Only staff create, rename, archive and delete collections."


def _collection_dict(collection: Collection, role: Role | None) -> dict[str, Any]:
    count = getattr(collection, "document_count", None)
    return {
        "slug": collection.slug, "name": collection.name, "role": role,
        "archived": collection.archived_at is not None, "archived_at": collection.archived_at,
        "created_at": collection.created_at,
        "document_count": count if count is not None else collection.documents.count(),
    }


def _visible(request: HttpRequest, slug: str, *, role: Role = Role.VIEWER) -> tuple[Collection, Role | None]:
    """The collection if the caller may see it (an archived one only if they manage it), with
    their role: Http404 otherwise, PermissionDenied if their role is below `role`."""
    collection = access_collection(request.user, slug, role=role, archived=True)
    held = collection_role(request.user, collection)
    if collection.archived_at is not None and not has_role(held, Role.MANAGER):
        raise Http404("No such collection.")
    return collection, held


def _staff_only(request: HttpRequest) -> None:
    if not request.user.is_staff:
        raise PermissionDenied(STAFF_ONLY)


@router.get("/collections", response=list[CollectionOut], summary="The collections you may read, with your role")
def collections_list(request: HttpRequest, archived: bool = False) -> list[dict[str, Any]]:
    """`archived=true` adds the archived collections you manage."""
    return [_collection_dict(c, role) for c, role in collections_with_roles(request.user, include_archived=archived)]


@router.post("/collections", response={201: CollectionOut}, summary="Create a collection (staff)")
def collections_create(request: HttpRequest, payload: CollectionIn) -> Status:
    _staff_only(request)
    if Collection.objects.filter(slug=payload.slug).exists():
        raise HttpError(409, f"A collection with the slug '{payload.slug}' exists already.")
    try:
        collection = collection_add(slug=payload.slug, name=payload.name, actor=user_of(request))
    except IntegrityError:  # created by a concurrent request since the check
        raise HttpError(409, f"A collection with the slug '{payload.slug}' exists already.") from None
    return Status(201, _collection_dict(collection, collection_role(request.user, collection)))


@router.get("/collections/{slug}", response=CollectionOut, summary="One collection, with your role")
def collections_get(request: HttpRequest, slug: str) -> dict[str, Any]:
    collection, role = _visible(request, slug)
    return _collection_dict(collection, role)


@router.patch("/collections/{slug}", response=CollectionOut, summary="Rename, archive or restore a collection (staff)")
def collections_change(request: HttpRequest, slug: str, payload: CollectionPatch) -> dict[str, Any]:
    collection, role = _visible(request, slug)
    _staff_only(request)
    actor = user_of(request)
    if payload.name is not None and payload.name != collection.name:
        collection = collection_rename(collection=collection, name=payload.name, actor=actor)
    if payload.archived is not None and payload.archived != (collection.archived_at is not None):
        collection = collection_archive_set(collection=collection, archived=payload.archived, actor=actor)
    return _collection_dict(collection, role)


@router.delete("/collections/{slug}", response={204: None},
               summary="Delete an unused collection (staff); one with documents or conversations is archived instead (409)")
def collections_delete(request: HttpRequest, slug: str) -> Status:
    collection, _ = _visible(request, slug)
    _staff_only(request)
    try:
        collection_remove(collection=collection, actor=user_of(request))
    except ValueError as exc:
        raise HttpError(409, f"{exc}.") from None
    return Status(204, None)


# -- members (staff and the collection's managers) --------------------------------------------


def _member_dict(membership: CollectionMembership) -> dict[str, Any]:
    return {
        "id": membership.id, "user": membership.user.get_username() if membership.user else None,
        "group": membership.group.name if membership.group else None,
        "role": membership.role, "created_at": membership.created_at,
    }


def _membership(collection: Collection, membership_id: int) -> CollectionMembership:
    membership = (CollectionMembership.objects.select_related("user", "group")
                  .filter(pk=membership_id, collection=collection).first())
    if membership is None:
        raise HttpError(404, "No such member.")
    return membership


@router.get("/collections/{slug}/members", response=list[MemberOut], summary="The members of a collection (managers)")
def members_list(request: HttpRequest, slug: str) -> list[dict[str, Any]]:
    collection, _ = _visible(request, slug, role=Role.MANAGER)
    memberships = CollectionMembership.objects.filter(collection=collection).select_related("user", "group")
    return [_member_dict(m) for m in memberships]


@router.post("/collections/{slug}/members", response={200: MemberOut, 201: MemberOut},
             summary="Give a user or a group a role (managers); 200 when it changed an existing member's role")
def members_add(request: HttpRequest, slug: str, payload: MemberIn) -> Status:
    collection, _ = _visible(request, slug, role=Role.MANAGER)
    username, group_name = (payload.username or "").strip(), (payload.group or "").strip()
    if bool(username) == bool(group_name):
        raise HttpError(400, "Give a username or a group name (one of them).")
    user = group = None
    if username:
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise HttpError(400, f"No active user named {username!r}.")
    else:
        group = Group.objects.filter(name=group_name).first()
        if group is None:
            raise HttpError(400, f"No group named {group_name!r}.")
    existed = CollectionMembership.objects.filter(collection=collection, user=user, group=group).exists()
    membership = membership_set(collection=collection, role=payload.role, actor=user_of(request), user=user, group=group)
    return Status(200 if existed else 201, _member_dict(membership))


@router.patch("/collections/{slug}/members/{membership_id}", response=MemberOut, summary="Change a member's role (managers)")
def members_change(request: HttpRequest, slug: str, membership_id: int, payload: MemberPatch) -> dict[str, Any]:
    collection, _ = _visible(request, slug, role=Role.MANAGER)
    membership = _membership(collection, membership_id)
    membership = membership_set(collection=collection, role=payload.role, actor=user_of(request),
                                user=membership.user, group=membership.group)
    return _member_dict(membership)


@router.delete("/collections/{slug}/members/{membership_id}", response={204: None}, summary="Remove a member (managers)")
def members_remove(request: HttpRequest, slug: str, membership_id: int) -> Status:
    collection, _ = _visible(request, slug, role=Role.MANAGER)
    membership_remove(membership=_membership(collection, membership_id), actor=user_of(request))
    return Status(204, None)
