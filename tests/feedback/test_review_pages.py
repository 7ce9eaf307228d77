from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from feedback.models import Review, Vote
from tests.feedback.factories import make_answer, make_chunks, make_document

pytestmark = pytest.mark.django_db

TEXT = "Otters hold hands while sleeping. Sea otters use rocks as tools. Rivers freeze in winter."
XSS = "<script>alert(1)</script>"


@pytest.fixture
def answer(owner):
    document = make_document(TEXT, name=f"{XSS}.txt")
    chunks = make_chunks(document, ["Otters hold hands while sleeping.", " Sea otters use rocks as tools."])
    return make_answer(owner, question=f"Why do otters hold hands? {XSS}", answer="They sleep. [1]", chunks=chunks)


@pytest.fixture
def staff_client(staff):
    client = Client()
    client.force_login(staff)
    return client


def _pages(answer):
    return ["/review/", "/review/votes/", f"/review/answers/{answer.id}/"]


def test_review_pages_are_staff_only(owner, answer):
    normal = Client()
    normal.force_login(owner)
    for url in _pages(answer):
        assert normal.get(url).status_code == 403
        anonymous = Client().get(url)
        assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/?next=")


def test_what_users_wrote_is_shown_escaped(staff_client, owner, answer):
    Vote.objects.create(answer=answer, user=owner, rating="down", reasons=["wrong_source"], comment=XSS)
    for url in _pages(answer):
        page = staff_client.get(url)
        assert page.status_code == 200
        assert XSS.encode() not in page.content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.txt" in staff_client.get("/review/").content.decode()
    detail = staff_client.get(f"/review/answers/{answer.id}/").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.txt" in detail  # the filename
    assert "Why do otters hold hands? &lt;script&gt;" in detail  # the question


def test_dashboard_draws_charts_of_votes_rates_and_reasons(staff_client, owner, member, answer):
    Vote.objects.create(answer=answer, user=owner, rating="down", reasons=["wrong_source", "incomplete"])
    Vote.objects.create(answer=answer, user=member, rating="up")
    page = staff_client.get("/review/").content.decode()
    assert page.count("<svg") == 5  # timeline, three thumbs-up rates, reasons
    assert "50% up of 2" in page and "wrong_source" in page
    assert timezone.now().date().isoformat() in page  # today's column of the timeline
    assert "#" + str(answer.citations[0]["chunk_id"]) in page  # the most down-voted chunk


def test_vote_list_filters_by_rating_reason_user_document_backend_date_and_search(staff_client, owner, member, answer):
    Vote.objects.create(answer=answer, user=owner, rating="down", reasons=["outdated"], comment="old numbers")
    other = make_answer(member, question="Where do rivers freeze?", answer="In winter.", chunks=[], backend="openai")
    Vote.objects.create(answer=other, user=member, rating="up")
    document_id = answer.citations[0]["document_id"]
    tomorrow = (timezone.now() + dt.timedelta(days=1)).date().isoformat()
    cases = {"rating=down": 1, "rating=up": 1, "reason=outdated": 1, "reason=unsafe": 0, "user=member": 1,
             f"document={document_id}": 1, "backend=openai": 1, "q=old+numbers": 1, "q=rivers": 1,
             f"date_from={tomorrow}": 0, f"date_to={tomorrow}": 2, "": 2}
    for query, expected in cases.items():
        page = staff_client.get(f"/review/votes/?{query}").content.decode()
        assert f"({expected} votes)" in page, query


def test_reviewer_marks_a_quoted_span_of_a_passage_and_a_corrected_answer(staff_client, answer):
    chunk_id = answer.trace["passages"][1]["chunk_id"]
    response = staff_client.post(f"/review/answers/{answer.id}/", {
        "verdict": "corrected", "corrected_answer": "Sea otters use rocks.", f"quote_{chunk_id}": "use rocks as tools"})
    assert response.status_code == 302
    review = Review.objects.get(answer=answer)
    label = review.labels.get()
    assert (review.verdict, label.quote) == ("corrected", "use rocks as tools")
    assert TEXT[label.char_start:label.char_end] == "use rocks as tools"
    page = staff_client.get(response["Location"]).content.decode()
    assert "Review saved." in page and "use rocks as tools" in page


