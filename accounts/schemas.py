"""The collections API's bodies (accounts.api): collections with the caller's role, and members."""

from __future__ import annotations

from datetime import datetime

from ninja import Field, Schema

from accounts.models import Role

SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"


class CollectionIn(Schema):
    slug: str = Field(..., min_length=1, max_length=64, pattern=SLUG_PATTERN,
                      description="lower-case letters, digits, - and _; used in the API and in uploads")
    name: str = Field(..., min_length=1, max_length=200)


class CollectionPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=200)
    archived: bool | None = Field(None, description="true archives (hidden, data kept), false restores")


class CollectionOut(Schema):
    slug: str
    name: str
    role: Role | None = Field(..., description="the caller's role: viewer < contributor < manager")
    archived: bool
    archived_at: datetime | None
    created_at: datetime
    document_count: int


class MemberIn(Schema):
    username: str | None = Field(None, description="a user's username, or")
    group: str | None = Field(None, description="a group's name (exactly one of the two)")
    role: Role


class MemberPatch(Schema):
    role: Role


class MemberOut(Schema):
    id: int
    user: str | None
    group: str | None
    role: Role
    created_at: datetime
