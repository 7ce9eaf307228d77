from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q


class ApiToken(models.Model):
    """A bearer token for scripts. Only a SHA-256 of the secret is stored.

    A token acts as its user, optionally narrowed: `read_only` (search and chat only), and/or
    `collections_limited` to the listed `collections` (an explicit flag, so that a token whose
    listed collections were all deleted reads nothing rather than everything)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=12, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    read_only = models.BooleanField(default=False)
    collections_limited = models.BooleanField(default=False)
    collections = models.ManyToManyField("ingestion.Collection", blank=True, related_name="+")

    def __str__(self) -> str:
        state = "revoked" if self.revoked_at else "active"
        return f"{self.prefix}… ({self.user}, {state})"


class Role(models.TextChoices):
    """What a member may do in a collection; each role includes the ones before it."""

    VIEWER = "viewer", "Viewer (search and chat)"
    CONTRIBUTOR = "contributor", "Contributor (also upload, delete own uploads)"
    MANAGER = "manager", "Manager (also members and all documents)"


ROLE_RANK = {Role.VIEWER: 1, Role.CONTRIBUTOR: 2, Role.MANAGER: 3}


class CollectionMembership(models.Model):
    """A user or a group (exactly one) with a role in a collection."""

    collection = models.ForeignKey("ingestion.Collection", on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="memberships"
    )
    group = models.ForeignKey(Group, null=True, blank=True, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, group__isnull=True) | Q(user__isnull=True, group__isnull=False),
                name="membership_user_xor_group",
            ),
            models.UniqueConstraint(fields=["collection", "user"], name="membership_one_per_user"),
            models.UniqueConstraint(fields=["collection", "group"], name="membership_one_per_group"),
        ]
        ordering = ["collection_id", "group_id", "user_id"]

    def __str__(self) -> str:
        return f"{self.user or self.group} is {self.role} of {self.collection}"


class AuditQuerySet(models.QuerySet["AuditEvent"]):
    """Bulk writes are refused: the audit log only grows (see accounts.audit for the one purge)."""

    def update(self, **kwargs: object) -> int:
        raise PermissionError("the audit log is append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("the audit log is append-only")


class AuditEvent(models.Model):
    """One security-relevant event. Append-only: the ORM refuses changes, and a database trigger
    (migration 0002) refuses UPDATE and DELETE from any client."""

    class Action(models.TextChoices):
        SIGN_IN = "sign_in"
        SIGN_IN_FAILED = "sign_in_failed"
        TOKEN_CREATED = "token_created"
        TOKEN_REVOKED = "token_revoked"
        MEMBERSHIP_CHANGED = "membership_changed"
        ROLE_CHANGED = "role_changed"
        COLLECTION_CHANGED = "collection_changed"
        UPLOAD = "upload"
        DELETE = "delete"
        CONVERSATION_VIEWED_BY_STAFF = "conversation_viewed_by_staff"
        LIMIT_TRIPPED = "limit_tripped"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # No database constraint: deleting a user must not rewrite (or lose) their audit rows;
    # actor_username keeps who it was.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    actor_username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=40, choices=Action.choices, db_index=True)
    target_type = models.CharField(max_length=60, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=300, blank=True)
    request_id = models.CharField(max_length=64, blank=True, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["actor", "-created_at"])]

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise PermissionError("the audit log is append-only")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise PermissionError("the audit log is append-only")

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_username or '-'} {self.action} {self.target_label}"


class UsageDay(models.Model):
    """What one user consumed on one (UTC) day: the ledger behind the daily token budget and the
    daily upload volume. Changed only by conditional UPDATEs in accounts.limits, so concurrent
    requests in any number of processes can never together pass the limit."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    tokens_used = models.BigIntegerField(default=0)
    tokens_reserved = models.BigIntegerField(default=0)
    upload_bytes = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "day"], name="accounts_usageday_user_day")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.day}: {self.tokens_used} tokens, {self.upload_bytes} bytes"
