"""A person asks a question in the browser: upload, a real worker indexes, the answer streams
in with a citation, and the citation opens the passage with the quote highlighted."""

from __future__ import annotations

import pytest

from ingestion.models import Document
from tests.browser import browser_page, sign_in
from tests.conftest import wait_for
from tests.factories.files import docx_bytes

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.usefixtures("sync_orm_beside_playwright")]


def test_ask_and_open_a_citation(live_server, worker_process, owner, tmp_path, settings):
    settings.LLM_BASE_URL = ""
    policy = tmp_path / "travel-policy.docx"
    policy.write_bytes(docx_bytes("Travel policy", [
        "Hotel nights in Zurich are reimbursed up to 240 francs per night.",
        "Economy class is booked for flights shorter than six hours.",
    ]))
    with browser_page(live_server.url) as page:
        sign_in(page, "owner", "owner-password-1")
        page.goto("/documents/")
        page.set_input_files("#file-input", [str(policy)])
        wait_for(lambda: Document.objects.filter(status="indexed").exists(), timeout=180,
                 message=f"indexing\n{worker_process.log()[-2000:]}")
        page.goto("/chat/")
        page.fill("#question", "How much is a hotel night in Zurich reimbursed?")
        page.click("#send")
        page.wait_for_selector(".exchange .answer.rendered button.cite", timeout=60_000)
        answer = page.inner_text(".exchange .answer")
        assert "240 francs" in answer
        assert "answered by extractive" in page.inner_text(".exchange")
        page.click(".exchange button.cite")
        page.wait_for_selector("#source-text mark")
        assert "240 francs" in page.inner_text("#source-text mark")
        assert page.inner_text("#source-title") == "travel-policy.docx"
        assert page.get_attribute("#source-link", "href").startswith("/documents/")
        page.screenshot(path=str(tmp_path / "chat.png"), full_page=True)
        # The conversation is listed and survives a reload.
        page.reload()
        page.wait_for_selector("#conversations li a")
        assert "hotel night" in page.inner_text("#conversations").lower()


def test_a_vote_survives_a_reload_and_api_conversations_stay_out_of_the_browsers_list(
    live_server, owner, tmp_path, settings,
):
    import chat.llm as llm
    from ingestion.models import Collection
    from tests.conftest import bearer_client
    from tests.retrieval.helpers import collection_with_texts

    settings.LLM_BASE_URL = ""
    llm._backends.clear()
    Collection.objects.filter(slug="default").delete()
    collection_with_texts("default", {"travel.txt": "Hotel nights in Zurich are reimbursed up to 240 francs per night."})
    scripted = bearer_client(owner).post("/api/v1/chat", {"question": "Scripted question about Zurich hotels"},
                                         content_type="application/json")
    assert scripted.status_code == 200
    with browser_page(live_server.url) as page:
        sign_in(page, "owner", "owner-password-1")
        page.goto("/chat/")
        page.fill("#question", "How much is a hotel night in Zurich reimbursed?")
        page.click("#send")
        page.wait_for_selector(".exchange .answer.rendered")
        page.wait_for_selector("#conversations li a")
        own_list = page.inner_text("#conversations")
        assert "hotel night" in own_list.lower() and "Scripted" not in own_list
        assert "Scripted question" in (page.text_content("#api-conversations") or "")  # folded, listed
        assert page.text_content("#api-conversations-count") == "1"
        page.click(".exchange button:has-text('Helpful')")
        page.wait_for_selector(".exchange button.chosen:has-text('Helpful')")
        page.reload()
        page.click("#conversations li a")
        page.wait_for_selector(".exchange .answer.rendered")
        helpful = page.locator(".exchange button", has_text="👍")
        assert helpful.get_attribute("aria-pressed") == "true" and "chosen" in (helpful.get_attribute("class") or "")
        assert "You found this helpful." in page.inner_text(".exchange .voted")
        # Pressing it again withdraws the vote, and a reload shows none.
        helpful.click()
        page.wait_for_selector(".exchange button[aria-pressed=true]", state="detached")
        page.reload()
        page.click("#conversations li a")
        page.wait_for_selector(".exchange .answer.rendered")
        assert page.locator(".exchange button.chosen").count() == 0
