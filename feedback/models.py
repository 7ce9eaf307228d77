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
