"""search(): BM25 and vector candidates, feedback signals, fusion, reranking — composed in plain code.

The API, the retrieval lab, chat and the evaluation harness all call this one function. Its
stages live in retrieval.stages; what it takes from feedback comes through retrieval.feedback_port.
"""

from __future__ import annotations

import time

from django.conf import settings

from ingestion.models import Chunk
from retrieval.feedback_port import ranking_feedback
from retrieval.stages import MODES, Mode, apply_signals, fuse, ms_since, retrieve
from retrieval.stages import rerank as rerank_stage  # search()'s `rerank` flag shadows the name
from retrieval.types import Hit, ScoredChunk, SearchResult, SearchTrace, StageScores, Tuning
from runtime.metrics import STAGE_SECONDS, observe_ms

__all__ = ["MODES", "Mode", "search"]


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
    filter by it inside their SQL. Feedback shapes the ranking through the registered
    RankingFeedback: `tuning` (default: what it learned from reviews) weights the fusion and adapts
    the query embedding; with `signals`, staff and vote signals adjust fused scores and hidden
    chunks drop out. Raises ValueError for an unknown mode."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    started = time.perf_counter()
    feedback = ranking_feedback()
    pool = candidates if candidates is not None else max(settings.RETRIEVAL_CANDIDATES, top_k)
    head_size = rerank_top_n if rerank_top_n is not None else settings.RERANK_TOP_N
    tuning = tuning if tuning is not None else feedback.tuning()
    retrieved = retrieve(query, mode=mode, collection_ids=collection_ids, pool=pool, tuning=tuning)
    kept, chunk_signals = apply_signals(retrieved, feedback if signals else None)
    fused = fuse(kept, mode=mode, tuning=tuning, signals=chunk_signals)
    chunks = _load_chunks(_wanted(kept.lists(), fused.hits, top_k=top_k, head=head_size if rerank else 0))
    reranked = rerank_stage(query, fused.hits, {cid: c.text for cid, c in chunks.items()}, requested=rerank,
                            head_size=head_size)
    trace = SearchTrace(candidates=kept, signals=chunk_signals, fused=fused, reranked=reranked)
    result = _result(trace, chunks, top_k=top_k, tuning=tuning, total_ms=ms_since(started))
    _observe(trace, result.timings_ms)
    return result


def _observe(trace: SearchTrace, timings_ms: dict[str, float]) -> None:
    """Each stage that ran, in the stage-latency histogram (`search` for the whole call)."""
    ran = {"bm25": trace.candidates.bm25 is not None, "vector": trace.candidates.vector is not None,
           "rerank": trace.reranked.info.applied}
    for stage, ms in timings_ms.items():
        if ran.get(stage, True):
            observe_ms(STAGE_SECONDS, ms, "search" if stage == "total" else stage)


def _wanted(lists: dict[str, list[Hit]], fused: list[Hit], *, top_k: int, head: int) -> list[int]:
    """The chunks to load: the reranker's head and every stage's first `top_k`."""
    wanted = {h.chunk_id for h in fused[: max(top_k, head)]}
    for hits in [*lists.values(), fused]:
        wanted.update(h.chunk_id for h in hits[:top_k])
    return list(wanted)


def _load_chunks(chunk_ids: list[int]) -> dict[int, Chunk]:
    rows = Chunk.objects.filter(id__in=chunk_ids).select_related("document").only(
        "id", "document_id", "collection_id", "text", "page_start", "page_end", "heading_path",
        "document__original_filename",
    )
    return {row.id: row for row in rows}


def _result(trace: SearchTrace, chunks: dict[int, Chunk], *, top_k: int, tuning: Tuning,
            total_ms: float) -> SearchResult:
    """The first `top_k` of the final order, and of each stage's list, with every stage's score
    and rank of each chunk."""
    positions = {stage: {h.chunk_id: (rank, h.score) for rank, h in enumerate(hits, start=1)}
                 for stage, hits in trace.rankings().items()}

    def scored(cid: int) -> ScoredChunk:
        def score(stage: str) -> float | None:
            found = positions.get(stage, {}).get(cid)
            return found[1] if found is not None else None

        signal = trace.signals.by_chunk.get(cid)
        adjustment = signal.adjustment if signal is not None and signal.adjustment and cid in positions["fused"] else None
        stage_scores = StageScores(bm25=score("bm25"), vector=score("vector"), fused=score("fused"),
                                   rerank=score("rerank"), signal=adjustment)
        ranks: dict[str, int | None] = {stage: at[cid][0] for stage, at in positions.items() if cid in at}
        return _scored(chunks[cid], stage_scores, ranks, signal.note if signal is not None else "")

    results = [scored(cid) for cid in trace.reranked.order[:top_k] if cid in chunks]
    stages = {stage: [scored(h.chunk_id) for h in hits[:top_k] if h.chunk_id in chunks]
              for stage, hits in [*trace.candidates.lists().items(), ("fused", trace.fused.hits)]}
    return SearchResult(results=results, rerank=trace.reranked.info, timings_ms=trace.timings_ms(total_ms),
                        stages=stages, hidden=len(trace.signals.hidden), tuning=tuning, trace=trace)


def _scored(chunk: Chunk, scores: StageScores, ranks: dict[str, int | None], note: str) -> ScoredChunk:
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
        ranks=ranks,
        signal_note=note,
    )
