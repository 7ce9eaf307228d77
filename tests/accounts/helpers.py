"""Personas and collections for the permission tests."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.models import Role
from accounts.services import membership_set
from ingestion.models import Collection, Document


def make_member(collection: Collection, role: Role, *, user: Any = None, group: Any = None) -> None:
    membership_set(collection=collection, role=role, actor=None, user=user, group=group)


def session_client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def upload(client: Client, collection: str, name: str = "note.txt", text: str = "A short note about budgets.") -> Any:
    file = SimpleUploadedFile(name, text.encode(), content_type="text/plain")
    return client.post("/api/v1/documents", {"files": [file], "collection": collection})


def stored_document(collection: Collection, *, uploaded_by: Any = None, name: str = "doc.txt") -> Document:
    """A document row (queued, no file): enough for reads, retries and deletes."""
    return Document.objects.create(
        collection=collection, original_filename=name, stored_name=f"{collection.slug}-{name}-{Document.objects.count()}",
        content_type="text/plain", size_bytes=1, sha256=uuid.uuid4().hex * 2, uploaded_by=uploaded_by,
    )


def search(client: Client, collection: str, query: str = "budget", **extra: Any) -> Any:
    body = {"query": query, "collection": collection, "mode": "bm25", "rerank": False, **extra}
    return client.post("/api/v1/search", body, content_type="application/json")
