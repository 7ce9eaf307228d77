"""What the Operations page shows, each figure one aggregate query in PostgreSQL (percentiles
with percentile_cont over the answers' traces, counts grouped by day), never a Python loop over
rows: the page costs the same with ten answers or a million.

The answers' traces keep every stage's time in milliseconds (chat.trace.Timings) and the tokens
each call used, so latency and spend are read back from them; abstentions from Answer, votes
from feedback, failures from ingestion.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Count, Max, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from chat.models import Answer
from feedback.models import Vote
from ingestion.models import Document

# Stage name -> its place in Answer.trace's timings_ms (milliseconds).
STAGES = {
    "bm25": ("search_breakdown", "bm25"),
    "vector": ("search_breakdown", "vector"),
    "fusion": ("search_breakdown", "fusion"),
    "rerank": ("rerank",),
    "retrieval": ("retrieval",),
    "passages": ("passages",),
    "ttft": ("ttft",),
    "total": ("total",),
}
GAP_REASONS = (Vote.Reason.MISSING_SOURCE, Vote.Reason.INCOMPLETE)


@dataclass(frozen=True)
class StageLatency:
    stage: str
    p50: float | None
    p95: float | None
    count: int


def stage_latency(since: dt.datetime) -> list[StageLatency]:
    """p50 and p95 of every stage's milliseconds over the answers made since `since` (one query)."""
    columns = []
    for path in STAGES.values():
        value = "(trace #>> '{timings_ms," + ",".join(path) + "}')::float"
        columns += [f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {value})",
                    f"percentile_cont(0.95) WITHIN GROUP (ORDER BY {value})", f"count({value})"]
    sql = f"SELECT {', '.join(columns)} FROM {Answer._meta.db_table} WHERE created_at >= %s"
    with connection.cursor() as cursor:
        cursor.execute(sql, [since])
        row = cursor.fetchone() or ()
    return [StageLatency(stage, _ms(row[3 * i]), _ms(row[3 * i + 1]), int(row[3 * i + 2] or 0))
            for i, stage in enumerate(STAGES)]


def _ms(value: Any) -> float | None:
    return round(float(value), 1) if value is not None else None


def _tokens_used(alias: str = "") -> str:
    """SQL of an answer's tokens: what the endpoint reported, else the estimate the budget was charged."""
    trace = f"{alias}.trace" if alias else "trace"
    return (f"coalesce(({trace} #>> '{{tokens,total_tokens}}')::bigint, "
            f"({trace} #>> '{{tokens,estimated_total_tokens}}')::bigint, 0)")


def tokens_per_day(since: dt.datetime) -> list[tuple[dt.date, str, int]]:
    """(day, backend, tokens) of the language-model calls made since `since`."""
    used = _tokens_used()
    sql = (f"SELECT (created_at AT TIME ZONE 'UTC')::date AS day, backend, sum({used}) "
           f"FROM {Answer._meta.db_table} WHERE created_at >= %s AND backend <> 'extractive' "
           "GROUP BY 1, 2 ORDER BY 1, 2")
    with connection.cursor() as cursor:
        cursor.execute(sql, [since])
        return [(day, backend, int(total or 0)) for day, backend, total in cursor.fetchall()]


def peak_user_tokens(since: dt.datetime) -> int:
    """The most tokens one user spent in one day since `since` (to compare with the daily budget)."""
    used = _tokens_used("a")
    sql = (f"SELECT max(t) FROM (SELECT sum({used}) AS t FROM {Answer._meta.db_table} a "
           f"JOIN {Answer.conversation.field.related_model._meta.db_table} c ON c.id = a.conversation_id "
           "WHERE a.created_at >= %s AND a.backend <> 'extractive' "
           "GROUP BY c.owner_id, (a.created_at AT TIME ZONE 'UTC')::date) per_user_day")
    with connection.cursor() as cursor:
        cursor.execute(sql, [since])
        row = cursor.fetchone()
    return int(row[0] or 0) if row else 0


@dataclass(frozen=True)
class Day:
    day: dt.date
    answers: int
    abstained: int
    up: int
    down: int

    @property
    def abstention_rate(self) -> float | None:
        return self.abstained / self.answers if self.answers else None

    @property
    def up_rate(self) -> float | None:
        return self.up / (self.up + self.down) if self.up + self.down else None


def days(since: dt.datetime) -> list[Day]:
    """Every day since `since` (today included): answers, abstentions, up and down votes."""
    answers: dict[dt.date, dict[str, Any]] = {row["day"]: dict(row) for row in Answer.objects.filter(created_at__gte=since)
               .annotate(day=TruncDate("created_at")).values("day")
               .annotate(n=Count("id"), abstained=Count("id", filter=Q(abstained=True)))}
    votes: dict[dt.date, dict[str, Any]] = {row["day"]: dict(row) for row in Vote.objects.filter(updated_at__gte=since)
             .annotate(day=TruncDate("updated_at")).values("day")
             .annotate(up=Count("id", filter=Q(rating=Vote.Rating.UP)), down=Count("id", filter=Q(rating=Vote.Rating.DOWN)))}
    today = timezone.now().date()
    span = (today - since.date()).days
    out = []
    for offset in range(span, -1, -1):
        day = today - dt.timedelta(days=offset)
        a, v = answers.get(day, {}), votes.get(day, {})
        out.append(Day(day, a.get("n", 0), a.get("abstained", 0), v.get("up", 0), v.get("down", 0)))
    return out


def failure_reasons(since: dt.datetime, *, top: int = 10) -> list[tuple[str, int]]:
    """The most frequent reasons documents failed since `since`."""
    rows = (Document.objects.filter(status=Document.Status.FAILED, updated_at__gte=since).values("error")
            .annotate(n=Count("id")).order_by("-n", "error")[:top])
    return [(row["error"] or "(no reason recorded)", row["n"]) for row in rows]


@dataclass(frozen=True)
class Gap:
    question: str
    asked: int
    why: str  # abstained, down-voted as missing or incomplete, reviewed as not in the documents
    last: dt.datetime


def content_gaps(since: dt.datetime, *, top: int = 25) -> list[Gap]:
    """Questions the documents did not answer: the answer abstained, a user down-voted it as
    missing a source or incomplete, or a reviewer marked it not in the documents. Grouped by
    question (case and spacing aside), most asked first: what a team should write down."""
    gap = Q(abstained=True) | Q(review__not_in_documents=True)
    for reason in GAP_REASONS:
        gap |= Q(votes__rating=Vote.Rating.DOWN, votes__reasons__contains=[reason])
    rows = (Answer.objects.filter(gap, created_at__gte=since)
            .values("question")
            .annotate(asked=Count("id", distinct=True),
                      abstained=Count("id", filter=Q(abstained=True), distinct=True),
                      reviewed=Count("id", filter=Q(review__not_in_documents=True), distinct=True),
                      last=Max("created_at"))
            .order_by("-asked", "-last")[:top])
    return [Gap(question=row["question"], asked=row["asked"], last=row["last"],
                why=", ".join(w for w, n in (("abstained", row["abstained"]), ("not in the documents (review)",
                                                                                 row["reviewed"])) if n)
                or "down-voted: missing or incomplete") for row in rows]

