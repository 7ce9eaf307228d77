"""API authentication: bearer tokens for scripts, the session (with CSRF) for the browser."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from ninja.errors import HttpError
from ninja.security import HttpBearer, SessionAuth

from accounts.access import READ_ONLY_REFUSAL
from accounts.limits import token_auth_check, token_auth_failed
from accounts.models import ApiToken
from accounts.services import token_hash
from runtime.logcontext import log_bind

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Searching and asking are reads, even though they are POSTs (and store the user's own
# conversation): a read-only token may do these and nothing else that is unsafe.
READ_ONLY_POSTS = ("search", "chat", "conversations")


def token_for(raw: str) -> ApiToken | None:
    """The active token with this secret, its user loaded and carrying it (see accounts.access)."""
    found = (
        ApiToken.objects.select_related("user")
        .filter(token_hash=token_hash(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if found is None:
        return None
    ApiToken.objects.filter(pk=found.pk).update(last_used_at=timezone.now())
    # The narrowing travels with the user object, so every access selector applies it.
    found.user.api_token = found  # type: ignore[attr-defined]
    return found


def token_authenticate(raw: str, *, request: HttpRequest) -> ApiToken | None:
    """`token_for(raw)`, counting an unknown token against the client's address; LimitExceeded
    (429) once the address has sent too many (accounts.limits.token_auth_check)."""
    token_auth_check(request=request)
    found = token_for(raw)
    if found is None:
        token_auth_failed(request=request)
    return found


def read_only_allows(request: HttpRequest) -> bool:
    if request.method in SAFE_METHODS:
        return True
    root = reverse("api:api-root")
    return request.method == "POST" and request.path in {root + name for name in READ_ONLY_POSTS}


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        found = token_authenticate(token, request=request)
        if found is None:
            return None
        if found.read_only and not read_only_allows(request):
            raise HttpError(403, READ_ONLY_REFUSAL)
        request.user = found.user
        request.api_token = found  # type: ignore[attr-defined]
        log_bind(user_id=found.user.pk)  # the session's user is bound by config.logging's middleware
        return found.user


class SignedInSessionAuth(SessionAuth):
    """The browser's session, with CSRF enforced on unsafe methods (SessionAuth's default) only
    for a signed-in user: a request without credentials is answered 401, not 403 "CSRF check
    Failed" (there is no session for a forged request to ride on)."""

    def _get_key(self, request: HttpRequest) -> str | None:
        if not request.user.is_authenticated:
            return None
        return super()._get_key(request)


api_auth = [TokenAuth(), SignedInSessionAuth()]


def user_of(request: HttpRequest) -> User:
    """The signed-in user of a request that passed authentication (login_required, or the API's
    session or token auth); PermissionDenied for an anonymous one, which those never let through."""
    user = request.user
    if not isinstance(user, User) or not user.is_authenticated:
        raise PermissionDenied("Sign in first.")
    return user
