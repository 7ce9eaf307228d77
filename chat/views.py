from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from chat.llm import configured_backend_name
from ingestion.access import collections_readable


@login_required
def chat_page(request: HttpRequest) -> HttpResponse:
    return render(request, "chat/chat.html", {"collections": collections_readable(request.user),
                                              "backend": configured_backend_name()})
