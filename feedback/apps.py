from __future__ import annotations

from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    name = "feedback"

    def ready(self) -> None:
        # Imported here, not at module level: these modules need the app registry ready.
        from feedback.ranking import LearnedFeedback
        from feedback.services import feedback_retention_apply, review_labels_forget_document
        from ingestion.hooks import PeriodicJob, document_forgetter_register, periodic_register
        from retrieval.feedback_port import ranking_feedback_register

        # A deleted document's quotes go from review labels too (ingestion.hooks).
        document_forgetter_register(
            "feedback.review_labels", lambda document_id: review_labels_forget_document(document_id=document_id)
        )
        # Retention (FEEDBACK_RETENTION_DAYS) needs no separate scheduler: every ingestion worker
        # runs the purge hourly; it is idempotent, so several workers do no harm.
        periodic_register(PeriodicJob(name="feedback.retention", every_seconds=3600, run=feedback_retention_apply))
        # Search asks feedback for learned tuning and ranking signals through this port.
        ranking_feedback_register(LearnedFeedback())
