from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from config.commands import AppCommand
from ingestion.keyword_index import (
    PG_TEXTSEARCH,
    SQL,
    engine_status,
    engine_switch,
    keyword_index_exists,
    keyword_indexes_repair,
)
from ingestion.models import Collection


class Command(AppCommand):
    help = (
        "Show or switch the BM25 keyword engine of this database: pg_textsearch (a bm25 index per collection, "
        "fast at millions of chunks) or sql (postings tables, for a PostgreSQL without the extension). "
        "Switching builds what the new engine needs from what the old one kept, in one transaction."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("engine", nargs="?", choices=[PG_TEXTSEARCH, SQL], help="switch to this engine")
        parser.add_argument("--repair", action="store_true",
                            help="rebuild the bm25 indexes that find none of their own words (the worker does it every minute)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["repair"]:
            repaired = keyword_indexes_repair()
            self.stdout.write(f"rebuilt the bm25 index of {', '.join(repaired)}" if repaired
                              else "every bm25 index finds its own words: nothing to rebuild")
            return
        if options["engine"]:
            try:
                summary = engine_switch(options["engine"])
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(f"BM25 engine is now {options['engine']}: {summary}.")
            return
        status = engine_status()
        line = f"BM25 engine: {status['engine']} ({status['status']})"
        self.stdout.write(line + (f": {status['reason']}" if status["reason"] else ""))
        if status["engine"] == PG_TEXTSEARCH:
            missing = [c.slug for c in Collection.objects.order_by("id") if not keyword_index_exists(c.id)]
            if missing:
                self.stdout.write(f"collections without their bm25 index: {', '.join(missing)}")
