"""Documents generated in code for tests: nothing is copied from elsewhere."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from django.core.files.uploadedfile import SimpleUploadedFile

if TYPE_CHECKING:
    from PIL.Image import Image


def docx_bytes(title: str, paragraphs: list[str], *, table: list[list[str]] | None = None) -> bytes:
    import docx

    document = docx.Document()
    document.add_heading(title, level=1)
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, cell in enumerate(row):
                grid.cell(r, c).text = cell
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def pdf_bytes(pages: list[str]) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    for text in pages:
        y = 800
        for line in text.split("\n"):
            pdf.drawString(60, y, line)
            y -= 16
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def upload(name: str, content: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


SCAN_LINES = ["Expense policy", "Hotel nights in Zurich are reimbursed up to 240 francs.",
              "Taxis need a receipt from the driver."]


def scanned_page_image(lines: list[str] | None = None, *, dpi: int = 200) -> Image:
    """A page as a scanner would give it: black text on white pixels, no text layer (Pillow's
    bundled font, so no font package is needed). The first line is larger, as a heading."""
    from PIL import Image, ImageDraw, ImageFont

    lines = lines if lines is not None else SCAN_LINES
    page = Image.new("L", (int(8.27 * dpi), int(4 * dpi)), 255)
    draw = ImageDraw.Draw(page)
    y = dpi // 2
    for n, line in enumerate(lines):
        size = dpi // 4 if n == 0 else dpi // 6
        draw.text((dpi // 2, y), line, font=ImageFont.load_default(size=size), fill=0)
        y += int(size * 1.8)
    page.info["dpi"] = (dpi, dpi)
    return page


def image_bytes(image: Image, format: str) -> bytes:
    out = io.BytesIO()
    image.save(out, format=format, dpi=image.info.get("dpi", (200, 200)))
    return out.getvalue()


def pdf_with_scanned_pages(pages: list[str | None]) -> bytes:
    """A PDF whose pages are text (a string: drawn as a text layer) or scanned (None: an image of
    SCAN_LINES, no text layer)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    width, height = A4
    for text in pages:
        if text is None:
            image = scanned_page_image()
            pdf.drawImage(ImageReader(image), 0, height - width * image.height / image.width, width=width,
                          height=width * image.height / image.width)
        else:
            pdf.drawString(60, 800, text)
        pdf.showPage()
    pdf.save()
    return out.getvalue()
