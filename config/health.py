"""GET /api/v1/health: anonymous; 200 when every check passes, 503 otherwise. A check that fails
with `degrades` (documents stuck in the queue) leaves it 200 with status "degraded"; one that fails
with `optional` (the LLM endpoint, the reranker) leaves it "ok"."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest
from django.utils import timezone
from ninja import Router, Status

from config.celery import app
from config.supervision import STATE_FILE, state_read
from ingestion.embedding import embedder_status, get_embedder
from ingestion.keyword_index import engine_status, keyword_indexes_blind
from ingestion.models import WorkerHeartbeat
from ingestion.selectors import documents_queue_summary, vectors_notices
from retrieval.rerank import reranker_warm_up_if_present

logger = logging.getLogger(__name__)
router = Router(tags=["health"])

WORKER_STALE_AFTER = timedelta(seconds=60)


def _check_database() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"ok": True}


def _check_vector() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        row = cursor.fetchone()
    if row is None:
        return {"ok": False, "error": "the pgvector extension is not installed in this database"}
    return {"ok": True, "version": row[0]}


def _check_keyword_index() -> dict[str, Any]:
    """The BM25 engine: pg_textsearch (ok), the portable `sql` fallback (ok, with why: slower on
    large collections), or pg_textsearch that this server can no longer load (keyword search fails)."""
    status = engine_status()
    if status["status"] == "unavailable":
        return {"ok": False, "engine": status["engine"], "error": status["reason"]}
    result: dict[str, Any] = {"ok": True, "engine": status["engine"]}
    if status["status"] == "fallback":
        result["fallback"] = status["reason"]
        return result
    blind = keyword_indexes_blind()
    if blind:
        names = ", ".join(f"{slug} (chunk_bm25_c{cid})" for cid, slug in blind)
        return {"ok": False, "engine": status["engine"], "blind": [slug for _, slug in blind],
                "error": f"the keyword index of {names} finds none of its own words, so keyword search returns "
                         "nothing there: the worker rebuilds it within a minute, or run `manage.py bm25_engine --repair`"}
    return result


def _check_broker() -> dict[str, Any]:
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return {"ok": True, "transport": conn.transport_cls if isinstance(conn.transport_cls, str) else "custom"}


def _check_worker() -> dict[str, Any]:
    newest = WorkerHeartbeat.objects.order_by("-seen_at").first()
    if newest is None:
        return {"ok": False, "error": "no worker has reported yet: start one with `make run` or `celery -A config worker`"}
    age = timezone.now() - newest.seen_at
    if age > WORKER_STALE_AFTER:
        return {"ok": False, "error": f"no worker heartbeat for {int(age.total_seconds())} s", "last_seen": newest.seen_at}
    return {"ok": True, "hostname": newest.hostname, "last_seen": newest.seen_at}


def _check_embedding_model() -> dict[str, Any]:
    return embedder_status()


def _check_collection_vectors() -> dict[str, Any]:
    notices = vectors_notices()
    if notices:
        return {"ok": False, "optional": True, "error": " ".join(notices)}
    return {"ok": True}


def _check_queue() -> dict[str, Any]:
    """The documents waiting for a worker; "stuck" when some waited QUEUE_STUCK_SECONDS and none
    finished meanwhile (the app still answers: degraded, not down)."""
    stuck_after = settings.QUEUE_STUCK_SECONDS
    summary = documents_queue_summary(stuck_after_seconds=stuck_after)
    result: dict[str, Any] = {"ok": not summary.stuck, "queued": summary.queued,
                              "oldest_queued_seconds": summary.oldest_queued_seconds}
    if summary.stuck:
        result.update(stuck=True, degrades=True,
                      error=f"stuck: {summary.queued} document(s) queued, the oldest for "
                            f"{summary.oldest_queued_seconds} s, and none finished in the last {stuck_after} s")
    return result


def _check_processes() -> dict[str, Any]:
    """The processes `make run` supervises, with their restarts (var/supervisor.json)."""
    state = state_read(settings.VAR_DIR / STATE_FILE)
    if state is None:
        return {"ok": True, "optional": True, "supervised": False}
    processes = state.get("processes") or {}
    down = [name for name, p in processes.items() if not p.get("running")]
    result: dict[str, Any] = {"ok": not down, "optional": True, "supervised": True, "processes": processes}
    if down:
        result["error"] = f"restarting: {', '.join(down)}"
    return result


CHECKS: dict[str, Callable[[], dict[str, Any]]] = {
    "database": _check_database,
    "vector": _check_vector,
    "keyword_index": _check_keyword_index,
    "broker": _check_broker,
    "worker": _check_worker,
    "queue": _check_queue,
    "embedding_model": _check_embedding_model,
    "collection_vectors": _check_collection_vectors,
    "processes": _check_processes,
}
# Other apps add their own checks (the reranker, the LLM endpoint) with register_check.


def register_check(name: str, check: Callable[[], dict[str, Any]]) -> None:
    CHECKS[name] = check


def run_checks() -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    for name, check in CHECKS.items():
        try:
            results[name] = check()
        except Exception as exc:  # a failing check is reported, never raised
            results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return results


@router.get("/health", auth=None, response={200: dict, 503: dict}, summary="Service health")
def health(request: HttpRequest) -> Status:
    checks = run_checks()
    failing = [check for check in checks.values() if not check.get("ok")]
    healthy = all(check.get("optional") or check.get("degrades") for check in failing)
    degraded = not healthy or any(check.get("degrades") for check in failing)
    return Status(200 if healthy else 503, {"status": "degraded" if degraded else "ok", "checks": checks})


def models_warm_up() -> None:
    """Load the query embedder and the reranker (when its files are here), at a web process's
    start: what fails is logged and shows in /health; nothing is raised."""
    try:
        get_embedder().warm_up()
    except Exception:
        logger.exception("the embedding model could not be loaded at start-up")
    reranker_warm_up_if_present()
