"""The Prometheus metrics every process records, scraped from `/metrics` (config/metrics.py).

Multiprocess mode: with PROMETHEUS_MULTIPROC_DIR set (the supervisor and docker-compose set it,
to an emptied folder, before any process starts), every gunicorn worker and Celery process
writes its samples to files there and the scrape adds them up; without it (a shell, the tests)
each process keeps its own, which the scrape of that process shows. prometheus_client reads the
variable when it is imported, so nothing here may be imported before the environment is set.

Names follow Prometheus' conventions: `footnote_` prefix, base units (seconds), `_total` for
counters. Labels have few values: route patterns (not paths), stage names, backend names,
outcomes and reason kinds (never free text).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Seconds: from a fast BM25 lookup (a millisecond) to a slow LLM answer (a minute).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

HTTP_REQUEST_SECONDS = Histogram(
    "footnote_http_request_duration_seconds", "Time to answer an HTTP request (a stream: to its first byte)",
    ["route", "method", "status"], buckets=LATENCY_BUCKETS)
STAGE_SECONDS = Histogram(
    "footnote_stage_duration_seconds",
    "Time of one stage of search or answering: bm25, vector, fusion, rerank, passages, generation, ttft",
    ["stage"], buckets=LATENCY_BUCKETS)
LLM_TOKENS = Counter("footnote_llm_tokens_total", "Tokens sent to and received from language models",
                     ["backend", "model", "direction"])
LLM_FALLBACKS = Counter("footnote_llm_fallbacks_total",
                        "Answers the extractive backend gave because the chosen backend could not", ["backend"])
LLM_DOWN = Gauge("footnote_llm_circuit_open", "1 while a backend is known to be down (its circuit is open)",
                 ["backend"], multiprocess_mode="max")
ANSWERS = Counter("footnote_answers_total", "Answers given, by backend and outcome (answered, abstained)",
                  ["backend", "outcome"])
QUERY_EMBEDDING_CACHE = Counter("footnote_query_embedding_cache_total",
                                "Query embeddings served from the cache (hit) or computed (miss)", ["result"])
ANSWER_CACHE_HITS = Counter("footnote_answer_cache_hits_total", "Answers served from the answer cache")
ANSWER_CACHE_MISSES = Counter("footnote_answer_cache_misses_total", "Answers made because none was cached")
DOCUMENTS_PROCESSED = Counter("footnote_ingestion_documents_total",
                              "Documents the worker finished, by outcome (indexed, failed) and reason kind",
                              ["outcome", "reason"])
CHUNKS_INDEXED = Counter("footnote_ingestion_chunks_total", "Chunks embedded and indexed")
DOCUMENT_SECONDS = Histogram("footnote_ingestion_document_duration_seconds",
                             "Time to parse, chunk, embed and index one document", buckets=LATENCY_BUCKETS)
VOTES = Counter("footnote_feedback_votes_total", "Thumbs up and down given to answers", ["rating"])


def observe_ms(histogram: Histogram, milliseconds: float | None, *labels: str) -> None:
    """Record a duration measured in milliseconds (as the traces keep them)."""
    if milliseconds is not None:
        histogram.labels(*labels).observe(milliseconds / 1000) if labels else histogram.observe(milliseconds / 1000)
