import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.factories.files import docx_bytes

pytestmark = pytest.mark.django_db


def test_bench_ingest_reports_outcomes_and_checks_the_expected_table(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.docx").write_bytes(docx_bytes("Good", ["Plenty of words in this one."]))
    (corpus / "empty.txt").write_bytes(b"")
    table = tmp_path / "expected.md"
    call_command("bench_ingest", corpus, write_expected=table)
    text = table.read_text()
    assert "| `good.docx` | indexed |" in text and "| `empty.txt` | rejected: empty |" in text
    assert text.startswith(f"# Expected ingestion outcome of each file in {corpus}\n")
    call_command("bench_ingest", corpus, expected=table)  # agrees with itself
    table.write_text(text.replace("| `empty.txt` | rejected: empty |", "| `empty.txt` | indexed |"))
    with pytest.raises(CommandError, match="1 outcome"):
        call_command("bench_ingest", corpus, expected=table)
