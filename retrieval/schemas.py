from __future__ import annotations

from typing import Literal

from ninja import Field, Schema


class SearchIn(Schema):
    query: str = Field(..., min_length=1, max_length=2000)
    top_k: int = Field(10, ge=1, le=100)
    mode: Literal["hybrid", "bm25", "vector"] = "hybrid"
    rerank: bool = True
    collection: str = "default"


class ScoresOut(Schema):
    bm25: float | None
    vector: float | None
    fused: float | None
    rerank: float | None
    signal: float | None = None


class SearchHitOut(Schema):
    chunk_id: int
    document_id: int
    filename: str
    page: int | None
    heading_path: list[str]
    text: str
    scores: ScoresOut
    ranks: dict[str, int | None]


class RerankOut(Schema):
    applied: bool
    reason: str


class SearchOut(Schema):
    results: list[SearchHitOut]
    rerank: RerankOut
    timings_ms: dict[str, float]
    # Conditions that make these results less reliable, each with what to do (e.g. a re-index).
    notices: list[str] = []
