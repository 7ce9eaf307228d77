"""GET /metrics: the Prometheus exposition of every process (runtime/metrics.py), plus the
ingestion queue read from the database at scrape time.

With several processes (gunicorn's workers, the Celery worker) each writes its samples to a
multiprocess folder and the scrape adds them up (runtime/metrics.py).

Open to requests from this machine and to a scrape token (METRICS_TOKEN, sent as
`Authorization: Bearer ...`); anything else gets 403, so the numbers of a company's use are
not public. The request-latency middleware records every request by its route pattern.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY, Collector

from ingestion.selectors import documents_queue_summary
from runtime.metrics import HTTP_REQUEST_SECONDS

LOCAL_ADDRESSES = {"127.0.0.1", "::1"}


class QueueCollector(Collector):
    """The documents waiting for a worker, counted when scraped (one query)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        queue = documents_queue_summary(stuck_after_seconds=settings.QUEUE_STUCK_SECONDS)
        yield GaugeMetricFamily("footnote_ingestion_queue_depth", "Documents queued for a worker", value=queue.queued)
        yield GaugeMetricFamily("footnote_ingestion_queue_oldest_seconds",
                                "How long the oldest queued document has waited", value=queue.oldest_queued_seconds or 0)
        yield GaugeMetricFamily("footnote_ingestion_queue_stuck",
                                "1 when documents wait and none finished for QUEUE_STUCK_SECONDS", value=int(queue.stuck))


class FoldersCollector(Collector):
    """The samples every process wrote into the multiprocess folders, added up: this server's
    own (PROMETHEUS_MULTIPROC_DIR) and those of processes elsewhere that share a volume with it
    (METRICS_MERGE_DIRS: the worker's container in docker-compose)."""

    def __init__(self, folders: list[str]) -> None:
        self.folders = folders

    def collect(self) -> Iterable[Metric]:
        files = sorted(str(p) for folder in self.folders for p in Path(folder).glob("*.db"))
        return MultiProcessCollector.merge(files, accumulate=True)


def _allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip(), token):
        return True
    return request.META.get("REMOTE_ADDR") in LOCAL_ADDRESSES and "HTTP_X_FORWARDED_FOR" not in request.META


def metrics(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        return HttpResponseForbidden("Metrics are served to this machine and to METRICS_TOKEN only.\n")
    folders = [f for f in [os.environ.get("PROMETHEUS_MULTIPROC_DIR", ""), *settings.METRICS_MERGE_DIRS] if f]
    if folders:
        registry = CollectorRegistry()
        registry.register(FoldersCollector(folders))  # every process's samples, added up
    else:
        registry = REGISTRY  # this process's own
    output = generate_latest(registry) + generate_latest(_queue_registry())
    return HttpResponse(output, content_type=CONTENT_TYPE_LATEST)


def _queue_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(QueueCollector())
    return registry


class RequestMetricsMiddleware:
    """Request latency by route pattern ("api/v1/documents/<int:document_id>"), method, status."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = (match.route or match.view_name) if match is not None else "unmatched"
        HTTP_REQUEST_SECONDS.labels(route or "unmatched", request.method or "", str(response.status_code)).observe(
            time.perf_counter() - started)
        return response
