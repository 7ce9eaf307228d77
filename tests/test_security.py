from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest
from django.test import Client

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.django_db


def test_pages_carry_a_content_security_policy_without_inline_scripts(browser_client):
    response = browser_client.get("/documents/")
    policy = response.headers["Content-Security-Policy"]
    script_src = next(part for part in policy.split(";") if part.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src and "http" not in script_src
    assert "img-src 'self' data:" in policy  # no remote images
    assert b"<script>" not in response.content  # scripts come from files


def test_pages_need_sign_in():
    response = Client().get("/documents/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_check_deploy_is_clean_with_production_settings():
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_ALLOW_ASYNC_UNSAFE", "FOOTNOTE_EMBEDDED_DB", "HTTPS")}
    env.update(
        DATABASE_URL="postgres://footnote:secret@db.invalid:5432/footnote",
        SECRET_KEY=secrets.token_urlsafe(60),
        DEBUG="false",
        ALLOWED_HOSTS="footnote.example.com",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "FOOTNOTE_EMBEDDED_DB")}
    env.update(DATABASE_URL="postgres://footnote:secret@db.invalid:5432/footnote", DEBUG="false")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0 and "SECRET_KEY is required" in result.stderr
