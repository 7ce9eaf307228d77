"""How failures are answered: JSON with a reason on the API paths (/api/, /v1/), a short page in
the browser, and the request id in both.

- input refused where it is read (accounts.inputs.BadInput): 400 with its message;
- Django's own refusals of a request (a multipart body without boundary, too many files, a part
  header too long): 400 with the reason Django gives;
- the database unreachable (OperationalError / InterfaceError): 503 with Retry-After;
- anything else: still a 500, logged with the request id.
Exceptions of views reach `ErrorMiddleware`; those raised outside a view (in another middleware)
reach the handlers that config.urls names (handler400/403/404/500).
"""

from __future__ import annotations

import logging
import sys

from django.conf import settings
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation, TooManyFilesSent
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.template.loader import render_to_string
from django.views import defaults

from accounts.inputs import BadInput, check_text
from accounts.limits import LimitExceeded

logger = logging.getLogger("footnote.errors")

API_PREFIXES = ("/api/", "/v1/")
DATABASE_RETRY_SECONDS = 10
DATABASE_DOWN = "The database is not reachable right now; try again in a few seconds."
TITLES = {400: "Bad request", 401: "Sign in first", 403: "Not allowed", 404: "Not found", 500: "Something went wrong",
          503: "Temporarily unavailable"}
# Answered by Django's own exception handling (and the handlers below), not by ErrorMiddleware.
_DJANGO_HANDLED = (Http404, PermissionDenied, MultiPartParserError, BadRequest, SuspiciousOperation, LimitExceeded)


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIXES)


def error_response(request: HttpRequest, status: int, message: str, *, kind: str = "invalid_request_error",
                   retry_after: int | None = None) -> HttpResponse:
    """The answer to a failed request: {"detail", "request_id"} on the API (OpenAI's `error`
    object too under /v1/), a short page otherwise (one that needs no database)."""
    request_id = getattr(request, "request_id", "")
    response: HttpResponse
    if is_api(request):
        body: dict[str, object] = {"detail": message, "request_id": request_id}
        if request.path.startswith("/v1/"):
            body["error"] = {"message": message, "type": kind}
        response = JsonResponse(body, status=status)
    else:
        page = render_to_string("error.html", {"status": status, "title": TITLES.get(status, "Error"),
                                               "message": message, "request_id": request_id})
        response = HttpResponse(page, status=status)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def exception_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """The answer to an exception nothing more specific handled."""
    if isinstance(exc, BadInput):
        return error_response(request, 400, str(exc))
    if isinstance(exc, (OperationalError, InterfaceError)):
        logger.warning("database unavailable (request %s): %s", getattr(request, "request_id", ""), exc)
        return error_response(request, 503, DATABASE_DOWN, kind="service_unavailable",
                              retry_after=DATABASE_RETRY_SECONDS)
    request_id = getattr(request, "request_id", "")
    logger.error("unexpected error on %s %s (request %s)", request.method, request.path, request_id,
                 exc_info=(type(exc), exc, exc.__traceback__))
    return error_response(request, 500, f"Unexpected error; it has been logged with request id {request_id}.",
                          kind="server_error")


class ErrorMiddleware:
    """Answers the exceptions of views that Django would answer with its HTML 500 page."""

    def __init__(self, get_response):  # type: ignore[no-untyped-def]
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response: HttpResponse = self.get_response(request)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, _DJANGO_HANDLED):
            return None
        return exception_response(request, exception)


class QueryCheckMiddleware:
    """Refuses a query string (or path) holding text no field can store, for every view at once:
    query parameters reach many views' selectors directly (forms check their own fields)."""

    def __init__(self, get_response):  # type: ignore[no-untyped-def]
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            check_text(request.path, field="path")
            for key, values in request.GET.lists():
                check_text(key, field="query parameter name")
                for value in values:
                    check_text(value, field=key[:100])
        except BadInput as exc:
            return error_response(request, 400, str(exc))
        response: HttpResponse = self.get_response(request)
        return response


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler400: the reason Django refused the request (its messages name settings; ours say what to do)."""
    if not is_api(request):
        return defaults.bad_request(request, exception if exception is not None else BadRequest())
    if isinstance(exception, TooManyFilesSent):
        message = f"Too many files in one request: at most {settings.DATA_UPLOAD_MAX_NUMBER_FILES}."
    elif isinstance(exception, MultiPartParserError):
        message = f"The multipart body could not be read: {exception}"
    else:
        message = str(exception or "") or "The request could not be read."
    return error_response(request, 400, message)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if not is_api(request):
        return defaults.permission_denied(request, exception if exception is not None else PermissionDenied())
    return error_response(request, 403, str(exception or "") or "You may not do this.")


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if not is_api(request):
        return defaults.page_not_found(request, exception)
    return error_response(request, 404, "Nothing here.")


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: called inside Django's exception handling, so the exception is the current one."""
    exc = sys.exc_info()[1]
    if exc is None:
        return error_response(request, 500, "Unexpected error.", kind="server_error")
    return exception_response(request, exc)
