"""search(): BM25 and vector candidates, fused, reranked — composed in plain code.

The API, the retrieval lab, chat and the evaluation harness all call this one function.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import numpy as np

from django.conf import settings

from feedback.ranking import learned_tuning, ranking_signals
from ingestion.embedding import get_embedder
from ingestion.models import Chunk
from retrieval.bm25 import BM25Retriever
from retrieval.fusion import reciprocal_rank_fusion
from retrieval.rerank import RerankUnavailable, get_reranker
from retrieval.types import RerankInfo, ScoredChunk, SearchResult, Signal, StageScores, Tuning
from retrieval.vector import VectorRetriever

Mode = Literal["hybrid", "bm25", "vector"]
MODES: tuple[str, ...] = ("hybrid", "bm25", "vector")

_components: tuple[BM25Retriever, VectorRetriever] | None = None
_lock = threading.Lock()


def _retrievers() -> tuple[BM25Retriever, VectorRetriever]:
    global _components
    if _components is None:
        with _lock:
            if _components is None:
                _components = (BM25Retriever(), VectorRetriever())
    return _components


_embedding_threads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="query-embedding")


def _embed_query(query: str) -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    vector = get_embedder().embed_query(query)
    return vector, _ms(started)


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)


def search(
    query: str,
    *,
    collection_ids: list[int],
    top_k: int = 10,
    mode: Mode = "hybrid",
    rerank: bool = True,
    candidates: int | None = None,
    rerank_top_n: int | None = None,
    tuning: Tuning | None = None,
    signals: bool = True,
) -> SearchResult:
    """The `top_k` best chunks for `query` in the given collections, with every stage's score.

    `collection_ids` must come from ingestion.access (what the caller may read): both retrievers
    filter by it inside their SQL. Feedback shapes the ranking: `tuning` (default: what was learned
    from reviews, feedback.selectors.learned_tuning) weights the fusion and adapts the query
    embedding; with `signals`, staff and vote signals adjust fused scores and hidden chunks drop out."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    started = time.perf_counter()
    pool = candidates if candidates is not None else max(settings.RETRIEVAL_CANDIDATES, top_k)
    bm25, vector = _retrievers()
    tuning = tuning if tuning is not None else learned_tuning()
    timings: dict[str, float] = {"bm25": 0.0, "vector": 0.0, "signals": 0.0, "fusion": 0.0, "rerank": 0.0}
    scores: dict[int, StageScores] = {}
    ranks: dict[int, dict[str, int | None]] = {}

    def note(stage: str, ranked: list[tuple[int, float]]) -> None:
        for rank, (chunk_id, score) in enumerate(ranked, start=1):
            setattr(scores.setdefault(chunk_id, StageScores()), stage, score)
            ranks.setdefault(chunk_id, {})[stage] = rank

    lists: dict[str, list[tuple[int, float]]] = {}
    # In hybrid mode the query is embedded in another thread while BM25 runs in Postgres: the two
    # waits overlap (torch releases the GIL), so hybrid costs about the slower of them, not both.
    embedding = _embedding_threads.submit(_embed_query, query) if mode == "hybrid" else None
    if mode in ("hybrid", "bm25"):
        t = time.perf_counter()
        lists["bm25"] = [(h.chunk_id, h.score) for h in bm25.run(query, collection_ids=collection_ids, top_k=pool)]
        timings["bm25"] = _ms(t)
    if mode in ("hybrid", "vector"):
        query_vector, embed_ms = embedding.result() if embedding is not None else _embed_query(query)
        t = time.perf_counter()
        lists["vector"] = [
            (h.chunk_id, h.score)
            for h in vector.run(tuning.adapt(query_vector), collection_ids=collection_ids, top_k=pool)
        ]
        timings["vector"] = round(embed_ms + _ms(t), 2)  # embedding + index search
    t = time.perf_counter()
    chunk_signals: dict[int, Signal] = {}
    if signals and settings.FEEDBACK_SIGNALS:
        chunk_signals = ranking_signals(sorted({cid for lst in lists.values() for cid, _ in lst}))
    hidden = {cid for cid, signal in chunk_signals.items() if signal.hidden}
    lists = {name: [pair for pair in lst if pair[0] not in hidden] for name, lst in lists.items()}
    timings["signals"] = _ms(t)
    for name, lst in lists.items():
        note(name, lst)
    t = time.perf_counter()
    if mode == "hybrid":
        fused = reciprocal_rank_fusion([[cid for cid, _ in lst] for lst in lists.values()], k=settings.RRF_K,
                                       weights=[tuning.weight(name) for name in lists])
    else:
        fused = lists[mode]
    fused = _with_signals(fused, chunk_signals, scores)
    note("fused", fused)
    timings["fusion"] = _ms(t)

    ordered = [cid for cid, _ in fused]
    rerank_info = RerankInfo(applied=False, reason="not requested" if not rerank else "no candidates to rerank")
    head_size = rerank_top_n if rerank_top_n is not None else settings.RERANK_TOP_N
    wanted = set(ordered[: max(top_k, head_size)] if rerank else ordered[:top_k])
    for lst in [*lists.values(), fused]:
        wanted.update(cid for cid, _ in lst[:top_k])
    chunks = _load_chunks(list(wanted))
    if rerank and ordered:
        t = time.perf_counter()
        head = [cid for cid in ordered[:head_size] if cid in chunks]
        try:
            rerank_scores = get_reranker().run(query, [chunks[cid].text for cid in head])
            reranked = sorted(zip(head, rerank_scores), key=lambda p: (-p[1], p[0]))
            note("rerank", reranked)
            head_ids = set(head)
            ordered = [cid for cid, _ in reranked] + [cid for cid in ordered if cid not in head_ids]
            rerank_info = RerankInfo(applied=True)
        except RerankUnavailable as exc:
            rerank_info = RerankInfo(applied=False, reason=str(exc))
        timings["rerank"] = _ms(t)
    notes = {cid: signal.note for cid, signal in chunk_signals.items()}
    results = [_scored(chunks[cid], scores[cid], ranks[cid], notes) for cid in ordered[:top_k] if cid in chunks]
    timings["total"] = _ms(started)
    stages = {
        stage: [_scored(chunks[cid], scores[cid], ranks[cid], notes) for cid, _ in lst[:top_k] if cid in chunks]
        for stage, lst in [*lists.items(), ("fused", fused)]
    }
    return SearchResult(results=results, rerank=rerank_info, timings_ms=timings, stages=stages, hidden=len(hidden),
                        tuning=tuning)


