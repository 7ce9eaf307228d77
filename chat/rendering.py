"""Answers as safe HTML: Markdown rendered with raw HTML disabled, then cleaned by an allowlist.

Model output is untrusted (a passage can carry an injection that the model repeats), so:
markdown-it renders with `html` off (raw tags come out as text), nh3 keeps only the tags below
(no <img>: no remote images, no tracking pixels; no <script>, no event handlers, no style) and
only http(s)/mailto links, each with rel="noopener noreferrer nofollow". Citation markers `[n]`
that name a citation become <button class="cite" data-n="n"> for the page's script to wire up.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from html import escape
from typing import Any

import nh3
from markdown_it import MarkdownIt

_MARKER = re.compile(r"\[(\d{1,3})\]")

ALLOWED_TAGS = {
    "p", "br", "strong", "em", "del", "code", "pre", "blockquote", "ul", "ol", "li", "hr",
    "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "a", "button",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "button": {"type", "data-n"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    return md


def _image_as_alt_text(tokens: list[Any], idx: int, options: Any, env: Any) -> str:
    # No image is ever loaded (a remote src would be a tracking pixel): its alt text stands in.
    token = tokens[idx]
    return escape("".join(child.content for child in token.children or []) or token.content)


def _cite_buttons(numbers: frozenset[int]) -> Any:
    def render_text(tokens: list[Any], idx: int, options: Any, env: Any) -> str:
        def button(match: re.Match[str]) -> str:
            n = int(match.group(1))
            if n not in numbers:
                return escape(match.group(0))
            return f'<button type="button" class="cite" data-n="{n}">[{n}]</button>'

        content = tokens[idx].content
        out, last = [], 0
        for match in _MARKER.finditer(content):
            out.append(escape(content[last : match.start()]))
            out.append(button(match))
            last = match.end()
        out.append(escape(content[last:]))
        return "".join(out)

    return render_text


def answer_html(text: str, citation_numbers: Iterable[int]) -> str:
    """The answer's Markdown as sanitised HTML, with valid `[n]` markers as citation buttons."""
    md = _markdown()
    numbers = frozenset(int(n) for n in citation_numbers)
    tokens = md.parse(text)
    renderer: Any = type(md.renderer)()  # markdown-it's RendererHTML (the protocol type has no rules)
    renderer.rules["text"] = _cite_buttons(numbers)
    renderer.rules["image"] = _image_as_alt_text
    html = renderer.render(tokens, md.options, {})
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        allowed_classes={"button": {"cite"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
