from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Iterator

from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render

from accounts.audit import RequestInfo, client_ip, current_request
from accounts.limits import LimitExceeded

_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestIdMiddleware:
    """Every request gets an id: the client's (or proxy's) X-Request-ID when it is a sane token,
    otherwise a new one. It is echoed in the response and stamped on every audit row."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        info = RequestInfo(request_id=request_id, ip=client_ip(request))
        token = current_request.set(info)
        try:
            response = self.get_response(request)
        finally:
            current_request.reset(token)
        response["X-Request-ID"] = request_id
        if isinstance(response, StreamingHttpResponse) and not isinstance(response, FileResponse):
            # A stream's body runs after this returns: keep the request's id for its events.
            response.streaming_content = _with_request(info, response.streaming_content)
        return response


def _with_request(info: RequestInfo, content: Iterable[bytes]) -> Iterator[bytes]:
    token = current_request.set(info)
    try:
        yield from content
    finally:
        try:
            current_request.reset(token)
        except ValueError:  # closed from another context (e.g. the server's cleanup)
            current_request.set(None)


class LimitExceededMiddleware:
    """Answers a request refused by a limit (accounts.limits.LimitExceeded): 429 with
    Retry-After, a JSON body for API clients, a page for the browser."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, LimitExceeded):
            return limit_response(request, exception)
        return None


def limit_response(request: HttpRequest, exc: LimitExceeded) -> HttpResponse:
    response: HttpResponse
    if request.path.startswith(("/api/", "/v1/")) or "application/json" in request.headers.get("Accept", ""):
        body = exc.as_dict()
        if request.path.startswith("/v1/"):  # OpenAI clients read error.message
            body["error"] = {"message": exc.message, "type": "rate_limit_exceeded", "code": exc.limit}
        response = JsonResponse(body, status=429)
    else:
        response = render(request, "limit.html", {"limit": exc}, status=429)
    response["Retry-After"] = str(exc.retry_after)
    return response
