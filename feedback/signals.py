"""Writes of ranking signals: staff boost / demote / hide, and the evidence that reviewed votes give.

Retrieval reads the result through feedback.ranking (registered as its RankingFeedback), never these tables."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from chat.models import Answer
from chat.selectors import answer_trace
from feedback.models import RankingSignal, Review, SignalEvidence, Vote
from ingestion.models import Chunk, Document


@transaction.atomic
def ranking_signal_set(
    *, document: Document, action: str, set_by: Any, chunk: Chunk | None = None, note: str = ""
) -> RankingSignal:
    """Boost, demote or hide a whole document (chunk None) or one of its chunks, replacing the
    signal already on that target. Raises ValidationError for an unknown action or a foreign chunk."""
    if action not in RankingSignal.Action.values:
        raise ValidationError(f"Unknown action {action!r}: use one of {', '.join(RankingSignal.Action.values)}.")
    if chunk is not None and chunk.document_id != document.id:
        raise ValidationError(f"Chunk {chunk.id} is not part of document {document.id}.")
    signal, _ = RankingSignal.objects.update_or_create(
        document=document, chunk=chunk, defaults={"action": action, "set_by": set_by, "note": note}
    )
    return signal


@transaction.atomic
def review_evidence_record(*, answer: Answer) -> int:
    """Rebuild the vote evidence of one answer from its review and its current votes (idempotent).

    Only reviewed votes count. Every voter vouches (+1) for each source the reviewer marked right;
    a down-voter also counts -1 against each passage retrieved for the answer that lies in no marked
    source (that chunk only: it may be right for another question). Returns the rows written."""
    SignalEvidence.objects.filter(answer=answer).delete()
    review = Review.objects.filter(answer=answer).first()
    if review is None:
        return 0
    right = {doc for doc in review.labels.values_list("document_id", flat=True) if doc is not None}
    given = [(p.document_id, p.chunk_id) for p in answer_trace(answer).retrieved]
    live_chunks = set(Chunk.objects.filter(id__in=[cid for _, cid in given]).values_list("id", flat=True))
    wrong = [(doc, cid) for doc, cid in given if doc is not None and doc not in right and cid in live_chunks]
    if not right and not review.not_in_documents:
        wrong = []  # the reviewer marked nothing: no judgement on the passages either
    rows = []
    for vote in Vote.objects.filter(answer=answer):
        rows += [SignalEvidence(answer=answer, user_id=vote.user_id, document_id=doc, value=1,
                                created_at=vote.updated_at) for doc in sorted(right)]
        if vote.rating == Vote.Rating.DOWN:
            rows += [SignalEvidence(answer=answer, user_id=vote.user_id, document_id=doc, chunk_id=cid, value=-1,
                                    created_at=vote.updated_at) for doc, cid in wrong]
    SignalEvidence.objects.bulk_create(rows)
    return len(rows)

