from __future__ import annotations

import pytest
from django.test import Client

from chat.models import Answer, Conversation
from feedback.models import AnswerEvent, Vote
from ingestion.services import collection_default_ensure
from tests.conftest import bearer_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def answer(owner):
    conversation = Conversation.objects.create(owner=owner, collection=collection_default_ensure())
    return Answer.objects.create(conversation=conversation, question="q", standalone_query="q", answer="a [1]",
                                 backend="extractive", trace={"passages": []})


def _vote(client, answer_id, **body):
    return client.post(f"/api/v1/answers/{answer_id}/feedback", body, content_type="application/json")


def test_one_vote_per_user_that_can_be_changed_and_withdrawn(api, answer):
    assert _vote(api, answer.id, rating="down", reasons=["wrong_source", "incomplete"], comment="page 3").status_code == 200
    assert _vote(api, answer.id, rating="up").json()["rating"] == "up"
    assert Vote.objects.filter(answer=answer).count() == 1
    assert _vote(api, answer.id, rating=None).json()["rating"] is None
    assert not Vote.objects.exists()


def test_no_vote_on_another_users_answer(member, answer):
    assert _vote(bearer_client(member), answer.id, rating="up").status_code == 404


def test_unknown_reasons_are_refused(api, answer):
    assert _vote(api, answer.id, rating="down", reasons=["because"]).status_code == 422


def test_implicit_events_are_recorded(api, answer):
    response = api.post(f"/api/v1/answers/{answer.id}/events", {"type": "citation_opened"}, content_type="application/json")
    assert response.status_code == 201
    assert AnswerEvent.objects.get().type == "citation_opened"


def test_vote_review_in_admin_is_staff_only(owner, staff, answer):
    Vote.objects.create(answer=answer, user=owner, rating="down", reasons=["wrong_answer"], comment="<script>x</script>")
    client = Client()
    client.force_login(staff)
    staff.is_superuser = True
    staff.save()
    page = client.get("/admin/feedback/vote/")
    assert page.status_code == 200 and b"wrong_answer" in page.content
    detail = client.get(f"/admin/feedback/vote/{Vote.objects.get().id}/change/")
    assert b"<script>x</script>" not in detail.content
    normal = Client()
    normal.force_login(owner)
    assert normal.get("/admin/feedback/vote/").status_code == 302
