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


# -- Ranking signals and what was learned from reviews (read by retrieval through feedback.selectors) --


class RankingSignal(models.Model):
    """A staff decision about a whole document (chunk empty) or one of its chunks: boost, demote, or
    hide it from every user's results (it stays indexed). A chunk-level signal ends when the
    document is re-indexed (its chunks are replaced); a document-level one stays."""

    class Action(models.TextChoices):
        BOOST = "boost"
        DEMOTE = "demote"
        HIDE = "hide"

    document = models.ForeignKey("ingestion.Document", on_delete=models.CASCADE, related_name="+")
    chunk = models.ForeignKey("ingestion.Chunk", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=8, choices=Action.choices)
    note = models.TextField(blank=True)
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["document"], condition=models.Q(chunk__isnull=True),
                                    name="one_signal_per_document"),
            models.UniqueConstraint(fields=["chunk"], condition=models.Q(chunk__isnull=False),
                                    name="one_signal_per_chunk"),
        ]

    def __str__(self) -> str:
        target = f"chunk {self.chunk_id} of " if self.chunk_id else ""
        return f"{self.action} {target}document {self.document_id}"


class SignalEvidence(models.Model):
    """One user's reviewed vote about a source: +1 for a source the reviewer marked right, -1 for a
    passage the answer used that the reviewer did not (from down-votes only). Rebuilt per answer
    whenever its review or votes change; `created_at` is the vote's time, where decay starts."""

    answer = models.ForeignKey("chat.Answer", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    document = models.ForeignKey("ingestion.Document", on_delete=models.CASCADE, related_name="+")
    chunk = models.ForeignKey("ingestion.Chunk", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    value = models.SmallIntegerField()
    created_at = models.DateTimeField()


class LearnedRanking(models.Model):
    """Parameters learned from reviewed feedback by `manage.py learn_from_feedback`. The newest row
    of each kind is the one in force; `active` False records a candidate that did not clearly
    beat the defaults on held-out labelled queries (search then uses the defaults)."""

    class Kind(models.TextChoices):
        FUSION = "fusion", "RRF weights per retriever"
        ADAPTER = "adapter", "Linear adapter on the query embedding"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    active = models.BooleanField(default=False)
    # fusion: {"bm25": w, "vector": w}; adapter: {"dimensions": n}
    params = models.JSONField(default=dict)
    # adapter: the n x n float32 matrix, row-major.
    matrix = models.BinaryField(null=True, blank=True)
    embedding_model = models.CharField(max_length=500, blank=True)
    examples = models.PositiveIntegerField()
    # nDCG@10 of the defaults and of the candidate in cross-validation, and why it was (not) kept.
    metrics = models.JSONField(default=dict)
    trained_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.kind} learned {self.trained_at:%Y-%m-%d %H:%M} ({'active' if self.active else 'inactive'})"
