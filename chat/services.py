"""The answer pipeline, top to bottom: standalone query, retrieval, prompt, generation,
citation check, stored answer with its trace."""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Generator, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction

from accounts.audit import Action, audit_record
from chat import llm
from chat.answer_cache import CachedAnswer, answer_cache_key, answer_cache_put, cached_answer
from chat.answerability import Verdict, answer_verdict, verdict
from chat.citations import Citation, check_citations
from chat.claims import without_markers
from chat.generation import Generated, generate
from chat.models import Answer, Conversation
from chat.passages import Passage, passages_build, sentence_match_order
from chat.prompts import ANSWER_PROMPT_NAME, ANSWER_PROMPT_VERSION, answer_messages, standalone_query
from chat.rendering import answer_html
from chat.selectors import answer_mentions_document, answer_trace
from chat.trace import AnswerTrace, ClaimRecord, PassageRecord, PromptRef, RetrievedChunk, SpanRecord, Timings
from ingestion.access import collection_readable
from ingestion.models import Collection
from ingestion.tokenize import default_tokenizer
from retrieval.search import search
from retrieval.types import ScoredChunk, SearchResult
from runtime.logcontext import log_bind
from runtime.metrics import ANSWERS, LLM_FALLBACKS, LLM_TOKENS, STAGE_SECONDS, observe_ms

logger = logging.getLogger(__name__)

NOT_COVERED = "The documents do not cover this."
RELATED_PASSAGES = 3  # offered as related reading when the passages do not answer the question

Event = tuple[str, dict[str, Any]]


def conversation_create(
    *, owner: Any, collection: Collection, title: str = "", source: str = Conversation.Source.API
) -> Conversation:
    """A new conversation; `source` says where it was started (the chat page lists the browser's)."""
    return Conversation.objects.create(owner=owner, collection=collection, title=title[:200],
                                       source=Conversation.Source(source))


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
    trace = answer_trace(answer)
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
        "notice": trace.notice or "",
        # The answer's sentences no cited passage supports (shown as such beside the answer).
        "unsupported": [c.text for c in trace.claims or [] if not c.supported] if not answer.abstained else [],
        "related": trace.related or [],
    }


def _context_tokens(backend: str) -> int:
    if backend == "local":  # a small model on CPU: slow prompt reading
        return min(settings.CHAT_CONTEXT_TOKENS, settings.LLM_LOCAL_PASSAGE_TOKENS)
    return settings.CHAT_CONTEXT_TOKENS


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


def relevance_gate(query: str, passages: list[ScoredChunk]) -> tuple[bool, str]:
    """Whether the retrieved passages are relevant enough to answer from.

    Two signals, both cheap and available without a reranker: the best cosine similarity of a
    passage to the query, and the share of the query's keywords that the best passage contains.
    A passage must be clearly similar, or moderately similar and contain most keywords."""
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


@dataclass(frozen=True)
class Retrieval:
    query: str  # the standalone query that was searched
    result: SearchResult
    ms: float


@dataclass(frozen=True)
class Context:
    """The passages given to the model (none when the gate abstains) and how they were chosen."""

    covered: bool
    why: str  # the relevance gate's reading
    passages: Sequence[ScoredChunk] = field(default_factory=list)
    sentence_order: list[int] = field(default_factory=list)
    ms: float | None = None


@dataclass(frozen=True)
class Checked:
    """The answer after the citation check: the text shown, its citations, what was removed."""

    text: str
    citations: list[Citation]
    removed: int
    abstained: bool
    claims: list[ClaimRecord] = field(default_factory=list)
    why: str = ""  # why the check left no answer


