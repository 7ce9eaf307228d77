"""The one place that decides which collections a user may read.

Every path to document content (search, chat, the OpenAI-compatible endpoint, source panel,
document pages and downloads) takes its answer as an argument; nothing filters after the fact.
Until collection memberships exist, every signed-in user may read every user collection
(evaluation collections are never readable through the product).
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from ingestion.models import Collection


def collections_readable(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Collection]:
    if not user.is_authenticated or not user.is_active:
        return Collection.objects.none()
    return Collection.objects.filter(kind=Collection.Kind.USER)


def collection_readable(user: AbstractBaseUser | AnonymousUser, slug: str) -> Collection | None:
    """The collection named `slug` if `user` may read it; None otherwise (callers answer 404)."""
    if slug == "default":
        from ingestion.services import collection_get_default

        collection_get_default()
    return collections_readable(user).filter(slug=slug).first()
