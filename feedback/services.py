"""Writes of feedback: votes (one per user per answer), implicit events and staff reviews."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from chat.models import Answer
from chat.services import answer_traces_purge
from feedback.models import (
    AnswerEvent,
    LearnedRanking,
    RankingSignal,
    Review,
    ReviewLabel,
    SignalEvidence,
    Vote,
)
from feedback.signals import review_evidence_record
from ingestion.access import collections_readable
from ingestion.models import Document
from runtime.metrics import VOTES

logger = logging.getLogger(__name__)


def answer_visible_to(*, user: Any, answer_id: int) -> Answer | None:
    """Users vote on and signal about the answers they can see: those of their own conversations,
    in collections they may still read (ingestion.access)."""
    return Answer.objects.filter(
        pk=answer_id, conversation__owner=user, conversation__collection__in=collections_readable(user)
    ).first()


@transaction.atomic
def feedback_record(*, user: Any, answer: Answer, rating: str | None, reasons: list[str], comment: str) -> Vote | None:
    """Create or change the user's vote; rating None withdraws it."""
    vote = None
    if rating is None:
        Vote.objects.filter(answer=answer, user=user).delete()
    else:
        vote, _ = Vote.objects.update_or_create(
            answer=answer, user=user, defaults={"rating": rating, "reasons": sorted(set(reasons)), "comment": comment}
        )
        VOTES.labels(rating).inc()
    review_evidence_record(answer=answer)  # a reviewed answer's votes move its sources' ranking
    return vote


def event_record(*, user: Any, answer: Answer, type: str) -> AnswerEvent:
    return AnswerEvent.objects.create(answer=answer, user=user, type=type)


@dataclass(frozen=True)
class ReviewSource:
    """A right source as the reviewer quotes it. `char_start`, when given, pins which occurrence
    of the quote is meant (the admin form knows it from the passage); otherwise the first one."""

    document_id: int
    quote: str
    char_start: int | None = None


def _locate(source: ReviewSource, *, collection_id: int) -> tuple[Document, int]:
    """The document and where the quote starts in its parsed text; ValidationError otherwise."""
    quote = source.quote
    if not quote.strip():
        raise ValidationError("A source needs a non-empty quote.")
    document = Document.objects.filter(pk=source.document_id, collection_id=collection_id).first()
    if document is None:
        raise ValidationError(f"Document {source.document_id} is not in this answer's collection.")
    text = document.parsed_text
    if source.char_start is not None:
        if text[source.char_start:source.char_start + len(quote)] != quote:
            raise ValidationError(f"The quote is not at character {source.char_start} of "
                                  f"{document.original_filename!r}.")
        return document, source.char_start
    start = text.find(quote)
    if start < 0:
        raise ValidationError(f"The quote {quote[:80]!r} is not verbatim in {document.original_filename!r}.")
    return document, start


def _check_review(*, verdict: str, sources: list[ReviewSource], not_in_documents: bool, corrected_answer: str) -> None:
    if verdict not in Review.Verdict.values:
        raise ValidationError(f"Unknown verdict {verdict!r}: use one of {', '.join(Review.Verdict.values)}.")
    if not_in_documents and sources:
        raise ValidationError("Either mark the right sources or 'not in the documents', not both.")
    if verdict == Review.Verdict.CORRECTED and not corrected_answer.strip():
        raise ValidationError("The verdict 'corrected' needs the corrected answer.")
    if verdict != Review.Verdict.CORRECTED and corrected_answer.strip():
        raise ValidationError("A corrected answer goes with the verdict 'corrected'.")


@transaction.atomic
def review_submit(
    *,
    answer: Answer,
    reviewer: Any,
    verdict: str,
    sources: list[ReviewSource],
    not_in_documents: bool = False,
    corrected_answer: str = "",
) -> Review:
    """Record the staff review of `answer`, replacing any earlier one: the verdict, the right sources
    as quoted spans of documents (each must be verbatim in the document's parsed text and the
    document in the answer's collection) or `not_in_documents`, and the corrected answer.

    Raises django.core.exceptions.ValidationError with a message for the reviewer."""
    _check_review(verdict=verdict, sources=sources, not_in_documents=not_in_documents,
                  corrected_answer=corrected_answer)
    collection_id = answer.conversation.collection_id
    located = [(source, *_locate(source, collection_id=collection_id)) for source in sources]
    review, _ = Review.objects.update_or_create(
        answer=answer, defaults={"reviewer": reviewer, "verdict": verdict, "not_in_documents": not_in_documents,
                                 "corrected_answer": corrected_answer.strip()},
    )
    review.labels.all().delete()
    ReviewLabel.objects.bulk_create(
        ReviewLabel(review=review, document=document, quote=source.quote, char_start=start,
                    char_end=start + len(source.quote))
        for source, document, start in located
    )
    review_evidence_record(answer=answer)  # its votes now count as ranking signals
    return review


@transaction.atomic
def review_labels_forget_document(*, document_id: int) -> int:
    """Erase a deleted document's quotes from review labels (the label stays, saying its source
    was deleted: document null, quote empty). Returns how many labels were changed."""
    return ReviewLabel.objects.filter(document_id=document_id).update(document=None, quote="")


@transaction.atomic
def feedback_purge(*, older_than_days: int) -> dict[str, int]:
    """Retention: delete votes, events and reviews last changed more than `older_than_days` ago,
    and empty the traces of older answers (they keep `{"purged": true}`; the answer text stays in
    its owner's conversation). 0 keeps everything. Returns counts of what was purged."""
    if older_than_days <= 0:
        return {"votes": 0, "events": 0, "reviews": 0, "traces": 0}
    cutoff = timezone.now() - dt.timedelta(days=older_than_days)
    counts = {
        "votes": Vote.objects.filter(updated_at__lt=cutoff).delete()[1].get("feedback.Vote", 0),
        "events": AnswerEvent.objects.filter(created_at__lt=cutoff).delete()[0],
        "reviews": Review.objects.filter(updated_at__lt=cutoff).delete()[1].get("feedback.Review", 0),
    }
    counts["traces"] = answer_traces_purge(created_before=cutoff)
    return counts


def feedback_retention_apply() -> dict[str, int]:
    """feedback_purge with FEEDBACK_RETENTION_DAYS (the workers run it hourly, see feedback.apps)."""
    purged = feedback_purge(older_than_days=settings.FEEDBACK_RETENTION_DAYS)
    if any(purged.values()):
        logger.info("retention purge (older than %d days): %s", settings.FEEDBACK_RETENTION_DAYS, purged)
    return purged


@transaction.atomic
def ranking_state_reset() -> dict[str, int]:
    """Delete every ranking signal, its vote evidence and every learned ranking: search is back to
    its defaults (votes and reviews stay, and learning from them again restores it). Returns
    counts of the rows deleted."""
    return {
        "evidence": SignalEvidence.objects.all().delete()[0],
        "signals": RankingSignal.objects.all().delete()[0],
        "learned": LearnedRanking.objects.all().delete()[0],
    }
