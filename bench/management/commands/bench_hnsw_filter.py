"""A small collection inside a large table: its own HNSW index, or one shared with iterative scans?

    python manage.py bench_hnsw_filter --sources $DATA/scifact $DATA/covid-qa --collection latency-100000 \
        --small 1000 [--queries 100]

Runs in the benchmark database of bench_retrieval_latency (footnote_bench), whose collection
`--collection` is the large one; the small one is copied from it. Prints a table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bench.database import check_database_name, separate_database
from bench.hnsw_filter import chunk_count, format_filter_table, hnsw_filter_measure, small_collection_copy
from bench.latency import questions_load
from ingestion.embedding import get_embedder
from ingestion.models import Collection


class Command(BaseCommand):
    help = "Compare a small collection's own HNSW index with one shared with a large collection (pgvector 0.8 iterative scans)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sources", nargs="+", required=True, type=Path, help="folders with the questions (queries.jsonl / qa-*.jsonl)")
        parser.add_argument("--collection", default="latency-100000", help="the large collection")
        parser.add_argument("--small", type=int, default=1000, help="chunks of the small collection")
        parser.add_argument("--queries", type=int, default=100)
        parser.add_argument("--k", type=int, default=10)
        parser.add_argument("--seed", type=int, default=13)
        parser.add_argument("--database", default="footnote_bench")

    def handle(self, *args: Any, **options: Any) -> None:
        questions = questions_load(options["sources"], count=options["queries"], seed=options["seed"])
        embedder = get_embedder()
        queries = [embedder.embed_query(q) for q in questions]
        with separate_database(check_database_name(options["database"])):
            large = Collection.objects.filter(slug=options["collection"]).first()
            if large is None:
                raise CommandError(f"no collection {options['collection']!r}: build it with bench_retrieval_latency first")
            small = small_collection_copy(large, count=options["small"], seed=options["seed"])
            self.stdout.write(f"large: {large.slug} ({chunk_count(large)} chunks); small: {small.slug} ({chunk_count(small)})")
            results = hnsw_filter_measure(large, small, queries, k=options["k"], log=self.stdout.write)
        self.stdout.write(format_filter_table(results, k=options["k"]))