def _with_signals(
    fused: list[tuple[int, float]], chunk_signals: dict[int, Signal], scores: dict[int, StageScores]
) -> list[tuple[int, float]]:
    """Each fused score moved by its signal: score + |score| x adjustment (the adjustment is bounded,
    so a signal can lift or sink a hit among its neighbours, never above any score ratio)."""
    if not chunk_signals:
        return fused
    adjusted = []
    for cid, score in fused:
        signal = chunk_signals.get(cid)
        if signal is not None and signal.adjustment:
            scores.setdefault(cid, StageScores()).signal = signal.adjustment
            score += abs(score) * signal.adjustment
        adjusted.append((cid, score))
    return sorted(adjusted, key=lambda pair: (-pair[1], pair[0]))


def _load_chunks(chunk_ids: list[int]) -> dict[int, Chunk]:
    rows = Chunk.objects.filter(id__in=chunk_ids).select_related("document").only(
        "id", "document_id", "collection_id", "text", "page_start", "page_end", "heading_path",
        "document__original_filename",
    )
    return {row.id: row for row in rows}


def _scored(chunk: Chunk, scores: StageScores, ranks: dict[str, int | None], notes: dict[int, str]) -> ScoredChunk:
    return ScoredChunk(
        chunk_id=chunk.id,
        document_id=chunk.document_id,
        collection_id=chunk.collection_id,
        filename=chunk.document.original_filename,
        page_start=chunk.page_start,
        page_end=chunk.page_end,
        heading_path=list(chunk.heading_path or []),
        text=chunk.text,
        scores=scores,
        ranks=dict(ranks),
        signal_note=notes.get(chunk.id, ""),
    )
