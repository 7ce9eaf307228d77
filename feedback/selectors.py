"""Reads of feedback: the golden set (reviewed answers) and what the staff review pages show."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from chat.models import Answer
from chat.selectors import answer_mentions_document, answer_trace, answer_traces
from chat.trace import AnswerTrace, RetrievedChunk
from feedback.models import Review, Vote
from ingestion.models import Chunk


def golden_set() -> QuerySet[Review]:
    """Every reviewed answer is a labelled example: its question, the right sources (quoted spans)
    or `not_in_documents`, and the corrected answer when there is one."""
    return (Review.objects.select_related("answer", "answer__conversation")
            .prefetch_related("labels").order_by("id"))


@dataclass(frozen=True)
class VoteFilters:
    rating: str = ""
    reason: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    user: str = ""
    document_id: int | None = None
    backend: str = ""
    search: str = ""


def vote_list(*, filters: VoteFilters) -> QuerySet[Vote]:
    """Votes, newest first, narrowed by every filter that is set."""
    votes = Vote.objects.select_related("answer", "answer__conversation__collection", "user", "answer__review")
    f = filters
    if f.rating:
        votes = votes.filter(rating=f.rating)
    if f.reason:
        votes = votes.filter(reasons__contains=[f.reason])
    if f.date_from is not None:
        votes = votes.filter(updated_at__date__gte=f.date_from)
    if f.date_to is not None:
        votes = votes.filter(updated_at__date__lte=f.date_to)
    if f.user:
        votes = votes.filter(user__username=f.user)
    if f.document_id is not None:
        votes = votes.filter(answer_mentions_document(f.document_id, via="answer__"))
    if f.backend:
        votes = votes.filter(answer__backend=f.backend)
    if f.search:
        votes = votes.filter(Q(answer__question__icontains=f.search) | Q(answer__answer__icontains=f.search)
                             | Q(comment__icontains=f.search))
    return votes.order_by("-updated_at", "-id")


def _rates(rows: list[tuple[str, Any]]) -> list[tuple[str, int, int]]:
    """(value, up votes, all votes) per value, most votes first, from (rating, value) rows."""
    up: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for rating, raw in rows:
        value = str(raw) if raw is not None else "—"
        total[value] += 1
        up[value] += rating == Vote.Rating.UP
    return [(value, up[value], n) for value, n in total.most_common()]


def dashboard_data(*, days: int = 30, top: int = 10) -> dict[str, Any]:
    """Everything the dashboard charts over the last `days` days: votes per day, thumbs-up rate by
    backend, prompt (name and version) and collection, the most down-voted documents and chunks (by the citations the user saw,
    else the passages given to the model), and the top reasons of down votes."""
    since = timezone.now() - dt.timedelta(days=days)
    per_day: dict[dt.date, dict[str, int]] = defaultdict(lambda: {"up": 0, "down": 0})
    for row in (Vote.objects.filter(updated_at__gte=since).annotate(day=TruncDate("updated_at"))
                .values("day", "rating")):
        per_day[row["day"]][row["rating"]] += 1
    today = timezone.now().date()
    timeline = [(d, per_day[d]["up"], per_day[d]["down"]) for d in
                (today - dt.timedelta(days=n) for n in range(days - 1, -1, -1))]
    rows = list(Vote.objects.filter(updated_at__gte=since).values(
        "rating", "reasons", "answer_id", "answer__backend", "answer__citations",
        "answer__conversation__collection__slug"))
    traces = answer_traces({row["answer_id"] for row in rows})
    documents: Counter[tuple[int, str]] = Counter()
    chunks: Counter[tuple[int, str]] = Counter()
    reasons: Counter[str] = Counter()
    for vote in (row for row in rows if row["rating"] == Vote.Rating.DOWN):
        reasons.update(vote["reasons"])
        sources = _sources(vote["answer__citations"], traces.get(vote["answer_id"]))
        for doc in {(document_id, filename) for document_id, _, filename in sources}:
            documents[doc] += 1
        for chunk in {(chunk_id, filename) for _, chunk_id, filename in sources}:
            chunks[chunk] += 1
    return {
        "timeline": timeline,
        "by_backend": _rates([(r["rating"], r["answer__backend"]) for r in rows]),
        "by_prompt": _rates([(r["rating"], _prompt_label(traces.get(r["answer_id"]))) for r in rows]),
        "by_collection": _rates([(r["rating"], r["answer__conversation__collection__slug"]) for r in rows]),
        "documents": documents.most_common(top),
        "chunks": chunks.most_common(top),
        "reasons": reasons.most_common(),
        "total": len(rows),
        "days": days,
        "reviewed": Review.objects.count(),
    }


def _sources(citations: list[dict[str, Any]], trace: AnswerTrace | None) -> list[tuple[int, int, str]]:
    """(document id, chunk id, filename) of what the user saw cited, else of the passages given to
    the model."""
    if citations:
        return [(c["document_id"], c["chunk_id"], c.get("filename", "")) for c in citations]
    passages = trace.passages if trace is not None else []
    return [(p.document_id, p.chunk_id, p.filename) for p in passages if p.document_id is not None]


def _prompt_label(trace: AnswerTrace | None) -> str | None:
    """The prompt an answer was made with, as "name v<version>" (None when the trace has none)."""
    if trace is None or not (trace.prompt.name or trace.prompt.version):
        return None
    name = trace.prompt.name or "unnamed prompt"
    return f"{name} v{trace.prompt.version}" if trace.prompt.version else name


@dataclass
class PassageView:
    """A retrieved passage of an answer's trace, as the reviewer sees it."""

    n: int | None  # its number in the prompt, None when it was retrieved but not given to the model
    chunk_id: int
    document_id: int | None
    filename: str
    page: int | None
    text: str
    scores: dict[str, float | None]
    ranks: dict[str, int | None]
    source_deleted: bool = False
    part_of: int | None = None  # not given as a passage of its own, but inside passage [part_of]
    cited: list[int] = field(default_factory=list)  # the answer's citation numbers that point here

    @property
    def label(self) -> str:
        """What the model had of this chunk: a passage of its own, part of one, or nothing."""
        if self.n is not None:
            return f"passage {self.n}, given to the model"
        if self.part_of is not None:
            return f"inside passage {self.part_of}, given to the model"
        return "retrieved, not given to the model"


