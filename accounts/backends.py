from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from accounts.limits import sign_in_check


class ThrottledModelBackend(ModelBackend):
    """The usual username/password check, refused outright (LimitExceeded, answered 429) after
    too many failures for the username from the same address. Every password form (the sign-in
    page, the admin's) goes through here."""

    def authenticate(self, request: HttpRequest | None, username: str | None = None, password: str | None = None,
                     **kwargs: Any) -> Any:
        name = username if username is not None else kwargs.get(get_user_model().USERNAME_FIELD)
        if name is not None:
            sign_in_check(username=str(name), request=request)
        return super().authenticate(request, username=username, password=password, **kwargs)
