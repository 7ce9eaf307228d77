"""A file whose parser reports a broken structure fails as "corrupt or truncated" in the parser's
own words; "no text layer" is said only of a PDF that parsed and has no text."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from ingestion.models import Document
from ingestion.parsing import ParseError, parse_file
from ingestion.services import document_process
from tests.factories.files import pdf_bytes, upload


def _reason(tmp_path: Path, name: str, content: bytes, content_type: str) -> str:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ParseError) as failure:
        parse_file(path, filename=name, content_type=content_type)
    return str(failure.value)


def _pdf_without_text() -> bytes:
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out)
    pdf.rect(100, 100, 200, 200, fill=1)  # a drawing, as a scan is an image: no text layer
    pdf.showPage()
    pdf.save()
    return out.getvalue()


@pytest.mark.parametrize("content", [os.urandom(4000), b"MZ\x90\x00" + os.urandom(3000)], ids=["random", "executable"])
def test_bytes_named_pdf_fail_as_corrupt_with_the_readers_words(tmp_path, content):
    reason = _reason(tmp_path, "file.pdf", content, "application/pdf")
    assert "corrupt or truncated" in reason and "invalid pdf header" in reason
    assert "text layer" not in reason


def test_a_truncated_pdf_fails_as_corrupt_or_truncated(tmp_path):
    whole = pdf_bytes(["Hotel nights in Zurich are reimbursed up to 240 francs."])
    reason = _reason(tmp_path, "cut.pdf", whole[: len(whole) // 2], "application/pdf")
    assert "corrupt or truncated" in reason and "EOF marker not found" in reason


def test_a_pdf_that_parses_without_text_says_no_text_layer(tmp_path):
    reason = _reason(tmp_path, "scan.pdf", _pdf_without_text(), "application/pdf")
    assert "no text layer" in reason and "corrupt" not in reason


def test_html_nested_past_the_parsers_limit_says_so(tmp_path):
    html = "<html><body>" + "<div>" * 3000 + "Hotel nights are reimbursed." + "</div>" * 3000 + "</body></html>"
    reason = _reason(tmp_path, "deep-nesting.html", html.encode(), "text/html")
    assert "nested too deeply" in reason and "Excessive depth" in reason and "text layer" not in reason


@pytest.mark.django_db
def test_an_uploaded_corrupt_pdf_fails_with_that_reason(api):
    entry = api.post("/api/v1/documents", {"files": [upload("random.pdf", b"%PDF-1.4\n" + os.urandom(3000))]}).json()[0]
    assert entry["status"] == "queued", entry
    document_process(document_id=entry["id"])
    document = Document.objects.get(pk=entry["id"])
    assert document.status == "failed" and "corrupt or truncated" in document.error
