"""Tables keep their meaning: every row is written into the parsed text as a self-describing line
(its table's title and its columns' names with its values), in every format that has tables."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command

from ingestion.chunking import Chunker
from ingestion.models import Chunk, Document
from ingestion.parsing import Element, parse_file
from ingestion.services import document_process
from ingestion.tables import TableGrid, grid_from_html, header_row_count, normalise_cell, render
from tests.factories.files import docx_bytes, upload

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


def segments_xlsx() -> bytes:
    """A report sheet as finance teams lay them out: a title, a period label right-aligned over
    the number columns, column names with line breaks, then one row per zone; a second sheet."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Segments 2023"
    sheet.append(["Analyses by segment"])
    sheet.append([])
    sheet.append(["In millions of CHF", None, None, "January–June\n2023"])
    sheet.append([None, "Sales", "Operating\nprofit", "Trading   margin"])
    sheet.append(["Zone NA", 12553, 2713, 21.6])
    sheet.append(["Zone EUR", 9467, 1570, 16.6])
    other = book.create_sheet("Segments 2022")
    other.append(["Zone", "Sales"])
    other.append(["Zone NA", 12138])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def fleet_pptx() -> bytes:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[5])
    slide.shapes.title.text = "Fleet"
    table = slide.shapes.add_table(3, 2, Inches(1), Inches(2), Inches(6), Inches(2)).table
    for r, row in enumerate([["Ship", "Crew"], ["Nautilus", "42"], ["Argo", "50"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


FARES_HTML = """<html><body><h1>Prices</h1><p>Fares by zone</p>
<table><thead><tr><th>Zone</th><th>Adult<br>fare</th><th>Child fare</th></tr></thead>
<tbody><tr><td>Zone 1</td><td>2.80</td><td>1.40</td></tr><tr><td>Zone 2</td><td>3.10</td><td>1.55</td></tr></tbody>
</table>
<p>Cover page</p>
<table><tr><td>Nevada</td><td></td><td>20-8143439</td></tr><tr><td>6480 Cameron Street, Las Vegas</td></tr>
<tr><td>(Address of principal executive offices)</td></tr></table>
</body></html>"""


def table_lines(tmp_path: Path, name: str, data: bytes, content_type: str) -> list[str]:
    path = tmp_path / name
    path.write_bytes(data)
    parsed = parse_file(path, filename=name, content_type=content_type)
    return [line for e in parsed.elements if e.kind == "Table" for line in e.text.split("\n")]


def test_a_spreadsheet_row_names_its_sheet_period_and_columns(tmp_path):
    lines = table_lines(tmp_path, "segments.xlsx", segments_xlsx(), XLSX)
    assert lines == [
        'Sheet "Segments 2023" — January–June 2023 — In millions of CHF: Zone NA; Sales: 12553; '
        "Operating profit: 2713; Trading margin: 21.6",
        'Sheet "Segments 2023" — January–June 2023 — In millions of CHF: Zone EUR; Sales: 9467; '
        "Operating profit: 1570; Trading margin: 16.6",
        'Sheet "Segments 2022" — Zone: Zone NA; Sales: 12138',
    ]


def test_line_breaks_in_cells_never_reach_the_text_literal_or_real():
    assert normalise_cell("Operating\\nprofit \n (b)\\t  x") == "Operating profit (b) x"
    grid = grid_from_html("<table><tr><td>Name</td><td>Net\\nsales</td></tr><tr><td>A</td><td>1\n200</td></tr></table>")
    assert grid is not None and render(grid) == "Name: A; Net sales: 1 200"


def test_a_word_table_row_names_its_columns_under_the_caption_above_it(tmp_path):
    data = docx_bytes("Staff", ["Team leads"], table=[["Name", "Role"], ["Ada", "Engineer"], ["Grace", "Admiral"]])
    assert table_lines(tmp_path, "staff.docx", data, DOCX) == [
        'Table "Team leads" — Name: Ada; Role: Engineer',
        'Table "Team leads" — Name: Grace; Role: Admiral',
    ]


def test_a_slide_table_row_names_its_columns_under_the_slide_title(tmp_path):
    assert table_lines(tmp_path, "fleet.pptx", fleet_pptx(), PPTX) == [
        'Table "Fleet" — Ship: Nautilus; Crew: 42',
        'Table "Fleet" — Ship: Argo; Crew: 50',
    ]


def test_an_html_table_row_names_its_th_columns_and_a_layout_table_stays_as_it_is(tmp_path):
    lines = table_lines(tmp_path, "fares.html", FARES_HTML.encode(), "text/html")
    assert lines == [
        'Table "Fares by zone" — Zone: Zone 1; Adult fare: 2.80; Child fare: 1.40',
        'Table "Fares by zone" — Zone: Zone 2; Adult fare: 3.10; Child fare: 1.55',
        # Rows of different widths: a form's layout, whose first row is no header.
        "Nevada | 20-8143439",
        "6480 Cameron Street, Las Vegas",
        "(Address of principal executive offices)",
    ]


def test_a_csv_row_names_its_columns(tmp_path):
    lines = table_lines(tmp_path, "teams.csv", b"Team,City,Founded\nBlues,St. Louis,1967\n", "text/csv")
    assert lines == ["Team: Blues; City: St. Louis; Founded: 1967"]


def test_a_table_whose_first_row_holds_numbers_has_no_header_and_keeps_its_rows(tmp_path):
    lines = table_lines(tmp_path, "readings.csv", b"Sensor A,12.5,13.1\nSensor B,11.0,\n", "text/csv")
    assert lines == ["Sensor A | 12.5 | 13.1", "Sensor B | 11.0"]


def test_a_text_only_table_takes_its_first_row_as_header_and_a_year_row_is_a_header():
    words = TableGrid(rows=[["Colour", "Mood"], ["Red", "Angry"], ["Blue", "Calm"]])
    assert header_row_count(words) == 1
    years = TableGrid(rows=[["", "2023", "2022"], ["Sales", "12553", "12138"]])
    assert render(years) == "Sales; 2023: 12553; 2022: 12138"


def test_lists_laid_out_as_tables_and_rows_led_by_quantities_have_no_header():
    bullets = TableGrid(rows=[["•", "Expand our portfolio"], ["•", "Grow our partner base"]])
    notes = TableGrid(rows=[["(1)", "Includes lawsuit costs"], ["(2)", "Net of tax"]])
    lifetimes = TableGrid(rows=[["Patents", "4 - 20 years"], ["Software", "3 years"]])
    for grid in (bullets, notes, lifetimes):
        assert header_row_count(grid) == 0
    assert render(lifetimes) == "Patents | 4 - 20 years\nSoftware | 3 years"
    codes = TableGrid(rows=[["Marker", "1Freq CD8", "2Unstim CREB"], ["1Freq CD8", "1", "-0.28"]])
    assert header_row_count(codes) == 1  # labels that start with a digit are still labels


def test_sentence_long_cells_are_no_column_names():
    grid = TableGrid(rows=[["Risk", "We may not be able to pay our debts as they become due in the usual course of business"],
                           ["Other", "Text"]])
    assert header_row_count(grid) == 0


def test_group_labels_over_columns_label_the_columns_on_their_left():
    # "2023" stands over the two columns on its left, "2022" over the two up to it (right-aligned).
    grid = TableGrid(rows=[
        ["In CHF", "", "2023", "", "2022"],
        ["", "Goodwill", "Intangibles", "Goodwill", "Intangibles"],
        ["Zone NA", "0", "-9", "-285", "—"],
    ])
    assert header_row_count(grid) == 2
    assert render(grid) == ("In CHF: Zone NA; 2023 / Goodwill: 0; 2023 / Intangibles: -9; "
                            "2022 / Goodwill: -285; 2022 / Intangibles: —")


def test_a_title_row_above_the_column_names_is_said_once_after_the_title(tmp_path):
    lines = table_lines(tmp_path, "cups.csv", b"Stanley Cups,,\nTeam,Location,Cups\nBlues,STL,1\n", "text/csv")
    assert lines == ["Stanley Cups — Team: Blues; Location: STL; Cups: 1"]


def test_colspan_and_rowspan_cells_repeat_over_what_they_span():
    grid = grid_from_html(
        "<table><tr><th rowspan='2'>Zone</th><th colspan='2'>Sales</th><th>Staff</th></tr>"
        "<tr><th>2023</th><th>2022</th><th>2023</th></tr>"
        "<tr><td>NA</td><td>12553</td><td>12138</td><td>900</td></tr></table>")
    assert grid is not None and grid.header_rows == 2
    assert render(grid) == "Zone: NA; Sales / 2023: 12553; Sales / 2022: 12138; Staff / 2023: 900"


def test_a_label_over_every_column_is_said_once_after_the_title():
    grid = TableGrid(rows=[["Zone", "Sales", "Sales"], ["", "2023", "2022"], ["NA", "12553", "12138"]],
                     title='Sheet "Results"')
    assert render(grid) == 'Sheet "Results" — Sales — Zone: NA; 2023: 12553; 2022: 12138'


def words(text: str) -> int:
    return len(text.split())


def test_a_long_table_is_split_between_rows_and_every_chunk_carries_the_headers(tmp_path):
    rows = "".join(f"Part {i},{i * 10},Warehouse {i % 3}\n" for i in range(60))
    path = tmp_path / "parts.csv"
    path.write_text("Part,Price,Location\n" + rows)
    elements = parse_file(path, filename="parts.csv", content_type="text/csv").elements
    text, chunks = Chunker(count_tokens=words, max_tokens=60, overlap_tokens=8).run(elements)
    assert len(chunks) > 3
    for chunk in chunks:
        assert chunk.is_table and chunk.text == text[chunk.char_start : chunk.char_end]
        for line in chunk.text.split("\n"):
            assert line.startswith("Part: Part ") and "; Price: " in line and "; Location: Warehouse " in line
    assert sum(len(c.text.split("\n")) for c in chunks) == 60  # each row once, none cut


def test_a_row_too_long_for_one_chunk_is_cut_and_still_starts_with_its_headers():
    grid = TableGrid(rows=[["Key", "Notes"], ["K1", " ".join(["word"] * 120)]])
    element = Element(kind="Table", text=render(grid), table=grid)
    text, chunks = Chunker(count_tokens=words, max_tokens=60, overlap_tokens=0).run([element])
    assert len(chunks) > 1 and chunks[0].text.startswith("Key: K1; Notes: word")
    assert all(c.text == text[c.char_start : c.char_end] for c in chunks)


@pytest.mark.django_db
def test_uploaded_spreadsheet_chunks_quote_verbatim_rows_with_their_column_names(api):
    entry = api.post("/api/v1/documents", {"files": [upload("segments.xlsx", segments_xlsx())]}).json()[0]
    document_process(document_id=entry["id"])
    document = Document.objects.get(pk=entry["id"])
    assert document.status == "indexed", document.error
    chunks = list(Chunk.objects.filter(document=document, is_table=True))
    assert chunks
    for chunk in chunks:
        assert document.parsed_text[chunk.char_start : chunk.char_end] == chunk.text
    row = next(c for c in chunks if "Zone NA; Sales: 12553" in c.text)
    assert 'Sheet "Segments 2023" — January–June 2023' in row.text and "12138" not in row.text
    assert "\\n" not in document.parsed_text


@pytest.mark.django_db
def test_the_document_page_shows_the_table_with_its_column_names(api, browser_client):
    entry = api.post("/api/v1/documents", {"files": [upload("fares.html", FARES_HTML.encode())]}).json()[0]
    document_process(document_id=entry["id"])
    page = browser_client.get(f"/documents/{entry['id']}/").content.decode()
    assert "<caption>Table &quot;Fares by zone&quot;</caption>" in page
    assert '<th scope="col">Adult fare</th>' in page and "<td>3.10</td>" in page


@pytest.mark.django_db
def test_reparse_queues_indexed_table_documents_once_and_rewrites_their_rows(
        api, django_capture_on_commit_callbacks):
    table = api.post("/api/v1/documents", {"files": [upload("teams.csv", b"Team,City\nBlues,St. Louis\n")]}).json()[0]
    prose = api.post("/api/v1/documents", {"files": [upload("notes.txt", b"Plain prose, no table.")]}).json()[0]
    for entry in (table, prose):
        document_process(document_id=entry["id"])
    # What a document indexed before tables were written as rows looks like.
    Chunk.objects.filter(document_id=table["id"]).update(text="Team | City\nBlues | St. Louis")
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        call_command("reparse", "--all", "--tables-only", stdout=out)
    assert "queued 1 document(s)" in out.getvalue() and len(callbacks) == 1
    assert Document.objects.get(pk=table["id"]).status == "queued"
    assert Document.objects.get(pk=prose["id"]).status == "indexed"
    again = io.StringIO()
    call_command("reparse", "--all", "--tables-only", stdout=again)  # already queued: nothing more
    assert "queued 0 document(s)" in again.getvalue()
    document_process(document_id=table["id"])
    [chunk] = Chunk.objects.filter(document_id=table["id"])
    assert chunk.text == "Team: Blues; City: St. Louis"
    assert Document.objects.get(pk=table["id"]).status == "indexed"