def answer_events(
    *, conversation: Conversation, question: str, backend: str | None = None,
    history: list[tuple[str, str]] | None = None, cache: bool = True,
) -> Iterator[Event]:
    """Answer `question` in `conversation`, yielding ("token", {text}) events as text is generated,
    then ("citations", {citations}) and ("done", answer). The answer is stored before "done".
    With `cache`, an answer made before under the same key (chat.answer_cache) is given again;
    evaluations and "Regenerate" pass False."""
    started = time.perf_counter()
    name = backend or llm.configured_backend_name()
    if history is None:
        history = list(conversation.answers.order_by("-created_at").values_list("question", "answer")[:3])[::-1]
    query = standalone_query(question, history)
    key = _cache_key(conversation, question, query, name) if cache else None
    hit = cached_answer(key) if key is not None else None
    if hit is not None:
        yield from _cached_events(conversation, question, hit, started, requested=name)
        return
    retrieval = _retrieve(conversation, query)
    context = _context(retrieval, backend=name)
    generated, ttft = Generated(text="", backend="extractive"), None
    answerable = _answerable(question, retrieval, context)
    if answerable is not None and answerable.answerable:
        messages = answer_messages(question, context.passages)
        pieces = generate(name, question, context.passages, messages, conversation.owner, query=retrieval.query)
        generated, ttft = yield from _token_events(pieces, started)
    checked = _check(generated.text, context.passages)
    if answerable is not None and answerable.answerable and generated.backend != "extractive" and not checked.abstained:
        # The same check on what the language model returned: its answer with the sentences it cites.
        said = " ".join([checked.text, *(c.quote for c in checked.citations)])
        answerable = answer_verdict(question, said, constraints=answerable.constraints)
    if answerable is not None and not answerable.answerable and not checked.abstained:
        checked = Checked(text=NOT_COVERED, citations=[], removed=checked.removed, abstained=True, claims=checked.claims,
                          why=answerable.why)
    if checked.abstained and not generated.text:
        yield "token", {"text": NOT_COVERED}
    trace = _trace(conversation, retrieval, context, generated, checked,
                   ttft=ttft if ttft is not None else _ms(started), total=_ms(started), answerable=answerable)
    answer = _store(conversation=conversation, question=question, text=checked.text, abstained=checked.abstained,
                    citations=[c.as_dict() for c in checked.citations], trace=trace)
    if key is not None:
        answer_cache_put(key, CachedAnswer(text=answer.answer, citations=answer.citations, abstained=answer.abstained,
                                           backend=answer.backend, model=answer.model, trace=answer.trace,
                                           answer_id=answer.id))
    _observe(name, trace, abstained=checked.abstained)
    log_bind(answer_id=answer.id)
    logger.info("answer %s stored (backend %s, %s citations%s)", answer.id, answer.backend, len(answer.citations),
                ", abstained" if answer.abstained else "")
    yield "citations", {"citations": answer.citations}
    yield "done", answer_as_dict(answer)


def _cache_key(conversation: Conversation, question: str, query: str, backend: str) -> str | None:
    try:
        return answer_cache_key(collection_id=conversation.collection_id, question=question, standalone_query=query,
                                backend=backend)
    except llm.LLMError:
        return None  # the backend cannot be built: generation falls back, and nothing is cached


def _cached_events(conversation: Conversation, question: str, hit: CachedAnswer, started: float, *,
                   requested: str) -> Iterator[Event]:
    """The cached answer, stored again as an answer of this conversation with its trace marked as
    a hit (and this request's times), so votes and reviews work as for any answer."""
    yield "token", {"text": hit.text}
    trace = AnswerTrace.from_json(hit.trace)
    trace.cache_hit = hit.answer_id
    trace.timings_ms = Timings(ttft=_ms(started), total=_ms(started))
    answer = _store(conversation=conversation, question=question, text=hit.text, abstained=hit.abstained,
                    citations=hit.citations, trace=trace)
    _observe(requested, trace, abstained=hit.abstained)
    log_bind(answer_id=answer.id)
    logger.info("answer %s stored from the cache (answer %s)", answer.id, hit.answer_id)
    yield "citations", {"citations": answer.citations}
    yield "done", answer_as_dict(answer)


def _retrieve(conversation: Conversation, query: str) -> Retrieval:
    """The search for the standalone query."""
    started = time.perf_counter()
    result = search(query, collection_ids=[conversation.collection_id], top_k=settings.CHAT_CANDIDATE_CHUNKS,
                    mode="hybrid", rerank=True)
    return Retrieval(query=query, result=result, ms=_ms(started))


def _context(retrieval: Retrieval, *, backend: str) -> Context:
    """The relevance gate, then the passages: hits in sentence-match order, widened and merged."""
    hits = retrieval.result.results
    # The gate judges the best chunks themselves, before they are widened into passages.
    covered, why = relevance_gate(retrieval.query, hits[: settings.CHAT_PASSAGES])
    if not covered:
        return Context(covered=False, why=why)
    started = time.perf_counter()
    ordered = sentence_match_order(retrieval.query, hits)
    passages = list(passages_build(
        ordered, limit=settings.CHAT_PASSAGES, window=settings.CHAT_PASSAGE_WINDOW,
        widen_top=settings.CHAT_WIDEN_TOP, budget_tokens=_context_tokens(backend),
    ))
    return Context(covered=True, why=why, passages=passages, sentence_order=[h.chunk_id for h in ordered],
                   ms=_ms(started))


