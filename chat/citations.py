"""Claim-level citations: every cited sentence points at the quote that supports it.

The backend cites passages: `[n]` is passage n (one per document). The check turns each into a
citation of a quote, a (chunk, character span) with its own number:
- a claim (chat.claims) copied from passage n quotes itself; otherwise the quote is the
  passage's sentence (or two adjacent sentences, or table row) that supports it best;
- the quote must support the claim (chat.support: its numbers, names and most content words);
  a marker whose passage holds no supporting quote is removed; when no passage the claim cites
  supports it but another passage does (a model's wrong number on a right fact), that passage
  is cited instead, and said so in the trace; otherwise the claim is unsupported;
- a claim of four words or more with no marker naming a passage given (none at all, or only a
  document's own "[10]") is cited where a passage supports it (a marker added before its final punctuation, and said
  so in the trace); with no supporting passage it stays unsupported;
- markers with no words ("[1] [2][3]") are no claim: removed, and such an answer is no answer;
  nor is a sentence where a marker stands for its value ("The most common species is [1].",
  "deaths fell by [32] percent"): unsupported, its markers removed;
- a marker that names no passage given (a document's own "[7]" echoed by a model) is kept as
  plain text, never a link (chat.markers.neutralise);
- two different quotes never share a number; a quote cited twice keeps its number. Numbers
  follow the order in which the quotes are first cited.
Each claim's judgement (raw markers, support, final numbers) is returned for the trace, made on
the backend's own text before anything is removed or renumbered.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from chat.claims import claims, spans
from chat.markers import neutralise, plain
from chat.passages import EXCERPT_SEPARATOR, Passage
from chat.support import support
from chat.trace import ClaimRecord
from retrieval.types import ScoredChunk

_MARKER_WITH_SPACE = re.compile(r"(\s*)\[(\d{1,3})\]")
_WORDS = re.compile(r"[^\W\d_]{2,}")
# An uncited claim is cited for the model only when it is a sentence of this many words or more.
ATTRIBUTED_MIN_WORDS = 4
# Markers stand where the value should be when they follow a verb "to be" and nothing but a unit
# follows them ("... is [1] [2][3].", "was [1] million CHF."), or when a unit follows them ("fell
# by [32] percent"); "was [1] 46,293 million CHF", "according to [1], ..." and "in [2]" cite.
_UNIT = r"(?:%|percent|per cent|million|billion|thousand|times|CHF|USD|EUR|GBP|JPY|INR|francs?|dollars?|euros?|pounds?)"
_MARKER_AS_VALUE = re.compile(
    rf"\b(?:is|are|was|were|be|been|equals?)(?:\s*\[\d{{1,3}}\])+\s*(?:{_UNIT}\b\s*){{0,2}}[.!?:;,]?\s*$"
    rf"|\[\d{{1,3}}\]\s*{_UNIT}(?!\w)", re.IGNORECASE)


@dataclass
class Citation:
    n: int
    chunk_id: int
    document_id: int
    filename: str
    page: int | None
    quote: str
    start: int | None = None  # the quote's span [start, end) in the chunk's text, when known
    end: int | None = None
    passage: int | None = None  # the passage number the backend cited

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class CitationCheck:
    text: str  # the answer shown: markers renumbered per quote, unsupported ones removed
    citations: list[Citation]
    claims: list[ClaimRecord]
    removed: int  # markers removed or made plain text

    @property
    def unsupported(self) -> list[str]:
        return [c.text for c in self.claims if not c.supported]


def _sentences(passage: str) -> list[tuple[int, int]]:
    """Spans of the passage's sentences and rows with words (never the excerpt separator)."""
    separator = EXCERPT_SEPARATOR.strip()
    return [(s, e) for s, e in spans(passage) if re.search(r"\w", passage[s:e]) and passage[s:e] != separator]


def supporting_quote(claim: str, passage: str) -> tuple[tuple[int, int] | None, str]:
    """The span of `passage` that quotes or supports `claim`, or None with what the best
    candidate lacks. The claim itself when it is verbatim in the passage; else the sentence,
    or pair of adjacent sentences, that supports it, the shortest first."""
    body = plain(claim)
    at = passage.find(body) if body else -1
    if at >= 0:
        return (at, at + len(body)), "quoted"
    found = _sentences(passage)
    candidates = found + [(a[0], b[1]) for a, b in zip(found, found[1:])]
    best_why = "no sentence in the passage"
    for start, end in sorted(candidates, key=lambda span: span[1] - span[0]):
        verdict = support(body, passage[start:end])
        if verdict.supported:
            return (start, end), "supported"
        best_why = verdict.why()
    return None, best_why


