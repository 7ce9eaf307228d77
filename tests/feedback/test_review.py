from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import ValidationError

from chat.models import Answer, Conversation
from feedback.models import Review
from feedback.services import ReviewSource, review_submit
from ingestion.models import Document
from ingestion.services import collection_create, collection_default_ensure

pytestmark = pytest.mark.django_db

TEXT = "Otters hold hands while sleeping. Otters hold hands so they do not drift apart."


def make_document(collection, text=TEXT, name="otters.txt") -> Document:
    return Document.objects.create(collection=collection, original_filename=name, stored_name=f"{name}-{text[:8]}",
                                   content_type="text/plain", size_bytes=len(text), sha256=uuid.uuid4().hex * 2,
                                   status=Document.Status.INDEXED, parsed_text=text)


@pytest.fixture
def answer(owner):
    conversation = Conversation.objects.create(owner=owner, collection=collection_default_ensure())
    return Answer.objects.create(conversation=conversation, question="Why do otters hold hands?",
                                 standalone_query="Why do otters hold hands?", answer="They like it.",
                                 backend="extractive", trace={"passages": []})


def test_review_stores_sources_as_quoted_spans_of_the_document(answer, staff):
    document = make_document(answer.conversation.collection)
    quote = "so they do not drift apart"
    review = review_submit(answer=answer, reviewer=staff, verdict="corrected", corrected_answer="So they do not drift.",
                           sources=[ReviewSource(document_id=document.id, quote=quote)])
    label = review.labels.get()
    assert (label.document_id, label.quote) == (document.id, quote)
    assert document.parsed_text[label.char_start:label.char_end] == quote


def test_a_quote_that_is_not_verbatim_is_refused_with_a_clear_error(answer, staff):
    document = make_document(answer.conversation.collection)
    with pytest.raises(ValidationError, match="not verbatim in 'otters.txt'"):
        review_submit(answer=answer, reviewer=staff, verdict="correct",
                      sources=[ReviewSource(document_id=document.id, quote="otters hold hands while awake")])
    assert not Review.objects.exists()


def test_the_pinned_occurrence_of_a_repeated_quote_is_kept(answer, staff):
    document = make_document(answer.conversation.collection)
    second = TEXT.index("Otters hold hands", 1)
    review = review_submit(answer=answer, reviewer=staff, verdict="correct",
                           sources=[ReviewSource(document_id=document.id, quote="Otters hold hands", char_start=second)])
    assert review.labels.get().char_start == second
    with pytest.raises(ValidationError, match="not at character 3"):
        review_submit(answer=answer, reviewer=staff, verdict="correct",
                      sources=[ReviewSource(document_id=document.id, quote="Otters hold hands", char_start=3)])


def test_a_document_of_another_collection_cannot_be_a_source(answer, staff):
    other = make_document(collection_create(slug="other", name="Other"))
    with pytest.raises(ValidationError, match="not in this answer's collection"):
        review_submit(answer=answer, reviewer=staff, verdict="correct",
                      sources=[ReviewSource(document_id=other.id, quote="Otters")])


@pytest.mark.parametrize("kwargs, message", [
    ({"verdict": "maybe"}, "Unknown verdict"),
    ({"verdict": "corrected"}, "needs the corrected answer"),
    ({"verdict": "correct", "corrected_answer": "x"}, "goes with the verdict 'corrected'"),
    ({"verdict": "wrong", "not_in_documents": True, "sources": [ReviewSource(document_id=1, quote="x")]}, "not both"),
])
def test_inconsistent_reviews_are_refused(answer, staff, kwargs, message):
    with pytest.raises(ValidationError, match=message):
        review_submit(answer=answer, reviewer=staff, **{"sources": [], **kwargs})


def test_a_re_review_replaces_the_earlier_one(answer, staff):
    document = make_document(answer.conversation.collection)
    review_submit(answer=answer, reviewer=staff, verdict="correct",
                  sources=[ReviewSource(document_id=document.id, quote="Otters hold hands")])
    review_submit(answer=answer, reviewer=staff, verdict="wrong", sources=[], not_in_documents=True)
    review = Review.objects.get()
    assert (review.verdict, review.not_in_documents, review.labels.count()) == ("wrong", True, 0)
