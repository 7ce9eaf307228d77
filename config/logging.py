"""Structured logs (opt-in, LOG_FORMAT=json): one JSON object per line with the time, level,
logger, message, the exception if any, and the fields bound to the request or task (request_id,
user_id, answer_id, document_id: runtime/logcontext.py), in the web server and the worker alike."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timezone

from django.http import HttpRequest, HttpResponse

from runtime.logcontext import log_fields, log_scope


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage(), **log_fields(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class LogContextMiddleware:
    """Binds the request's id and the signed-in user's id to every log line of the request
    (after AuthenticationMiddleware and RequestIdMiddleware)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        user_id = user.pk if user is not None and user.is_authenticated else None
        with log_scope(request_id=getattr(request, "request_id", None), user_id=user_id):
            return self.get_response(request)
