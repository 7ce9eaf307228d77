"""Sign-in events from django.contrib.auth: written to the audit log and counted by the sign-in
throttle (connected in apps.py)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from accounts.audit import Action, audit_record
from accounts.limits import sign_in_failed, sign_in_succeeded


def on_user_logged_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    audit_record(action=Action.SIGN_IN, actor=user, target=user, request=request)
    sign_in_succeeded(username=user.get_username(), request=request)


def on_user_login_failed(sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any) -> None:
    # `credentials` arrives with the password already masked by Django; keep only the username.
    username = str(credentials.get("username", ""))[:150]
    audit_record(action=Action.SIGN_IN_FAILED, request=request, username=username)
    sign_in_failed(username=username, request=request)
