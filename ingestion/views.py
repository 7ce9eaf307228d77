from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts.models import Role
from ingestion.access import access_document, collections_with_role
from ingestion.models import Chunk
from ingestion.parsing import storage_path


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("/chat/")


@login_required
def documents_page(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "ingestion/documents.html",
        {
            "max_mb": settings.UPLOAD_MAX_BYTES // (1024 * 1024),
            "upload_collections": collections_with_role(request.user, Role.CONTRIBUTOR),
        },
    )


@login_required
def document_page(request: HttpRequest, document_id: int) -> HttpResponse:
    document = access_document(request.user, document_id)
    chunks = Chunk.objects.filter(document=document).only(
        "ordinal", "text", "page_start", "page_end", "heading_path", "token_count", "is_table"
    )
    return render(request, "ingestion/document.html", {"document": document, "chunks": chunks})


@login_required
def document_file(request: HttpRequest, document_id: int) -> FileResponse:
    """The original upload, served as an attachment under its original name (never inline HTML)."""
    document = access_document(request.user, document_id)
    path = storage_path(document.stored_name)
    if not path.exists():
        raise Http404("The stored file is missing.")
    inline = document.content_type == "application/pdf"
    response = FileResponse(
        path.open("rb"),
        as_attachment=not inline,
        filename=document.original_filename,
        content_type=document.content_type if inline else "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response