def check_citations(answer: str, passages: Sequence[ScoredChunk]) -> CitationCheck:
    numbers: dict[tuple[int, int | None, int | None, str], int] = {}
    citations: list[Citation] = []
    judgements: list[ClaimRecord] = []
    pieces: list[str] = []
    last, removed = 0, 0
    for claim in claims(answer):
        judgement = ClaimRecord(text=plain(claim.body), markers=claim.markers)
        final: dict[int, int | None] = {}  # raw marker -> its citation's number (None: removed)
        reasons = []
        wordless = not re.search(r"\w", judgement.text)
        as_value = (not wordless and _MARKER_AS_VALUE.search(claim.text) is not None
                    and not _verbatim(judgement.text, claim.markers, passages))
        for n in claim.markers:
            if wordless:
                final[n] = None  # "[1] [2][3]": markers that cite no claim are no answer
                continue
            if not 1 <= n <= len(passages):
                continue  # no passage of that number: the document's own bracket, kept as text
            if as_value:
                final[n] = None  # "... is [1].": the marker is no citation of a fact
                continue
            span, why = supporting_quote(judgement.text, passages[n - 1].text)
            reasons.append(f"[{n}] {why}")
            final[n] = None if span is None else _number(_citation(passages[n - 1], n, *span), numbers, citations)
        cited_passages = [n for n in claim.markers if 1 <= n <= len(passages)]
        if cited_passages and not wordless and not as_value and all(final[n] is None for n in cited_passages):
            # Every passage it cites fails it: a model often puts the wrong number on a right fact.
            # Another passage that quotes or supports the claim is cited in place of the first marker.
            found = _other_support(judgement.text, passages, skip=set(cited_passages))
            if found is not None:
                m, span = found
                final[cited_passages[0]] = _number(_citation(passages[m - 1], m, *span), numbers, citations)
                reasons.append(f"supported by passage [{m}] instead")
        added = None
        if (not cited_passages and not wordless and not as_value
                and len(_WORDS.findall(judgement.text)) >= ATTRIBUTED_MIN_WORDS):
            # No marker names a passage (a model that forgot to cite, or echoed a document's own
            # "[10]"): a sentence (not a list number or a bare figure) is cited where a passage
            # quotes or supports it.
            found = _other_support(judgement.text, passages, skip=set())
            if found is not None:
                m, span = found
                added = _number(_citation(passages[m - 1], m, *span), numbers, citations)
                reasons.append(f"no marker names a passage; supported by passage [{m}]")
        judgement.cited = list(dict.fromkeys(k for k in [*final.values(), added] if k is not None))
        judgement.supported = bool(judgement.cited)
        judgement.why = ("only citation markers, no claim" if wordless else
                         "a citation marker stands where the answer's value should be" if as_value else
                         "; ".join(reasons) if reasons else "no citation")
        judgements.append(judgement)
        rewritten, dropped = _rewrite(claim.text, final)
        if added is not None:
            rewritten = _with_marker(rewritten, added)
        removed += dropped
        pieces += [answer[last : claim.start], rewritten]
        last = claim.end
    pieces.append(answer[last:])
    text = "".join(pieces).strip()
    return CitationCheck(text=text, citations=citations, claims=judgements, removed=removed)


def _verbatim(body: str, markers: Sequence[int], passages: Sequence[ScoredChunk]) -> bool:
    """The claim is a passage's own sentence ("Ready when you are [1]." quotes a document)."""
    return bool(body) and any(body in passages[n - 1].text for n in markers if 1 <= n <= len(passages))


def _number(citation: Citation, numbers: dict[tuple[int, int | None, int | None, str], int],
            citations: list[Citation]) -> int:
    """The citation's number: the one its quote already has, else the next one."""
    key = (citation.chunk_id, citation.start, citation.end, citation.quote)
    if key not in numbers:
        numbers[key] = citation.n = len(numbers) + 1
        citations.append(citation)
    return numbers[key]


def _other_support(claim: str, passages: Sequence[ScoredChunk], *, skip: set[int]) -> tuple[int, tuple[int, int]] | None:
    """The first passage (not in `skip`) holding a quote that supports the claim, with its span."""
    for m, passage in enumerate(passages, start=1):
        if m in skip:
            continue
        span, _ = supporting_quote(claim, passage.text)
        if span is not None:
            return m, span
    return None


def _with_marker(text: str, number: int) -> str:
    """The claim with the marker [number] before its final punctuation (after its last word)."""
    body = text.rstrip()
    end = len(body)
    while end and body[end - 1] in ".!?;:":
        end -= 1
    return f"{body[:end]} [{number}]{body[end:]}{text[len(body):]}"


def _rewrite(text: str, final: dict[int, int | None]) -> tuple[str, int]:
    """The claim with each raw marker replaced by its citation's number, removed when it has
    none, made plain text when it names no passage; a number repeated in a claim is said once."""
    said: set[int] = set()
    dropped = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal dropped
        space, n = match.group(1), int(match.group(2))
        if n not in final:
            dropped += 1
            return space + neutralise(f"[{n}]")
        number = final[n]
        if number is None or number in said:
            dropped += number is None
            return ""
        said.add(number)
        return f"{space}[{number}]"

    return _MARKER_WITH_SPACE.sub(replace, text), dropped


def _citation(passage: ScoredChunk, n: int, start: int, end: int) -> Citation:
    """The citation of passage[start:end]: the chunk the quote lies in (and that chunk's page and
    the quote's span in its text), so the source panel opens it and highlights exactly the quote.
    A quote across two chunks is cut to its longest piece inside one."""
    chunk_id, page = passage.chunk_id, passage.page_start
    chunk_start: int | None = start
    if isinstance(passage, Passage):
        span, start, end = passage.span_at(start, end)
        if span is None:
            chunk_start = None
        else:
            chunk_id, page, chunk_start = span.chunk_id, span.page_start, start - span.start
    quote = passage.text[start:end]
    return Citation(n=0, chunk_id=chunk_id, document_id=passage.document_id, filename=passage.filename, page=page,
                    quote=quote, start=chunk_start, end=None if chunk_start is None else chunk_start + len(quote),
                    passage=n)
