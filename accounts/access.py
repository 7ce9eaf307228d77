"""The rule of who may read and change which collection; `ingestion.access` applies it.

The rule (here, in accounts, the lowest layer): roles rank viewer < contributor < manager; staff
manage every collection; members (users, or groups the user is in) have their role; when
DEFAULT_COLLECTION_OPEN is on, every signed-in user is a contributor of `default`; an API token
acts as its user, narrowed (a read-only token is at most a viewer, a token limited to collections
reads only those). The queries that apply it to collections, documents and chunks live in
`ingestion.access`, beside the models they filter, so that accounts never imports ingestion.

An API token's narrowing is seen without being passed around: TokenAuth records the token on
the request and on the user object it sets (`request_token`).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from accounts.models import ROLE_RANK, CollectionMembership, Role

DEFAULT_SLUG = "default"
READ_ONLY_REFUSAL = "This API token is read-only: it can search and chat, not upload, delete or change anything."


def user_active(user: Any) -> bool:
    """Whether `user` is a signed-in, active account (anonymous and deactivated users read nothing)."""
    return bool(user is not None and user.is_authenticated and user.is_active)


def request_token(user: Any) -> Any:
    """The ApiToken `user` authenticated with in this request (None for a browser session)."""
    return getattr(user, "api_token", None)


def memberships_of(user: Any) -> QuerySet[CollectionMembership]:
    """The memberships `user` holds directly or through one of their groups."""
    return CollectionMembership.objects.filter(Q(user=user) | Q(group__in=user.groups.all()))


def has_role(role: Role | None, needed: Role) -> bool:
    return role is not None and ROLE_RANK[role] >= ROLE_RANK[needed]


def role_resolve(user: Any, *, member_roles: list[Role], open_default: bool) -> Role | None:
    """The role the rule gives `user` in one collection: manager for staff, else the highest of
    their `member_roles` (plus contributor when it is the open default collection), then narrowed
    to viewer by a read-only token."""
    if user.is_staff:
        role: Role | None = Role.MANAGER
    else:
        roles = [*member_roles, Role.CONTRIBUTOR] if open_default else member_roles
        role = max(roles, key=ROLE_RANK.__getitem__, default=None)
    token = request_token(user)
    if role is not None and token is not None and token.read_only:
        return Role.VIEWER
    return role


def refusal(user: Any, held: Role | None, needed: Role) -> str:
    """What a user whose role is too low is told (403)."""
    token = request_token(user)
    if token is not None and token.read_only:
        return READ_ONLY_REFUSAL
    return f"Your role in this collection is {held.value if held else 'none'}; this needs {needed.value}."
