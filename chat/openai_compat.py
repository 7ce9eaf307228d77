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

from accounts.auth import token_authenticate
from accounts.inputs import BadInput, json_loads_checked
from accounts.limits import ReleasingIterator, rate_limit_hit, stream_slot_acquire
from chat import llm
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
    token = token_authenticate(header.split(" ", 1)[1].strip(), request=request)
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
        body, turns = _parse_body(request.body)
    except BadInput as exc:
        return _error(400, str(exc))
    backend = body.get("backend")
    if backend is not None and not user.is_staff:
        return _error(400, "Choosing the backend is for staff only: leave `backend` out to get the configured one.")
    if backend is not None and backend not in llm.BACKENDS:
        return _error(400, f"`backend` must be one of {', '.join(llm.BACKENDS)}.")
    slug = str(body.get("model") or "default")
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
    events = answer_events(conversation=conversation, question=questions[-1], history=history[-3:], backend=backend)
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


def _parse_body(raw: bytes) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The JSON body and its messages as (role, content) pairs; BadInput says what is wrong."""
    body = json_loads_checked(raw or b"{}")
    if not isinstance(body, dict):
        raise BadInput("The body must be a JSON object with `model` and `messages`.")
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise BadInput("`messages` must be a list of {role, content} objects.")
    turns = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise BadInput(f"`messages[{i}]` must be an object with a string `role`.")
        content = message.get("content")
        if isinstance(content, list):  # OpenAI's content parts: the text ones count
            content = " ".join(str(p.get("text") or "") for p in content if isinstance(p, dict) and p.get("type") == "text")
        if content is not None and not isinstance(content, str):
            raise BadInput(f"`messages[{i}].content` must be a string.")
        turns.append((message["role"], content or ""))
    if not isinstance(body.get("model", ""), (str, type(None))):
        raise BadInput("`model` must be a string (a collection's slug).")
    return body, turns


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