def _answerable(question: str, retrieval: Retrieval, context: Context) -> Verdict | None:
    """Whether some sentence or table row of the passages meets the question's constraints
    (chat.answerability); None when the relevance gate found nothing to check."""
    if not context.covered:
        return None
    return verdict(question, context.passages, previous=_previous(question, retrieval.query))


def _previous(question: str, query: str) -> str:
    """A follow-up's standalone query is the previous question and this one: the previous one
    lends what this one does not name."""
    return query[: -len(question)].strip() if query != question and query.endswith(question) else ""


@dataclass(frozen=True)
class CheckInputs:
    """What the answerability check of a question is given, as the pipeline computes it."""

    question: str
    previous: str
    covered: bool  # False: the relevance gate abstained before any check
    why: str  # the gate's reading
    passages: list[ScoredChunk]


def answerability_inputs(*, conversation: Conversation, question: str, history: list[tuple[str, str]] | None = None,
                         backend: str | None = None) -> CheckInputs:
    """The passages the answer pipeline would check for `question` (retrieval, gate, passages),
    without generating or storing an answer: evaluations replay the check over them."""
    query = standalone_query(question, history or [])
    retrieval = _retrieve(conversation, query)
    context = _context(retrieval, backend=backend or llm.configured_backend_name())
    return CheckInputs(question=question, previous=_previous(question, query), covered=context.covered,
                       why=context.why, passages=list(context.passages))


def _related(context: Context, answerable: Verdict) -> list[dict[str, Any]]:
    """The nearest passages, for reading: the one holding the nearest candidate first."""
    order = sorted(range(len(context.passages)), key=lambda i: i + 1 != answerable.nearest_n)[:RELATED_PASSAGES]
    related = []
    for i in order:
        passage = context.passages[i]
        nearest = answerable.nearest.split("] ", 1)[-1] if i + 1 == answerable.nearest_n else ""
        related.append({"n": i + 1, "chunk_id": passage.chunk_id, "document_id": passage.document_id,
                        "filename": passage.filename, "page": passage.page_start,
                        "excerpt": nearest or " ".join(passage.text.split())[:240]})
    return related


def _token_events(pieces: Generator[str, None, Generated], started: float) -> Generator[Event, None, tuple[Generated, float | None]]:
    """("token", {text}) per generated piece; returns the generation and the time to its first token."""
    ttft = None
    try:
        while True:
            try:
                piece = next(pieces)
            except StopIteration as done:
                return done.value, ttft
            if ttft is None:
                ttft = _ms(started)
            yield "token", {"text": piece}
    finally:
        pieces.close()  # the client went away: let the backend settle its token reservation now


def _check(text: str, passages: Sequence[ScoredChunk]) -> Checked:
    check = check_citations(text, passages)
    if NOT_COVERED.lower().rstrip(".") in check.text.lower():
        return Checked(text=NOT_COVERED, citations=[], removed=check.removed, abstained=True, claims=check.claims,
                       why="the answerer said the documents do not cover this")
    if not check.citations:
        why = ("nothing was generated" if not text.strip() else
               "the answer held only citation markers" if not re.search(r"\w", without_markers(text)) else
               "no sentence of the answer is supported by the passage it cites")
        return Checked(text=NOT_COVERED, citations=[], removed=check.removed, abstained=True, claims=check.claims,
                       why=why)
    return Checked(text=check.text, citations=check.citations, removed=check.removed, abstained=False,
                   claims=check.claims)


