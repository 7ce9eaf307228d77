from __future__ import annotations

from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    name = "feedback"

    def ready(self) -> None:
        # Imported here: app modules that touch models load only once the app registry is ready.
        from feedback.ranking import LearnedFeedback
        from retrieval.feedback_port import ranking_feedback_register

        ranking_feedback_register(LearnedFeedback())
