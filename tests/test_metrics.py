"""GET /metrics: Prometheus families whose counts move with a search, an answer, an upload and
a vote; samples of several processes added up; served to this machine and the scrape token only."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.test import Client
from prometheus_client import REGISTRY, CollectorRegistry

from chat.services import answer_create, conversation_create
from config.metrics import FoldersCollector
from ingestion.services import collection_default_ensure
from ingestion.tasks import document_process_task
from tests.conftest import PROJECT_ROOT, bearer_client
from tests.factories.files import upload

pytestmark = pytest.mark.django_db


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_are_served_to_this_machine_and_the_scrape_token_only(settings):
    settings.METRICS_TOKEN = "scrape-secret"
    assert Client().get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert Client().get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 403
    assert Client().get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="10.1.2.3").status_code == 403
    assert Client().get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    scraped = Client().get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer scrape-secret")
    assert scraped.status_code == 200 and scraped["Content-Type"].startswith("text/plain")


TRAVEL = "Travel policy. Hotel nights in Zurich are reimbursed up to 240 francs per night."


def test_counts_move_with_a_search_an_answer_an_upload_and_a_vote(owner):
    api = bearer_client(owner)
    before = {
        "bm25": value("footnote_stage_duration_seconds_count", stage="bm25"),
        "answers": value("footnote_answers_total", backend="extractive", outcome="answered"),
        "indexed": value("footnote_ingestion_documents_total", outcome="indexed", reason=""),
        "votes": value("footnote_feedback_votes_total", rating="up"),
        "requests": value("footnote_http_request_duration_seconds_count", route="api/v1/documents", method="POST",
                          status="202"),
    }
    uploaded = api.post("/api/v1/documents", {"files": [upload("travel.txt", TRAVEL.encode())]})
    assert uploaded.status_code == 202
    document_process_task(uploaded.json()[0]["id"])  # the task, run here (the worker runs it in production)
    conversation = conversation_create(owner=owner, collection=collection_default_ensure())
    answer = answer_create(conversation=conversation, question="How much is a hotel night in Zurich reimbursed?")
    assert not answer["abstained"]
    assert api.post(f"/api/v1/answers/{answer['answer_id']}/feedback", {"rating": "up"},
                    content_type="application/json").status_code == 200
    assert value("footnote_stage_duration_seconds_count", stage="bm25") > before["bm25"]
    assert value("footnote_answers_total", backend="extractive", outcome="answered") == before["answers"] + 1
    assert value("footnote_ingestion_documents_total", outcome="indexed", reason="") == before["indexed"] + 1
    assert value("footnote_feedback_votes_total", rating="up") == before["votes"] + 1
    assert value("footnote_http_request_duration_seconds_count", route="api/v1/documents", method="POST",
                 status="202") == before["requests"] + 1
    page = Client().get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    for family in ("footnote_stage_duration_seconds", "footnote_answers_total", "footnote_ingestion_documents_total",
                   "footnote_feedback_votes_total", "footnote_ingestion_queue_depth", "footnote_llm_tokens_total"):
        assert f"# TYPE {family.removesuffix('_total')}" in page


COUNT_A_VOTE = "from runtime.metrics import VOTES; VOTES.labels('down').inc()"


def test_the_samples_of_several_processes_add_up(tmp_path):
    """Two processes on one server share a folder (gunicorn's workers); another container's
    folder is merged in too (the worker's, in docker-compose)."""
    web, worker = tmp_path / "web", tmp_path / "worker"
    for folder in (web, web, worker):
        folder.mkdir(exist_ok=True)
        subprocess.run([sys.executable, "-c", COUNT_A_VOTE], cwd=PROJECT_ROOT, check=True,
                       env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)})
    registry = CollectorRegistry()
    registry.register(FoldersCollector([str(web), str(worker)]))
    assert registry.get_sample_value("footnote_feedback_votes_total", {"rating": "down"}) == 3.0
