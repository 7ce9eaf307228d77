"""Staff review pages: a dashboard with charts, the filterable vote list, and one answer's detail
with the review form. Everything users wrote is rendered through Django's autoescaping."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from chat.models import Answer
from chat.selectors import answer_trace
from feedback import charts
from feedback.forms import ReviewForm, VoteFilterForm
from feedback.models import Review
from feedback.selectors import PassageView, answer_passages, dashboard_data, vote_list
from feedback.services import review_submit


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous visitors go to the sign-in page; signed-in users who are not staff get 403."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_staff:
            raise PermissionDenied("Staff only.")
        return view(request, *args, **kwargs)

    return wrapper


# The thumbs-up rate charts: (heading, what each row is, the dashboard data's key).
RATE_CHARTS = [
    ("By backend", "each row is the backend that answered (extractive, openai, local)", "by_backend"),
    ("By prompt", "each row is the prompt's name and version the answer was made with", "by_prompt"),
    ("By collection", "each row is the collection (slug) the question was asked in", "by_collection"),
]


@staff_required
def dashboard(request: HttpRequest) -> HttpResponse:
    days = request.GET.get("days", "30")
    # isdigit() alone accepts "²", which int() refuses.
    data = dashboard_data(days=min(max(int(days), 1), 365) if days.isascii() and days.isdigit() else 30)
    return render(request, "feedback/dashboard.html", {
        "data": data,
        "timeline": charts.timeline(data["timeline"]),
        "rates": [(title, what, charts.rate_bars(data[key])) for title, what, key in RATE_CHARTS],
        "reasons": charts.count_bars(data["reasons"]),
    })


@staff_required
def vote_list_page(request: HttpRequest) -> HttpResponse:
    form = VoteFilterForm(request.GET or None)
    page = Paginator(vote_list(filters=form.filters()), 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "feedback/votes.html", {"form": form, "page": page, "query": query.urlencode()})


@staff_required
def answer_detail(request: HttpRequest, answer_id: int) -> HttpResponse:
    answer = get_object_or_404(Answer.objects.select_related("conversation__collection", "conversation__owner"),
                               pk=answer_id)
    passages = answer_passages(answer)
    review = Review.objects.filter(answer=answer).prefetch_related("labels__document").first()
    form = ReviewForm(request.POST or None, passages=passages, initial=_initial(review, passages))
    if request.method == "POST" and form.is_valid():
        try:
            review_submit(answer=answer, reviewer=request.user, verdict=form.cleaned_data["verdict"],
                          sources=form.sources(), not_in_documents=form.cleaned_data["not_in_documents"],
                          corrected_answer=form.cleaned_data["corrected_answer"])
            return redirect(f"{request.path}?saved=1")
        except ValidationError as exc:
            form.add_error(None, exc)
    others = [p for p in passages if not p.cited]
    return render(request, "feedback/answer.html", {
        "answer": answer, "trace": answer_trace(answer), "passages": passages,
        "cited": [p for p in passages if p.cited], "others": others, "unfolded": _unfolded(form, others),
        "votes": answer.votes.select_related("user"),
        "events": answer.events.select_related("user"), "review": review, "form": form,
        "saved": "saved" in request.GET,
    })


def _initial(review: Review | None, passages: list[PassageView]) -> dict[str, Any]:
    """The current review, with each label's quote in the box of the passage that holds it (so
    saving again keeps the labels)."""
    if review is None:
        return {}
    initial: dict[str, Any] = {"verdict": review.verdict, "not_in_documents": review.not_in_documents,
                               "corrected_answer": review.corrected_answer}
    for label in review.labels.all():
        holder = next((p for p in passages if p.document_id == label.document_id and label.quote
                       and label.quote in p.text and f"quote_{p.chunk_id}" not in initial), None)
        if holder is not None:
            initial[f"quote_{holder.chunk_id}"] = label.quote
    return initial


def _unfolded(form: ReviewForm, passages: list[PassageView]) -> set[int]:
    """The uncited passages shown open all the same: those with a quote or a mark on the form
    (the current review's, or one just refused), so nothing the reviewer wrote is folded away."""
    marked = set()
    for p, whole, quote in form.passage_fields():
        if whole.value() or (quote.value() or "").strip() or whole.errors or quote.errors:
            marked.add(p.chunk_id)
    return marked & {p.chunk_id for p in passages}
