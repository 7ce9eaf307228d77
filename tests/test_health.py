from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from ingestion.models import WorkerHeartbeat

pytestmark = pytest.mark.django_db


def test_health_is_degraded_without_a_worker():
    response = Client().get("/api/v1/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"]["ok"] and body["checks"]["vector"]["ok"]
    assert body["checks"]["worker"]["ok"] is False and "worker" in body["checks"]["worker"]["error"]


def test_health_is_ok_with_a_recent_worker_heartbeat():
    WorkerHeartbeat.objects.create(hostname="celery@test", pid=1, seen_at=timezone.now())
    response = Client().get("/api/v1/health")
    body = response.json()
    failing = {name: check for name, check in body["checks"].items() if not (check.get("ok") or check.get("optional"))}
    assert response.status_code == 200, failing
    assert body["status"] == "ok"
    assert body["checks"]["broker"]["ok"]


def test_openapi_docs_are_served():
    assert Client().get("/api/v1/openapi.json").status_code == 200
    assert Client().get("/api/v1/docs").status_code == 200
