"""Text of scanned pages and images, read by Tesseract (the `tesseract` program, run per page).

`ocr_pdf_pages` reads the pages of a PDF that have no text layer and hold an image (a page with
text is never OCR'd; a blank page is not either); `ocr_image` reads every frame of a PNG, JPEG or
TIFF (a multi-page TIFF's frames are its pages). Both return elements with their page number:
one per paragraph Tesseract finds, a short single line without a full stop as a Title (so the
chunker keeps headings), the rest NarrativeText. Tesseract is called as a program, with a timeout
per page and one thread (the workers share the cores); without it every function here raises
ParseError("needs OCR: install tesseract-ocr ...").

PDF pages are rendered with pdfium (pypdfium2) at OCR_DPI; OCR_LANGUAGES are Tesseract's language
codes (`eng` ships with Debian's tesseract-ocr-eng; each other language needs its pack).
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import statistics
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings

from ingestion.parsing import Element, ParseError

if TYPE_CHECKING:
    from PIL.Image import Image

IMAGE_TYPES = {"image/png", "image/jpeg", "image/tiff"}
NEEDS_OCR = (
    "needs OCR: install tesseract-ocr (Debian/Ubuntu: apt-get install tesseract-ocr tesseract-ocr-eng) "
    "on the server to read {what}, or upload a copy with a text layer.")
# A paragraph read as a heading: one line, at most this many words, no closing punctuation.
TITLE_MAX_WORDS = 10


def tesseract_path() -> str | None:
    return shutil.which("tesseract")


def needs_ocr(what: str) -> str:
    return NEEDS_OCR.format(what=what)


def ocr_pdf_pages(path: Path, *, skip: set[int]) -> list[Element]:
    """Elements of the pages of `path` (1-based numbers not in `skip`, the pages that have text)
    with no text layer that hold an image. Raises ParseError when one has to be read and
    Tesseract is not installed, or Tesseract fails."""
    import pypdfium2 as pdfium

    elements: list[Element] = []
    pdf = pdfium.PdfDocument(str(path))
    try:
        pages = [n for n in range(1, len(pdf) + 1) if n not in skip and _scanned(pdf[n - 1])]
        if pages:
            _require_tesseract("scanned PDF pages (pages without a text layer)")
        for number in pages:
            image = pdf[number - 1].render(scale=settings.OCR_DPI / 72, grayscale=True).to_pil()
            elements.extend(_paragraphs(image, page=number, dpi=settings.OCR_DPI))
    finally:
        pdf.close()
    return elements


def _scanned(page: Any) -> bool:
    """A page with no text layer that shows at least one image."""
    import pypdfium2.raw as pdfium_c

    if page.get_textpage().get_text_range().strip():
        return False
    return any(True for _ in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=3))


def ocr_image(path: Path) -> list[Element]:
    """Elements of every frame of an image file, numbered as pages from 1."""
    from PIL import Image as PILImage
    from PIL import ImageSequence

    _require_tesseract("images")
    elements: list[Element] = []
    with PILImage.open(path) as image:
        for number, frame in enumerate(ImageSequence.Iterator(image), start=1):
            dpi = frame.info.get("dpi")
            elements.extend(_paragraphs(frame.convert("L"), page=number,
                                        dpi=int(dpi[0]) if dpi and dpi[0] >= 70 else None))
    return elements


def _require_tesseract(what: str) -> None:
    if tesseract_path() is None:
        raise ParseError(needs_ocr(what))


def _paragraphs(image: Image, *, page: int, dpi: int | None) -> list[Element]:
    """The paragraphs Tesseract reads with a mean word confidence of at least OCR_MIN_CONFIDENCE
    (what it reads in a script OCR_LANGUAGES does not cover, or in a photo, scores far lower:
    Chinese and vertical Japanese read as English averaged 24 and 30, English text 80-97). Raises
    ParseError when it read words on the page but none that sure."""
    out = []
    doubtful: list[float] = []
    for lines, confidence in _tesseract_paragraphs(image, dpi=dpi):
        if confidence < settings.OCR_MIN_CONFIDENCE:
            doubtful.append(confidence)
            continue
        text = _joined(lines)
        words = text.split()
        title = len(lines) == 1 and len(words) <= TITLE_MAX_WORDS and not text.endswith((".", ":", ";", ",", "?", "!"))
        out.append(Element(kind="Title" if title else "NarrativeText", text=text, page=page))
    if doubtful and not out:
        raise ParseError(
            f"OCR could not read page {page} with confidence (mean {sum(doubtful) / len(doubtful):.0f}%, below "
            f"OCR_MIN_CONFIDENCE={settings.OCR_MIN_CONFIDENCE}): its text may be in a language other than "
            f"OCR_LANGUAGES={settings.OCR_LANGUAGES} (install its tesseract-ocr-<lang> pack and add it), or too "
            "blurred. Upload a sharper scan or a copy with a text layer.")
    return out


def _joined(lines: list[str]) -> str:
    """A paragraph's lines as one text: a line ending in a hyphen runs on into the next."""
    text = ""
    for line in lines:
        text += line if not text or text.endswith("-") else " " + line
    return text


def _tesseract_paragraphs(image: Image, *, dpi: int | None) -> Iterator[tuple[list[str], float]]:
    """Each paragraph Tesseract reads in `image`: its lines and the mean confidence (0-100) of its
    words (from Tesseract's TSV output)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    command = [tesseract_path() or "tesseract", "stdin", "stdout", "-l", settings.OCR_LANGUAGES, "--psm", "3"]
    if dpi is not None:
        command += ["--dpi", str(dpi)]
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}  # Tesseract's OpenMP threads would contend with the workers'
    try:
        run = subprocess.run([*command, "tsv"], input=buffer.getvalue(), capture_output=True, env=env,
                             timeout=settings.OCR_PAGE_TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        raise ParseError(f"OCR of one page took longer than {settings.OCR_PAGE_TIMEOUT_SECONDS} s "
                         "(OCR_PAGE_TIMEOUT_SECONDS); the file was not indexed.") from None
    if run.returncode != 0:
        message = " ".join(run.stderr.decode(errors="replace").split())[:300]
        raise ParseError(f"Tesseract could not read the page (OCR_LANGUAGES={settings.OCR_LANGUAGES}): {message}")
    lines: dict[tuple[int, int], dict[int, list[str]]] = {}
    confidences: dict[tuple[int, int], list[float]] = {}
    reader = csv.DictReader(io.StringIO(run.stdout.decode(errors="replace")), delimiter="\t", quoting=csv.QUOTE_NONE)
    for row in reader:
        word = (row.get("text") or "").strip()
        if row.get("level") != "5" or not word:
            continue
        key = (int(row["block_num"]), int(row["par_num"]))
        lines.setdefault(key, {}).setdefault(int(row["line_num"]), []).append(word)
        confidences.setdefault(key, []).append(max(0.0, float(row["conf"])))
    for key, paragraph in lines.items():
        yield [" ".join(words) for _, words in sorted(paragraph.items())], statistics.fmean(confidences[key])
