from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import File, Form, Router, Status
from ninja.errors import HttpError
from ninja.files import UploadedFile

from accounts.auth import user_of
from accounts.limits import rate_limit_hit, upload_volume_check
from accounts.models import Role
from ingestion.access import access_chunk, access_collection, access_document, collections_readable
from ingestion.models import Document
from ingestion.schemas import ChunkSourceOut, DocumentDetailOut, DocumentOut, UploadResultOut
from ingestion.selectors import document_as_dict, document_get, document_list
from ingestion.services import DuplicateContent, document_delete, document_ingest, document_retry

router = Router(tags=["documents"])


@router.post(
    "/documents",
    response={202: list[UploadResultOut], 400: list[UploadResultOut], 409: list[UploadResultOut], 413: list[UploadResultOut],
              415: list[UploadResultOut]},
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
    target = access_collection(request.user, collection, role=Role.CONTRIBUTOR)
    # Refused up front without counting; each file stored as a new document is counted as it is stored.
    upload_volume_check(user=request.user, size_bytes=sum(f.size or 0 for f in uploads))
    outcomes = [document_ingest(collection=target, uploaded_by=user_of(request), file=f) for f in uploads]
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


@router.get("/documents", response=list[DocumentOut], summary="List documents")
def documents_list(request: HttpRequest, status: str | None = None, collection: str | None = None) -> list[dict[str, Any]]:
    if status and status not in Document.Status.values:
        raise HttpError(400, f"status must be one of {', '.join(Document.Status.values)}")
    documents = document_list(status=status, collection=collection, readable=collections_readable(request.user))
    return [document_as_dict(d) for d in documents[:1000]]


@router.get("/documents/{document_id}", response=DocumentDetailOut, summary="One document")
def document_detail(request: HttpRequest, document_id: int) -> dict[str, Any]:
    return document_as_dict(access_document(request.user, document_id))


@router.post("/documents/{document_id}/retry", response={202: DocumentOut}, summary="Process a document again")
def document_retry_endpoint(request: HttpRequest, document_id: int) -> Status:
    try:
        document = document_retry(document=access_document(request.user, document_id, change=True))
    except DuplicateContent as exc:
        raise HttpError(409, str(exc)) from None
    return Status(202, document_as_dict(document_get(document_id=document.id) or document))


@router.delete("/documents/{document_id}", response={204: None}, summary="Delete a document and its chunks")
def document_delete_endpoint(request: HttpRequest, document_id: int) -> Status:
    document_delete(document=access_document(request.user, document_id, change=True), actor=user_of(request))
    return Status(204, None)


@router.get("/chunks/{chunk_id}", response=ChunkSourceOut, summary="One passage with its document (for source panels)")
def chunk_detail(request: HttpRequest, chunk_id: int) -> dict[str, Any]:
    chunk = access_chunk(request.user, chunk_id)
    return {
        "id": chunk.id, "document_id": chunk.document_id, "filename": chunk.document.original_filename,
        "content_type": chunk.document.content_type, "page_start": chunk.page_start, "page_end": chunk.page_end,
        "heading_path": chunk.heading_path, "text": chunk.text,
    }

