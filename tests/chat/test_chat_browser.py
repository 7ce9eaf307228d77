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
