"""Votes, events and reviews in the Django admin: filter by rating, reason, date, backend; the
answer, its citations and trace are shown escaped (Django admin never renders stored text as HTML).
Reviews are written on the review pages (/review/answers/<id>/), which check every quote."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from chat.selectors import answer_trace
from feedback.models import AnswerEvent, LearnedRanking, RankingSignal, Review, ReviewLabel, Vote
from feedback.signals import ranking_signal_set


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
        return answer_trace(vote.answer).to_json()


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


class RankingSignalForm(forms.ModelForm):
    class Meta:
        model = RankingSignal
        fields = ("document", "chunk", "action", "note")

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        chunk, document = data.get("chunk"), data.get("document")
        if chunk is not None and document is not None and chunk.document_id != document.id:
            raise ValidationError("This chunk is not part of that document.")
        return data


@admin.register(RankingSignal)
class RankingSignalAdmin(admin.ModelAdmin):
    """Staff boost, demote or hide a document (leave chunk empty) or one of its chunks."""

    form = RankingSignalForm

    list_display = ("document", "chunk", "action", "set_by", "updated_at")
    list_filter = ("action", "document__collection")
    search_fields = ("document__original_filename", "note")
    raw_id_fields = ("document", "chunk")

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        obj.pk = ranking_signal_set(document=obj.document, chunk=obj.chunk, action=obj.action, note=obj.note,
                                    set_by=request.user).pk


@admin.register(LearnedRanking)
class LearnedRankingAdmin(admin.ModelAdmin):
    """What `manage.py learn_from_feedback` learned, and whether it won in cross-validation."""

    list_display = ("kind", "active", "examples", "trained_at")
    list_filter = ("kind", "active")
    readonly_fields = ("kind", "active", "params", "embedding_model", "examples", "metrics", "trained_at")
    exclude = ("matrix",)

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False
