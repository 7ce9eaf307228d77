from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.http import HttpRequest
from ninja import Router

from accounts.limits import rate_limit_hit
from ingestion.access import access_collection
from ingestion.selectors import vectors_notice
from retrieval.schemas import SearchIn, SearchOut
from retrieval.search import search
from retrieval.types import ScoredChunk

router = Router(tags=["search"])


def hit_as_dict(hit: ScoredChunk) -> dict[str, Any]:
    return {
        "chunk_id": hit.chunk_id,
        "document_id": hit.document_id,
        "filename": hit.filename,
        "page": hit.page_start,
        "heading_path": hit.heading_path,
        "text": hit.text,
        "scores": asdict(hit.scores),
        "ranks": hit.ranks,
    }


@router.post("/search", response=SearchOut, summary="Hybrid search (BM25 + vectors, fused, reranked)")
def search_endpoint(request: HttpRequest, payload: SearchIn) -> dict[str, Any]:
    rate_limit_hit(user=request.user, scope="search")
    collection = access_collection(request.user, payload.collection)
    result = search(
        payload.query, collection_ids=[collection.id], top_k=payload.top_k, mode=payload.mode, rerank=payload.rerank
    )
    notices = [vectors_notice(collection) if payload.mode != "bm25" else "", result.rerank.notice]
    return {
        "results": [hit_as_dict(hit) for hit in result.results],
        "rerank": asdict(result.rerank),
        "timings_ms": result.timings_ms,
        "notices": [n for n in notices if n],
    }
