"""Celery tasks of ingestion: thin wrappers that take an id and call a service."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from ingestion import worker  # noqa: F401  (connects the worker's signal handlers)
from ingestion.services import DOCUMENT_PROCESS_TASK, document_process


@shared_task(
    name=DOCUMENT_PROCESS_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.WORKER_SOFT_TIME_LIMIT,
    time_limit=settings.WORKER_HARD_TIME_LIMIT,
    # The database gone for a moment: the document stays queued and the task is sent again, up to
    # about ten minutes of outage; after that the worker's sweep sends it again (documents_requeue_stale).
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=5,
    retry_backoff_max=60,
    max_retries=12,
)
def document_process_task(document_id: int) -> None:
    document_process(document_id=document_id)
