"""Writes of feedback: votes (one per user per answer) and implicit events."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from chat.models import Answer
from feedback.models import AnswerEvent, Vote


def answer_visible_to(*, user: Any, answer_id: int) -> Answer | None:
    """Users vote on and signal about the answers they can see: those of their own conversations,
    in collections they may still read (accounts.access)."""
    from accounts.access import collections_readable

    return Answer.objects.filter(
        pk=answer_id, conversation__owner=user, conversation__collection__in=collections_readable(user)
    ).first()


@transaction.atomic
def feedback_record(*, user: Any, answer: Answer, rating: str | None, reasons: list[str], comment: str) -> Vote | None:
    """Create or change the user's vote; rating None withdraws it."""
    if rating is None:
        Vote.objects.filter(answer=answer, user=user).delete()
        return None
    vote, _ = Vote.objects.update_or_create(
        answer=answer, user=user, defaults={"rating": rating, "reasons": sorted(set(reasons)), "comment": comment}
    )
    return vote


def event_record(*, user: Any, answer: Answer, type: str) -> AnswerEvent:
    return AnswerEvent.objects.create(answer=answer, user=user, type=type)