def _passage_holding(trace: AnswerTrace) -> dict[int, int]:
    """chunk id -> the number of the passage whose text holds it (a widened passage holds its
    lead chunk, its neighbours and the other hits of its document)."""
    holding = {passage.chunk_id: passage.n for passage in trace.passages}
    for passage in trace.passages:
        for chunk_id in [*[s.chunk_id for s in passage.chunks or []], *(passage.hits or [])]:
            holding.setdefault(chunk_id, passage.n)
    return holding


def _citing(answer: Answer, holding: dict[int, int]) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    """The answer's citation numbers by the chunk they point at, and by the passage that holds it."""
    by_chunk: dict[int, list[int]] = defaultdict(list)
    by_passage: dict[int, list[int]] = defaultdict(list)
    for citation in answer.citations:
        by_chunk[citation["chunk_id"]].append(citation["n"])
        passage = citation.get("passage") or holding.get(citation["chunk_id"])
        if passage is not None:
            by_passage[passage].append(citation["n"])
    return by_chunk, by_passage


def answer_passages(answer: Answer) -> list[PassageView]:
    """Every retrieved passage with its per-stage scores, its text from the trace (the text the
    model saw), or from the current index when the trace has none (abstained answers); the cited
    ones first (in the order of their citations), then the others in retrieval order.

    A chunk is labelled by what the model had of it: a passage of its own ([n]), part of a
    widened passage, or nothing; `cited` lists the citations that point at it (or, for a
    passage, into it)."""
    trace = answer_trace(answer)
    given = {p.chunk_id: p for p in trace.passages}
    holding = _passage_holding(trace)
    by_chunk, by_passage = _citing(answer, holding)
    retrieved = trace.retrieved or [RetrievedChunk(chunk_id=cid, document_id=p.document_id) for cid, p in given.items()]
    missing = [r.chunk_id for r in retrieved if r.chunk_id not in given]
    current = {c.id: c for c in Chunk.objects.filter(id__in=missing).select_related("document")}
    views = []
    for row in retrieved:
        passage = given.get(row.chunk_id)
        chunk = current.get(row.chunk_id)
        if passage is not None:
            text, filename, page = passage.text, passage.filename, passage.page
        else:
            text = chunk.text if chunk else ""
            filename = chunk.document.original_filename if chunk else ""
            page = chunk.page_start if chunk else None
        n = passage.n if passage else None
        cited = sorted(set(by_chunk.get(row.chunk_id, []) + (by_passage.get(n, []) if n is not None else [])))
        views.append(PassageView(
            n=n, chunk_id=row.chunk_id, document_id=row.document_id,
            filename=filename, page=page, text=text, scores=row.scores, ranks=row.ranks,
            source_deleted=(passage or row).source_deleted,
            part_of=holding.get(row.chunk_id) if passage is None else None, cited=cited,
        ))
    # Stable: the uncited keep their retrieval order behind the cited ones.
    return sorted(views, key=lambda v: min(v.cited) if v.cited else float("inf"))


def votes_of(*, user: Any, answer_ids: list[int]) -> dict[int, dict[str, Any]]:
    """`user`'s vote on each of `answer_ids` they voted on: {answer_id: {rating, reasons, comment}}."""
    if not answer_ids or not getattr(user, "is_authenticated", False):
        return {}
    rows = Vote.objects.filter(user=user, answer_id__in=answer_ids).values_list("answer_id", "rating", "reasons", "comment")
    return {answer_id: {"rating": rating, "reasons": reasons, "comment": comment}
            for answer_id, rating, reasons, comment in rows}
