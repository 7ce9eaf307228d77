"""Datasets made from reviewed feedback, one JSON object per line.

- sft: `{"messages": [system, user (passages + question), assistant]}` for answers reviewed
  correct (the answer as given) or corrected (the reviewer's answer).
- preferences: `{"prompt", "chosen", "rejected"}`: the reviewer's corrected answer is chosen
  over the answer that was given (and judged wrong).
- retrieval: `{"anchor", "positive", "negative"}` plus ids: the query, the text of the current
  chunk holding a labelled quote (the quote itself if no chunk holds it any more), and a passage
  that was retrieved but overlaps no label (null when every retrieved passage was right).

Reviews whose answer trace or labels say a source was deleted are never exported: the answer and the corrected
answer may quote the deleted text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from chat.prompts import answer_messages
from chat.selectors import answer_trace
from chat.trace import PassageRecord
from feedback.models import Review, ReviewLabel
from feedback.selectors import golden_set
from ingestion.models import Chunk
from retrieval.types import ScoredChunk

KINDS = ("sft", "preferences", "retrieval")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Phone numbers: an optional +country code, then at least 7 digits grouped by spaces, dots,
# dashes or parentheses (years and short numbers are left alone).
_PHONE = re.compile(r"(?<![\w+(])[+(]?\d(?:[\s().-]{0,2}\d){6,14}(?!\w)")


_DATE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{4}")


def redact_pii(text: str) -> str:
    """Mask e-mail addresses as [EMAIL] and phone numbers as [PHONE] (dates are not phone numbers)."""
    text = _EMAIL.sub("[EMAIL]", text)
    return _PHONE.sub(lambda m: m.group(0) if _DATE.fullmatch(m.group(0).strip()) else "[PHONE]", text)


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact_pii(value)
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    if isinstance(value, dict):
        return {k: _redacted(v) for k, v in value.items()}
    return value


def _exportable() -> Iterator[Review]:
    for review in golden_set():
        source_deleted = any(label.document_id is None for label in review.labels.all())
        if not answer_trace(review.answer).deleted_documents and not source_deleted:
            yield review


def _prompt_passages(review: Review) -> list[ScoredChunk]:
    return [ScoredChunk(chunk_id=p.chunk_id, document_id=p.document_id or 0, collection_id=0, filename=p.filename,
                        page_start=p.page, page_end=p.page, heading_path=[], text=p.text)
            for p in answer_trace(review.answer).passages]


def sft_rows() -> Iterator[dict[str, Any]]:
    for review in _exportable():
        if review.verdict == Review.Verdict.CORRECT:
            reply = review.answer.answer
        elif review.verdict == Review.Verdict.CORRECTED:
            reply = review.corrected_answer
        else:
            continue
        messages = answer_messages(review.answer.question, _prompt_passages(review))
        yield {"messages": [*messages, {"role": "assistant", "content": reply}], "answer_id": review.answer_id}


def preference_rows() -> Iterator[dict[str, Any]]:
    for review in _exportable():
        if review.verdict == Review.Verdict.CORRECTED:
            yield {"prompt": review.answer.question, "chosen": review.corrected_answer,
                   "rejected": review.answer.answer, "answer_id": review.answer_id}


def _overlaps(span: tuple[int, int, int], label: ReviewLabel) -> bool:
    document_id, start, end = span
    return document_id == label.document_id and start < label.char_end and label.char_start < end


def retrieval_rows() -> Iterator[dict[str, Any]]:
    for review in _exportable():
        labels = [label for label in review.labels.all() if label.document_id is not None]
        if not labels:
            continue
        passages = [p for p in answer_trace(review.answer).passages if p.text]
        spans = {c["id"]: (c["document_id"], c["char_start"], c["char_end"]) for c in Chunk.objects.filter(
            id__in=[p.chunk_id for p in passages] + [0]).values("id", "document_id", "char_start", "char_end")}

        def is_right(passage: PassageRecord) -> bool:
            span = spans.get(passage.chunk_id)
            if span is not None:
                return any(_overlaps(span, label) for label in labels)
            return any(label.quote in passage.text or passage.text in label.quote for label in labels)

        negatives: list[PassageRecord | None] = [p for p in passages if not is_right(p)] or [None]
        for label in labels:
            assert label.document_id is not None  # labels of deleted sources were left out above
            chunk = (Chunk.objects.filter(document_id=label.document_id, char_start__lt=label.char_end,
                                          char_end__gt=label.char_start).order_by("char_start").first())
            for negative in negatives:
                yield {
                    "anchor": review.answer.standalone_query,
                    "positive": chunk.text if chunk else label.quote,
                    "negative": negative.text if negative else None,
                    "answer_id": review.answer_id, "review_id": review.id,
                    "positive_document_id": label.document_id, "positive_chunk_id": chunk.id if chunk else None,
                    "negative_document_id": negative.document_id if negative else None,
                    "negative_chunk_id": negative.chunk_id if negative else None,
                }


def export_rows(*, kind: str, redact_pii: bool = False) -> Iterator[dict[str, Any]]:
    """The rows of one export kind (see the module docstring); PII masked when asked."""
    rows = {"sft": sft_rows, "preferences": preference_rows, "retrieval": retrieval_rows}[kind]()
    for row in rows:
        yield _redacted(row) if redact_pii else row
