"""Retention purge as a task, for deployments that prefer Celery beat; every worker also purges
hourly on its own (ingestion.worker), and `manage.py purge_feedback` runs it by hand."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from feedback.services import feedback_purge


@shared_task
def feedback_purge_task() -> dict[str, int]:
    return feedback_purge(older_than_days=settings.FEEDBACK_RETENTION_DAYS)
