"""The audit log: who did what to what, when, from which request.

`audit_record` is the one writer. Services call it where the event happens; the request id and
client IP come from the request when one is given, else from the request being served on this
thread (set by accounts.middleware.RequestIdMiddleware), so every row made during a request
carries them. Rows are never changed; `audit_purge` is the single, documented way to drop old ones.
"""

from __future__ import annotations

import contextvars
import datetime
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Model
from django.http import HttpRequest

from accounts.models import AuditEvent

Action = AuditEvent.Action


@dataclass(frozen=True)
class RequestInfo:
    request_id: str
    ip: str | None


current_request: contextvars.ContextVar[RequestInfo | None] = contextvars.ContextVar("current_request", default=None)


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR, or behind a trusted proxy (BEHIND_PROXY) the address it appended last to
    X-Forwarded-For (earlier entries are whatever the client claimed)."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if settings.BEHIND_PROXY and forwarded:
        return forwarded.split(",")[-1].strip() or None
    return request.META.get("REMOTE_ADDR") or None


def request_info(request: HttpRequest | None) -> RequestInfo | None:
    if request is None:
        return current_request.get()
    return RequestInfo(request_id=getattr(request, "request_id", ""), ip=client_ip(request))


def audit_record(
    *, action: str, actor: Any = None, target: Model | tuple[str, object, str] | None = None,
    request: HttpRequest | None = None, **details: Any,
) -> AuditEvent:
    """Append one row. `actor` is a user (anonymous or None: no actor; `username=` in details is
    kept as the snapshot then); `target` is a model instance or (type, id, label)."""
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    if isinstance(target, Model):
        target_type, target_id, label = target._meta.label_lower, target.pk, str(target)
    else:
        target_type, target_id, label = target if target is not None else ("", "", "")
    info = request_info(request)
    return AuditEvent.objects.create(
        action=action, actor=actor,
        actor_username=actor.get_username() if actor is not None else str(details.get("username", ""))[:150],
        target_type=target_type, target_id=str(target_id if target_id is not None else "")[:64],
        target_label=str(label)[:300],
        request_id=info.request_id if info else "", ip=info.ip if info else None,
        details=details,
    )


@transaction.atomic
def audit_purge(*, before: datetime.datetime) -> int:
    """Delete the rows older than `before` (a retention policy): the one escape from the
    append-only trigger, which lets a DELETE through only in a transaction that set
    footnote.audit_purge. Returns how many rows went."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL footnote.audit_purge = 'on'")
        cursor.execute(f"DELETE FROM {AuditEvent._meta.db_table} WHERE created_at < %s", [before])
        deleted = cursor.rowcount
        # SET LOCAL lasts to the end of the outermost transaction: switch it off again at once.
        cursor.execute("SET LOCAL footnote.audit_purge = 'off'")
        return deleted
