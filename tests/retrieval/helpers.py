"""Index text straight through the real chunk + embed + store path, without a worker."""

from __future__ import annotations

from ingestion.models import Collection, Document
from ingestion.services import collection_create, document_process
from tests.factories.files import upload


def collection_with_texts(slug: str, texts: dict[str, str], *, kind: str = Collection.Kind.USER) -> Collection:
    from ingestion.services import document_ingest

    collection = collection_create(slug=slug, name=slug, kind=kind)
    for name, text in texts.items():
        outcome = document_ingest(collection=collection, uploaded_by=None, file=upload(name, text.encode()))
        assert outcome.document is not None, outcome.error
        document_process(document_id=outcome.document.id)
        document = Document.objects.get(pk=outcome.document.id)
        assert document.status == "indexed", document.error
    return collection
