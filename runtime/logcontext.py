"""Fields every log line of the current request or task carries (request id, user id, answer
id, document id), kept in a context variable so each thread and each streamed response has its
own. config/logging.py writes them into JSON lines when LOG_FORMAT=json."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_fields: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("footnote_log_fields", default=None)


def log_fields() -> dict[str, Any]:
    return dict(_fields.get() or {})


def log_bind(**fields: Any) -> None:
    """Add fields to every later log line of the current context."""
    _fields.set({**(_fields.get() or {}), **{k: v for k, v in fields.items() if v is not None}})


@contextmanager
def log_scope(**fields: Any) -> Iterator[None]:
    """Fields for the log lines of one block (a request, a task); the previous ones after it."""
    token = _fields.set({**(_fields.get() or {}), **fields})
    try:
        yield
    finally:
        _fields.reset(token)
