"""Answers are Markdown rendered safely: raw HTML, scripts, remote images and script links come
out inert, and valid citation markers become buttons."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

import chat.llm as llm
from chat.rendering import answer_html
from chat.services import answer_create, conversation_create
from tests.chat.fake_openai import FakeOpenAI, Reply
from tests.retrieval.helpers import collection_with_texts

HOSTILE = (
    "Hotel nights are **240 francs** [1].\n\n"
    "<script>alert('x')</script>\n\n"
    '<img src="http://evil.example/pixel.png" onerror="alert(1)">\n\n'
    "![tracking pixel](http://evil.example/p.png)\n\n"
    "[click me](javascript:alert(1)) and <a href=\"https://evil.example\" onclick=\"steal()\">raw link</a>\n\n"
    '<div style="position:fixed">overlay</div> <iframe src="https://evil.example"></iframe>'
)


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    """The elements a browser would build from `html`: (tag, attributes)."""
    found: list[tuple[str, dict[str, str | None]]] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, dict(attrs)))

    Collector().feed(html)
    return found


def test_hostile_markdown_renders_inert():
    html = answer_html(HOSTILE, [1])
    tags = elements(html)
    assert {tag for tag, _ in tags} <= {"p", "strong", "a", "button"}
    attributes = {name for _, attrs in tags for name in attrs}
    assert not {a for a in attributes if a.startswith("on")} and "style" not in attributes and "src" not in attributes
    assert all(attrs["href"].startswith("https://") for tag, attrs in tags if tag == "a")
    assert "&lt;script&gt;" in html  # raw HTML is shown as text, not dropped silently
    assert "tracking pixel" in html and "evil.example/p.png" not in html  # an image becomes its alt text
    assert "<strong>240 francs</strong>" in html


def test_valid_markers_become_buttons_and_others_stay_text():
    html = answer_html("Laptops last four years [1][2]. Desks [7]. `code [1]`", [1, 2])
    assert html.count('<button type="button" class="cite"') == 2
    assert 'data-n="1"' in html and 'data-n="2"' in html and 'data-n="7"' not in html and "[7]" in html
    assert "<code>code [1]</code>" in html


def test_safe_links_keep_their_target_with_a_safe_rel():
    html = answer_html("See [the policy](https://intranet.example/policy).", [])
    assert 'href="https://intranet.example/policy"' in html and 'rel="noopener noreferrer nofollow"' in html


@pytest.mark.django_db
def test_an_llm_answer_carries_its_sanitised_html(owner, settings):
    fake = FakeOpenAI()
    settings.LLM_BASE_URL = fake.start()
    settings.LLM_BACKEND = ""
    settings.LLM_RETRIES = 0
    llm._backends.clear()
    llm._down_until.clear()
    try:
        collection = collection_with_texts("policies", {
            "travel.txt": "Travel policy. Hotel nights in Zurich are reimbursed up to 240 francs per night.",
        })
        fake.replies.append(Reply(text=HOSTILE))
        result = answer_create(conversation=conversation_create(owner=owner, collection=collection),
                               question="How much is a hotel night in Zurich reimbursed?")
    finally:
        fake.stop()
        llm._backends.clear()
    assert result["backend"] == "openai" and not result["abstained"]
    tags = elements(result["answer_html"])
    assert {tag for tag, _ in tags} <= {"p", "strong", "a", "button"}
    assert [attrs["data-n"] for tag, attrs in tags if tag == "button"] == ["1"]
