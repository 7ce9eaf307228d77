"""Abuse controls: per-user rate limits, concurrent streams, the daily LLM token budget, the daily
upload volume, sign-in throttling and failed API-token throttling per address. Every limit is a setting (0 switches it off).

A refused request raises `LimitExceeded`; accounts.middleware answers it 429 with `Retry-After`
(JSON for the API, a page for the browser) and the first trip per user, limit and window writes a
`limit_tripped` audit row (a client hammering a closed door does not flood the log).

Short-lived counters (rate windows, stream slots, failed sign-ins) live in Django's cache: Redis in
production, whose INCR and SET NX are atomic across processes. The token budget and the upload
volume must hold exactly across any number of processes, so they are conditional UPDATEs of one
row per user per day in Postgres (`UsageDay`): the row lock makes "check and add" one step.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import math
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from accounts.audit import Action, audit_record, client_ip
from accounts.models import UsageDay

RATE_SETTINGS = {"chat": "RATE_LIMIT_CHAT", "search": "RATE_LIMIT_SEARCH", "upload": "RATE_LIMIT_UPLOAD"}
STREAM_RETRY_SECONDS = 5


class LimitExceeded(Exception):
    """A request refused by a limit: which one, why, and when to try again (seconds)."""

    def __init__(self, *, limit: str, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.limit, self.message, self.retry_after = limit, message, max(1, retry_after)

    def as_dict(self) -> dict[str, Any]:
        return {"detail": self.message, "limit": self.limit, "retry_after": self.retry_after}


def _trip(*, limit: str, message: str, retry_after: int, user: Any = None, request: HttpRequest | None = None,
          who: str = "", **details: Any) -> LimitExceeded:
    """The exception to raise; audited once per user (or `who`), limit and retry period."""
    who = who or str(getattr(user, "pk", "") or "")
    if cache.add(f"footnote:tripped:{limit}:{who}", 1, timeout=retry_after):
        audit_record(action=Action.LIMIT_TRIPPED, actor=user, target=("limit", limit, limit), request=request,
                     limit=limit, retry_after=retry_after, **details)
    return LimitExceeded(limit=limit, message=message, retry_after=retry_after)


def _count(key: str, *, timeout: int) -> int:
    """Add one to the counter `key` (created with `timeout`) and return the new value, atomically."""
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # it expired between add and incr
        cache.add(key, 1, timeout=timeout)
        return 1


def _count_in_window(key: str, seconds: int) -> tuple[int, int]:
    """Count one event in the window of `seconds` that opened with the first event counted
    under `key`; returns the count so far and the seconds until the window closes."""
    now = time.time()
    cache.add(f"{key}:opened", now, timeout=seconds)
    count = _count(key, timeout=seconds)
    return count, _seconds_left(key, seconds, now)


def _seconds_left(key: str, seconds: int, now: float) -> int:
    opened = cache.get(f"{key}:opened")
    return max(1, math.ceil((opened if opened is not None else now) + seconds - now))


def rate_limit_hit(*, user: Any, scope: str) -> None:
    """Count one `scope` request (chat, search, upload) of `user`; raise past the allowed number
    per RATE_LIMIT_WINDOW_SECONDS (a window that opens with the first request)."""
    allowed = getattr(settings, RATE_SETTINGS[scope])
    if not allowed:
        return
    seconds = settings.RATE_LIMIT_WINDOW_SECONDS
    count, left = _count_in_window(f"footnote:rate:{scope}:{user.pk}", seconds)
    if count > allowed:
        raise _trip(limit=f"{scope}_rate", user=user, retry_after=left,
                    message=f"Too many {scope} requests: at most {allowed} every {seconds} seconds. "
                            f"Try again in {left} seconds.")


# -- concurrent streams ------------------------------------------------------------------------


def stream_slot_acquire(*, user: Any) -> Callable[[], None]:
    """Take one of the user's CHAT_MAX_CONCURRENT_STREAMS slots; returns its release function.

    Each slot is a cache key claimed with add (SET NX) and expiring after
    CHAT_STREAM_SLOT_SECONDS, so a process that dies mid-stream frees its slot by itself."""
    allowed = settings.CHAT_MAX_CONCURRENT_STREAMS
    if not allowed:
        return lambda: None
    holder = uuid.uuid4().hex
    for slot in range(allowed):
        key = f"footnote:stream:{user.pk}:{slot}"
        if cache.add(key, holder, timeout=settings.CHAT_STREAM_SLOT_SECONDS):
            return functools.partial(_stream_slot_release, key, holder)
    raise _trip(limit="concurrent_streams", user=user, retry_after=STREAM_RETRY_SECONDS,
                message=f"At most {allowed} answers may stream at once per user; wait for one to finish.")


def _stream_slot_release(key: str, holder: str) -> None:
    # After an expiry the slot may belong to another stream: free it only if it is still ours.
    if cache.get(key) == holder:
        cache.delete(key)


class ReleasingIterator:
    """Iterates `inner`, calling `release` once when it ends, fails or is closed (the server
    closes the response when the client goes away, even before the first chunk was sent)."""

    def __init__(self, inner: Iterator[Any], release: Callable[[], None]) -> None:
        self.inner, self.release, self.released = inner, release, False

    def __iter__(self) -> ReleasingIterator:
        return self

    def __next__(self) -> Any:
        try:
            return next(self.inner)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if not self.released:
            self.released = True
            try:
                getattr(self.inner, "close", lambda: None)()
            finally:
                self.release()


# -- daily ledgers in Postgres -----------------------------------------------------------------


@dataclass(frozen=True)
class Reservation:
    user_id: int
    day: datetime.date
    tokens: int


def _today() -> datetime.date:
    return timezone.now().astimezone(datetime.timezone.utc).date()


def _seconds_to_midnight() -> int:
    now = timezone.now().astimezone(datetime.timezone.utc)
    midnight = datetime.datetime.combine(now.date() + datetime.timedelta(days=1), datetime.time(), datetime.timezone.utc)
    return math.ceil((midnight - now).total_seconds())


def _usage_row(user_id: int, day: datetime.date) -> Any:
    UsageDay.objects.bulk_create([UsageDay(user_id=user_id, day=day)], ignore_conflicts=True)
    return UsageDay.objects.filter(user_id=user_id, day=day)


def token_budget_reserve(*, user: Any, tokens: int) -> Reservation:
    """Reserve `tokens` (the request's most: prompt estimate + maximum output) of the user's
    LLM_DAILY_TOKEN_BUDGET before calling the model; raise LimitExceeded when they do not fit."""
    day, budget = _today(), settings.LLM_DAILY_TOKEN_BUDGET
    row = _usage_row(user.pk, day)
    if budget:
        row = row.filter(tokens_reserved__lte=budget - tokens - F("tokens_used"))
    if not row.update(tokens_reserved=F("tokens_reserved") + tokens):
        raise _trip(limit="token_budget", user=user, retry_after=_seconds_to_midnight(), tokens=tokens,
                    message=f"Your daily language-model budget ({budget} tokens) is used up; "
                            "it renews at midnight UTC.")
    return Reservation(user_id=user.pk, day=day, tokens=tokens)


def token_budget_settle(*, reservation: Reservation, used: int) -> None:
    """Replace the reservation by what the call really used (0 releases it)."""
    UsageDay.objects.filter(user_id=reservation.user_id, day=reservation.day).update(
        tokens_reserved=F("tokens_reserved") - reservation.tokens, tokens_used=F("tokens_used") + used
    )


def upload_volume_check(*, user: Any, size_bytes: int) -> None:
    """Refuse, without counting anything, an upload whose `size_bytes` would pass what is left of
    the user's UPLOAD_DAILY_BYTES today (what is stored is counted by upload_volume_reserve)."""
    limit = settings.UPLOAD_DAILY_BYTES
    if not limit:
        return
    used = UsageDay.objects.filter(user_id=user.pk, day=_today()).values_list("upload_bytes", flat=True).first() or 0
    if used + size_bytes > limit:
        raise _volume_exceeded(user, size_bytes, limit, used)


def upload_volume_reserve(*, user: Any, size_bytes: int) -> None:
    """Count `size_bytes` against the user's UPLOAD_DAILY_BYTES, or raise without counting. Called
    for what is stored as a new document only (refused files and duplicates cost nothing), inside
    the transaction that stores it."""
    limit = settings.UPLOAD_DAILY_BYTES
    row = _usage_row(user.pk, _today())
    if limit:
        row = row.filter(upload_bytes__lte=limit - size_bytes)
    if not row.update(upload_bytes=F("upload_bytes") + size_bytes):
        used = UsageDay.objects.get(user_id=user.pk, day=_today()).upload_bytes
        raise _volume_exceeded(user, size_bytes, limit, used)


def _volume_exceeded(user: Any, size_bytes: int, limit: int, used: int) -> LimitExceeded:
    return _trip(limit="upload_volume", user=user, retry_after=_seconds_to_midnight(), size_bytes=size_bytes,
                 message=f"This upload ({_mb(size_bytes)}) would pass your daily upload volume of {_mb(limit)} "
                         f"({_mb(max(0, limit - used))} left today); it renews at midnight UTC.")


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


# -- sign-in throttling ------------------------------------------------------------------------


def _sign_in_key(username: str, request: HttpRequest | None) -> str:
    ip = client_ip(request) if request is not None else "-"
    return "footnote:signin:" + hashlib.sha256(f"{username.strip().lower()}|{ip}".encode()).hexdigest()[:32]


def sign_in_check(*, username: str, request: HttpRequest | None) -> None:
    """Refuse to even try the password after SIGN_IN_MAX_FAILURES failures for this username
    from this address within SIGN_IN_FAILURE_WINDOW_SECONDS of the first."""
    allowed = settings.SIGN_IN_MAX_FAILURES
    if not allowed:
        return
    key = _sign_in_key(username, request)
    if (cache.get(key) or 0) >= allowed:
        left = _seconds_left(key, settings.SIGN_IN_FAILURE_WINDOW_SECONDS, time.time())
        raise _trip(limit="sign_in", request=request, who=key, retry_after=left, username=username[:150],
                    message=f"Too many failed sign-ins for this account from your address. "
                            f"Try again in {math.ceil(left / 60)} minutes.")


def sign_in_failed(*, username: str, request: HttpRequest | None) -> None:
    if settings.SIGN_IN_MAX_FAILURES:
        _count_in_window(_sign_in_key(username, request), settings.SIGN_IN_FAILURE_WINDOW_SECONDS)


def sign_in_succeeded(*, username: str, request: HttpRequest | None) -> None:
    key = _sign_in_key(username, request)
    cache.delete_many([key, f"{key}:opened"])


# -- failed API-token authentication -------------------------------------------------------------


def _token_failure_key(request: HttpRequest) -> str:
    return "footnote:tokenfail:" + hashlib.sha256((client_ip(request) or "-").encode()).hexdigest()[:32]


def token_auth_check(*, request: HttpRequest) -> None:
    """Refuse to look up any bearer token from an address that sent TOKEN_AUTH_MAX_FAILURES
    unknown ones within TOKEN_AUTH_FAILURE_WINDOW_SECONDS of the first (guessing tokens)."""
    allowed = settings.TOKEN_AUTH_MAX_FAILURES
    if not allowed:
        return
    key = _token_failure_key(request)
    if (cache.get(key) or 0) >= allowed:
        left = _seconds_left(key, settings.TOKEN_AUTH_FAILURE_WINDOW_SECONDS, time.time())
        raise _trip(limit="token_auth", request=request, who=key, retry_after=left,
                    message=f"Too many invalid API tokens from your address. Try again in {left} seconds.")


def token_auth_failed(*, request: HttpRequest) -> None:
    if settings.TOKEN_AUTH_MAX_FAILURES:
        _count_in_window(_token_failure_key(request), settings.TOKEN_AUTH_FAILURE_WINDOW_SECONDS)
