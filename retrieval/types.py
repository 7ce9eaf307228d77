"""Values that cross module lines in retrieval (and out of it, to chat and feedback)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class StageScores:
    bm25: float | None = None
    vector: float | None = None
    fused: float | None = None
    rerank: float | None = None


@dataclass
class ScoredChunk:
    chunk_id: int
    document_id: int
    collection_id: int
    filename: str
    page_start: int | None
    page_end: int | None
    heading_path: list[str]
    text: str
    scores: StageScores = field(default_factory=StageScores)
    # 1-based rank in each stage's list (None: the stage did not see this chunk).
    ranks: dict[str, int | None] = field(default_factory=dict)


@dataclass
class RerankInfo:
    applied: bool
    reason: str = ""


@dataclass
class SearchResult:
    results: list[ScoredChunk]
    rerank: RerankInfo
    timings_ms: dict[str, float]
    # Each stage's own ranking, for the retrieval lab and the answer trace.
    stages: dict[str, list[ScoredChunk]] = field(default_factory=dict)
