from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import File, Form, Router, Status
from ninja.errors import HttpError
from ninja.files import UploadedFile

from accounts.limits import rate_limit_hit, upload_volume_reserve
from ingestion.models import Collection, Document
from ingestion.schemas import ChunkSourceOut, DocumentDetailOut, DocumentOut, UploadResultOut
from ingestion.selectors import document_as_dict, document_get, document_list
from ingestion.services import collection_get_default, document_delete, document_ingest, document_retry

router = Router(tags=["documents"])


@router.post(
    "/documents",
    response={202: list[UploadResultOut], 400: list[UploadResultOut], 413: list[UploadResultOut], 415: list[UploadResultOut]},
    summary="Upload documents (multipart field `files`, repeatable; `file` accepted too)",
    description="Per user: RATE_LIMIT_UPLOAD requests per window and UPLOAD_DAILY_BYTES per UTC day (429 with Retry-After).",
)
def document_upload(
    request: HttpRequest,
    files: File[list[UploadedFile]] = None,  # type: ignore[assignment]
    file: File[list[UploadedFile]] = None,  # type: ignore[assignment]
    collection: Form[str] = "default",
) -> Status:
    uploads = list(files or []) + list(file or [])
    if not uploads:
        raise HttpError(400, "Send the files as multipart/form-data in the field 'files'.")
    rate_limit_hit(user=request.user, scope="upload")
    target = _collection(collection)
    upload_volume_reserve(user=request.user, size_bytes=sum(f.size or 0 for f in uploads))
    outcomes = [document_ingest(collection=target, uploaded_by=request.user, file=f) for f in uploads]
    body = [
        {
            "id": o.document.id if o.document else None,
            "filename": o.filename,
            "status": o.status,
            "error": o.error,
            "duplicate_of": o.duplicate_of,
        }
        for o in outcomes
    ]
    if all(o.status == "rejected" for o in outcomes):
        statuses = {o.http_status for o in outcomes}
        return Status(statuses.pop() if len(statuses) == 1 else 400, body)
    return Status(202, body)


def _collection(slug: str) -> Collection:
    if slug == "default":
        return collection_get_default()
    found = Collection.objects.filter(slug=slug, kind=Collection.Kind.USER).first()
    if found is None:
        raise HttpError(404, f"No collection '{slug}'.")
    return found


@router.get("/documents", response=list[DocumentOut], summary="List documents")
def documents_list(request: HttpRequest, status: str | None = None, collection: str | None = None) -> list[dict[str, Any]]:
    if status and status not in Document.Status.values:
        raise HttpError(400, f"status must be one of {', '.join(Document.Status.values)}")
    return [document_as_dict(d) for d in document_list(status=status, collection=collection)[:1000]]


@router.get("/documents/{document_id}", response=DocumentDetailOut, summary="One document")
def document_detail(request: HttpRequest, document_id: int) -> dict[str, Any]:
    return document_as_dict(_document_or_404(document_id))


@router.post("/documents/{document_id}/retry", response={202: DocumentOut}, summary="Process a document again")
def document_retry_endpoint(request: HttpRequest, document_id: int) -> Status:
    document = document_retry(document=_document_or_404(document_id))
    return Status(202, document_as_dict(document_get(document_id=document.id) or document))


@router.delete("/documents/{document_id}", response={204: None}, summary="Delete a document and its chunks")
def document_delete_endpoint(request: HttpRequest, document_id: int) -> Status:
    document_delete(document=_document_or_404(document_id), actor=request.user)
    return Status(204, None)


@router.get("/chunks/{chunk_id}", response=ChunkSourceOut, summary="One passage with its document (for source panels)")
def chunk_detail(request: HttpRequest, chunk_id: int) -> dict[str, Any]:
    from accounts.access import collections_readable
    from ingestion.models import Chunk

    chunk = (
        Chunk.objects.select_related("document")
        .filter(pk=chunk_id, collection__in=collections_readable(request.user))
        .first()
    )
    if chunk is None:
        raise HttpError(404, "No such passage.")
    return {
        "id": chunk.id, "document_id": chunk.document_id, "filename": chunk.document.original_filename,
        "content_type": chunk.document.content_type, "page_start": chunk.page_start, "page_end": chunk.page_end,
        "heading_path": chunk.heading_path, "text": chunk.text,
    }


def _document_or_404(document_id: int) -> Document:
    document = document_get(document_id=document_id)
    if document is None:
        raise HttpError(404, "No such document.")
    return document
