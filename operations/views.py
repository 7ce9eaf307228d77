"""The staff page "Operations": how the system did over the last 24 hours and 30 days."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from feedback import charts
from feedback.views import staff_required
from operations import selectors


@staff_required
def operations(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    day, month = now - dt.timedelta(hours=24), now - dt.timedelta(days=30)
    daily = selectors.days(now - dt.timedelta(days=29))
    tokens = selectors.tokens_per_day(month)
    return render(request, "operations/operations.html", {
        "latency": list(zip(selectors.stage_latency(day), selectors.stage_latency(month))),
        "tokens": charts.count_bars([(f"{d.isoformat()} {backend}", n) for d, backend, n in tokens]),
        "tokens_total": sum(n for *_, n in tokens),
        "budget": settings.LLM_DAILY_TOKEN_BUDGET,
        "peak_user_tokens": selectors.peak_user_tokens(month),
        "up_rate": charts.rate_bars([(d.day.isoformat(), d.up, d.up + d.down) for d in daily]),
        "abstention": charts.share_bars([(d.day.isoformat(), d.abstained, d.answers) for d in daily], "abstained"),
        "failures": charts.count_bars(selectors.failure_reasons(month)),
        "gaps": selectors.content_gaps(month),
    })
