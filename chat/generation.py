"""Generating an answer's text: the chosen LLM backend within the user's token budget, or the
extractive backend when that one is down, fails before its first token, or the budget is spent."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any

from accounts.limits import LimitExceeded, Reservation, token_budget_reserve, token_budget_settle
from chat import llm
from retrieval.types import ScoredChunk

Messages = list[dict[str, str]]
# What the user is told when the answer is not the language model's (whole): the reason itself
# is in the answer's trace (`fallback`), not shown.
UNAVAILABLE_NOTICE = "The language model could not answer just now; this answer quotes the passages without it."
TRUNCATED_NOTICE = "The language model stopped part-way; this answer may be incomplete."


@dataclass(frozen=True)
class Generated:
    """What produced the answer's text and what happened on the way (None: nothing to say)."""

    text: str
    backend: str
    tokens: dict[str, int] | None = None  # reported or estimated usage of an LLM call
    notice: str | None = None  # for the user: why the answer does not come from the language model
    fallback: str | None = None  # why the chosen backend did not answer
    truncated: bool | None = None  # the backend failed mid-answer; its text so far is the answer


@dataclass(frozen=True)
class _Billed:
    text: str
    answered: bool  # the backend's text is the answer
    tokens: dict[str, int]
    fallback: str | None = None
    truncated: bool | None = None


def generate(
    name: str, question: str, passages: Sequence[ScoredChunk], messages: Messages, user: Any, *, query: str = ""
) -> Generator[str, None, Generated]:
    """Yield the answer's text pieces as they come; return what produced them. Falls back to
    extractive when the backend is known to be down, fails before its first token (remembered, so
    later requests skip it at once, unless the failure was this request's own, a 4xx), or the user's
    daily token budget cannot cover the call. Every such answer carries a notice saying so."""
    notice = fallback = tokens = truncated = None
    if name != "extractive":
        skip, reservation = llm.is_down(name), None
        if skip:
            notice = UNAVAILABLE_NOTICE
        else:
            try:
                reservation = token_budget_reserve(user=user, tokens=llm.request_max_tokens(messages))
            except LimitExceeded as exc:
                skip = exc.message
                notice = f"{exc.message} This answer quotes the passages without the language model."
        if reservation is None:
            fallback = f"{name} skipped: {skip}"
        else:
            billed = yield from _generate_billed(name, question, passages, messages, reservation)
            tokens, fallback, truncated = billed.tokens, billed.fallback, billed.truncated
            if billed.fallback is not None:
                notice = TRUNCATED_NOTICE if billed.truncated else UNAVAILABLE_NOTICE
            if billed.answered:
                # An empty reply holds nothing of the backend's: it is recorded as extractive, as before.
                return Generated(billed.text, name if billed.text else "extractive", tokens, notice, fallback,
                                 truncated)
    text = ""
    extractive = llm.get_backend("extractive")
    # The extractive backend reads a follow-up with the standalone query it was searched with
    # ("And in 2022?" after a question on Zone NA sales).
    pieces = (extractive.stream(question=question, passages=passages, messages=messages, context=query)
              if isinstance(extractive, llm.ExtractiveBackend)
              else extractive.stream(question=question, passages=passages, messages=messages))
    for piece in pieces:
        text += piece
        yield piece
    return Generated(text, "extractive", tokens, notice, fallback, truncated)


def _generate_billed(
    name: str, question: str, passages: Sequence[ScoredChunk], messages: Messages, reservation: Reservation
) -> Generator[str, None, _Billed]:
    """Stream from the LLM backend `name`, then settle the token reservation to the usage the
    backend reported (an estimate if it reported none; nothing if it produced nothing), also when
    the client goes away mid-stream."""
    usage: dict[str, int] = {}
    text = ""
    failure: llm.LLMError | None = None
    try:
        for piece in llm.get_backend(name).stream(question=question, passages=passages, messages=messages, usage=usage):
            text += piece
            yield piece
    except llm.LLMError as exc:
        failure = exc
    finally:  # also when the client goes away mid-stream (GeneratorExit)
        tokens = _settle(reservation, messages, text, usage)
    if failure is None:
        return _Billed(text, True, tokens)
    llm.mark_down(name, failure)  # opens only when the endpoint itself is failing
    return _Billed(text, bool(text), tokens, f"{name} failed: {failure}", True if text else None)


def _settle(reservation: Reservation, messages: Messages, text: str, usage: dict[str, int]) -> dict[str, int]:
    estimate = sum(llm.estimate_tokens(m.get("content", "")) for m in messages) + llm.estimate_tokens(text)
    used = usage.get("total_tokens", estimate) if text or usage else 0
    token_budget_settle(reservation=reservation, used=used)
    return usage or {"estimated_total_tokens": used}
