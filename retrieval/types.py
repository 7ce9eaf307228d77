"""Values that cross module lines in retrieval (and out of it, to chat and feedback)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np


@dataclass(frozen=True)
class Bm25Hit:
    """A chunk and its BM25 score, from either engine (retrieval.bm25)."""

    chunk_id: int
    score: float


@dataclass
class StageScores:
    bm25: float | None = None
    vector: float | None = None
    fused: float | None = None
    rerank: float | None = None
    # The feedback signal's adjustment of the fused score (score + |score| x signal), if any.
    signal: float | None = None


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
    # Why a feedback signal applies ("staff: boost document; votes +1.00 from 2 users").
    signal_note: str = ""


NOT_REQUESTED = "not requested"
NO_CANDIDATES = "no candidates to rerank"


@dataclass
class RerankInfo:
    applied: bool
    reason: str = ""

    @property
    def notice(self) -> str:
        """For the user, when reranking was asked for and could not run: what it means and why
        ('' when reranked, or when the caller did not ask for it)."""
        if self.applied or self.reason in ("", NOT_REQUESTED, NO_CANDIDATES):
            return ""
        return f"These results are not reranked (fused keyword and vector order): {self.reason}."


class Hit(NamedTuple):
    chunk_id: int
    score: float


@dataclass(frozen=True)
class StageRun:
    """One stage's ranking, best first, and how long the stage took."""

    hits: list[Hit]
    ms: float = 0.0


@dataclass(frozen=True)
class Candidates:
    """Each retriever's list; None when the mode does not run that retriever."""

    bm25: StageRun | None
    vector: StageRun | None

    def lists(self) -> dict[str, list[Hit]]:
        """The lists that ran, by retriever name, in fusion order (bm25 first)."""
        return {name: run.hits for name, run in (("bm25", self.bm25), ("vector", self.vector)) if run is not None}


@dataclass(frozen=True)
class Signals:
    """The feedback signal of each candidate that has one, and the candidates staff hid."""

    by_chunk: dict[int, Signal]
    hidden: frozenset[int]
    ms: float = 0.0


@dataclass(frozen=True)
class Reranked:
    """The final order of the fused candidates: the reranked head (`hits`, with the cross-encoder's
    scores; empty when the stage was skipped) followed by the rest in fused order."""

    order: list[int]
    hits: list[Hit]
    info: RerankInfo
    ms: float = 0.0


@dataclass(frozen=True)
class SearchTrace:
    """Every stage of one search, in the order they ran."""

    candidates: Candidates
    signals: Signals
    fused: StageRun
    reranked: Reranked

    def rankings(self) -> dict[str, list[Hit]]:
        """Each stage's ranking by stage name (the names of StageScores and ScoredChunk.ranks)."""
        return {**self.candidates.lists(), "fused": self.fused.hits, "rerank": self.reranked.hits}

    def timings_ms(self, total: float) -> dict[str, float]:
        bm25, vector = self.candidates.bm25, self.candidates.vector
        return {"bm25": bm25.ms if bm25 else 0.0, "vector": vector.ms if vector else 0.0,
                "signals": self.signals.ms, "fusion": self.fused.ms, "rerank": self.reranked.ms, "total": total}


@dataclass
class SearchResult:
    results: list[ScoredChunk]
    rerank: RerankInfo
    timings_ms: dict[str, float]
    # Each stage's own ranking, for the retrieval lab and the answer trace.
    stages: dict[str, list[ScoredChunk]] = field(default_factory=dict)
    # Candidates that staff hid, and the learned tuning that applied.
    hidden: int = 0
    tuning: Tuning | None = None
    # Every stage's ranking and timing, as search() ran them.
    trace: SearchTrace | None = None


@dataclass(frozen=True)
class Signal:
    """A feedback signal on one chunk: a bounded score adjustment, or hidden from everyone."""

    adjustment: float
    hidden: bool = False
    note: str = ""


@dataclass
class Tuning:
    """What search takes from learned feedback: RRF weights per retriever (missing: 1.0) and a
    linear adapter applied to the query embedding (None: the embedding as it is)."""

    fusion_weights: dict[str, float] = field(default_factory=dict)
    query_adapter: np.ndarray | None = None
    # One line per learned part that applies, for the retrieval lab.
    notes: list[str] = field(default_factory=list)

    def weight(self, retriever: str) -> float:
        return self.fusion_weights.get(retriever, 1.0)

    def adapt(self, query_vector: np.ndarray) -> np.ndarray:
        if self.query_adapter is None:
            return query_vector
        adapted = self.query_adapter @ query_vector
        norm = float(np.linalg.norm(adapted))
        return adapted / norm if norm > 0 else query_vector
