"""The app's management commands migrate a database that has pending migrations before they read it."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from config.commands import migrations_pending
from ingestion.models import Collection

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_on_an_up_to_date_database_a_command_migrates_nothing_and_says_nothing():
    assert migrations_pending() == []
    out, err = run("reindex", "--all", "--dry-run")
    assert err == "" and "default: up to date" in out


def test_a_command_applies_pending_migrations_before_it_reads_the_database():
    # The newest ingestion migrations rolled back (inside the test's transaction, which undoes it all).
    call_command("migrate", "ingestion", "0004", verbosity=0)
    assert [(m.app_label, m.name) for m in migrations_pending()] == [
        ("ingestion", "0005_collection_reindex_marker"), ("ingestion", "0006_document_live_content_unique"),
        ("ingestion", "0007_document_worker_holder"), ("ingestion", "0008_keyword_engine"),
    ]

    out, err = run("reindex", "--all", "--dry-run")  # reads Collection.reindex_to, the rolled-back column

    assert err == "The database has 4 unapplied migration(s): running migrate first.\n"
    assert "default: up to date" in out
    assert migrations_pending() == []
    assert Collection.objects.filter(slug="default", reindex_to="").exists()
