"""The answer pipeline, top to bottom: standalone query, retrieval, prompt, generation,
citation check, stored answer with its trace."""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.db import transaction

from ingestion.access import collection_readable
from accounts.audit import Action, audit_record
from accounts.limits import LimitExceeded, Reservation, token_budget_reserve, token_budget_settle
from chat import llm
from chat.citations import check_citations
from chat.models import Answer, Conversation
from chat.passages import Passage, passages_build, sentence_match_order
from chat.prompts import ANSWER_PROMPT_NAME, ANSWER_PROMPT_VERSION, answer_messages, standalone_query
from chat.rendering import answer_html
from ingestion.models import Collection
from retrieval.search import search
from retrieval.types import ScoredChunk

NOT_COVERED = "The documents do not cover this."

Event = tuple[str, dict[str, Any]]


def conversation_create(*, owner: Any, collection: Collection, title: str = "") -> Conversation:
    return Conversation.objects.create(owner=owner, collection=collection, title=title[:200])


def conversation_open(*, user: Any, conversation_id: int) -> Conversation | None:
    """The conversation for reading: the user's own, or for staff anyone's (each such look at
    another user's conversation is written to the audit log). None when it does not exist, is
    not the user's to read, or lies in a collection the user may not read."""
    conversation = Conversation.objects.select_related("collection", "owner").filter(pk=conversation_id).first()
    if conversation is None or collection_readable(user, conversation.collection.slug) is None:
        return None
    if conversation.owner_id == user.pk:
        return conversation
    if not user.is_staff:
        return None
    audit_record(action=Action.CONVERSATION_VIEWED_BY_STAFF, actor=user, target=conversation,
                 owner=conversation.owner.get_username(), collection=conversation.collection.slug)
    return conversation


def answer_as_dict(answer: Answer) -> dict[str, Any]:
    return {
        "answer_id": answer.id,
        "conversation_id": answer.conversation_id,
        "question": answer.question,
        "answer": answer.answer,
        "answer_html": answer_html(answer.answer, [c["n"] for c in answer.citations]),
        "backend": answer.backend,
        "model": answer.model,
        "abstained": answer.abstained,
        "citations": answer.citations,
        "created_at": answer.created_at.isoformat(),
        "notice": answer.trace.get("notice", ""),
    }


def passage_trace(n: int, passage: ScoredChunk) -> dict[str, Any]:
    data: dict[str, Any] = {"n": n, "chunk_id": passage.chunk_id, "document_id": passage.document_id,
                            "filename": passage.filename, "page": passage.page_start, "text": passage.text}
    if isinstance(passage, Passage):
        data["chunks"] = [asdict(span) for span in passage.spans]
        data["hits"] = passage.hits
    return data


def _context_tokens(backend: str) -> int:
    if backend == "local":  # a small in-process model: short context window, slow prompt reading on CPU
        return min(settings.CHAT_CONTEXT_TOKENS, llm.LOCAL_CONTEXT_TOKENS)
    return settings.CHAT_CONTEXT_TOKENS


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


def relevance_gate(query: str, passages: list[ScoredChunk]) -> tuple[bool, str]:
    """Whether the retrieved passages are relevant enough to answer from.

    Two signals, both cheap and available without a reranker: the best cosine similarity of a
    passage to the query, and the share of the query's keywords that the best passage contains.
    A passage must be clearly similar, or moderately similar and contain most keywords."""
    from ingestion.tokenize import default_tokenizer

    if not passages:
        return False, "nothing was retrieved"
    tokenizer = default_tokenizer()
    terms = set(tokenizer(query))
    best_vector = max(p.scores.vector or 0.0 for p in passages)
    coverage = max((len(terms & set(tokenizer(p.text))) / len(terms) for p in passages), default=0.0) if terms else 0.0
    why = f"best similarity {best_vector:.3f}, keyword coverage {coverage:.2f}"
    if best_vector >= settings.CHAT_SURE_VECTOR_SCORE:
        return True, why
    return best_vector >= settings.CHAT_MIN_VECTOR_SCORE and coverage >= settings.CHAT_MIN_KEYWORD_COVERAGE, why


