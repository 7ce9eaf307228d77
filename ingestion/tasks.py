"""Celery tasks of ingestion: thin wrappers that take an id and call a service."""

from __future__ import annotations

import time

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from ingestion import worker  # noqa: F401  (connects the worker's signal handlers)
from ingestion.models import Document
from ingestion.selectors import document_get, failure_kind
from ingestion.services import DOCUMENT_PROCESS_TASK, document_process
from runtime.logcontext import log_scope
from runtime.metrics import CHUNKS_INDEXED, DOCUMENT_SECONDS, DOCUMENTS_PROCESSED


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
    started = time.perf_counter()
    with log_scope(document_id=document_id, task_id=document_process_task.request.id):
        document_process(document_id=document_id)
    _observe(document_id, time.perf_counter() - started)


def _observe(document_id: int, seconds: float) -> None:
    """A document the task finished, in the metrics (one still queued or processing is not)."""
    document = document_get(document_id=document_id)
    if document is None or document.status not in (Document.Status.INDEXED, Document.Status.FAILED):
        return
    if document.status == Document.Status.INDEXED:
        DOCUMENTS_PROCESSED.labels("indexed", "").inc()
        CHUNKS_INDEXED.inc(document.chunk_count)
        DOCUMENT_SECONDS.observe(seconds)
    else:
        DOCUMENTS_PROCESSED.labels("failed", failure_kind(document.error)).inc()
