"""The production broker: the same upload path with a real worker on Redis.

Skipped where no Redis answers on 127.0.0.1:6379 (a developer's laptop), run in CI here."""

from __future__ import annotations

import pytest

from ingestion.models import Document
from tests.conftest import WorkerProcess, wait_for
from tests.factories.files import docx_bytes, upload
from tests.redis import redis_reachable

pytestmark = pytest.mark.slow
REDIS_URL = "redis://127.0.0.1:6379/15"



@pytest.mark.skipif(not redis_reachable(), reason="no Redis server on 127.0.0.1:6379")
def test_upload_is_indexed_through_redis(api, transactional_db, settings):
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    settings.CELERY_BROKER_URL = REDIS_URL
    from config.celery import app

    original = app.conf.broker_url
    app.conf.broker_url = REDIS_URL
    worker = WorkerProcess(broker_url=REDIS_URL)
    try:
        response = api.post("/api/v1/documents", {"files": [upload("r.docx", docx_bytes("Redis", ["Queued through Redis."]))]})
        document_id = response.json()[0]["id"]
        wait_for(
            lambda: Document.objects.get(pk=document_id).status in ("indexed", "failed"),
            timeout=180,
            message=f"the worker on Redis\n{worker.log()[-2000:]}",
        )
        assert Document.objects.get(pk=document_id).status == "indexed"
        assert "redis://" in worker.log()
    finally:
        worker.stop()
        app.conf.broker_url = original
