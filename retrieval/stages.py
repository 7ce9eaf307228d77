"""The stages of search(), each a plain function with typed input and output and its own timing.

retrieve -> apply_signals -> fuse -> rerank. Every stage returns its ranking as `Hit`s (chunk id,
score; best first) together with the milliseconds it took; `SearchTrace` holds them all, so the
scores, ranks and timings that search() reports are read from one typed value."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import numpy as np
from django.conf import settings

from ingestion.embedding import get_embedder
from retrieval.bm25 import BM25Retriever
from retrieval.feedback_port import RankingFeedback
from retrieval.fusion import reciprocal_rank_fusion
from retrieval.rerank import RerankUnavailable, get_reranker
from retrieval.types import (
    NO_CANDIDATES,
    NOT_REQUESTED,
    Candidates,
    Hit,
    Reranked,
    RerankInfo,
    Signal,
    Signals,
    StageRun,
    Tuning,
)
from retrieval.vector import VectorRetriever

Mode = Literal["hybrid", "bm25", "vector"]
MODES: tuple[str, ...] = ("hybrid", "bm25", "vector")


_components: tuple[BM25Retriever, VectorRetriever] | None = None
_lock = threading.Lock()
_embedding_threads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="query-embedding")


def _retrievers() -> tuple[BM25Retriever, VectorRetriever]:
    global _components
    if _components is None:
        with _lock:
            if _components is None:
                _components = (BM25Retriever(), VectorRetriever())
    return _components


def ms_since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)


def _embed_query(query: str) -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    vector = get_embedder().embed_query(query)
    return vector, ms_since(started)


def retrieve(query: str, *, mode: Mode, collection_ids: list[int], pool: int, tuning: Tuning) -> Candidates:
    """The `pool` best chunks of BM25 and of the vector index (the query embedding adapted by
    `tuning`), as the mode asks; the vector stage's time includes embedding the query."""
    bm25, vector = _retrievers()
    # In hybrid mode the query is embedded in another thread while BM25 runs in Postgres: the two
    # waits overlap (torch releases the GIL), so hybrid costs about the slower of them, not both.
    embedding = _embedding_threads.submit(_embed_query, query) if mode == "hybrid" else None
    bm25_run = vector_run = None
    if mode in ("hybrid", "bm25"):
        t = time.perf_counter()
        hits = [Hit(h.chunk_id, h.score) for h in bm25.run(query, collection_ids=collection_ids, top_k=pool)]
        bm25_run = StageRun(hits, ms_since(t))
    if mode in ("hybrid", "vector"):
        query_vector, embed_ms = embedding.result() if embedding is not None else _embed_query(query)
        t = time.perf_counter()
        found = vector.run(tuning.adapt(query_vector), collection_ids=collection_ids, top_k=pool)
        vector_run = StageRun([Hit(h.chunk_id, h.score) for h in found], round(embed_ms + ms_since(t), 2))
    return Candidates(bm25=bm25_run, vector=vector_run)


def apply_signals(candidates: Candidates, feedback: RankingFeedback | None) -> tuple[Candidates, Signals]:
    """The candidates without those staff hid, and the signals of all of them (read in one call;
    `feedback` None: no signals)."""
    t = time.perf_counter()
    ids = sorted({hit.chunk_id for hits in candidates.lists().values() for hit in hits})
    by_chunk = feedback.signals(ids) if feedback is not None else {}
    hidden = frozenset(cid for cid, signal in by_chunk.items() if signal.hidden)

    def visible(run: StageRun | None) -> StageRun | None:
        return StageRun([h for h in run.hits if h.chunk_id not in hidden], run.ms) if run is not None else None

    kept = Candidates(bm25=visible(candidates.bm25), vector=visible(candidates.vector))
    return kept, Signals(by_chunk=by_chunk, hidden=hidden, ms=ms_since(t))


def fuse(candidates: Candidates, *, mode: Mode, tuning: Tuning, signals: Signals) -> StageRun:
    """Reciprocal rank fusion of the lists (weighted by `tuning`) in hybrid mode, the one list
    otherwise; then each score moved by its signal."""
    t = time.perf_counter()
    lists = candidates.lists()
    if mode == "hybrid":
        fused = [Hit(*pair) for pair in reciprocal_rank_fusion(
            [[h.chunk_id for h in hits] for hits in lists.values()], k=settings.RRF_K,
            weights=[tuning.weight(name) for name in lists])]
    else:
        fused = lists[mode]
    return StageRun(_with_signals(fused, signals.by_chunk), ms_since(t))


def _with_signals(fused: list[Hit], by_chunk: Mapping[int, Signal]) -> list[Hit]:
    """Each fused score moved by its signal: score + |score| x adjustment (the adjustment is bounded,
    so a signal can lift or sink a hit among its neighbours, never above any score ratio)."""
    if not by_chunk:
        return fused
    adjusted = []
    for hit in fused:
        signal = by_chunk.get(hit.chunk_id)
        score = hit.score + abs(hit.score) * signal.adjustment if signal is not None and signal.adjustment else hit.score
        adjusted.append(Hit(hit.chunk_id, score))
    return sorted(adjusted, key=lambda h: (-h.score, h.chunk_id))


def rerank(query: str, fused: list[Hit], texts: Mapping[int, str], *, requested: bool, head_size: int) -> Reranked:
    """The cross-encoder's order of the first `head_size` fused hits (those with a text), the rest
    after them; the fused order itself when not requested or when the reranker is unavailable."""
    order = [h.chunk_id for h in fused]
    if not requested or not order:
        return Reranked(order, [], RerankInfo(applied=False, reason=NOT_REQUESTED if not requested
                                              else NO_CANDIDATES))
    t = time.perf_counter()
    head = [cid for cid in order[:head_size] if cid in texts]
    try:
        scores = get_reranker().run(query, [texts[cid] for cid in head])
    except RerankUnavailable as exc:
        return Reranked(order, [], RerankInfo(applied=False, reason=str(exc)), ms_since(t))
    hits = sorted((Hit(cid, score) for cid, score in zip(head, scores)), key=lambda h: (-h.score, h.chunk_id))
    head_ids = set(head)
    order = [h.chunk_id for h in hits] + [cid for cid in order if cid not in head_ids]
    return Reranked(order, hits, RerankInfo(applied=True), ms_since(t))
