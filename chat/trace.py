"""AnswerTrace: how an answer was made, the one type chat writes into Answer.trace and every
reader (chat's pages, feedback's review, exports and learning) gets back through
chat.selectors.answer_trace.

Stored as JSON with the same keys as before the type existed; `from_json` reads old rows that lack
keys (and purged ones, `{"purged": true}`), so nothing has to be migrated."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from retrieval.types import RerankInfo

Json = dict[str, Any]


@dataclass
class RetrievedChunk:
    """A chunk search() returned for the answer, with every stage's score and rank."""

    chunk_id: int
    document_id: int | None
    scores: dict[str, float | None] = field(default_factory=dict)
    ranks: dict[str, int | None] = field(default_factory=dict)
    source_deleted: bool = False

    @classmethod
    def from_json(cls, data: Json) -> RetrievedChunk:
        return cls(chunk_id=data["chunk_id"], document_id=data.get("document_id"), scores=data.get("scores") or {},
                   ranks=data.get("ranks") or {}, source_deleted=bool(data.get("source_deleted")))

    def to_json(self) -> Json:
        data = asdict(self)
        if not self.source_deleted:
            del data["source_deleted"]
        return data


@dataclass
class SpanRecord:
    """Where one chunk lies inside a passage's text ([start, end))."""

    chunk_id: int
    start: int
    end: int
    page_start: int | None = None
    page_end: int | None = None


@dataclass
class PassageRecord:
    """A passage given to the model as [n], with the text it saw."""

    n: int
    chunk_id: int
    document_id: int | None
    filename: str = ""
    page: int | None = None
    text: str = ""
    chunks: list[SpanRecord] | None = None  # None: a plain chunk, not a widened passage
    hits: list[int] | None = None
    source_deleted: bool = False

    @classmethod
    def from_json(cls, data: Json) -> PassageRecord:
        spans = data.get("chunks")
        return cls(n=data["n"], chunk_id=data["chunk_id"], document_id=data.get("document_id"),
                   filename=data.get("filename", ""), page=data.get("page"), text=data.get("text", ""),
                   chunks=[SpanRecord(**s) for s in spans] if spans is not None else None, hits=data.get("hits"),
                   source_deleted=bool(data.get("source_deleted")))

    def to_json(self) -> Json:
        data: Json = {"n": self.n, "chunk_id": self.chunk_id, "document_id": self.document_id,
                      "filename": self.filename, "page": self.page, "text": self.text}
        if self.chunks is not None:
            data["chunks"] = [asdict(s) for s in self.chunks]
        if self.hits is not None:
            data["hits"] = self.hits
        if self.source_deleted:
            data["source_deleted"] = True
        return data


@dataclass
class ClaimRecord:
    """One sentence of the backend's answer as the citation check judged it, before anything was
    removed: the passages it cited, whether a quote of one of them supports it (if not, what the
    best quote lacks), and the numbers of its citations in the answer shown."""

    text: str
    markers: list[int] = field(default_factory=list)
    supported: bool = False
    why: str = ""
    cited: list[int] = field(default_factory=list)


@dataclass
class PromptRef:
    name: str = ""
    version: str = ""


@dataclass
class Timings:
    """Milliseconds: retrieval (the whole search() call), its rerank stage and every stage's time,
    widening into passages, the first token and the whole answer."""

    retrieval: float = 0.0
    rerank: float = 0.0
    search_breakdown: dict[str, float] = field(default_factory=dict)
    passages: float | None = None
    ttft: float | None = None
    total: float | None = None

    def to_json(self) -> Json:
        return {k: v for k, v in asdict(self).items() if v is not None}


# Keys written only when they say something (old rows, and readers, tell absence from a value).
_OPTIONAL = ("cache_hit", "abstained_because", "notice", "fallback", "truncated", "deleted_documents", "purged", "answerability",
             "related")


