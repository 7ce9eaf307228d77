"""A document's page says why it has no chunks: failed (and why), still on its way, or no text."""

from __future__ import annotations

import pytest

from accounts.models import Role
from ingestion.models import Document
from ingestion.services import collection_create
from tests.accounts.helpers import make_member, session_client, stored_document

pytestmark = pytest.mark.django_db


@pytest.fixture
def document(owner):  # type: ignore[no-untyped-def]
    collection = collection_create(slug="hr", name="HR")
    make_member(collection, Role.CONTRIBUTOR, user=owner)
    return stored_document(collection, uploaded_by=owner, name="scan.pdf")


def no_chunks_line(owner, document) -> str:  # type: ignore[no-untyped-def]
    page = session_client(owner).get(f"/documents/{document.id}/").content.decode()
    start = page.index('id="no-chunks"')
    return page[start:page.index("</p>", start)]


def test_a_failed_documents_page_says_it_failed_and_why_not_no_chunks_yet(owner, document):
    Document.objects.filter(pk=document.pk).update(status=Document.Status.FAILED, error="The PDF has no text layer.")
    line = no_chunks_line(owner, document)
    assert "processing failed" in line and "The PDF has no text layer." in line
    assert "yet" not in line


def test_a_queued_documents_page_says_its_chunks_are_still_to_come(owner, document):
    assert "No chunks yet: the file is queued" in no_chunks_line(owner, document)


def test_an_indexed_document_without_chunks_says_no_text_was_found(owner, document):
    Document.objects.filter(pk=document.pk).update(status=Document.Status.INDEXED)
    assert "no text was found" in no_chunks_line(owner, document)
