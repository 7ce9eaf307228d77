"""gunicorn hooks of `make run`'s web server (config.supervisor passes `-c python:config.gunicorn_hooks`)."""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any

from prometheus_client import multiprocess

logger = logging.getLogger("footnote.warm")


def post_worker_init(worker: Any) -> None:
    """Warm start: load the embedding model and the reranker, and run each once, in every web
    worker before it accepts a request, so the first search is as fast as later ones. In the worker,
    after the fork, never in the master: each process needs sessions of its own (onnxruntime's are
    not fork-safe), which is also why they are not loaded at import time."""
    # Imported here: gunicorn reads this module before the WSGI app has set Django up.
    from config.health import models_warm_up
    from ingestion.embedding import get_embedder
    from retrieval.rerank import RerankUnavailable, get_reranker

    models_warm_up()  # loads the embedder, and the reranker when its files are here; logs failures
    # One call of each, so the first request does not pay their one-off costs either.
    with contextlib.suppress(Exception):  # models_warm_up logged why the embedder is unusable
        get_embedder().embed(["warm up"])
    reranker = get_reranker()
    if reranker.presence().present:
        with contextlib.suppress(RerankUnavailable):  # search runs without reranking and says so
            reranker.run("warm up", ["warm up"])


def child_exit(server: Any, worker: Any) -> None:
    """A web worker that exits leaves its Prometheus samples (counters stay counted); its live
    gauges are dropped (prometheus_client's multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
