from __future__ import annotations

from datetime import datetime

from ninja import Field, Schema


class ConversationIn(Schema):
    title: str = ""
    collection: str = "default"


class ConversationPatch(Schema):
    title: str = Field(..., max_length=200)


class CitationOut(Schema):
    n: int
    chunk_id: int
    document_id: int
    filename: str
    page: int | None
    quote: str
    start: int | None = Field(None, description="the quote's span [start, end) in the chunk's text")
    end: int | None = None
    passage: int | None = Field(None, description="the passage number the answerer cited")


class VoteOut(Schema):
    rating: str
    reasons: list[str]
    comment: str


class RelatedOut(Schema):
    n: int
    chunk_id: int
    document_id: int | None
    filename: str
    page: int | None
    excerpt: str


class AnswerOut(Schema):
    answer_id: int
    conversation_id: int
    question: str
    answer: str
    answer_html: str = Field(..., description="The answer's Markdown as sanitised HTML; [n] markers are button.cite[data-n]")
    backend: str
    model: str
    abstained: bool
    citations: list[CitationOut]
    created_at: datetime
    notice: str = ""  # e.g. why the language model did not answer (daily token budget used up)
    unsupported: list[str] = Field(default_factory=list, description="sentences no cited passage supports")
    # When the documents do not cover the question: the nearest passages, as reading, not citations.
    related: list[RelatedOut] = []
    vote: VoteOut | None = Field(None, description="your vote on it (in a conversation read back), if any")


class ConversationOut(Schema):
    id: int
    title: str
    collection: str
    source: str = Field(..., description="where it was started: browser (the chat page), api, or openai (/v1)")
    created_at: datetime
    updated_at: datetime


class ConversationDetailOut(ConversationOut):
    answers: list[AnswerOut]


class ChatIn(Schema):
    question: str = Field(..., min_length=1)
    conversation_id: int | None = None
    collection: str = "default"
    stream: bool = False
    backend: str | None = Field(None, description="staff only: openai | local | extractive (default: the configured "
                                "one); anyone else who names a backend gets 400")
    cache: bool = Field(True, description="false makes a fresh answer even when the same question was answered "
                                          "before with nothing changed since (Regenerate)")
