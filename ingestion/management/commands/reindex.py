from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from config.commands import AppCommand
from ingestion.embedding import get_embedder
from ingestion.models import Collection
from ingestion.reindex import (
    DEFAULT_BATCH_SIZE,
    ReindexError,
    ReindexProgress,
    collection_reindex,
    collection_reindex_plan,
)

PROGRESS_EVERY_SECONDS = 5.0


class Command(AppCommand):
    help = (
        "Re-embed the chunks of collections indexed with another embedding model or backend than the configured "
        "one (EMBEDDING_MODEL, EMBEDDING_BACKEND). Resumable: an interrupted run continues where it stopped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--collection", action="append", metavar="SLUG", help="a collection (repeatable)")
        which.add_argument("--all", action="store_true", help="every collection")
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                            help=f"chunks embedded and written per transaction (default {DEFAULT_BATCH_SIZE})")
        parser.add_argument("--dry-run", action="store_true", help="say what would be re-embedded, change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        collections = self._collections(options["collection"])
        embedder = get_embedder()
        self.stdout.write(f"Configured embedder: {embedder.label}")
        for collection in collections:
            plan = collection_reindex_plan(collection=collection, label=embedder.label)
            if plan is None:
                self.stdout.write(f"{collection.slug}: up to date ({collection.embedding_model or 'no chunks yet'})")
                continue
            resumed = f", resuming after {plan.done} done" if plan.done else ""
            verb = "would re-embed" if options["dry_run"] else "re-embedding"
            self.stdout.write(
                f"{collection.slug}: {verb} {plan.remaining} of {plan.chunks} chunks "
                f"from '{plan.from_label}' to '{plan.to_label}'{resumed}"
            )
            if options["dry_run"]:
                continue
            self._printed_at = 0.0
            try:
                collection_reindex(collection=collection, embedder=embedder, batch_size=options["batch_size"],
                                   on_progress=self._progress)
            except ReindexError as exc:
                raise CommandError(f"{collection.slug}: {exc}") from None
            self.stdout.write(f"{collection.slug}: done, now '{embedder.label}'")

    _printed_at = 0.0

    def _collections(self, slugs: list[str] | None) -> list[Collection]:
        if slugs is None:
            return list(Collection.objects.order_by("slug"))
        found = {c.slug: c for c in Collection.objects.filter(slug__in=slugs)}
        missing = [s for s in slugs if s not in found]
        if missing:
            raise CommandError(f"no collection {', '.join(missing)}")
        return [found[s] for s in dict.fromkeys(slugs)]

    def _progress(self, progress: ReindexProgress) -> None:
        # A line every few seconds (and the last one), not one per batch.
        if progress.seconds - self._printed_at < PROGRESS_EVERY_SECONDS and progress.done < progress.total:
            return
        self._printed_at = progress.seconds
        self.stdout.write(f"  {progress.slug}: {progress.done}/{progress.total} chunks ({progress.rate:.1f} chunks/s)")
