from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any, Literal

from django.conf import settings
from django.http import HttpRequest, StreamingHttpResponse
from ninja import Router, Status
from ninja.errors import HttpError

from accounts.audit import current_request
from accounts.auth import user_of
from accounts.limits import ReleasingIterator, rate_limit_hit, stream_slot_acquire
from chat import llm
from chat.models import Conversation
from chat.schemas import (
    AnswerOut,
    ChatIn,
    ConversationDetailOut,
    ConversationIn,
    ConversationOut,
    ConversationPatch,
)
from chat.services import answer_as_dict, answer_create, answer_events, conversation_create, conversation_open
from feedback.selectors import votes_of
from ingestion.access import access_collection, collections_readable

router = Router(tags=["chat"])
logger = logging.getLogger(__name__)


def _conversation_dict(conversation: Conversation, *, with_answers_for: Any = None) -> dict[str, Any]:
    """The conversation; with its answers and, on each, the vote of `with_answers_for` (the
    reader: their own vote, also when staff open another user's conversation)."""
    data: dict[str, Any] = {
        "id": conversation.id, "title": conversation.title, "collection": conversation.collection.slug,
        "source": conversation.source, "created_at": conversation.created_at, "updated_at": conversation.updated_at,
    }
    if with_answers_for is not None:
        answers = list(conversation.answers.all())
        votes = votes_of(user=with_answers_for, answer_ids=[a.id for a in answers])
        data["answers"] = [answer_as_dict(a) | {"vote": votes.get(a.id)} for a in answers]
    return data


def source_of(request: HttpRequest) -> str:
    """Where a conversation started by this request comes from: the chat page signs in with the
    session, scripts with a bearer token."""
    return Conversation.Source.API if getattr(request, "api_token", None) is not None else Conversation.Source.BROWSER


def _own_conversation(request: HttpRequest, conversation_id: int) -> Conversation:
    """The user's own conversation in a collection they may still read (404 otherwise)."""
    conversation = (
        Conversation.objects.select_related("collection")
        .filter(pk=conversation_id, owner=user_of(request), collection__in=collections_readable(request.user))
        .first()
    )
    if conversation is None:
        raise HttpError(404, "No such conversation.")
    return conversation


@router.get("/conversations", response=list[ConversationOut],
            summary="Your conversations, newest first; `source=browser` keeps the chat page's, `source=api` the others")
def conversations_list(request: HttpRequest, source: Literal["browser", "api"] | None = None) -> list[dict[str, Any]]:
    conversations = Conversation.objects.filter(owner=user_of(request), collection__in=collections_readable(request.user))
    if source == "browser":
        conversations = conversations.filter(source=Conversation.Source.BROWSER)
    elif source == "api":
        conversations = conversations.exclude(source=Conversation.Source.BROWSER)
    return [_conversation_dict(c) for c in conversations.select_related("collection")[:200]]


@router.post("/conversations", response={201: ConversationOut})
def conversations_create(request: HttpRequest, payload: ConversationIn) -> Status:
    collection = access_collection(request.user, payload.collection)
    return Status(201, _conversation_dict(conversation_create(
        owner=user_of(request), collection=collection, title=payload.title, source=source_of(request))))


@router.get("/conversations/{conversation_id}", response=ConversationDetailOut,
            summary="One conversation with its answers (staff may open anyone's; that is audited)")
def conversations_get(request: HttpRequest, conversation_id: int) -> dict[str, Any]:
    conversation = conversation_open(user=request.user, conversation_id=conversation_id)
    if conversation is None:
        raise HttpError(404, "No such conversation.")
    return _conversation_dict(conversation, with_answers_for=request.user)


@router.patch("/conversations/{conversation_id}", response=ConversationOut)
def conversations_rename(request: HttpRequest, conversation_id: int, payload: ConversationPatch) -> dict[str, Any]:
    conversation = _own_conversation(request, conversation_id)
    conversation.title = payload.title
    conversation.save(update_fields=["title", "updated_at"])
    return _conversation_dict(conversation)


@router.delete("/conversations/{conversation_id}", response={204: None})
def conversations_delete(request: HttpRequest, conversation_id: int) -> Status:
    _own_conversation(request, conversation_id).delete()
    return Status(204, None)


def sse(events: Iterator[tuple[str, dict[str, Any]]]) -> Iterator[str]:
    try:
        for event, data in events:
            yield f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n"
    except Exception:  # the stream has started: log it, tell the client without the exception's text
        info = current_request.get()
        request_id = info.request_id if info is not None else ""
        logger.exception("answer stream failed (request %s)", request_id)
        detail = f"The answer failed part-way; it has been logged with request id {request_id}."
        yield f"event: error\ndata: {json.dumps({'detail': detail, 'request_id': request_id})}\n\n"


def conversation_for_question(request: HttpRequest, conversation_id: int | None, collection_slug: str, question: str) -> Conversation:
    if len(question) > settings.CHAT_MAX_QUESTION_CHARS:
        raise HttpError(400, f"The question is longer than {settings.CHAT_MAX_QUESTION_CHARS} characters.")
    if conversation_id is not None:
        return _own_conversation(request, conversation_id)
    collection = access_collection(request.user, collection_slug)
    return conversation_create(owner=user_of(request), collection=collection, title=question[:80], source=source_of(request))


def check_backend_choice(user: Any, backend: str | None) -> None:
    """Naming a backend is for staff (comparing backends, the evaluations): anyone else gets the
    configured one, and a request that names one is refused (400) rather than quietly ignored."""
    if backend is None:
        return
    if not user.is_staff:
        raise HttpError(400, "Choosing the backend is for staff only: leave `backend` out to get the configured one.")
    if backend not in llm.BACKENDS:
        raise HttpError(400, f"backend must be one of {', '.join(llm.BACKENDS)}")


@router.post("/chat", response=AnswerOut, summary="Ask a question; `stream: true` answers with server-sent events")
def chat(request: HttpRequest, payload: ChatIn) -> Any:
    check_backend_choice(request.user, payload.backend)
    rate_limit_hit(user=request.user, scope="chat")
    if payload.stream:
        release = stream_slot_acquire(user=request.user)
        try:
            conversation = conversation_for_question(request, payload.conversation_id, payload.collection, payload.question)
        except Exception:
            release()
            raise
        events = answer_events(conversation=conversation, question=payload.question, backend=payload.backend,
                               cache=payload.cache)
        response = StreamingHttpResponse(ReleasingIterator(sse(events), release), content_type="text/event-stream")
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response
    conversation = conversation_for_question(request, payload.conversation_id, payload.collection, payload.question)
    return answer_create(conversation=conversation, question=payload.question, backend=payload.backend,
                         cache=payload.cache)
