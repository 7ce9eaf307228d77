"""The access selectors only read, in a bounded number of queries; the default collection comes
from migrate, not from an access check."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.http import Http404

from accounts.models import Role
from ingestion.access import access_collection, collection_readable, collections_with_role
from ingestion.models import Collection
from ingestion.services import collection_create
from tests.accounts.helpers import make_member

pytestmark = pytest.mark.django_db


def test_the_default_collection_exists_after_migrate_and_access_checks_never_create_it(owner):
    assert Collection.objects.filter(slug="default").exists()  # made by migrate (post_migrate)
    Collection.objects.filter(slug="default").delete()
    assert collection_readable(owner, "default") is None
    with pytest.raises(Http404):
        access_collection(owner, "default")
    assert not Collection.objects.filter(slug="default").exists()
    call_command("migrate", verbosity=0)
    assert Collection.objects.filter(slug="default").exists()


def test_collections_with_role_takes_two_queries_whatever_the_number_of_collections(
    owner, django_assert_num_queries
):
    collections = [collection_create(slug=f"team-{i}", name=f"Team {i}") for i in range(6)]
    for i, collection in enumerate(collections):
        make_member(collection, [Role.VIEWER, Role.CONTRIBUTOR, Role.MANAGER][i % 3], user=owner)
    with django_assert_num_queries(2):
        uploadable = collections_with_role(owner, Role.CONTRIBUTOR)
    # The open default (contributor for everyone) and the four collections where owner contributes or manages.
    assert sorted(c.slug for c in uploadable) == ["default", "team-1", "team-2", "team-4", "team-5"]
    with django_assert_num_queries(2):
        managed = collections_with_role(owner, Role.MANAGER)
    assert sorted(c.slug for c in managed) == ["team-2", "team-5"]
