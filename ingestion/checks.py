"""Checks of an upload's bytes before anything parses them.

`check_upload` returns the content type detected from the bytes, or raises `Rejected` with a
reason a user can act on and the HTTP status that fits (400 bad file, 415 unsupported type).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import InterfaceError, OperationalError


class Rejected(Exception):
    def __init__(self, reason: str, http_status: int = 400) -> None:
        super().__init__(reason)
        self.http_status = http_status


# MIME types we can index, and the extensions a user would give them.
SUPPORTED: dict[str, tuple[str, ...]] = {
    "application/pdf": (".pdf",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (".docx",),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (".pptx",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (".xlsx",),
    "application/msword": (".doc",),
    "application/vnd.ms-powerpoint": (".ppt",),
    "application/vnd.ms-excel": (".xls",),
    "application/vnd.oasis.opendocument.text": (".odt",),
    "application/epub": (".epub",),
    "application/epub+zip": (".epub",),
    "application/rtf": (".rtf",),
    "text/rtf": (".rtf",),
    "text/html": (".html", ".htm"),
    "text/markdown": (".md", ".markdown"),
    "text/x-markdown": (".md", ".markdown"),
    "text/plain": (".txt", ".text", ".log"),
    "text/csv": (".csv",),
    "text/tsv": (".tsv",),
    "text/tab-separated-values": (".tsv",),
    "message/rfc822": (".eml",),
    "application/vnd.ms-outlook": (".msg",),
    "application/json": (".json",),
    "application/xml": (".xml",),
    "text/xml": (".xml",),
    "text/org": (".org",),
    "text/x-rst": (".rst",),
}


def too_large_message(size: int) -> str:
    limit_mb = settings.UPLOAD_MAX_BYTES / (1024 * 1024)
    return (
        f"The file is {size / (1024 * 1024):.1f} MB; the limit is {limit_mb:.0f} MB "
        "(UPLOAD_MAX_BYTES). Split it into smaller files."
    )


def check_upload(path: Path, filename: str) -> str:
    from ingestion.parsing import detect_content_type

    size = path.stat().st_size
    if size == 0:
        raise Rejected("The file is empty (0 bytes). Upload a file with content.", 400)
    if size > settings.UPLOAD_MAX_BYTES:
        raise Rejected(too_large_message(size), 413)
    try:
        content_type = detect_content_type(path, filename)
    except Exception as exc:
        raise Rejected(f"The file type could not be determined ({exc}).", 415) from exc
    if content_type not in SUPPORTED:
        kinds = ", ".join(sorted({ext for exts in SUPPORTED.values() for ext in exts}))
        raise Rejected(f"Files of type {content_type} cannot be indexed. Supported: {kinds}.", 415)
    return content_type


def is_transient(exc: BaseException) -> bool:
    """Errors worth retrying: the database went away for a moment."""
    return isinstance(exc, (OperationalError, InterfaceError))
