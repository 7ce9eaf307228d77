"""Reads of feedback: the golden set (reviewed answers) and what the admin pages show."""

from __future__ import annotations

from django.db.models import QuerySet

from feedback.models import Review


def golden_set() -> QuerySet[Review]:
    """Every reviewed answer is a labelled example: its question, the right sources (quoted spans)
    or `not_in_documents`, and the corrected answer when there is one."""
    return (Review.objects.select_related("answer", "answer__conversation")
            .prefetch_related("labels").order_by("id"))
