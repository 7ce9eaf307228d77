"""The project's URLs plus views that fail on purpose (tests/test_bad_requests.py)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path

from config.urls import handler400, handler403, handler404, handler500
from config.urls import urlpatterns as project_urlpatterns

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug the tests put here")


urlpatterns = [path("api/v1/test-boom", boom), path("test-boom/", boom), *project_urlpatterns]
