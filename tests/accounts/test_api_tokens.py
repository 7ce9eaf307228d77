from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from accounts.models import ApiToken

pytestmark = pytest.mark.django_db


def _create_token(username: str) -> str:
    out = StringIO()
    call_command("create_api_token", username, stdout=out, stderr=StringIO())
    return out.getvalue().strip().splitlines()[-1]


def test_create_api_token_prints_the_bare_token_and_stores_only_a_hash(owner):
    raw = _create_token("owner")
    stored = ApiToken.objects.get(user=owner)
    assert raw.startswith("fn_") and len(raw) > 30
    assert stored.token_hash != raw and raw not in stored.token_hash
    response = Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/documents")
    assert response.status_code == 200


def test_it_rejects_a_wrong_or_missing_token(owner):
    _create_token("owner")
    assert Client(HTTP_AUTHORIZATION="Bearer fn_not-a-real-token").get("/api/v1/documents").status_code == 401
    assert Client().get("/api/v1/documents").status_code == 401


def test_revoked_token_stops_working(owner):
    raw = _create_token("owner")
    call_command("create_api_token", revoke=raw[:9], stdout=StringIO())
    assert Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/documents").status_code == 401


def test_revoke_needs_a_matching_prefix(owner):
    with pytest.raises(CommandError):
        call_command("create_api_token", revoke="fn_nothing", stdout=StringIO())


def test_unknown_user_is_an_error():
    with pytest.raises(CommandError, match="no user"):
        call_command("create_api_token", "nobody", stdout=StringIO())


def test_session_requests_need_csrf_on_unsafe_methods(browser_client):
    assert browser_client.get("/api/v1/documents").status_code == 200
    response = browser_client.post("/api/v1/documents", {})
    assert response.status_code == 403


def test_first_superuser_is_created_once(settings, django_user_model):
    from accounts.services import admin_ensure

    settings.ADMIN_PASSWORD = "chosen-password-123"
    assert admin_ensure(stdout=StringIO()) is None
    admin = django_user_model.objects.get(username="admin")
    assert admin.is_superuser and admin.check_password("chosen-password-123")
    admin_ensure(stdout=StringIO())
    assert django_user_model.objects.filter(username="admin").count() == 1
