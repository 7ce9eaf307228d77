"""What a format's own parser says is broken in a file that yielded no text.

unstructured reads a damaged PDF or HTML file leniently: it logs the parser's complaint and
returns no elements, which alone would read as "no text". `damage_found` asks the parser again,
so the document fails as "corrupt or truncated" in the parser's own words; when it finds nothing
broken, the file really parsed and has no text. Nothing here touches the database.
"""

from __future__ import annotations

import logging
from pathlib import Path

PDF_TYPES = {"application/pdf"}
HTML_TYPES = {"text/html", "application/xhtml+xml"}
_MAX_WORDS = 3


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def pdf_damage(path: Path) -> str:
    """pypdf's words for what stops it reading the PDF's pages ('' when it reads them)."""
    from pypdf import PdfReader

    collect, logger = _Collect(), logging.getLogger("pypdf")
    logger.addHandler(collect)
    try:
        len(PdfReader(path).pages)
    except Exception as exc:  # any failure to read the pages is the damage to report
        return "; ".join(dict.fromkeys([*collect.messages[:_MAX_WORDS], str(exc) or type(exc).__name__]))
    finally:
        logger.removeHandler(collect)
    return ""


def html_damage(path: Path) -> str:
    """libxml2's fatal errors for the HTML file (nesting past its depth limit, ...), or ''."""
    import lxml.etree

    parser = lxml.etree.HTMLParser()
    lxml.etree.fromstring(path.read_bytes(), parser)
    fatal = [entry.message for entry in parser.error_log if entry.level_name == "FATAL"]
    return "; ".join(dict.fromkeys(fatal[:_MAX_WORDS]))


def damage_found(path: Path, content_type: str) -> str:
    """The failure reason of a file of `content_type` whose parser reports a broken structure,
    or '' (no such report, or a format without a check here)."""
    if content_type in PDF_TYPES:
        words = pdf_damage(path)
        return f"The PDF is corrupt or truncated (the PDF reader says: {words}). " \
               "Save or export it again, then upload the new file." if words else ""
    if content_type in HTML_TYPES:
        words = html_damage(path)
        return f"The HTML file is corrupt or truncated, or nested too deeply to read (the HTML parser says: {words}). " \
               "Save it again in a simpler form, or as PDF, then upload it." if words else ""
    return ""
