"""Citation post-check: every [n] must point at a passage and carry a quote verbatim in it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from chat.passages import Passage
from chat.sentences import sentences
from ingestion.tokenize import default_tokenizer
from retrieval.types import ScoredChunk

MARKER = re.compile(r"\[(\d{1,3})\]")


@dataclass
class Citation:
    n: int
    chunk_id: int
    document_id: int
    filename: str
    page: int | None
    quote: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def best_quote(claim: str, passage: str) -> str:
    """The passage sentence that shares most words with the claim (verbatim from the passage)."""
    tokenizer = default_tokenizer()
    claim_terms = set(tokenizer(claim))
    # Only sentences with words: never the "[…]" line that separates a passage's excerpts.
    candidates = [s for s in sentences(passage) if re.search(r"\w", s)] or [passage.strip()]
    return max(candidates, key=lambda s: (len(claim_terms & set(tokenizer(s))), -abs(len(s) - len(claim))))


def check_citations(answer: str, passages: Sequence[ScoredChunk]) -> tuple[str, list[Citation], int]:
    """Remove markers that point at no passage; quote each cited passage verbatim.

    Returns the cleaned answer, the citations (one per cited passage, numbered as in the answer)
    and how many markers were removed."""
    removed = 0
    claims: dict[int, str] = {}

    def keep(match: re.Match[str]) -> str:
        nonlocal removed
        n = int(match.group(1))
        if 1 <= n <= len(passages):
            return match.group(0)
        removed += 1
        return ""

    cleaned = MARKER.sub(keep, answer)
    cleaned = re.sub(r"[ \t]+([.,;:])", r"\1", cleaned).strip()
    previous = ""
    for sentence in re.split(r"(?<=[.!?])\s+|\n+", cleaned):
        claim = MARKER.sub("", sentence).strip()
        if not claim.strip(" .,;:"):
            claim = previous  # markers standing after the sentence's full stop: "... night. [1]"
        for match in MARKER.finditer(sentence):
            claims.setdefault(int(match.group(1)), claim)
        previous = claim
    citations = []
    for n in sorted(claims):
        passage = passages[n - 1]
        claim = claims[n]
        quote = claim if claim and claim in passage.text else best_quote(claim, passage.text)
        citations.append(_citation(n, passage, quote))
    return cleaned, citations, removed


def _citation(n: int, passage: ScoredChunk, quote: str) -> Citation:
    """The citation names the chunk the quote lies in (and that chunk's page), so the source
    panel can open it and highlight the quote; a passage wider than one chunk says which."""
    chunk_id, page = passage.chunk_id, passage.page_start
    if isinstance(passage, Passage):
        span, quote = passage.span_of(quote)
        if span is not None:
            chunk_id, page = span.chunk_id, span.page_start
    return Citation(n=n, chunk_id=chunk_id, document_id=passage.document_id, filename=passage.filename,
                    page=page, quote=quote)
