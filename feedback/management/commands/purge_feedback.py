from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import CommandParser

from config.commands import AppCommand
from feedback.services import feedback_purge


class Command(AppCommand):
    help = "Delete feedback and empty answer traces older than FEEDBACK_RETENTION_DAYS (0 keeps all)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, help="override FEEDBACK_RETENTION_DAYS")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"] if options["days"] is not None else settings.FEEDBACK_RETENTION_DAYS
        counts = feedback_purge(older_than_days=days)
        self.stdout.write(", ".join(f"{n} {what}" for what, n in counts.items()) + f" purged (retention {days} days)")
