"""What the Celery worker does besides tasks: set embedding threads, load the embedding model once
per child, report a heartbeat for /health, and queue again what a dead worker left behind."""

from __future__ import annotations

import logging
import os
import socket
import threading

from celery.signals import worker_process_init, worker_ready, worker_shutdown

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10
PURGE_EVERY_BEATS = 360  # hourly
_stop = threading.Event()


@worker_process_init.connect
def _child_init(**_: object) -> None:
    import torch
    from django.conf import settings

    from ingestion.embedding import configured_threads, get_embedder

    # Each child takes its share of the cores (EMBEDDING_THREADS overrides), for torch and
    # onnxruntime alike; the embedder created here is the one every task of this child uses.
    threads = configured_threads(share=settings.WORKER_CONCURRENCY)
    torch.set_num_threads(threads)  # whatever else runs torch in this child (parsing models)
    get_embedder(threads=threads)
    from django.db import connections

    # Connections inherited from the parent must not be shared with it.
    for conn in connections.all(initialized_only=True):
        conn.close()


def _beat(hostname: str) -> None:
    from django.db import close_old_connections
    from django.utils import timezone

    from ingestion.models import WorkerHeartbeat

    from ingestion.services import documents_requeue_stale

    beats = 0
    while not _stop.is_set():
        beats += 1
        try:
            close_old_connections()
            WorkerHeartbeat.objects.update_or_create(
                hostname=hostname, defaults={"pid": os.getpid(), "seen_at": timezone.now()}
            )
            if beats % 6 == 0:
                # A child killed at the hard time limit leaves its document in processing.
                documents_requeue_stale(include_queued=False)
            if beats % PURGE_EVERY_BEATS == 1:
                # Retention (FEEDBACK_RETENTION_DAYS) needs no separate scheduler: every worker
                # purges hourly; the purge is idempotent, so several workers do no harm.
                _retention_purge()
        except Exception:
            logger.exception("could not write the worker heartbeat")
        _stop.wait(HEARTBEAT_SECONDS)


def _retention_purge() -> None:
    from django.conf import settings

    from feedback.services import feedback_purge

    purged = feedback_purge(older_than_days=settings.FEEDBACK_RETENTION_DAYS)
    if any(purged.values()):
        logger.info("retention purge (older than %d days): %s", settings.FEEDBACK_RETENTION_DAYS, purged)


@worker_ready.connect
def _ready(sender: object = None, **_: object) -> None:
    hostname = getattr(sender, "hostname", None) or f"worker@{socket.gethostname()}:{os.getpid()}"
    threading.Thread(target=_beat, args=(hostname,), daemon=True, name="heartbeat").start()
    from ingestion.services import documents_requeue_stale

    try:
        count = documents_requeue_stale()
        if count:
            logger.info("queued %d document(s) left unfinished by an earlier worker", count)
    except Exception:
        logger.exception("could not queue unfinished documents")


@worker_shutdown.connect
def _shutdown(**_: object) -> None:
    _stop.set()