def answer_events(
    *, conversation: Conversation, question: str, backend: str | None = None,
    history: list[tuple[str, str]] | None = None,
) -> Iterator[Event]:
    """Answer `question` in `conversation`, yielding ("token", {text}) events as text is generated,
    then ("citations", {citations}) and ("done", answer). The answer is stored before "done"."""
    started = time.perf_counter()
    if history is None:
        history = list(conversation.answers.order_by("-created_at").values_list("question", "answer")[:3])[::-1]
    query = standalone_query(question, history)
    result = search(query, collection_ids=[conversation.collection_id], top_k=settings.CHAT_CANDIDATE_CHUNKS,
                    mode="hybrid", rerank=True)
    retrieval_ms = _ms(started)
    hits = result.results
    trace: dict[str, Any] = {
        "collection": conversation.collection.slug,
        "standalone_query": query,
        "retrieved": [{"chunk_id": p.chunk_id, "document_id": p.document_id, "scores": asdict(p.scores), "ranks": p.ranks}
                      for p in hits],
        "rerank": asdict(result.rerank),
        "prompt": {"name": ANSWER_PROMPT_NAME, "version": ANSWER_PROMPT_VERSION},
        "timings_ms": {"retrieval": retrieval_ms, "rerank": result.timings_ms.get("rerank", 0.0),
                       "search_breakdown": result.timings_ms},
    }
    name = backend or llm.configured_backend_name()
    text, used, ttft = "", "extractive", None
    # The gate judges the best chunks themselves, before they are widened into passages.
    covered, why = relevance_gate(query, hits[: settings.CHAT_PASSAGES])
    trace["relevance"] = why
    passages: list[ScoredChunk] = []
    if not covered:
        trace["abstained_because"] = why
    else:
        started_passages = time.perf_counter()
        ordered = sentence_match_order(query, hits)
        trace["sentence_order"] = [h.chunk_id for h in ordered]
        passages = list(passages_build(
            ordered, limit=settings.CHAT_PASSAGES, window=settings.CHAT_PASSAGE_WINDOW,
            widen_top=settings.CHAT_WIDEN_TOP, budget_tokens=_context_tokens(name),
        ))
        trace["timings_ms"]["passages"] = _ms(started_passages)
        messages = answer_messages(question, passages)
        trace["passages"] = [passage_trace(n, p) for n, p in enumerate(passages, start=1)]
        for used, piece in _generate(name, question, passages, messages, trace, conversation.owner):
            if ttft is None:
                ttft = _ms(started)
            text += piece
            yield "token", {"text": piece}
    cleaned, citations, removed = check_citations(text, passages)
    abstained = not citations or NOT_COVERED.lower().rstrip(".") in cleaned.lower()
    if abstained:
        cleaned, citations = NOT_COVERED, []
        if not text:
            yield "token", {"text": NOT_COVERED}
    backend_object = llm.get_backend(used)
    trace.update(
        raw_answer=text, backend=used, model=backend_object.model, removed_citations=removed,
    )
    trace.setdefault("tokens", {"answer_chars": len(text)})
    trace["timings_ms"].update(ttft=ttft if ttft is not None else _ms(started), total=_ms(started))
    with transaction.atomic():
        answer = Answer.objects.create(
            conversation=conversation, question=question, standalone_query=query, answer=cleaned, backend=used,
            model=backend_object.model, abstained=abstained, citations=[c.as_dict() for c in citations], trace=trace,
        )
        if not conversation.title:
            conversation.title = question[:80]
        conversation.save(update_fields=["title", "updated_at"])
    yield "citations", {"citations": answer.citations}
    yield "done", answer_as_dict(answer)


