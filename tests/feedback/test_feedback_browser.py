"""A person votes an answer down with a reason in the browser; staff then find the vote in the
review list, open it and save a review."""

from __future__ import annotations

import pytest

from feedback.models import Review, Vote
from ingestion.parsing import Element
from ingestion.services import collection_default_ensure, documents_index_elements
from tests.browser import browser_page, sign_in

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.usefixtures("sync_orm_beside_playwright")]


def test_vote_down_with_a_reason_then_find_it_as_staff(live_server, owner, staff, settings, tmp_path):
    settings.LLM_BASE_URL = ""
    documents_index_elements(collection=collection_default_ensure(), items=[("leave-policy.txt", [
        Element(kind="NarrativeText", text="Employees receive twenty-eight days of paid leave per year."),
        Element(kind="NarrativeText", text="Unused leave expires at the end of March."),
    ])])
    question = "How many days of paid leave do employees receive?"
    with browser_page(live_server.url) as page:
        sign_in(page, "owner", "owner-password-1")
        page.goto("/chat/")
        page.fill("#question", question)
        page.click("#send")
        page.wait_for_selector(".exchange button.cite", timeout=60_000)
        page.click(".exchange button:has-text('Not helpful')")
        page.select_option(".exchange .vote-form select", "wrong_source")
        page.fill(".exchange .vote-form input", "cites the <b>wrong</b> page")
        page.click(".exchange .vote-form button:has-text('Send')")
        page.wait_for_selector(".exchange :text('Thanks for the feedback.')")
        vote = Vote.objects.get()
        assert (vote.rating, vote.reasons, vote.user) == ("down", ["wrong_source"], owner)

        page.context.clear_cookies()
        sign_in(page, "staff", "staff-password-1")
        page.goto("/review/votes/?rating=down&reason=wrong_source")
        row = page.locator("#votes tr", has_text=question)
        assert "wrong_source" in row.inner_text() and "owner" in row.inner_text()
        row.locator("a").click()
        page.wait_for_selector("#review-form")
        assert "cites the <b>wrong</b> page" in page.inner_text(".comment")  # shown as text, not HTML
        # Select a span of the first passage and take it as the quote (static/js/review.js).
        page.evaluate("""() => {
            const text = document.querySelector('.passage pre.chunk').firstChild;
            const start = text.data.indexOf('twenty-eight days');
            const range = document.createRange();
            range.setStart(text, start); range.setEnd(text, start + 'twenty-eight days of paid leave'.length);
            window.getSelection().removeAllRanges(); window.getSelection().addRange(range);
        }""")
        page.locator(".passage .use-selection").first.click()
        assert page.locator(".passage textarea.quote").first.input_value() == "twenty-eight days of paid leave"
        page.check("input[name=verdict][value=correct]")
        page.click("#review-form button[type=submit]")
        page.wait_for_selector("#saved")
        page.screenshot(path=str(tmp_path / "review.png"), full_page=True)
        page.goto("/review/")
        assert page.locator("#timeline rect").count() > 0 and "wrong_source" in page.inner_text("main")
        page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
    review = Review.objects.get()
    assert review.verdict == "correct" and review.labels.get().quote == "twenty-eight days of paid leave"


def test_the_review_page_of_an_answer_with_50_passages_fits_in_two_screens_with_the_cited_ones_open(
    live_server, owner, staff, tmp_path,
):
    from tests.feedback.review_helpers import answer_with_many_passages

    answer, chunks = answer_with_many_passages(owner, retrieved=50)
    with browser_page(live_server.url) as page:
        sign_in(page, "staff", "staff-password-1")
        page.set_viewport_size({"width": 1280, "height": 800})  # a laptop's screen
        page.goto(f"/review/answers/{answer.id}/")
        screen = page.evaluate("window.innerHeight")
        height = page.evaluate("document.documentElement.scrollHeight")
        page.screenshot(path=str(tmp_path / "review.png"), full_page=True)
        assert height <= 2 * screen, f"{height} px for a {screen} px screen"
        cited = page.locator(f".passage.cited[data-chunk='{chunks[3].id}'] pre.chunk")
        assert cited.is_visible() and "gather 3 stones" in cited.inner_text()
        folded = page.locator(f"details.passage[data-chunk='{chunks[10].id}'] pre.chunk")
        assert not folded.is_visible()
        assert "not given to the model" not in page.inner_text(".passage.cited >> nth=1")
        # Unfolding shows the rest, and any of them can be opened and quoted.
        page.click(".other-passages > summary")
        page.click(f"details.passage[data-chunk='{chunks[10].id}'] > summary")
        assert folded.is_visible() and "gather 10 stones" in folded.inner_text()
