"""The BM25 index query alone at several depths (top k) and question lengths, on one collection:

    python manage.py bench_bm25_depth --sources $DATA/scifact $DATA/covid-qa --collection latency-1000000 \
        [--depths 100 50 20 10] [--queries 200] [--engine pg_textsearch]

Runs in the benchmark database of bench_retrieval_latency (footnote_bench). Prints a table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bench.bm25_depth import bm25_depth_measure, format_depth_table
from bench.database import check_database_name, separate_database
from bench.latency import questions_load
from ingestion.keyword_index import PG_TEXTSEARCH, SQL
from ingestion.models import Collection

WARMUP = 10


class Command(BaseCommand):
    help = "Time the BM25 index query alone at several depths and question lengths on one benchmark collection."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sources", nargs="+", required=True, type=Path, help="folders with the questions (queries.jsonl / qa-*.jsonl)")
        parser.add_argument("--collection", default="latency-1000000")
        parser.add_argument("--depths", nargs="+", type=int, default=[100, 50, 20, 10])
        parser.add_argument("--queries", type=int, default=200)
        parser.add_argument("--seed", type=int, default=13)
        parser.add_argument("--engine", choices=[PG_TEXTSEARCH, SQL], help="default: the database's engine")
        parser.add_argument("--database", default="footnote_bench")

    def handle(self, *args: Any, **options: Any) -> None:
        questions = questions_load(options["sources"], count=options["queries"] + WARMUP, seed=options["seed"])
        with separate_database(check_database_name(options["database"])):
            collection = Collection.objects.filter(slug=options["collection"]).first()
            if collection is None:
                raise CommandError(f"no collection {options['collection']!r}: build it with bench_retrieval_latency first")
            result = bm25_depth_measure(collection.id, questions, depths=options["depths"], warmup=WARMUP,
                                        engine=options["engine"])
        self.stdout.write(f"{collection.slug}, engine {result['engine']}, {len(questions) - WARMUP} questions")
        self.stdout.write(format_depth_table(result))