def test_a_quote_that_is_not_in_the_passage_is_refused_on_the_form(staff_client, answer):
    chunk_id = answer.trace["passages"][0]["chunk_id"]
    response = staff_client.post(f"/review/answers/{answer.id}/", {"verdict": "correct", f"quote_{chunk_id}": "rocks"})
    assert response.status_code == 200
    assert "not verbatim in that passage" in response.content.decode()
    assert not Review.objects.exists()


def test_whole_passage_and_not_in_documents(staff_client, answer):
    chunk_id = answer.trace["passages"][0]["chunk_id"]
    staff_client.post(f"/review/answers/{answer.id}/", {"verdict": "correct", f"whole_{chunk_id}": "on"})
    assert Review.objects.get().labels.get().quote == "Otters hold hands while sleeping."
    staff_client.post(f"/review/answers/{answer.id}/", {"verdict": "wrong", "not_in_documents": "on"})
    review = Review.objects.get()
    assert review.not_in_documents and not review.labels.exists()


def test_saving_again_keeps_the_labels_shown_in_the_quote_boxes(staff_client, answer):
    chunk_id = answer.trace["passages"][1]["chunk_id"]
    url = f"/review/answers/{answer.id}/"
    staff_client.post(url, {"verdict": "correct", f"quote_{chunk_id}": "use rocks as tools"})
    page = staff_client.get(url).content.decode()
    assert f'name="quote_{chunk_id}"' in page and ">\nuse rocks as tools</textarea>" in page


def test_dashboard_counts_only_the_chosen_window(staff_client, owner, answer):
    Vote.objects.create(answer=answer, user=owner, rating="down", reasons=["outdated"])
    Vote.objects.update(updated_at=timezone.now() - dt.timedelta(days=10))
    assert "outdated" not in staff_client.get("/review/?days=7").content.decode()
    assert "outdated" in staff_client.get("/review/?days=30").content.decode()


def test_vote_list_queries_do_not_grow_with_the_number_of_votes(staff_client, owner, django_user_model,
                                                                 django_assert_max_num_queries, answer):
    Vote.objects.create(answer=answer, user=owner, rating="down")
    with django_assert_max_num_queries(8) as one:
        staff_client.get("/review/votes/")
    for n in range(5):
        user = django_user_model.objects.create_user(username=f"voter{n}")
        Vote.objects.create(answer=make_answer(user, question=f"q{n}", answer="a", chunks=[]), user=user, rating="up")
    with django_assert_max_num_queries(len(one.captured_queries)):
        staff_client.get("/review/votes/")


def test_the_review_page_shows_how_each_claim_was_judged(staff_client, answer):
    answer.trace["claims"] = [
        {"text": "Otters hold hands while sleeping.", "markers": [1], "supported": True, "why": "[1] quoted", "cited": [1]},
        {"text": "Otters sleep 14 hours.", "markers": [1], "supported": False, "why": "[1] quote lacks 14", "cited": []},
    ]
    answer.save()
    page = staff_client.get(f"/review/answers/{answer.id}/").content.decode()
    claims = page[page.index('id="claims"'):]
    assert "supported by [1]: “Otters hold hands while sleeping.”" in claims
    assert "<strong>unsupported</strong>: “Otters sleep 14 hours.”" in claims and "quote lacks 14" in claims


def test_the_dashboard_names_each_prompt_by_name_and_version_and_says_what_its_rows_are(staff_client, owner, answer):
    Vote.objects.create(answer=answer, user=owner, rating="up")
    page = staff_client.get("/review/").content.decode()
    assert "grounded-answer v1" in page and "<h4>By prompt</h4>" in page
    assert "the prompt&#x27;s name and version" in page.lower() or "the prompt's name and version" in page.lower()
