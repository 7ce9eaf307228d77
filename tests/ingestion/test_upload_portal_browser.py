"""A person's path through the upload portal in a real browser, with a real worker."""

from __future__ import annotations

import pytest

from tests.browser import browser_page, sign_in
from tests.factories.files import docx_bytes

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.usefixtures("sync_orm_beside_playwright")]


def test_drop_files_and_watch_them_become_indexed(live_server, worker_process, owner, tmp_path):
    good = tmp_path / "handbook.docx"
    good.write_bytes(docx_bytes("Handbook", ["Holidays are booked through the HR portal."]))
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with browser_page(live_server.url) as page:
        sign_in(page, "owner", "owner-password-1")
        page.goto("/documents/")
        page.set_input_files("#file-input", [str(good), str(empty)])
        page.wait_for_selector("#uploads .status-rejected")
        assert "empty" in page.inner_text("#uploads")
        # The line under the drop zone follows the file to its final status, as the table does.
        line = page.locator("#uploads li", has_text="handbook.docx")
        line.locator(".status-indexed").wait_for(timeout=180_000)
        assert "chunk(s)" in line.inner_text()
        row = page.locator("#documents tr", has_text="handbook.docx")
        row.locator(".status-indexed").wait_for(timeout=180_000)
        row.locator("a", has_text="handbook.docx").click()
        page.wait_for_selector("pre.chunk")
        assert "HR portal" in page.inner_text("pre.chunk")
        page.screenshot(path=str(tmp_path / "document.png"))