def _generate(
    name: str, question: str, passages: list[ScoredChunk], messages: list[dict[str, str]], trace: dict[str, Any],
    user: Any,
) -> Iterator[tuple[str, str]]:
    """(backend that produced it, text piece). Falls back to extractive when the backend is known
    to be down, fails before its first token (remembered, so later requests skip it at once), or
    the user's daily token budget cannot cover the call (the answer then carries a notice)."""
    if name != "extractive":
        skip, reservation = llm.is_down(name), None
        if not skip:
            try:
                reservation = token_budget_reserve(user=user, tokens=llm.request_max_tokens(messages))
            except LimitExceeded as exc:
                skip = exc.message
                trace["notice"] = f"{exc.message} This answer quotes the passages without the language model."
        if reservation is None:
            trace["fallback"] = f"{name} skipped: {skip}"
        elif (yield from _generate_billed(name, question, passages, messages, trace, reservation)):
            return
    for piece in llm.get_backend("extractive").stream(question=question, passages=passages, messages=messages):
        yield "extractive", piece


def _generate_billed(
    name: str, question: str, passages: list[ScoredChunk], messages: list[dict[str, str]], trace: dict[str, Any],
    reservation: Reservation,
) -> Generator[tuple[str, str], None, bool]:
    """Stream from the LLM backend `name`, then settle the token reservation to the usage the
    backend reported (an estimate if it reported none; nothing if it produced nothing), also when
    the client goes away mid-stream. True when this backend's text is the answer."""
    usage: dict[str, int] = {}
    text = ""
    try:
        for piece in llm.get_backend(name).stream(question=question, passages=passages, messages=messages, usage=usage):
            text += piece
            yield name, piece
        return True
    except llm.LLMError as exc:
        llm.mark_down(name, str(exc))
        trace["fallback"] = f"{name} failed: {exc}"
        if text:
            trace["truncated"] = True
        return bool(text)
    finally:
        estimate = sum(llm.estimate_tokens(m.get("content", "")) for m in messages) + llm.estimate_tokens(text)
        used = usage.get("total_tokens", estimate) if text or usage else 0
        token_budget_settle(reservation=reservation, used=used)
        trace["tokens"] = usage or {"estimated_total_tokens": used}


def answer_create(*, conversation: Conversation, question: str, backend: str | None = None) -> dict[str, Any]:
    final: dict[str, Any] = {}
    for event, data in answer_events(conversation=conversation, question=question, backend=backend):
        if event == "done":
            final = data
    return final


DELETED_SOURCE = "(source deleted)"


@transaction.atomic
def answers_forget_document(*, document_id: int) -> int:
    """Erase a deleted document's text from every stored answer trace and citation.

    The trace keeps its shape: each passage and citation of the document stays, with its text,
    quote and filename emptied and `source_deleted: true`; the backend's raw answer (which may
    quote the document) is emptied too, and `deleted_documents` lists the ids. Returns how many
    answers were changed."""
    from django.db.models import Q

    mentions = (Q(trace__passages__contains=[{"document_id": document_id}])
                | Q(trace__retrieved__contains=[{"document_id": document_id}])
                | Q(citations__contains=[{"document_id": document_id}]))
    answers = list(Answer.objects.select_for_update().filter(mentions))
    for answer in answers:
        trace = answer.trace
        for passage in trace.get("passages", []):
            if passage.get("document_id") == document_id:
                passage.update(text="", filename=DELETED_SOURCE, source_deleted=True)
        for row in trace.get("retrieved", []):
            if row.get("document_id") == document_id:
                row["source_deleted"] = True
        for citation in answer.citations:
            if citation.get("document_id") == document_id:
                citation.update(quote="", filename=DELETED_SOURCE, source_deleted=True)
        trace["raw_answer"] = ""
        trace["deleted_documents"] = sorted({*trace.get("deleted_documents", []), document_id})
        answer.save(update_fields=["trace", "citations"])
    return len(answers)
