"""Scanned PDF pages and images are read by Tesseract, with their page numbers; a page with a
text layer never is; without Tesseract the reason says what to install. Legacy .doc/.ppt files
(made here from a .docx/.pptx by LibreOffice) index through LibreOffice."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ingestion.checks import check_upload
from ingestion.models import Chunk, Document
from ingestion.parsing import ParseError, parse_file
from ingestion.services import collection_create, document_ingest, document_process
from tests.factories.files import (
    docx_bytes,
    image_bytes,
    pdf_with_scanned_pages,
    scanned_page_image,
    upload,
)

pytestmark = pytest.mark.django_db
needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None,
                                     reason="Tesseract is not installed (.ci/run installs tesseract-ocr)")
needs_libreoffice = pytest.mark.skipif(shutil.which("soffice") is None,
                                       reason="LibreOffice is not installed (.ci/run installs it)")


def _index(name: str, content: bytes) -> Document:
    collection = collection_create(slug=f"ocr-{Path(name).suffix[1:]}", name="OCR")
    outcome = document_ingest(collection=collection, uploaded_by=None, file=upload(name, content))
    assert outcome.document is not None, outcome.error
    document_process(document_id=outcome.document.id)
    return Document.objects.get(pk=outcome.document.id)


def _pages_of(document: Document, phrase: str) -> set[int | None]:
    return {c.page_start for c in Chunk.objects.filter(document=document) if phrase in c.text}


@needs_tesseract
@pytest.mark.parametrize(("name", "format"), [("scan.png", "PNG"), ("scan.jpg", "JPEG"), ("scan.tiff", "TIFF")])
def test_an_image_is_indexed_with_its_text_and_page(name, format):
    document = _index(name, image_bytes(scanned_page_image(), format))
    assert document.status == "indexed", document.error
    assert _pages_of(document, "reimbursed up to 240 francs") == {1}
    assert document.parse_summary["ocr_pages"] == [1]


@needs_tesseract
def test_a_scanned_pdf_page_is_read_and_a_page_with_a_text_layer_is_not(monkeypatch):
    import ingestion.ocr as ocr

    read = []
    real = ocr._tesseract_paragraphs
    monkeypatch.setattr(ocr, "_tesseract_paragraphs", lambda image, **kw: read.append(1) or real(image, **kw))
    document = _index("mixed.pdf", pdf_with_scanned_pages(["Typed cover page about travel.", None]))
    assert document.status == "indexed", document.error
    assert read == [1]  # one page OCR'd: the scanned one
    assert _pages_of(document, "reimbursed up to 240 francs") == {2}
    assert _pages_of(document, "Typed cover page about travel.") == {1}
    assert document.parse_summary["ocr_pages"] == [2]


@needs_tesseract
def test_an_image_only_pdf_is_read_page_by_page():
    document = _index("scanned.pdf", pdf_with_scanned_pages([None, None]))
    assert document.status == "indexed", document.error
    assert _pages_of(document, "Taxis need a receipt") == {1, 2}


def test_a_pdf_with_a_text_layer_never_runs_tesseract(tmp_path, monkeypatch):
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("Tesseract ran on a text PDF"))
    path = tmp_path / "typed.pdf"
    path.write_bytes(pdf_with_scanned_pages(["Typed page one.", "Typed page two."]))
    parsed = parse_file(path, filename="typed.pdf", content_type="application/pdf")
    assert [e.page for e in parsed.elements] == [1, 2] and "ocr_pages" not in parsed.summary


@pytest.mark.parametrize(("name", "content_type"), [("scan.png", "image/png"), ("scan.pdf", "application/pdf")])
def test_without_tesseract_a_scan_fails_saying_what_to_install(tmp_path, monkeypatch, name, content_type):
    import ingestion.ocr as ocr

    monkeypatch.setattr(ocr, "tesseract_path", lambda: None)
    path = tmp_path / name
    path.write_bytes(pdf_with_scanned_pages([None]) if name.endswith(".pdf")
                     else image_bytes(scanned_page_image(), "PNG"))
    with pytest.raises(ParseError, match="needs OCR: install tesseract-ocr"):
        parse_file(path, filename=name, content_type=content_type)


def test_without_tesseract_a_pdf_keeps_the_pages_that_have_text(tmp_path, monkeypatch):
    import ingestion.ocr as ocr

    monkeypatch.setattr(ocr, "tesseract_path", lambda: None)
    path = tmp_path / "mixed.pdf"
    path.write_bytes(pdf_with_scanned_pages(["Typed cover page.", None]))
    parsed = parse_file(path, filename="mixed.pdf", content_type="application/pdf")
    assert [(e.page, e.text) for e in parsed.elements] == [(1, "Typed cover page.")]


@pytest.mark.parametrize(("name", "format", "content_type"), [
    ("a.png", "PNG", "image/png"), ("a.jpeg", "JPEG", "image/jpeg"), ("a.tif", "TIFF", "image/tiff")])
def test_images_are_accepted_for_upload(tmp_path, name, format, content_type):
    path = tmp_path / name
    path.write_bytes(image_bytes(scanned_page_image(), format))
    assert check_upload(path, name) == content_type


def _soffice_convert(source: Path, target_format: str) -> Path:
    subprocess.run(["soffice", "--headless", "--convert-to", target_format, "--outdir", str(source.parent),
                    f"-env:UserInstallation=file://{source.parent / 'lo-profile'}", str(source)],
                   check=True, capture_output=True, timeout=180)
    return source.with_suffix(f".{target_format}")


@needs_libreoffice
@pytest.mark.slow
def test_legacy_doc_and_ppt_made_by_libreoffice_are_indexed(tmp_path):
    from pptx import Presentation

    docx = tmp_path / "policy.docx"
    docx.write_bytes(docx_bytes("Travel policy", ["Hotel nights in Zurich are reimbursed up to 240 francs."]))
    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = "Laptops"
    slide.placeholders[1].text = "Laptops are replaced every four years."
    pptx = tmp_path / "it.pptx"
    deck.save(str(pptx))
    for source, fmt, phrase in [(docx, "doc", "240 francs"), (pptx, "ppt", "every four years")]:
        converted = _soffice_convert(source, fmt)
        document = _index(converted.name, converted.read_bytes())
        assert document.status == "indexed", document.error
        assert document.content_type in ("application/msword", "application/vnd.ms-powerpoint")
        assert _pages_of(document, phrase), f"{phrase!r} not indexed from {converted.name}"


def test_a_page_read_only_with_low_confidence_fails_naming_the_languages(tmp_path, monkeypatch, settings):
    import ingestion.ocr as ocr

    # What Tesseract's English model made of Chinese text in ../shared/data/docs (mean confidence 24).
    read = [(["Fe HR AR A"], 21.0), (["ZAR LE RR"], 27.0)]
    monkeypatch.setattr(ocr, "tesseract_path", lambda: "/usr/bin/tesseract")
    monkeypatch.setattr(ocr, "_tesseract_paragraphs", lambda image, **kw: iter(read))
    path = tmp_path / "chinese.png"
    path.write_bytes(image_bytes(scanned_page_image(), "PNG"))
    with pytest.raises(ParseError, match=r"mean 24%.*OCR_LANGUAGES=eng"):
        parse_file(path, filename="chinese.png", content_type="image/png")
    read.append((["Hotel nights are reimbursed."], 91.0))  # a confident paragraph is kept, alone
    parsed = parse_file(path, filename="chinese.png", content_type="image/png")
    assert [e.text for e in parsed.elements] == ["Hotel nights are reimbursed."]


@needs_tesseract
def test_an_image_without_words_fails_saying_ocr_found_no_text():
    from PIL import Image

    blank = Image.new("RGB", (400, 300), (40, 140, 60))  # a picture: colour, no words
    document = _index("photo.png", image_bytes(blank, "PNG"))
    assert document.status == "failed"
    assert document.error == "OCR found no text in this image (a photo or a drawing without words?)."
