"""Periodic retention purge: schedule `feedback.tasks.feedback_purge_task` daily (Celery beat or
cron running `manage.py purge_feedback`)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from feedback.services import feedback_purge


@shared_task
def feedback_purge_task() -> dict[str, int]:
    return feedback_purge(older_than_days=settings.FEEDBACK_RETENTION_DAYS)
