"""Ranking signals: staff boost / demote / hide and reviewed votes, honoured by search() within bounds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from chat.models import Answer, Conversation
from feedback.models import SignalEvidence
from feedback.ranking import ranking_signals
from feedback.services import ReviewSource, feedback_record, review_submit
from feedback.signals import ranking_signal_set
from ingestion.models import Chunk, Collection, Document
from ingestion.parsing import Element
from ingestion.services import collection_create, documents_index_elements
from retrieval.search import search

pytestmark = pytest.mark.django_db

# Every document mentions hotels, a different number of times: all are candidates of both retrievers.
TEXTS = {
    "a.txt": "Hotel policy. Hotel nights are reimbursed; hotel receipts are needed; book the hotel early.",
    "b.txt": "Hotel nights are reimbursed up to 240 francs when the hotel is booked.",
    "c.txt": "Travel rules. Trains are second class; a hotel is allowed for long trips.",
    "d.txt": "Cafeteria notes. Lunch from noon; the hotel next door serves dinner.",
}


@pytest.fixture
def corpus() -> Collection:
    collection = collection_create(slug="signals", name="signals")
    documents_index_elements(collection=collection, items=[(name, [Element(kind="NarrativeText", text=text)])
                                                           for name, text in TEXTS.items()])
    return collection


def ranking(collection: Collection, query: str = "hotel nights reimbursed") -> list[str]:
    result = search(query, collection_ids=[collection.id], top_k=10, mode="hybrid", rerank=False)
    return [hit.filename for hit in result.results]


def document(name: str) -> Document:
    return Document.objects.get(original_filename=name)


def reviewed_vote(user, reviewer, doc: Document, *, rating: str = "up") -> Answer:  # type: ignore[no-untyped-def]
    """An answer of `user` that they voted on and a reviewer labelled with `doc` as the right source."""
    conversation = Conversation.objects.create(owner=user, collection=doc.collection)
    answer = Answer.objects.create(conversation=conversation, question="q", standalone_query="q", answer="a",
                                   backend="extractive", trace={"retrieved": []})
    feedback_record(user=user, answer=answer, rating=rating, reasons=[], comment="")
    review_submit(answer=answer, reviewer=reviewer, verdict="correct",
                  sources=[ReviewSource(document_id=doc.id, quote=doc.parsed_text[:12])])
    return answer


def test_a_staff_boost_lifts_the_last_document_to_the_top(corpus, staff):
    last = ranking(corpus)[-1]
    ranking_signal_set(document=document(last), action="boost", set_by=staff)
    result = search("hotel nights reimbursed", collection_ids=[corpus.id], top_k=10, rerank=False)
    assert result.results[0].filename == last
    assert result.results[0].scores.signal == pytest.approx(0.25)
    assert "boost document" in result.results[0].signal_note


def test_a_staff_demotion_sinks_the_first_document(corpus, staff):
    first = ranking(corpus)[0]
    ranking_signal_set(document=document(first), action="demote", set_by=staff)
    assert ranking(corpus)[-1] == first


def test_hiding_removes_a_document_from_every_stage_but_keeps_it_indexed(corpus, staff):
    hidden = ranking(corpus)[0]
    ranking_signal_set(document=document(hidden), action="hide", set_by=staff)
    result = search("hotel nights reimbursed", collection_ids=[corpus.id], top_k=10, rerank=False)
    assert hidden not in [hit.filename for stage in result.stages.values() for hit in stage]
    assert hidden not in [hit.filename for hit in result.results] and result.hidden == 1
    assert Chunk.objects.filter(document=document(hidden)).exists()


def test_hiding_one_chunk_keeps_the_rest_of_its_document(staff):
    collection = collection_create(slug="long", name="long")
    sentences = [f"Hotel rule number {i} says that hotel stays of kind {i} need approval." for i in range(60)]
    documents_index_elements(collection=collection,
                             items=[("long.txt", [Element(kind="NarrativeText", text=s) for s in sentences])])
    chunks = list(Chunk.objects.filter(document__collection=collection).order_by("ordinal"))
    assert len(chunks) >= 2
    ranking_signal_set(document=chunks[0].document, chunk=chunks[0], action="hide", set_by=staff)
    ids = [hit.chunk_id for hit in search("hotel rule", collection_ids=[collection.id], rerank=False).results]
    assert chunks[0].id not in ids and chunks[1].id in ids


def test_reviewed_votes_move_a_document_within_the_bound(corpus, django_user_model, staff, settings):
    settings.FEEDBACK_SIGNAL_VOTE_STEP = 0.1
    target = document(ranking(corpus)[-1])
    users = [django_user_model.objects.create_user(username=f"voter{i}") for i in range(5)]
    for user in users:
        reviewed_vote(user, staff, target)
    signal = ranking_signals([target.chunks.get().id])[target.chunks.get().id]
    assert signal.adjustment == pytest.approx(settings.FEEDBACK_SIGNAL_MAX)  # 5 users x 0.1, capped at 0.25
    assert "from 5 users" in signal.note
    ranking_signal_set(document=target, action="boost", set_by=staff)
    assert ranking_signals([target.chunks.get().id])[target.chunks.get().id].adjustment == pytest.approx(0.25)


def test_one_users_many_votes_count_no_more_than_the_per_user_cap(corpus, owner, member, staff, settings):
    target = document("c.txt")
    chunk_id = target.chunks.get().id
    for _ in range(8):
        reviewed_vote(owner, staff, target)
    one_user = ranking_signals([chunk_id])[chunk_id].adjustment
    assert one_user == pytest.approx(settings.FEEDBACK_SIGNAL_VOTE_STEP * settings.FEEDBACK_SIGNAL_USER_CAP, rel=1e-3)
    reviewed_vote(member, staff, target)
    assert ranking_signals([chunk_id])[chunk_id].adjustment == pytest.approx(2 * one_user, rel=1e-3)


def test_vote_signals_decay_with_their_half_life(corpus, owner, staff, settings):
    target = document("c.txt")
    chunk_id = target.chunks.get().id
    reviewed_vote(owner, staff, target)
    fresh = ranking_signals([chunk_id])[chunk_id].adjustment
    SignalEvidence.objects.update(created_at=timezone.now() - timedelta(days=settings.FEEDBACK_SIGNAL_HALF_LIFE_DAYS))
    assert ranking_signals([chunk_id])[chunk_id].adjustment == pytest.approx(fresh / 2, rel=1e-3)


def test_a_down_vote_counts_against_the_retrieved_passages_the_reviewer_did_not_mark(corpus, owner, staff):
    right, wrong = document("a.txt"), document("d.txt")
    conversation = Conversation.objects.create(owner=owner, collection=corpus)
    wrong_chunk = wrong.chunks.get()
    answer = Answer.objects.create(conversation=conversation, question="q", standalone_query="q", answer="a",
                                   backend="extractive",
                                   trace={"retrieved": [{"chunk_id": wrong_chunk.id, "document_id": wrong.id}]})
    feedback_record(user=owner, answer=answer, rating="down", reasons=["wrong_source"], comment="")
    assert not SignalEvidence.objects.exists()  # not reviewed yet: the vote alone moves nothing
    review_submit(answer=answer, reviewer=staff, verdict="wrong",
                  sources=[ReviewSource(document_id=right.id, quote=right.parsed_text[:10])])
    signals = ranking_signals([wrong_chunk.id, right.chunks.get().id])
    assert signals[wrong_chunk.id].adjustment < 0 < signals[right.chunks.get().id].adjustment
    feedback_record(user=owner, answer=answer, rating=None, reasons=[], comment="")  # withdrawn
    assert ranking_signals([wrong_chunk.id, right.chunks.get().id]) == {}


def test_signals_of_the_whole_candidate_set_are_read_in_one_query(corpus, staff, django_assert_num_queries):
    ranking_signal_set(document=document("a.txt"), action="boost", set_by=staff)
    ids = list(Chunk.objects.values_list("id", flat=True))
    with django_assert_num_queries(1):
        assert len(ranking_signals(ids)) == 1


def test_signals_can_be_switched_off(corpus, staff, settings):
    before = ranking(corpus)
    ranking_signal_set(document=document(before[-1]), action="boost", set_by=staff)
    settings.FEEDBACK_SIGNALS = False
    assert ranking(corpus) == before


def test_the_lab_shows_the_signal_on_each_hit(corpus, staff):
    staff.is_superuser = True
    staff.save()
    ranking_signal_set(document=document("d.txt"), action="boost", set_by=staff, note="<i>trusted</i>")
    client = Client()
    client.force_login(staff)
    html = client.get("/lab/", {"q": "hotel nights", "collection": "signals"}).content.decode()
    assert "signal 0.250: staff: boost document" in html
    assert "nothing in force" in html


def test_staff_set_a_signal_in_the_admin(corpus, staff):
    staff.is_superuser = True
    staff.save()
    client = Client()
    client.force_login(staff)
    target = document("b.txt")
    response = client.post("/admin/feedback/rankingsignal/add/",
                           {"document": target.id, "chunk": "", "action": "hide", "note": "outdated"})
    assert response.status_code == 302
    assert "b.txt" not in ranking(corpus)
    foreign = document("a.txt").chunks.get()
    response = client.post("/admin/feedback/rankingsignal/add/",
                           {"document": target.id, "chunk": foreign.id, "action": "boost", "note": ""})
    assert response.status_code == 200 and b"not part of that document" in response.content
