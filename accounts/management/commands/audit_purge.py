from __future__ import annotations

import datetime
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils import timezone

from accounts.audit import audit_purge
from config.commands import AppCommand


class Command(AppCommand):
    help = "Delete audit rows older than --days (a retention policy; the only way rows ever leave the log)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, required=True, help="keep this many days of the audit log")

    def handle(self, *args: Any, days: int, **options: Any) -> None:
        if days < 1:
            raise CommandError("--days must be at least 1")
        deleted = audit_purge(before=timezone.now() - datetime.timedelta(days=days))
        self.stdout.write(f"Deleted {deleted} audit rows older than {days} days.")
