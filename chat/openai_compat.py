"""OpenAI-compatible endpoints: POST /v1/chat/completions and GET /v1/models.

A "model" is a collection slug; the API key is a Footnote API token. Citations travel in an
extra top-level field `citations` ([{n, chunk_id, document_id, filename, page, quote}]) of the
response, and of the last chunk when streaming; `footnote` carries answer_id, backend and
abstained. Streamed content is the text as generated; the final `citations` are checked.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from accounts.auth import token_for
from accounts.limits import ReleasingIterator, rate_limit_hit, stream_slot_acquire
from chat.models import Conversation
from chat.services import answer_events, conversation_create
from ingestion.access import access_collection, collections_readable


def _error(status: int, message: str, kind: str = "invalid_request_error") -> JsonResponse:
    return JsonResponse({"error": {"message": message, "type": kind}}, status=status)


def _user(request: HttpRequest) -> Any:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        return None
    # A read-only token may use both endpoints: listing models and asking are reads.
    token = token_for(header.split(" ", 1)[1].strip())
    return token.user if token is not None else None


@csrf_exempt
@require_GET
def models(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if user is None:
        return _error(401, "Send a Footnote API token as the bearer key.", "authentication_error")
    data = [{"id": c.slug, "object": "model", "created": int(c.created_at.timestamp()), "owned_by": "footnote"}
            for c in collections_readable(user)]
    return JsonResponse({"object": "list", "data": data})


@csrf_exempt
@require_POST
def chat_completions(request: HttpRequest) -> HttpResponseBase:
    user = _user(request)
    if user is None:
        return _error(401, "Send a Footnote API token as the bearer key.", "authentication_error")
    try:
        body = json.loads(request.body or b"{}")
        messages = body["messages"]
        slug = str(body.get("model") or "default")
    except (ValueError, KeyError, TypeError):
        return _error(400, "The body must be JSON with `model` and `messages`.")
    turns = [(m.get("role"), str(m.get("content") or "")) for m in messages if isinstance(m, dict)]
    questions = [content for role, content in turns if role == "user"]
    if not questions:
        return _error(400, "`messages` needs at least one user message.")
    if len(questions[-1]) > settings.CHAT_MAX_QUESTION_CHARS:
        return _error(400, f"The question is longer than {settings.CHAT_MAX_QUESTION_CHARS} characters.")
    try:
        collection = access_collection(user, slug)
    except Http404:
        return _error(404, f"The model '{slug}' does not exist.", "not_found_error")
    rate_limit_hit(user=user, scope="chat")
    release = stream_slot_acquire(user=user) if body.get("stream") else None
    history = [(q, a) for (rq, q), (ra, a) in zip(turns, turns[1:]) if rq == "user" and ra == "assistant"]
    conversation = conversation_create(owner=user, collection=collection, title=questions[-1][:80],
                                       source=Conversation.Source.OPENAI)
    events = answer_events(conversation=conversation, question=questions[-1], history=history[-3:])
    created = int(time.time())
    if release is not None:
        response = StreamingHttpResponse(ReleasingIterator(_stream(events, slug, created), release),
                                         content_type="text/event-stream")
        response["Cache-Control"] = "no-cache"
        return response
    final = next(data for event, data in events if event == "done")
    return JsonResponse({
        "id": f"chatcmpl-{final['answer_id']}", "object": "chat.completion", "created": created, "model": slug,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": final["answer"]}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "citations": final["citations"],
        "footnote": {"answer_id": final["answer_id"], "backend": final["backend"], "abstained": final["abstained"],
                     "notice": final["notice"]},
    })


def _stream(events: Iterator[tuple[str, dict[str, Any]]], slug: str, created: int) -> Iterator[str]:
    chunk_id = f"chatcmpl-{created}"

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        payload = {"id": chunk_id, "object": "chat.completion.chunk", "created": created, "model": slug,
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(payload)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    for event, data in events:
        if event == "token":
            yield chunk({"content": data["text"]})
        elif event == "done":
            yield chunk({}, "stop", citations=data["citations"],
                        footnote={"answer_id": data["answer_id"], "backend": data["backend"], "abstained": data["abstained"],
                                  "notice": data["notice"]})
    yield "data: [DONE]\n\n"
