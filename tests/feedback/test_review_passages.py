"""The review page shows the cited passages first and open, the others folded, each labelled by
what the model had of it (a chunk a citation points to is never "not given to the model")."""

from __future__ import annotations

import pytest
from django.test import Client

from feedback.models import Review
from feedback.selectors import answer_passages
from tests.feedback.review_helpers import answer_with_many_passages

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(staff):  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(staff)
    return client


def test_a_cited_chunk_inside_a_widened_passage_is_labelled_as_part_of_it_and_comes_first(owner):
    answer, chunks = answer_with_many_passages(owner, retrieved=6)
    views = answer_passages(answer)
    by_chunk = {v.chunk_id: v for v in views}
    assert [v.chunk_id for v in views[:2]] == [chunks[2].id, chunks[3].id]  # the cited passage and its chunk
    assert by_chunk[chunks[2].id].label == "passage 1, given to the model" and by_chunk[chunks[2].id].cited == [1]
    assert by_chunk[chunks[3].id].label == "inside passage 1, given to the model" and by_chunk[chunks[3].id].cited == [1]
    assert by_chunk[chunks[0].id].label == "passage 2, given to the model" and by_chunk[chunks[0].id].cited == []
    assert by_chunk[chunks[5].id].label == "retrieved, not given to the model"
    assert [v.chunk_id for v in views[2:]] == [chunks[i].id for i in (0, 1, 4, 5)]  # retrieval order


def test_the_page_opens_the_cited_passages_and_folds_the_others(staff_client, owner):
    answer, chunks = answer_with_many_passages(owner, retrieved=8)
    page = staff_client.get(f"/review/answers/{answer.id}/").content.decode()
    cited_part, folded_part = page.split('<details class="other-passages"', 1)
    assert f'<div class="passage cited" data-chunk="{chunks[3].id}">' in cited_part
    assert "inside passage 1, given to the model" in cited_part and "cited as [1]" in cited_part
    assert "not given to the model" not in cited_part
    assert folded_part.startswith(">")  # the group is closed
    assert f'<details class="passage" data-chunk="{chunks[0].id}">' in folded_part
    assert "The other 6 retrieved passages, not cited" in folded_part


def test_a_folded_passage_with_a_saved_quote_is_shown_open(staff_client, owner):
    answer, chunks = answer_with_many_passages(owner, retrieved=6)
    url = f"/review/answers/{answer.id}/"
    response = staff_client.post(url, {"verdict": "correct", f"quote_{chunks[5].id}": "gather 5 stones"})
    assert response.status_code == 302 and Review.objects.get().labels.get().quote == "gather 5 stones"
    page = staff_client.get(url).content.decode()
    assert '<details class="other-passages" open>' in page
    assert f'<details class="passage" data-chunk="{chunks[5].id}" open>' in page
    assert f'<details class="passage" data-chunk="{chunks[4].id}">' in page


def test_an_answer_without_citations_lists_its_passages_folded_one_by_one(staff_client, owner):
    answer, chunks = answer_with_many_passages(owner, retrieved=4)
    answer.citations = []
    answer.save()
    page = staff_client.get(f"/review/answers/{answer.id}/").content.decode()
    assert '<details class="other-passages" open>' in page and "4 retrieved passages, not cited" in page
    assert page.count('<details class="passage"') == 4
