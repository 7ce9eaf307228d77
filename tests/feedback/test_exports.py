from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from feedback.exports import redact_pii
from feedback.models import Vote
from feedback.services import ReviewSource, review_submit
from ingestion.services import document_delete
from tests.feedback.factories import make_answer, make_chunks, make_document

pytestmark = pytest.mark.django_db

TEXT = ("Refunds are paid within 14 days. Write to refunds@example.com or call +41 44 123 45 67. "
        "Shipping takes three days.")


@pytest.fixture
def reviewed(owner, staff):
    """A down-voted answer built from a wrong passage, corrected by staff with the right quote."""
    document = make_document(TEXT, name="policy.txt")
    right, contact, wrong = make_chunks(document, ["Refunds are paid within 14 days.",
                                                   " Write to refunds@example.com or call +41 44 123 45 67.",
                                                   " Shipping takes three days."])
    answer = make_answer(owner, question="How fast are refunds? Mail me at ann@example.org",
                         answer="Shipping takes three days. [1]", chunks=[wrong, contact])
    Vote.objects.create(answer=answer, user=owner, rating="down", reasons=["wrong_answer"])
    review_submit(answer=answer, reviewer=staff, verdict="corrected",
                  corrected_answer="Within 14 days; ask refunds@example.com or +41 44 123 45 67.",
                  sources=[ReviewSource(document_id=document.id, quote="paid within 14 days")])
    return answer, document, right, contact, wrong


def _export(tmp_path, kind, *extra):
    out = tmp_path / f"{kind}.jsonl"
    call_command("export_feedback", "--kind", kind, "--out", str(out), *extra)
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_sft_rows_are_chat_messages_ending_with_the_reviewed_answer(tmp_path, reviewed):
    answer = reviewed[0]
    [row] = _export(tmp_path, "sft")
    assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
    assert answer.question in row["messages"][1]["content"]
    assert "Shipping takes three days." in row["messages"][1]["content"]  # the passages the model saw
    assert row["messages"][2]["content"].startswith("Within 14 days")


def test_wrong_verdicts_are_not_sft_examples(tmp_path, reviewed, staff):
    review_submit(answer=reviewed[0], reviewer=staff, verdict="wrong", sources=[])
    assert _export(tmp_path, "sft") == []


def test_preferences_choose_the_correction_over_the_down_voted_answer(tmp_path, reviewed):
    [row] = _export(tmp_path, "preferences")
    assert set(row) == {"prompt", "chosen", "rejected", "answer_id"}
    assert row["chosen"].startswith("Within 14 days") and row["rejected"] == "Shipping takes three days. [1]"


def test_retrieval_triples_pair_the_labelled_chunk_with_retrieved_wrong_passages(tmp_path, reviewed):
    answer, document, right, contact, wrong = reviewed
    rows = _export(tmp_path, "retrieval")
    assert {r["negative_chunk_id"] for r in rows} == {wrong.id, contact.id}
    for row in rows:
        assert row["anchor"] == answer.standalone_query
        assert (row["positive"], row["positive_chunk_id"], row["positive_document_id"]) == (right.text, right.id, document.id)
        assert row["review_id"] and row["answer_id"] == answer.id


def test_redact_pii_masks_emails_and_phone_numbers_in_every_export(tmp_path, reviewed):
    for kind in ("sft", "preferences", "retrieval"):
        plain = json.dumps(_export(tmp_path, kind))
        redacted = json.dumps(_export(tmp_path, kind, "--redact-pii"))
        assert "@example" in plain or "+41 44" in plain, kind  # the fixture does carry PII
        for pii in ("refunds@example.com", "ann@example.org", "+41 44 123 45 67", "44 123 45 67"):
            assert pii not in redacted, (kind, pii)
        assert "14 days" in redacted  # numbers that are not phone numbers stay


def test_no_export_carries_the_text_of_a_deleted_document(tmp_path, reviewed):
    document = reviewed[1]
    document_delete(document=document)
    for kind in ("sft", "preferences", "retrieval"):
        exported = json.dumps(_export(tmp_path, kind))
        assert "Refunds are paid" not in exported and "Shipping takes" not in exported, kind


@pytest.mark.parametrize("text, expected", [
    ("mail jo.smith+hr@corp.example.co.uk today", "mail [EMAIL] today"),
    ("call (044) 123-4567 or +1 415 555 0100.", "call [PHONE] or [PHONE]."),
    ("signed on 2024-03-15, 14 days, 250 francs, in 1998", "signed on 2024-03-15, 14 days, 250 francs, in 1998"),
])
def test_redaction_masks_contacts_and_leaves_dates_and_amounts(text, expected):
    assert redact_pii(text) == expected


def test_labels_survive_re_chunking(tmp_path, reviewed):
    answer, document, right, contact, wrong = reviewed
    document.chunks.all().delete()
    [whole] = make_chunks(document, [TEXT])
    rows = _export(tmp_path, "retrieval")
    assert rows and {(r["positive_chunk_id"], r["positive"]) for r in rows} == {(whole.id, TEXT)}
