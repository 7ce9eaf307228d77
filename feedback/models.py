"""Votes and implicit signals on answers (the start of the data flywheel)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Vote(models.Model):
    class Rating(models.TextChoices):
        UP = "up"
        DOWN = "down"

    class Reason(models.TextChoices):
        WRONG_ANSWER = "wrong_answer"
        WRONG_SOURCE = "wrong_source"
        MISSING_SOURCE = "missing_source"
        INCOMPLETE = "incomplete"
        OUTDATED = "outdated"
        UNSAFE = "unsafe"
        OTHER = "other"

    answer = models.ForeignKey("chat.Answer", on_delete=models.CASCADE, related_name="votes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="votes")
    rating = models.CharField(max_length=4, choices=Rating.choices)
    reasons = models.JSONField(default=list, blank=True)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["answer", "user"], name="one_vote_per_user_per_answer")]
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return f"{self.rating} on answer {self.answer_id} by {self.user}"


class AnswerEvent(models.Model):
    class Type(models.TextChoices):
        CITATION_OPENED = "citation_opened"
        COPIED = "copied"
        REGENERATED = "regenerated"
        REPHRASED = "rephrased"

    answer = models.ForeignKey("chat.Answer", on_delete=models.CASCADE, related_name="events")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="answer_events")
    type = models.CharField(max_length=20, choices=Type.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]


class Review(models.Model):
    """A staff reviewer's judgement of one answer: a labelled example for exports and the golden set.

    One current review per answer (a re-review replaces it)."""

    class Verdict(models.TextChoices):
        CORRECT = "correct", "Correct as given"
        CORRECTED = "corrected", "Corrected (the reviewer wrote the right answer)"
        WRONG = "wrong", "Wrong (no correction written)"

    answer = models.OneToOneField("chat.Answer", on_delete=models.CASCADE, related_name="review")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="reviews")
    verdict = models.CharField(max_length=16, choices=Verdict.choices)
    # The answer is not in the documents: the right behaviour was to abstain.
    not_in_documents = models.BooleanField(default=False)
    corrected_answer = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return f"{self.verdict} review of answer {self.answer_id}"


class ReviewLabel(models.Model):
    """A right source: a quoted span of a document's parsed text, not a chunk id, so the label
    survives re-chunking and re-embedding. When the document is deleted the quote is erased and
    `document` becomes null (the label then says only that its source was deleted)."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="labels")
    document = models.ForeignKey("ingestion.Document", null=True, on_delete=models.SET_NULL, related_name="+")
    quote = models.TextField()
    # The quote's place in Document.parsed_text: parsed_text[char_start:char_end] == quote.
    char_start = models.PositiveIntegerField()
    char_end = models.PositiveIntegerField()

    class Meta:
        ordering = ["review_id", "id"]

    @property
    def source_deleted(self) -> bool:
        return self.document_id is None
