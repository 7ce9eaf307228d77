"""The project's NinjaAPI: one router per app, mounted under /api/v1."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.utils.datastructures import MultiValueDict
from ninja import NinjaAPI
from ninja.errors import HttpError
from ninja.openapi.schema import OpenAPISchema
from ninja.parser import Parser

from accounts.api import router as accounts_router
from accounts.auth import api_auth
from accounts.inputs import BadInput, check_text, json_loads_checked
from accounts.limits import LimitExceeded
from accounts.middleware import limit_response
from chat.api import router as chat_router
from chat.openai_schema import openai_paths_add
from config.health import router as health_router
from feedback.api import router as feedback_router
from ingestion.api import router as ingestion_router
from retrieval.api import router as retrieval_router


class CheckedParser(Parser):
    """Ninja's parser with accounts.inputs' checks: JSON bodies of bounded nesting, and no text in
    the body, the query or the form that PostgreSQL could not store (400 with the field named)."""

    def parse_body(self, request: HttpRequest) -> Any:
        # Ninja answers any failure here "Cannot parse request body" (an HttpError raised from it):
        # _http_error below puts the BadInput's reason back.
        return json_loads_checked(request.body)

    def parse_querydict(self, data: MultiValueDict, list_fields: list[str], request: HttpRequest) -> dict[str, Any]:
        for key, values in data.lists():
            check_text(key, field="parameter name")
            for value in values:
                if isinstance(value, str):
                    check_text(value, field=key)
        return super().parse_querydict(data, list_fields, request)




class FootnoteAPI(NinjaAPI):
    """The NinjaAPI whose schema also describes the OpenAI-compatible endpoints (plain views,
    see chat.openai_schema), so /api/v1/docs lists every endpoint a script may call."""

    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        openai_paths_add(schema)
        return schema


api = FootnoteAPI(
    title="Footnote API",
    version="1",
    description=(
        "Upload documents, search them and ask questions with cited answers. "
        "Scripts authenticate with `Authorization: Bearer <token>` "
        "(`python manage.py create_api_token USERNAME`); the browser uses its session "
        "and sends the CSRF token on unsafe methods."
    ),
    auth=api_auth,
    parser=CheckedParser(),
    urls_namespace="api",
)


@api.exception_handler(LimitExceeded)
def _limit_exceeded(request: HttpRequest, exc: LimitExceeded) -> HttpResponse:
    return limit_response(request, exc)


def _mount_routers() -> None:
    api.add_router("", health_router)
    api.add_router("", accounts_router)
    api.add_router("", ingestion_router)
    api.add_router("", retrieval_router)
    api.add_router("", chat_router)
    api.add_router("", feedback_router)


_mount_routers()


@api.exception_handler(PermissionDenied)
def _forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    # ingestion.access: the user may read the thing but not change it (what they may not read is a 404).
    return api.create_response(request, {"detail": str(exc) or "Forbidden."}, status=403)


@api.exception_handler(BadInput)
def _bad_input(request: HttpRequest, exc: BadInput) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc)}, status=400)


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    reason = exc.__cause__ if isinstance(exc.__cause__, BadInput) else exc
    return api.create_response(request, {"detail": str(reason)}, status=exc.status_code)