def _trace(conversation: Conversation, retrieval: Retrieval, context: Context, generated: Generated,
           checked: Checked, *, ttft: float, total: float, answerable: Verdict | None = None) -> AnswerTrace:
    result = retrieval.result
    refused = answerable is not None and not answerable.answerable
    because = (context.why if not context.covered else answerable.why if answerable and refused
               else checked.why if checked.abstained else None)
    return AnswerTrace(
        collection=conversation.collection.slug, standalone_query=retrieval.query,
        retrieved=[RetrievedChunk(chunk_id=p.chunk_id, document_id=p.document_id, scores=asdict(p.scores),
                                  ranks=p.ranks) for p in result.results],
        rerank=result.rerank, prompt=PromptRef(name=ANSWER_PROMPT_NAME, version=ANSWER_PROMPT_VERSION),
        timings_ms=Timings(retrieval=retrieval.ms, rerank=result.timings_ms.get("rerank", 0.0),
                           search_breakdown=result.timings_ms, passages=context.ms, ttft=ttft, total=total),
        relevance=context.why, abstained_because=because,
        answerability=answerable.as_json() if answerable is not None else None,
        related=_related(context, answerable) if answerable is not None and refused else None,
        sentence_order=context.sentence_order,
        passages=[passage_record(n, p) for n, p in enumerate(context.passages, start=1)],
        raw_answer=generated.text, backend=generated.backend, model=llm.get_backend(generated.backend).model,
        removed_citations=checked.removed, claims=checked.claims,
        tokens=generated.tokens if generated.tokens is not None else {"answer_chars": len(generated.text)},
        notice=" ".join(n for n in (generated.notice, result.rerank.notice) if n) or None,
        fallback=generated.fallback, truncated=generated.truncated,
    )


def _observe(requested: str, trace: AnswerTrace, *, abstained: bool) -> None:
    """The answer in the metrics: its stages' times, its outcome, its tokens, a fallback."""
    timings = trace.timings_ms
    observe_ms(STAGE_SECONDS, timings.passages, "passages")
    observe_ms(STAGE_SECONDS, timings.ttft, "ttft")
    if timings.total is not None:
        observe_ms(STAGE_SECONDS, timings.total - timings.retrieval - (timings.passages or 0.0), "generation")
    ANSWERS.labels(trace.backend, "abstained" if abstained else "answered").inc()
    for key, direction in (("prompt_tokens", "in"), ("completion_tokens", "out")):
        if trace.tokens.get(key):
            LLM_TOKENS.labels(requested, trace.model, direction).inc(trace.tokens[key])
    if trace.fallback:
        LLM_FALLBACKS.labels(requested).inc()


def passage_record(n: int, passage: ScoredChunk) -> PassageRecord:
    record = PassageRecord(n=n, chunk_id=passage.chunk_id, document_id=passage.document_id, filename=passage.filename,
                           page=passage.page_start, text=passage.text)
    if isinstance(passage, Passage):
        record.chunks = [SpanRecord(**asdict(span)) for span in passage.spans]
        record.hits = passage.hits
    return record


@transaction.atomic
def _store(*, conversation: Conversation, question: str, text: str, abstained: bool, citations: list[dict[str, Any]],
           trace: AnswerTrace) -> Answer:
    answer = Answer.objects.create(
        conversation=conversation, question=question, standalone_query=trace.standalone_query, answer=text,
        backend=trace.backend, model=trace.model, abstained=abstained, citations=citations, trace=trace.to_json(),
    )
    if not conversation.title:
        conversation.title = question[:80]
    conversation.save(update_fields=["title", "updated_at"])
    return answer


def answer_create(*, conversation: Conversation, question: str, backend: str | None = None,
                  cache: bool = True) -> dict[str, Any]:
    final: dict[str, Any] = {}
    for event, data in answer_events(conversation=conversation, question=question, backend=backend, cache=cache):
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
    answers = list(Answer.objects.select_for_update().filter(answer_mentions_document(document_id)))
    for answer in answers:
        trace = answer_trace(answer)
        for passage in trace.passages:
            if passage.document_id == document_id:
                passage.text, passage.filename, passage.source_deleted = "", DELETED_SOURCE, True
        for row in trace.retrieved:
            if row.document_id == document_id:
                row.source_deleted = True
        for citation in answer.citations:
            if citation.get("document_id") == document_id:
                citation.update(quote="", filename=DELETED_SOURCE, source_deleted=True)
        trace.raw_answer = ""
        trace.deleted_documents = sorted({*(trace.deleted_documents or []), document_id})
        answer.trace = trace.to_json()
        answer.save(update_fields=["trace", "citations"])
    return len(answers)


def answer_traces_purge(*, created_before: dt.datetime) -> int:
    """Retention: empty the traces of answers made before `created_before` (they keep
    `{"purged": true}`; the answer and its citations stay). Returns how many were emptied."""
    purged = AnswerTrace(purged=True).to_json()
    return Answer.objects.filter(created_at__lt=created_before).exclude(trace=purged).update(trace=purged)
