"""What the Celery worker does besides tasks: set embedding threads, load the embedding model once
per child, report a heartbeat for /health, and run the periodic jobs (ingestion.hooks): its own
sweep that sends again the tasks of documents whose task is gone, the rebuild of bm25 indexes a
PostgreSQL restart left blind, feedback's retention purge."""

from __future__ import annotations

import logging
import os
import socket
import threading

from celery.signals import worker_process_init, worker_ready, worker_shutdown
from django.conf import settings
from django.db import close_old_connections, connections
from django.utils import timezone

from ingestion.embedding import get_embedder
from ingestion.hooks import PeriodicJob, periodic_jobs, periodic_register
from ingestion.keyword_index import keyword_indexes_repair
from ingestion.models import WorkerHeartbeat
from ingestion.services import documents_requeue_stale
from runtime.threads import configured_threads, torch_threads_apply

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10
_stop = threading.Event()
# Every beat: a document whose worker child died is free within seconds, not at the hard time limit.
periodic_register(PeriodicJob(name="documents_requeue_stale", run=documents_requeue_stale,
                              every_seconds=HEARTBEAT_SECONDS))
# At start and every minute: a bm25 index that a PostgreSQL restart left blind is rebuilt.
periodic_register(PeriodicJob(name="keyword_indexes_repair", run=keyword_indexes_repair, every_seconds=60))


@worker_process_init.connect
def _child_init(**_: object) -> None:
    # Each child takes its share of the cores (EMBEDDING_THREADS overrides), for torch and
    # onnxruntime alike; the embedder created here is the one every task of this child uses.
    threads = configured_threads(share=settings.WORKER_CONCURRENCY)
    torch_threads_apply(threads)  # whatever else runs torch in this child (parsing models)
    get_embedder(threads=threads)

    # Connections inherited from the parent must not be shared with it.
    for conn in connections.all(initialized_only=True):
        conn.close()


def _beat(hostname: str) -> None:
    beats = 0
    while not _stop.is_set():
        beats += 1
        try:
            close_old_connections()
            WorkerHeartbeat.objects.update_or_create(
                hostname=hostname, defaults={"pid": os.getpid(), "seen_at": timezone.now()}
            )
            _periodic_run(beats)
        except Exception:
            logger.exception("could not write the worker heartbeat")
        _stop.wait(HEARTBEAT_SECONDS)


def _periodic_run(beats: int) -> None:
    """The registered periodic jobs due at this beat (each also at the first beat); they need no
    separate scheduler, and are idempotent, so several workers do no harm."""
    for job in periodic_jobs():
        every = max(1, job.every_seconds // HEARTBEAT_SECONDS)
        if beats % every == 1 or every == 1:
            try:
                job.run()
            except Exception:
                logger.exception("periodic job %s failed", job.name)


@worker_ready.connect
def _ready(sender: object = None, **_: object) -> None:
    hostname = getattr(sender, "hostname", None) or f"worker@{socket.gethostname()}:{os.getpid()}"
    threading.Thread(target=_beat, args=(hostname,), daemon=True, name="heartbeat").start()

    try:  # at start, every queued document: an earlier worker may have fetched its task and died
        count = documents_requeue_stale(queued_for_seconds=0)
        if count:
            logger.info("queued %d document(s) left unfinished by an earlier worker", count)
    except Exception:
        logger.exception("could not queue unfinished documents")


@worker_shutdown.connect
def _shutdown(**_: object) -> None:
    _stop.set()
