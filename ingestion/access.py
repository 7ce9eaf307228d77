"""The queries that apply the access rule (accounts.access) to collections, documents and chunks.

Every path to document content (BM25 and vector SQL through `search`, the search and chat APIs,
the OpenAI-compatible endpoint, source panel, document pages, downloads, retry and delete,
uploads, the retrieval lab, feedback) takes its answer from here; nothing filters after the fact.

- `collections_readable(user)`: the collections whose content `user` may read (a queryset).
- `collection_role(user, collection)`: viewer < contributor < manager, or None.
- `access_collection` / `access_document` / `access_chunk`: fetch with the check built in. What
  the user may not read raises Http404, exactly as if it did not exist (same status, same body);
  what they may read but not change raises PermissionDenied (403).

Evaluation collections are never readable through the product; archived ones are not readable
(their data is kept, and staff still manage them). These selectors only read: the default
collection is made by `ingestion.services.collection_default_ensure` after every migrate.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import Http404

from accounts.access import (
    DEFAULT_SLUG,
    has_role,
    memberships_of,
    refusal,
    request_token,
    role_resolve,
    user_active,
)
from accounts.models import Role
from ingestion.models import Chunk, Collection, Document


def _narrowed(user: Any, collections: QuerySet[Collection]) -> QuerySet[Collection]:
    token = request_token(user)
    if token is not None and token.collections_limited:
        return collections.filter(id__in=token.collections.values("id"))
    return collections


def collections_readable(user: Any, *, include_archived: bool = False) -> QuerySet[Collection]:
    """The collections whose documents `user` may search, chat with and open (archived ones
    only with `include_archived`, for the pages that manage them)."""
    if not user_active(user):
        return Collection.objects.none()
    collections = Collection.objects.filter(kind=Collection.Kind.USER)
    if not include_archived:
        collections = collections.filter(archived_at__isnull=True)
    if not user.is_staff:
        member = Q(id__in=memberships_of(user).values("collection_id"))
        if settings.DEFAULT_COLLECTION_OPEN:
            member |= Q(slug=DEFAULT_SLUG)
        collections = collections.filter(member)
    return _narrowed(user, collections).order_by("name", "id")


def _open_default(collection: Collection) -> bool:
    return settings.DEFAULT_COLLECTION_OPEN and collection.slug == DEFAULT_SLUG


def collection_role(user: Any, collection: Collection) -> Role | None:
    """The user's role in `collection` (archived or not), or None if they have none."""
    if not user_active(user) or collection.kind != Collection.Kind.USER:
        return None
    token = request_token(user)
    if token is not None and token.collections_limited and not token.collections.filter(pk=collection.pk).exists():
        return None
    member_roles = [] if user.is_staff else [
        Role(r) for r in memberships_of(user).filter(collection=collection).values_list("role", flat=True)
    ]
    return role_resolve(user, member_roles=member_roles, open_default=_open_default(collection))


def collection_readable(user: Any, slug: str) -> Collection | None:
    """The collection named `slug` if `user` may read it; None otherwise (callers answer 404)."""
    # PostgreSQL refuses NUL bytes in text, so such a slug names no collection.
    return collections_readable(user).filter(slug=slug).first() if "\x00" not in slug else None


def access_collection(user: Any, slug: str, *, role: Role = Role.VIEWER, archived: bool = False) -> Collection:
    """The collection `slug` if `user` holds at least `role` in it.

    Raises Http404 when the user may not read it (or it does not exist), PermissionDenied when
    they may read it but their role is too low. `archived=True` admits archived collections (for
    staff and managers managing them)."""
    # One query, the same whether the collection is hidden or missing.
    collection = None if "\x00" in slug else collections_readable(user, include_archived=archived).filter(slug=slug).first()
    if collection is None:
        raise Http404("No such collection.")
    held = collection_role(user, collection)
    if not has_role(held, role):
        raise PermissionDenied(refusal(user, held, role))
    return collection


def access_document(user: Any, document_id: int, *, change: bool = False) -> Document:
    """The document `document_id` if `user` may read it (Http404 otherwise, as for a missing one).

    `change=True` (retry, delete): managers change every document of the collection,
    contributors their own uploads; others get PermissionDenied."""
    document = (
        Document.objects.select_related("collection", "uploaded_by")
        .filter(pk=document_id, collection__in=collections_readable(user))
        .defer("parsed_text")
        .first()
    )
    if document is None:
        raise Http404("No such document.")
    if change:
        held = collection_role(user, document.collection)
        own = document.uploaded_by_id is not None and document.uploaded_by_id == user.pk
        if not (has_role(held, Role.MANAGER) or (own and has_role(held, Role.CONTRIBUTOR))):
            raise PermissionDenied(refusal(user, held, Role.CONTRIBUTOR if own else Role.MANAGER))
    return document


def access_chunk(user: Any, chunk_id: int) -> Chunk:
    """The passage `chunk_id` with its document, if `user` may read it (Http404 otherwise)."""
    chunk = (
        Chunk.objects.select_related("document")
        .filter(pk=chunk_id, collection__in=collections_readable(user))
        .first()
    )
    if chunk is None:
        raise Http404("No such passage.")
    return chunk


def collections_managed(user: Any) -> QuerySet[Collection]:
    """The collections whose members `user` may manage: all of them for staff (archived too),
    those where they are a manager otherwise."""
    if not user_active(user):
        return Collection.objects.none()
    collections = Collection.objects.filter(kind=Collection.Kind.USER)
    if not user.is_staff:
        collections = collections.filter(
            id__in=memberships_of(user).filter(role=Role.MANAGER).values("collection_id"), archived_at__isnull=True
        )
    return _narrowed(user, collections).order_by("name", "id")


def collections_with_role(user: Any, role: Role) -> list[Collection]:
    """The readable collections where `user` holds at least `role` (for pickers, e.g. upload).

    Two queries whatever the number of collections: the readable ones, and the user's memberships."""
    readable = list(collections_readable(user))
    if not readable:
        return []
    member_roles: dict[int, list[Role]] = defaultdict(list)
    if not user.is_staff:
        rows = memberships_of(user).filter(collection__in=readable).values_list("collection_id", "role")
        for collection_id, held in rows:
            member_roles[collection_id].append(Role(held))
    return [
        c for c in readable
        if has_role(role_resolve(user, member_roles=member_roles[c.id], open_default=_open_default(c)), role)
    ]


def collections_with_roles(user: Any, *, include_archived: bool = False) -> list[tuple[Collection, Role | None]]:
    """The readable collections with the role `user` holds in each; with `include_archived`, also
    the archived ones they manage (for lists that manage collections). Two queries."""
    readable = list(collections_readable(user, include_archived=include_archived).annotate(document_count=Count("documents")))
    member_roles: dict[int, list[Role]] = defaultdict(list)
    if readable and not user.is_staff:
        rows = memberships_of(user).filter(collection__in=readable).values_list("collection_id", "role")
        for collection_id, held in rows:
            member_roles[collection_id].append(Role(held))
    pairs = [
        (c, role_resolve(user, member_roles=member_roles[c.id], open_default=_open_default(c))) for c in readable
    ]
    return [(c, role) for c, role in pairs if c.archived_at is None or has_role(role, Role.MANAGER)]
