"""Conversations and answers; every answer keeps the trace of how it was made."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Conversation(models.Model):
    class Source(models.TextChoices):
        """Where a conversation was started: the chat page lists the browser's own and keeps the
        others (scripts, the OpenAI-compatible endpoint) apart."""

        BROWSER = "browser", "The chat page"
        API = "api", "The API"
        OPENAI = "openai", "The OpenAI-compatible endpoint"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations")
    title = models.CharField(max_length=200, blank=True)
    collection = models.ForeignKey("ingestion.Collection", on_delete=models.CASCADE, related_name="conversations")
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.API)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]

    def __str__(self) -> str:
        return self.title or f"Conversation {self.pk}"


class Answer(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="answers")
    question = models.TextField()
    standalone_query = models.TextField()
    answer = models.TextField(blank=True)
    backend = models.CharField(max_length=32)
    model = models.CharField(max_length=200, blank=True)
    abstained = models.BooleanField(default=False)
    # [{n, chunk_id, document_id, filename, page, quote}]
    citations = models.JSONField(default=list)
    # collection, retrieved chunks with every stage's score, passages given to the model (with
    # their text), prompt name and version, token counts, timings.
    trace = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Answer {self.pk} to {self.question[:40]!r}"
