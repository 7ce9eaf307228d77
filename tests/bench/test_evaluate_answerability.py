from __future__ import annotations

import json

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_the_check_is_replayed_over_stored_passages_and_against_another_version(tmp_path, capsys):
    corpus = _write(tmp_path / "corpus.jsonl", [
        {"_id": "r", "title": "Harbour annual report", "text": "Harbour Logistics revenue was 41 million francs in 2022."},
        {"_id": "m", "title": "Canteen", "text": "Soup is served on Mondays and fish on Fridays."},
    ])
    answerable = _write(tmp_path / "answerable.jsonl", [{"question": "What was Harbour Logistics revenue in 2022?"}])
    unanswerable = _write(tmp_path / "unanswerable.jsonl", [{"question": "What was Harbour Logistics revenue in 2021?"}])
    contexts = tmp_path / "contexts.pickle"
    call_command("evaluate_answerability", corpus=corpus, answerable=[answerable], unanswerable=[unanswerable],
                 contexts=contexts)
    first = capsys.readouterr().out
    assert "| answerable.jsonl | answerable | 1 | 1 | 1.000 |" in first
    assert "| unanswerable.jsonl | unanswerable | 1 | 1 | 1.000 |" in first
    assert contexts.exists()
    # Another version of the check (here one that lets every answer go ahead), on the same passages.
    other = tmp_path / "always.py"
    other.write_text("from types import SimpleNamespace\n\n"
                     "def verdict(question, passages, previous=''):\n"
                     "    return SimpleNamespace(answerable=True, why='always')\n")
    call_command("evaluate_answerability", answerable=[answerable], unanswerable=[unanswerable], contexts=contexts,
                 check_file=other)
    second = capsys.readouterr().out
    assert "passages read from" in second
    assert "| unanswerable.jsonl | unanswerable | 1 | 0 | 0.000 |" in second
