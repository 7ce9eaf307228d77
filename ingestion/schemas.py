from __future__ import annotations

from datetime import datetime

from ninja import Schema


class UploadResultOut(Schema):
    id: int | None
    filename: str
    status: str
    error: str = ""
    duplicate_of: int | None = None


class DocumentOut(Schema):
    id: int
    collection: str
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    status: str
    error: str
    attempts: int
    page_count: int | None
    chunk_count: int
    embedding_model: str
    uploaded_by: str | None
    created_at: datetime
    updated_at: datetime
    indexed_at: datetime | None


class DocumentDetailOut(DocumentOut):
    parse_summary: dict


class ChunkSourceOut(Schema):
    id: int
    document_id: int
    filename: str
    content_type: str
    page_start: int | None
    page_end: int | None
    heading_path: list[str]
    text: str
