from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone

from chat.models import Answer
from feedback.models import AnswerEvent, Review, ReviewLabel, Vote
from feedback.services import ReviewSource, feedback_purge, review_submit
from ingestion.services import document_delete
from tests.feedback.factories import make_answer, make_chunks, make_document

pytestmark = pytest.mark.django_db

SECRET = "The merger with Initech closes on 3 March."


@pytest.fixture
def two_sources(owner, staff):
    secret = make_document(SECRET, name="merger-plan.txt")
    public = make_document("The canteen opens at noon.", name="canteen.txt")
    chunks = make_chunks(secret, [SECRET]) + make_chunks(public, ["The canteen opens at noon."])
    answer = make_answer(owner, question="When does the merger close?", answer="On 3 March. [1]", chunks=chunks)
    review_submit(answer=answer, reviewer=staff, verdict="correct",
                  sources=[ReviewSource(document_id=secret.id, quote="closes on 3 March")])
    return answer, secret, public


def test_deleting_a_document_removes_its_text_from_traces_but_keeps_their_shape(two_sources):
    answer, secret, public = two_sources
    document_delete(document=secret)
    answer = Answer.objects.get(pk=answer.pk)
    stored = str(answer.trace) + str(answer.citations) + str(list(ReviewLabel.objects.values()))
    assert "Initech" not in stored and "merger-plan" not in stored
    gone, kept = answer.trace["passages"]
    assert gone["source_deleted"] and gone["text"] == "" and gone["chunk_id"] and gone["n"] == 1
    assert kept["text"] == "The canteen opens at noon." and "source_deleted" not in kept
    assert answer.citations[0]["source_deleted"] and answer.citations[0]["quote"] == ""
    assert answer.trace["retrieved"][0]["source_deleted"] and answer.trace["deleted_documents"] == [secret.id]
    label = Review.objects.get().labels.get()
    assert label.source_deleted and label.quote == ""


def test_deleting_an_unrelated_document_leaves_traces_alone(two_sources, owner):
    answer = two_sources[0]
    before = Answer.objects.get(pk=answer.pk).trace
    document_delete(document=make_document("Nothing to do with it.", name="other.txt"))
    assert Answer.objects.get(pk=answer.pk).trace == before


def _age(model, days: int, field: str) -> None:
    model.objects.update(**{field: timezone.now() - dt.timedelta(days=days)})


def test_retention_purges_old_feedback_and_traces_and_keeps_recent_ones(two_sources, owner, member):
    old = two_sources[0]
    Vote.objects.create(answer=old, user=owner, rating="down")
    AnswerEvent.objects.create(answer=old, user=owner, type="copied")
    for model, field in [(Vote, "updated_at"), (AnswerEvent, "created_at"), (Review, "updated_at"), (Answer, "created_at")]:
        _age(model, 40, field)
    recent = make_answer(member, question="q", answer="a", chunks=[])
    Vote.objects.create(answer=recent, user=member, rating="up")
    assert feedback_purge(older_than_days=30) == {"votes": 1, "events": 1, "reviews": 1, "traces": 1}
    assert Answer.objects.get(pk=old.pk).trace == {"purged": True}
    assert list(Vote.objects.values_list("answer_id", flat=True)) == [recent.id]
    assert Answer.objects.get(pk=recent.pk).trace["passages"] == []


def test_retention_zero_keeps_everything_and_the_command_reads_the_setting(two_sources, owner, settings, capsys):
    Vote.objects.create(answer=two_sources[0], user=owner, rating="down")
    _age(Vote, 4000, "updated_at")
    settings.FEEDBACK_RETENTION_DAYS = 0
    call_command("purge_feedback")
    assert Vote.objects.count() == 1
    settings.FEEDBACK_RETENTION_DAYS = 365
    call_command("purge_feedback")
    assert Vote.objects.count() == 0 and "1 votes" in capsys.readouterr().out
