"""The golden set, run through the current pipeline: recall@k of the labelled sources and token F1
of the answer against the reviewer's (corrected, or confirmed correct) answer.

A retrieved chunk hits a label when it belongs to the label's document and its character span
overlaps the label's quoted span: labels survive re-chunking and re-embedding, so a change in
chunking, models or weights shows up here on real user questions."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from chat.claims import without_markers
from chat.metrics import token_f1
from chat.models import Answer
from chat.services import answer_create, conversation_create
from feedback.models import Review, ReviewLabel
from feedback.selectors import golden_set
from ingestion.models import Chunk, Collection
from retrieval.search import search


@dataclass
class GoldenRow:
    answer_id: int
    question: str
    labels: int
    hit: int
    f1: float | None


def _recall_hits(query: str, collection_id: int, labels: list[ReviewLabel], k: int) -> int:
    result = search(query, collection_ids=[collection_id], top_k=k, mode="hybrid", rerank=True)
    spans = list(Chunk.objects.filter(id__in=[r.chunk_id for r in result.results])
                 .values_list("document_id", "char_start", "char_end"))
    return sum(any(doc == label.document_id and start < label.char_end and label.char_start < end
                   for doc, start, end in spans) for label in labels)


def _answer_now(question: str, collection_id: int, backend: str | None) -> str:
    """The pipeline's answer today, in a transaction rolled back so the golden run leaves no rows."""
    with transaction.atomic():
        user = get_user_model().objects.create(username="footnote-golden-run", is_active=False)
        conversation = conversation_create(owner=user, collection=Collection.objects.get(pk=collection_id))
        answer = answer_create(conversation=conversation, question=question, backend=backend, cache=False)["answer"]
        transaction.set_rollback(True)
    return without_markers(answer)


def _gold_answer(review: Review) -> str | None:
    if review.verdict == Review.Verdict.CORRECTED:
        return review.corrected_answer
    if review.verdict == Review.Verdict.CORRECT:
        return without_markers(review.answer.answer)
    return None


def golden_evaluate(*, k: int = 10, backend: str | None = None) -> tuple[dict[str, Any], list[GoldenRow]]:
    """({"n", "recall@k", "answer_f1"}, one row per example). recall@k averages over examples
    with live labels, answer_f1 over examples with a gold answer; None when there are none."""
    rows = []
    for review in golden_set():
        answer: Answer = review.answer
        labels = [label for label in review.labels.all() if label.document_id is not None]
        collection_id = answer.conversation.collection_id
        hit = _recall_hits(answer.standalone_query, collection_id, labels, k) if labels else 0
        gold = _gold_answer(review)
        f1 = token_f1(_answer_now(answer.standalone_query, collection_id, backend), gold) if gold else None
        rows.append(GoldenRow(answer_id=answer.id, question=answer.question, labels=len(labels), hit=hit, f1=f1))
    recalls = [row.hit / row.labels for row in rows if row.labels]
    f1s = [row.f1 for row in rows if row.f1 is not None]
    summary = {"n": len(rows),
               f"recall@{k}": round(statistics.fmean(recalls), 4) if recalls else None,
               "answer_f1": round(statistics.fmean(f1s), 4) if f1s else None}
    return summary, rows
