from __future__ import annotations

from typing import Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError

from feedback.services import answer_visible_to, event_record, feedback_record

router = Router(tags=["feedback"])


class FeedbackIn(Schema):
    rating: Literal["up", "down"] | None = Field(..., description='"up", "down", or null to withdraw the vote')
    reasons: list[Literal["wrong_answer", "wrong_source", "missing_source", "incomplete", "outdated", "unsafe", "other"]] = []
    comment: str = Field("", max_length=5000)


class FeedbackOut(Schema):
    answer_id: int
    rating: str | None
    reasons: list[str]
    comment: str


class EventIn(Schema):
    type: Literal["citation_opened", "copied", "regenerated"]


@router.post("/answers/{answer_id}/feedback", response=FeedbackOut, summary="Vote on an answer (null withdraws)")
def feedback(request: HttpRequest, answer_id: int, payload: FeedbackIn) -> dict[str, object]:
    answer = answer_visible_to(user=request.user, answer_id=answer_id)
    if answer is None:
        raise HttpError(404, "No such answer.")
    vote = feedback_record(user=request.user, answer=answer, rating=payload.rating, reasons=list(payload.reasons),
                           comment=payload.comment)
    return {"answer_id": answer.id, "rating": vote.rating if vote else None,
            "reasons": vote.reasons if vote else [], "comment": vote.comment if vote else ""}


@router.post("/answers/{answer_id}/events", response={201: dict}, summary="Record an implicit signal on an answer")
def events(request: HttpRequest, answer_id: int, payload: EventIn) -> Status:
    answer = answer_visible_to(user=request.user, answer_id=answer_id)
    if answer is None:
        raise HttpError(404, "No such answer.")
    event = event_record(user=request.user, answer=answer, type=payload.type)
    return Status(201, {"id": event.id, "type": event.type})


