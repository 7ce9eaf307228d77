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
