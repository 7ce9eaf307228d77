"""Forms of the staff review pages: the vote list's filters and the review of one answer."""

from __future__ import annotations

from typing import Any

from django import forms

from feedback.models import Review, Vote
from feedback.selectors import PassageView, VoteFilters
from feedback.services import ReviewSource
from ingestion.models import Chunk


class VoteFilterForm(forms.Form):
    rating = forms.ChoiceField(choices=[("", "any rating"), *Vote.Rating.choices], required=False)
    reason = forms.ChoiceField(choices=[("", "any reason"), *Vote.Reason.choices], required=False)
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    user = forms.CharField(required=False, widget=forms.TextInput(attrs={"placeholder": "username"}))
    document = forms.IntegerField(required=False, min_value=1, widget=forms.NumberInput(attrs={"placeholder": "document id"}))
    backend = forms.CharField(required=False, widget=forms.TextInput(attrs={"placeholder": "backend"}))
    q = forms.CharField(required=False, widget=forms.TextInput(attrs={"placeholder": "search question, answer, comment"}))

    def filters(self) -> VoteFilters:
        data = self.cleaned_data if self.is_valid() else {}
        return VoteFilters(rating=data.get("rating", ""), reason=data.get("reason", ""),
                           date_from=data.get("date_from"), date_to=data.get("date_to"),
                           user=data.get("user", "").strip(), document_id=data.get("document"),
                           backend=data.get("backend", "").strip(), search=data.get("q", "").strip())


class ReviewForm(forms.Form):
    """Verdict, "not in the documents", the corrected answer, and per passage a quoted span (or
    the whole passage) that is a right source."""

    verdict = forms.ChoiceField(choices=Review.Verdict.choices, widget=forms.RadioSelect)
    not_in_documents = forms.BooleanField(required=False, label="The answer is not in the documents")
    corrected_answer = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args: Any, passages: list[PassageView], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.passages = [p for p in passages if p.text and p.document_id is not None and not p.source_deleted]
        for p in self.passages:
            self.fields[f"whole_{p.chunk_id}"] = forms.BooleanField(required=False, label="whole passage")
            self.fields[f"quote_{p.chunk_id}"] = forms.CharField(
                required=False, strip=False, label="quote", widget=forms.Textarea(attrs={"rows": 2, "class": "quote"}))

    def passage_fields(self) -> list[tuple[PassageView, forms.BoundField, forms.BoundField]]:
        return [(p, self[f"whole_{p.chunk_id}"], self[f"quote_{p.chunk_id}"]) for p in self.passages]

    def sources(self) -> list[ReviewSource]:
        """The marked spans as ReviewSources, pinned to the passage's place in the document when
        the chunk still exists (a quote that occurs twice then means the passage's occurrence)."""
        found = []
        chunks = {c.id: c for c in Chunk.objects.filter(id__in=[p.chunk_id for p in self.passages])
                  .select_related("document").only("id", "char_start", "document__parsed_text")}
        for p in self.passages:
            quote = p.text.strip() if self.cleaned_data.get(f"whole_{p.chunk_id}") else self.cleaned_data.get(f"quote_{p.chunk_id}", "").strip()
            if not quote:
                continue
            offset = p.text.find(quote)
            if offset < 0:
                raise forms.ValidationError(f"The quote for passage {p.filename} is not verbatim in that passage.")
            assert p.document_id is not None  # a deleted source's passage has no text to quote
            chunk = chunks.get(p.chunk_id)
            pin: int | None = None
            if chunk is not None:
                start = chunk.char_start + offset
                pin = start if chunk.document.parsed_text[start:start + len(quote)] == quote else None
            found.append(ReviewSource(document_id=p.document_id, quote=quote, char_start=pin))
        return found
