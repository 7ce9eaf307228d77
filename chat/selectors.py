"""Reads of answers for the layers above chat: an answer's trace comes out of here typed, and no
module outside chat reads the stored JSON by key."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q

from chat.models import Answer
from chat.trace import AnswerTrace


def answer_trace(answer: Answer) -> AnswerTrace:
    """How `answer` was made (old rows read with defaults for what they lack)."""
    return AnswerTrace.from_json(answer.trace)


def answer_traces(answer_ids: Iterable[int]) -> dict[int, AnswerTrace]:
    """The trace of each of `answer_ids` that exists, in one query."""
    rows = Answer.objects.filter(id__in=list(answer_ids)).values_list("id", "trace")
    return {answer_id: AnswerTrace.from_json(trace) for answer_id, trace in rows}


def answer_mentions_document(document_id: int, *, via: str = "") -> Q:
    """The condition that an answer retrieved, was given or cited a chunk of the document; `via`
    is the path to the answer from the model filtered (e.g. "answer__" for votes)."""
    return (Q(**{f"{via}trace__passages__contains": [{"document_id": document_id}]})
            | Q(**{f"{via}trace__retrieved__contains": [{"document_id": document_id}]})
            | Q(**{f"{via}citations__contains": [{"document_id": document_id}]}))
