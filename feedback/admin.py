"""Votes, events and reviews in the Django admin: filter by rating, reason, date, backend; the
answer, its citations and trace are shown escaped (Django admin never renders stored text as HTML).
Reviews are written on the review pages (/review/answers/<id>/), which check every quote."""

from __future__ import annotations

from django.contrib import admin

from feedback.models import AnswerEvent, Review, ReviewLabel, Vote


@admin.register(Vote)
class VoteAdmin(admin.ModelAdmin):
    list_display = ("answer", "rating", "reasons", "user", "backend", "updated_at")
    list_filter = ("rating", "updated_at", "answer__backend", "answer__conversation__collection")
    search_fields = ("comment", "answer__question", "answer__answer", "user__username")
    readonly_fields = ("answer", "user", "rating", "reasons", "comment", "question", "answer_text", "citations", "trace",
                       "created_at", "updated_at")
    exclude = ()

    @admin.display(description="backend")
    def backend(self, vote: Vote) -> str:
        return vote.answer.backend

    def question(self, vote: Vote) -> str:
        return vote.answer.question

    def answer_text(self, vote: Vote) -> str:
        return vote.answer.answer

    def citations(self, vote: Vote) -> object:
        return vote.answer.citations

    def trace(self, vote: Vote) -> object:
        return vote.answer.trace


@admin.register(AnswerEvent)
class AnswerEventAdmin(admin.ModelAdmin):
    list_display = ("answer", "type", "user", "created_at")
    list_filter = ("type", "created_at")


class ReviewLabelInline(admin.TabularInline):
    model = ReviewLabel
    fields = readonly_fields = ("document", "quote", "char_start", "char_end")
    extra = 0
    can_delete = False


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ("answer", "verdict", "not_in_documents", "reviewer", "updated_at")
    list_filter = ("verdict", "not_in_documents", "updated_at")
    readonly_fields = ("answer", "reviewer", "verdict", "not_in_documents", "corrected_answer", "created_at", "updated_at")
    inlines = [ReviewLabelInline]

    def has_add_permission(self, request: object) -> bool:
        return False
