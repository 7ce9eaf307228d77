"""No task is lost: the worker's sweep sends again the task of a queued document whose task is
long gone and of a processing document whose worker child is dead; a redelivered task takes such
a document over; /health reports the queue's oldest age and "stuck" (still 200)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from ingestion.models import Collection, Document, WorkerHeartbeat
from ingestion.services import document_ingest, document_process, documents_requeue_stale
from tests.conftest import wait_for
from tests.factories.files import upload
from tests.retrieval.helpers import collection_with_texts

pytestmark = pytest.mark.django_db


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _document(name: str = "otters.txt", text: bytes = b"Otters hold hands while they sleep.") -> Document:
    collection = Collection.objects.filter(slug="lost").first() or collection_with_texts("lost", {})
    outcome = document_ingest(collection=collection, uploaded_by=None, file=upload(name, text), enqueue=False)
    assert outcome.document is not None
    return outcome.document


def _set(document: Document, **fields) -> None:  # type: ignore[no-untyped-def]
    Document.objects.filter(pk=document.pk).update(**fields)


def test_the_sweep_sends_again_a_queued_document_whose_task_is_long_gone(settings):
    settings.QUEUE_REDISPATCH_SECONDS = 300
    lost = _document("lost.txt", b"Lost words.")
    _document("fresh.txt", b"Fresh words.")  # sent just now: left alone
    _set(lost, dispatched_at=timezone.now() - timedelta(seconds=301))
    assert documents_requeue_stale() == 1
    lost.refresh_from_db()
    assert timezone.now() - lost.dispatched_at < timedelta(seconds=60)  # sent again, not again at the next sweep
    assert documents_requeue_stale() == 0
    assert documents_requeue_stale(queued_for_seconds=0) == 2  # a worker's start sends every queued one


def test_the_sweep_frees_a_document_whose_worker_child_is_dead():
    dead, alive, elsewhere = _document("a.txt", b"Alpha words."), _document("b.txt", b"Beta words."), _document("c.txt", b"Gamma words.")
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        now, host = timezone.now(), socket.gethostname()
        _set(dead, status="processing", processing_started_at=now, worker_host=host, worker_pid=_dead_pid())
        _set(alive, status="processing", processing_started_at=now, worker_host=host, worker_pid=sleeper.pid)
        _set(elsewhere, status="processing", processing_started_at=now, worker_host="another-machine", worker_pid=1)
        assert documents_requeue_stale(queued_for_seconds=None) == 1
        assert Document.objects.get(pk=dead.pk).dispatched_at > now
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_redelivered_task_takes_over_a_document_whose_holder_died():
    document = _document()
    _set(document, status="processing", processing_started_at=timezone.now(), attempts=1,
         worker_host=socket.gethostname(), worker_pid=_dead_pid())
    document_process(document_id=document.pk)
    document.refresh_from_db()
    assert document.status == "indexed" and document.attempts == 2
    assert (document.worker_host, document.worker_pid) == (socket.gethostname(), os.getpid())


def test_a_task_for_a_document_a_live_worker_holds_is_skipped():
    document = _document()
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        _set(document, status="processing", processing_started_at=timezone.now(), attempts=1,
             worker_host=socket.gethostname(), worker_pid=sleeper.pid)
        document_process(document_id=document.pk)
        assert Document.objects.get(pk=document.pk).attempts == 1
    finally:
        sleeper.kill()
        sleeper.wait()


def _health() -> tuple[int, dict]:
    WorkerHeartbeat.objects.update_or_create(hostname="celery@test", defaults={"pid": 1, "seen_at": timezone.now()})
    response = Client().get("/api/v1/health")
    return response.status_code, response.json()


def test_health_reports_the_oldest_queued_age_and_stuck_as_degraded_but_200(settings):
    settings.QUEUE_STUCK_SECONDS = 600
    document = _document()
    status, body = _health()
    assert body["checks"]["queue"]["queued"] == 1 and body["checks"]["queue"]["oldest_queued_seconds"] < 600
    assert not body["checks"]["queue"].get("stuck")
    _set(document, updated_at=timezone.now() - timedelta(seconds=700))
    status, body = _health()
    queue = body["checks"]["queue"]
    assert queue["stuck"] is True and queue["oldest_queued_seconds"] >= 700
    assert status == 200 and body["status"] == "degraded"


def test_a_queue_that_moves_is_not_stuck(settings):
    settings.QUEUE_STUCK_SECONDS = 600
    waiting, finished = _document("w.txt", b"Waiting words."), _document("f.txt", b"Finished words.")
    _set(waiting, updated_at=timezone.now() - timedelta(seconds=700))
    document_process(document_id=finished.pk)  # indexed just now
    _, body = _health()
    assert not body["checks"]["queue"].get("stuck") and body["checks"]["queue"]["queued"] == 1


@pytest.mark.slow
def test_a_document_whose_worker_child_was_killed_is_processed_again(api, worker_process):
    text = " ".join(f"Sentence {i} tells how otters in river {i % 97} keep warm in winter water." for i in range(6000))
    entry = api.post("/api/v1/documents", {"files": [upload("long.txt", text.encode())]}).json()[0]
    holder = wait_for(lambda: Document.objects.filter(pk=entry["id"], status="processing").values_list("worker_pid", flat=True).first(),
                      timeout=240, message=f"processing to start\n{worker_process.log()[-2000:]}")
    os.kill(holder, signal.SIGKILL)
    done = wait_for(lambda: Document.objects.filter(pk=entry["id"], status__in=["indexed", "failed"]).first(),
                    timeout=240, message=f"the document to be processed again\n{worker_process.log()[-3000:]}")
    assert done.status == "indexed", done.error
    assert done.attempts == 2 and done.worker_pid != holder
