"""CSV/TSV files are read as one table whatever their encoding, delimiter and row widths."""

from __future__ import annotations

import pytest

from ingestion.models import Chunk, Document
from ingestion.parsing import ParseError, parse_file
from ingestion.services import document_process
from tests.factories.files import upload

pytestmark = pytest.mark.django_db

RAGGED = "name,age,city\nAda,36,London\nGrace,85\nLinus,54,Helsinki,Finland\n"
TEAMS = "Team,City\nBlues,St. Louis\nCanadiens,Montréal\n"


def _table_rows(tmp_path, name: str, data: bytes, content_type: str = "text/csv") -> list[list[str]]:
    path = tmp_path / name
    path.write_bytes(data)
    [table] = parse_file(path, filename=name, content_type=content_type).elements
    assert table.kind == "Table" and table.table_rows is not None
    return table.table_rows


def test_a_csv_with_ragged_rows_is_indexed_as_a_table(api):
    entry = api.post("/api/v1/documents", {"files": [upload("people.csv", RAGGED.encode())]}).json()[0]
    assert entry["status"] == "queued", entry
    document_process(document_id=entry["id"])
    document = Document.objects.get(pk=entry["id"])
    assert document.status == "indexed", document.error
    [chunk] = Chunk.objects.filter(document=document)
    assert chunk.is_table
    # Each row names its columns; the extra field of a longer row gets a positional name.
    assert "name: Grace; age: 85\n" in chunk.text
    assert "name: Linus; age: 54; city: Helsinki; Column 4: Finland" in chunk.text


def test_short_rows_are_padded_to_the_widest_row(tmp_path):
    assert _table_rows(tmp_path, "people.csv", RAGGED.encode()) == [
        ["name", "age", "city", ""],
        ["Ada", "36", "London", ""],
        ["Grace", "85", "", ""],
        ["Linus", "54", "Helsinki", "Finland"],
    ]


def test_the_delimiter_is_sniffed_and_quoted_delimiters_stay_in_their_cell(tmp_path):
    data = b'city;note\nBern;"quiet; green"\nLyon;\n\nOslo;"said ""hej"""\n'
    assert _table_rows(tmp_path, "notes.csv", data) == [
        ["city", "note"], ["Bern", "quiet; green"], ["Lyon", ""], ["Oslo", 'said "hej"'],
    ]


def test_lines_without_a_common_delimiter_are_one_column(tmp_path):
    data = b"Lorem, ipsum\ndolor sit\namet consectetur\nsed do; eiusmod\n"
    assert _table_rows(tmp_path, "lines.csv", data) == [
        ["Lorem, ipsum"], ["dolor sit"], ["amet consectetur"], ["sed do; eiusmod"],
    ]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-8-sig"])
def test_a_unicode_csv_is_decoded_with_or_without_a_byte_order_mark(tmp_path, encoding):
    rows = _table_rows(tmp_path, "teams.csv", TEAMS.encode(encoding))
    assert rows == [["Team", "City"], ["Blues", "St. Louis"], ["Canadiens", "Montréal"]]


def test_a_legacy_8_bit_csv_is_decoded(tmp_path):
    data = "Stadt,Straße\nMünchen,Königstraße\nKöln,Hohe Straße\n".encode("cp1252")
    assert _table_rows(tmp_path, "streets.csv", data)[1] == ["München", "Königstraße"]


def test_a_utf16_tsv_is_decoded(tmp_path):
    data = TEAMS.replace(",", "\t").encode("utf-16")
    assert _table_rows(tmp_path, "teams.tsv", data, "text/tsv")[2] == ["Canadiens", "Montréal"]


def test_a_utf16_csv_upload_is_indexed(api):
    entry = api.post("/api/v1/documents", {"files": [upload("teams.csv", TEAMS.encode("utf-16"))]}).json()[0]
    assert entry["status"] == "queued", entry
    document_process(document_id=entry["id"])
    document = Document.objects.get(pk=entry["id"])
    assert document.status == "indexed", document.error
    assert "Team: Canadiens; City: Montréal" in document.parsed_text


def test_a_table_padded_past_the_cell_limit_fails_with_a_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("CSV_MAX_CELLS", "20")
    # 11 tabs (under the limit), but the wide first row pads ten more rows to 12 cells each.
    data = ("\t" * 11 + "wide\n" + "x\n" * 10).encode()
    path = tmp_path / "wide.tsv"
    path.write_bytes(data)
    with pytest.raises(ParseError, match="CSV_MAX_CELLS"):
        parse_file(path, filename="wide.tsv", content_type="text/tsv")