@dataclass
class AnswerTrace:
    collection: str = ""
    standalone_query: str = ""
    retrieved: list[RetrievedChunk] = field(default_factory=list)
    rerank: RerankInfo = field(default_factory=lambda: RerankInfo(applied=False))
    prompt: PromptRef = field(default_factory=PromptRef)
    timings_ms: Timings = field(default_factory=Timings)
    relevance: str = ""  # the relevance gate's reading of the best passages
    sentence_order: list[int] = field(default_factory=list)  # candidates in sentence-match order
    passages: list[PassageRecord] = field(default_factory=list)
    raw_answer: str = ""  # the backend's text before the citation check
    backend: str = ""
    model: str = ""
    removed_citations: int = 0
    claims: list[ClaimRecord] | None = None  # None: made before claim-level citations
    tokens: dict[str, int] = field(default_factory=dict)
    cache_hit: int | None = None  # the answer this one was served from (chat.answer_cache)
    abstained_because: str | None = None
    notice: str | None = None  # shown to the user with the answer
    fallback: str | None = None  # why the configured backend did not answer
    truncated: bool | None = None  # the backend failed mid-answer
    deleted_documents: list[int] | None = None  # sources erased since (answers_forget_document)
    purged: bool | None = None  # emptied by feedback retention: nothing else is kept
    # The answerability check (chat.answerability): {"answerable", "why", "checked" ("passages" or
    # "answer"), "constraints", "met": [[constraint, where]], "unmet", "nearest"}. None: older rows.
    answerability: dict[str, Any] | None = None
    # When it abstained: the nearest passages, offered as related reading, not as citations
    # ([{"n", "chunk_id", "document_id", "filename", "page", "excerpt"}]).
    related: list[dict[str, Any]] | None = None

    def to_json(self) -> Json:
        if self.purged:
            return {"purged": True}
        data: Json = {
            "collection": self.collection, "standalone_query": self.standalone_query,
            "retrieved": [r.to_json() for r in self.retrieved], "rerank": asdict(self.rerank),
            "prompt": asdict(self.prompt), "timings_ms": self.timings_ms.to_json(), "relevance": self.relevance,
            "sentence_order": self.sentence_order, "passages": [p.to_json() for p in self.passages],
            "raw_answer": self.raw_answer, "backend": self.backend, "model": self.model,
            "removed_citations": self.removed_citations, "tokens": self.tokens,
        }
        if self.claims is not None:
            data["claims"] = [asdict(c) for c in self.claims]
        data.update({key: getattr(self, key) for key in _OPTIONAL if getattr(self, key) is not None})
        return data

    @classmethod
    def from_json(cls, data: Json | None) -> AnswerTrace:
        data = data or {}
        rerank, prompt, timings = data.get("rerank") or {}, data.get("prompt") or {}, data.get("timings_ms") or {}
        return cls(
            collection=data.get("collection", ""), standalone_query=data.get("standalone_query", ""),
            retrieved=[RetrievedChunk.from_json(r) for r in data.get("retrieved") or []],
            rerank=RerankInfo(applied=bool(rerank.get("applied")), reason=rerank.get("reason", "")),
            prompt=PromptRef(name=str(prompt.get("name", "")), version=str(prompt.get("version", ""))),
            timings_ms=Timings(**{k: v for k, v in timings.items() if k in Timings.__dataclass_fields__}),
            relevance=data.get("relevance", ""), sentence_order=list(data.get("sentence_order") or []),
            passages=[PassageRecord.from_json(p) for p in data.get("passages") or []],
            raw_answer=data.get("raw_answer", ""), backend=data.get("backend", ""), model=data.get("model", ""),
            removed_citations=int(data.get("removed_citations", 0)), tokens=dict(data.get("tokens") or {}),
            claims=[ClaimRecord(**c) for c in data["claims"]] if data.get("claims") is not None else None,
            **{key: data[key] for key in _OPTIONAL if key in data},
        )
