"""Replay of repeated questions through the answer cache, with the collection changing midway.

The questions are drawn with repeats from a question set (a Zipf mix: the question of rank r is
drawn with probability proportional to 1 / r^s over the first `distinct` questions, seeded), and
answered in fresh conversations with the cache on, as users asking the same things would be.
Three changes land in the middle: an upload (at 1/4 of the run), a chunk hidden by staff (at 1/2:
the first citation of the most asked question) and a re-index of the uploaded document (at 3/4).
Every hit is checked against a fresh answer to the same question made right then (cache off):
a hit is stale when its text or citations differ.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from chat.models import Answer
from chat.services import answer_create, conversation_create
from feedback.models import RankingSignal
from ingestion.models import Chunk, Collection, Document
from ingestion.services import document_ingest, document_process, documents_reparse

UPLOAD_TEXT = ("Replay note. The answer cache is keyed by the collection's index generation, so this upload "
               "moves every key of the collection.")


@dataclass
class Replay:
    hits: list[float] = field(default_factory=list)  # milliseconds
    misses: list[float] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)  # questions whose hit differed from a fresh answer
    events: list[str] = field(default_factory=list)


def zipf_draws(questions: list[str], *, count: int, distinct: int, exponent: float, seed: int) -> list[str]:
    pool = questions[:distinct]
    weights = [1 / (rank ** exponent) for rank in range(1, len(pool) + 1)]
    return random.Random(seed).choices(pool, weights=weights, k=count)


def _answer(user: Any, collection: Collection, question: str, *, cache: bool) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    answer = answer_create(conversation=conversation_create(owner=user, collection=collection), question=question,
                           cache=cache)
    return answer, (time.perf_counter() - started) * 1000


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    cited = [[(c["chunk_id"], c["quote"]) for c in x["citations"]] for x in (a, b)]
    return a["answer"] == b["answer"] and cited[0] == cited[1]


def replay(user: Any, collection: Collection, draws: list[str], *, log: Callable[[str], None]) -> Replay:
    result = Replay()
    changes = {len(draws) // 4: "upload", len(draws) // 2: "hide", 3 * len(draws) // 4: "reindex"}
    uploaded: Document | None = None
    for i, question in enumerate(draws):
        change = changes.get(i)
        if change == "upload":
            outcome = document_ingest(collection=collection, uploaded_by=None, enqueue=False,
                                      file=SimpleUploadedFile("replay-note.txt", UPLOAD_TEXT.encode()))
            assert outcome.document is not None, outcome.error
            uploaded = outcome.document
            document_process(document_id=uploaded.id)
            result.events.append(f"{i}: uploaded a document")
        elif change == "hide":
            top = max(set(draws), key=draws.count)
            cited = Answer.objects.filter(conversation__collection=collection, question=top, abstained=False)
            chunk_id = next((a.citations[0]["chunk_id"] for a in cited.order_by("-id") if a.citations), None)
            if chunk_id is not None:
                chunk = Chunk.objects.get(pk=chunk_id)
                RankingSignal.objects.create(document=chunk.document, chunk=chunk, action=RankingSignal.Action.HIDE,
                                             note="answer cache replay")
                result.events.append(f"{i}: hid chunk {chunk_id}, cited for the most asked question")
        elif change == "reindex" and uploaded is not None:
            documents_reparse(documents=Document.objects.filter(pk=uploaded.pk))
            document_process(document_id=uploaded.id)  # here, not by a worker: the replay needs it done now
            result.events.append(f"{i}: re-indexed the uploaded document")
        answer, ms = _answer(user, collection, question, cache=True)
        if Answer.objects.get(pk=answer["answer_id"]).trace.get("cache_hit"):
            result.hits.append(ms)
            fresh, _ = _answer(user, collection, question, cache=False)
            if not _same(answer, fresh):
                result.stale.append(question)
        else:
            result.misses.append(ms)
        if (i + 1) % 50 == 0:
            log(f"  {i + 1}/{len(draws)}: {len(result.hits)} hits, {len(result.stale)} stale")
    return result
