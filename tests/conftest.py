"""Shared fixtures: personas, authenticated clients, isolated storage, a real worker process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from accounts.services import api_token_create

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _isolated_storage(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "storage"


@pytest.fixture(autouse=True)
def _fresh_limit_counters(settings, request):  # type: ignore[no-untyped-def]
    """Rate-limit counters start empty in every test: a cache of the test's own (in-process is
    enough here; tests/accounts/test_limits.py exercises the database cache and Redis)."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": request.node.nodeid}}


@pytest.fixture
def owner(django_user_model):  # type: ignore[no-untyped-def]
    return django_user_model.objects.create_user(username="owner", password="owner-password-1")


@pytest.fixture
def member(django_user_model):  # type: ignore[no-untyped-def]
    return django_user_model.objects.create_user(username="member", password="member-password-1")


@pytest.fixture
def staff(django_user_model):  # type: ignore[no-untyped-def]
    return django_user_model.objects.create_user(username="staff", password="staff-password-1", is_staff=True)


def bearer_client(user) -> Client:  # type: ignore[no-untyped-def]
    _, raw = api_token_create(user=user, name="tests")
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


@pytest.fixture
def api(owner) -> Client:  # type: ignore[no-untyped-def]
    """A script's client: bearer token of `owner`."""
    return bearer_client(owner)


@pytest.fixture
def browser_client(owner) -> Client:  # type: ignore[no-untyped-def]
    """A browser's client: session of `owner`, CSRF checks enforced."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    return client


def wait_for(predicate, *, timeout: float = 120.0, interval: float = 0.5, message: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {message}")


class WorkerProcess:
    """A real `celery worker` process on the test database."""

    def __init__(self, *, broker_url: str | None = None) -> None:
        env = dict(os.environ)
        env["EMBEDDED_DATABASE_NAME"] = settings.DATABASES["default"]["NAME"]
        env["FOOTNOTE_VAR_DIR"] = str(settings.VAR_DIR)
        env["STORAGE_DIR"] = str(settings.MEDIA_ROOT)
        if not settings.EMBEDDED_DB:
            env["DATABASE_URL"] = _test_database_url()
        if broker_url:
            env["CELERY_BROKER_URL"] = broker_url
        self.log_path = Path(settings.MEDIA_ROOT).parent / "worker.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "prefork",
             "--concurrency", "1", "--loglevel", "INFO", "--without-heartbeat", "--without-gossip", "--without-mingle"],
            cwd=PROJECT_ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()


def _test_database_url() -> str:
    db = settings.DATABASES["default"]
    return f"postgresql://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture
def worker_process(transactional_db) -> Iterator[WorkerProcess]:  # type: ignore[no-untyped-def]
    """Start a real Celery worker (filesystem broker of the tests) for one test."""
    for sub in ("in", "processed"):
        folder = settings.BROKER_DIR / sub
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*"):
            stale.unlink()
    worker = WorkerProcess()
    yield worker
    worker.stop()


@pytest.fixture
def sync_orm_beside_playwright(monkeypatch):  # type: ignore[no-untyped-def]
    """Playwright's sync API runs an event loop in the test's thread; the test's own ORM calls are
    still synchronous, so Django's async-safety guard is lifted for that test only."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
