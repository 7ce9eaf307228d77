"""Parse, chunk and embed documents again (`python manage.py reparse`), e.g. after tables began
to be written as self-describing rows: documents indexed before keep their old chunks until then.

    python manage.py reparse (--collection SLUG ... | --all) [--tables-only] [--dry-run]

The documents go through the worker's queue like uploads (ingestion.services.documents_reparse);
a Celery worker must be running to process them. Running it twice queues nothing twice.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db.models import QuerySet

from config.commands import AppCommand
from ingestion.models import Chunk, Collection, Document
from ingestion.services import documents_reparse


class Command(AppCommand):
    help = (
        "Queue indexed documents to be parsed, chunked and embedded again by the worker (after a parser or "
        "chunker change). Chunk-level ranking signals of those documents end with their old chunks."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--collection", action="append", metavar="SLUG", help="a collection (repeatable)")
        which.add_argument("--all", action="store_true", help="every collection")
        parser.add_argument("--tables-only", action="store_true",
                            help="only documents with at least one table chunk")
        parser.add_argument("--dry-run", action="store_true", help="say how many would be queued, change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        documents = self._documents(options["collection"], tables_only=options["tables_only"])
        if options["dry_run"]:
            count = documents.filter(status=Document.Status.INDEXED).count()
            self.stdout.write(f"would queue {count} indexed document(s)")
            return
        outcome = documents_reparse(documents=documents)
        self.stdout.write(f"queued {len(outcome.queued)} document(s) for re-parsing")
        if outcome.skipped:
            self.stdout.write(
                f"skipped {len(outcome.skipped)} document(s) of collections being re-indexed or indexed with "
                "another embedding model: run `manage.py reindex` first"
            )

    def _documents(self, slugs: list[str] | None, *, tables_only: bool) -> QuerySet[Document]:
        documents = Document.objects.all()
        if slugs is not None:
            found = set(Collection.objects.filter(slug__in=slugs).values_list("slug", flat=True))
            missing = [s for s in slugs if s not in found]
            if missing:
                raise CommandError(f"no collection {', '.join(missing)}")
            documents = documents.filter(collection__slug__in=slugs)
        if tables_only:
            documents = documents.filter(pk__in=Chunk.objects.filter(is_table=True).values("document_id"))
        return documents
