from __future__ import annotations

import hashlib
import logging
import secrets
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone

from accounts.audit import Action, audit_record
from accounts.models import ApiToken, CollectionMembership, Role

if TYPE_CHECKING:  # memberships and tokens name collections by foreign key; no runtime import upward
    from ingestion.models import Collection

logger = logging.getLogger(__name__)

STORED_PREFIX_LENGTH = 11  # "fn_" and 8 characters of the secret


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def api_token_create(
    *, user: User, name: str = "", read_only: bool = False, collections: list[Collection] | None = None,
    actor: User | None = None,
) -> tuple[ApiToken, str]:
    """Create a token; returns it with the raw secret, which is never stored. `actor` is who
    asked for it, when not `user` (None from the command line).

    `read_only`: search and chat only. `collections`: the token reads only these (and only
    those its user may read); None reads whatever its user may."""
    raw = "fn_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name, prefix=raw[:STORED_PREFIX_LENGTH], token_hash=token_hash(raw),
        read_only=read_only, collections_limited=collections is not None,
    )
    if collections:
        token.collections.set(collections)
    audit_record(
        action=Action.TOKEN_CREATED, actor=actor, target=token, user=user.get_username(), name=name,
        read_only=read_only, collections=[c.slug for c in collections] if collections is not None else None,
    )
    return token, raw


@transaction.atomic
def api_token_revoke(*, prefix: str, actor: User | None = None) -> int:
    """Revoke the active tokens that start with `prefix` (or equal it); returns how many."""
    if len(prefix) < 6:
        raise ValueError("give at least the first 6 characters of the token")
    active = ApiToken.objects.filter(revoked_at__isnull=True)
    by_hash = active.filter(token_hash=token_hash(prefix))
    matching = by_hash if by_hash.exists() else active.filter(prefix__startswith=prefix[:STORED_PREFIX_LENGTH])
    revoked = list(matching.select_related("user").select_for_update())
    for token in revoked:
        audit_record(action=Action.TOKEN_REVOKED, actor=actor, target=token, user=token.user.get_username())
    return ApiToken.objects.filter(pk__in=[t.pk for t in revoked]).update(revoked_at=timezone.now())


def admin_ensure(*, stdout: Any = None) -> str | None:
    """Create the first superuser if no user exists. Returns a generated password, if any."""
    User = get_user_model()
    if User.objects.exists():
        return None
    password = settings.ADMIN_PASSWORD or secrets.token_urlsafe(12)
    User.objects.create_superuser(username=settings.ADMIN_USERNAME, email="", password=password)
    generated = not settings.ADMIN_PASSWORD
    message = (
        f"Created superuser '{settings.ADMIN_USERNAME}' with the generated password: {password}\n"
        "(shown once; set ADMIN_PASSWORD to choose it, or run `python manage.py changepassword admin`)"
        if generated
        else f"Created superuser '{settings.ADMIN_USERNAME}' with the password from ADMIN_PASSWORD."
    )
    print(message, file=stdout)
    return password if generated else None


def admin_ensure_on_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    # Test databases get their users from fixtures, not from here.
    if using != "default" or str(settings.DATABASES["default"]["NAME"]).startswith("test_"):
        return
    admin_ensure()


# -- the members of collections (staff and managers, from accounts.views) ---------------------
# Every change is written to the audit log with the actor who made it.


def _member_label(membership: CollectionMembership) -> str:
    return f"user {membership.user.get_username()}" if membership.user else f"group {membership.group}"


@transaction.atomic
def membership_set(
    *, collection: Collection, role: str, actor: User | None,
    user: User | None = None, group: Group | None = None,
) -> CollectionMembership:
    """Give `user` or `group` (exactly one) `role` in `collection`, adding or changing it."""
    if (user is None) == (group is None):
        raise ValueError("give a user or a group")
    previous = CollectionMembership.objects.filter(collection=collection, user=user, group=group).first()
    membership, _ = CollectionMembership.objects.update_or_create(
        collection=collection, user=user, group=group, defaults={"role": Role(role)}
    )
    if previous is None:
        audit_record(action=Action.MEMBERSHIP_CHANGED, actor=actor, target=collection, change="added",
                     member=_member_label(membership), role=membership.role)
    elif previous.role != membership.role:
        audit_record(action=Action.ROLE_CHANGED, actor=actor, target=collection, member=_member_label(membership),
                     role_before=previous.role, role=membership.role)
    return membership


@transaction.atomic
def membership_remove(*, membership: CollectionMembership, actor: User | None) -> None:
    audit_record(action=Action.MEMBERSHIP_CHANGED, actor=actor, target=membership.collection, change="removed",
                 member=_member_label(membership), role=membership.role)
    membership.delete()
