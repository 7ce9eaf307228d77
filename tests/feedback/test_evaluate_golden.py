from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from chat.models import Answer, Conversation
from feedback.services import ReviewSource, review_submit
from ingestion.models import Document
from ingestion.parsing import Element
from ingestion.services import collection_create, documents_index_elements

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

CORPUS = {
    "turtles.txt": "Green sea turtles can live for more than eighty years. They nest on sandy beaches.",
    "volcanoes.txt": "Mount Etna in Sicily is one of the most active volcanoes in Europe.",
    "flamingos.txt": "Flamingos are pink because they eat shrimp and algae rich in carotenoids.",
    "bread.txt": "Sourdough bread rises with wild yeast and lactic acid bacteria instead of baker's yeast.",
}


@pytest.fixture
def golden(owner, staff):
    collection = collection_create(slug="golden", name="Golden")
    documents_index_elements(collection=collection, items=[
        (name, [Element(kind="NarrativeText", text=text)]) for name, text in CORPUS.items()])
    docs = {d.original_filename: d for d in Document.objects.filter(collection=collection)}
    conversation = Conversation.objects.create(owner=owner, collection=collection)

    def reviewed(question, filename, quote, **review):
        answer = Answer.objects.create(conversation=conversation, question=question, standalone_query=question,
                                       answer="an old answer", backend="extractive")
        review_submit(answer=answer, reviewer=staff, sources=[ReviewSource(document_id=docs[filename].id, quote=quote)],
                      **review)

    reviewed("How long do green sea turtles live?", "turtles.txt", "live for more than eighty years",
             verdict="corrected", corrected_answer="Green sea turtles can live for more than eighty years.")
    reviewed("Which volcano in Sicily is active?", "volcanoes.txt", "Mount Etna", verdict="wrong")
    # A label the question does not lead to: recall@1 must miss it.
    reviewed("Why are flamingos pink?", "bread.txt", "wild yeast", verdict="wrong")


def test_evaluate_golden_reports_recall_of_labelled_spans_and_answer_f1(golden, tmp_path, settings, capsys):
    settings.LLM_BASE_URL = ""
    answers_before = Answer.objects.count()
    out = tmp_path / "golden.json"
    call_command("evaluate_golden", "--k", "1", "--json", str(out))
    report = json.loads(out.read_text())
    assert report["n"] == 3
    assert report["recall@1"] == pytest.approx(2 / 3, abs=1e-3)
    assert report["answer_f1"] > 0.8  # the extractive answer quotes the corrected sentence
    assert Answer.objects.count() == answers_before  # the run leaves no answers behind
    assert "recall@1" in capsys.readouterr().out
