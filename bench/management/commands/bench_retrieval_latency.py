"""Retrieval latency on synthetic corpora of real sentences, in a database of its own.

    python manage.py bench_retrieval_latency --sources $DATA/scifact $DATA/covid-qa \
        --chunks 10000 100000 [--queries 200] [--json FILE]

Builds (or resumes, or reuses) one collection per size in the database `--database`
(default footnote_bench, on the same PostgreSQL server, never the app's database), then times
bm25 (with each BM25 engine, `--engines`: pg_textsearch's bm25 index and the sql engine's
postings, both kept for the same chunks), vector and hybrid search and the reranking of 20
candidates with real questions.

$DATA: where you downloaded the datasets (docs/benchmarks.md, "Running them", says from where).
"""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from bench.database import check_database_name, database_drop, separate_database
from bench.latency import benchmark_rerankers, format_table, latency_measure, questions_load, summarise
from bench.synthetic_corpus import VECTOR_METHOD, corpus_file, synthetic_collection_build
from ingestion.keyword_index import (
    PG_TEXTSEARCH,
    SQL,
    engine_current,
    engine_record,
    engine_switch,
    textsearch_unavailable_reason,
)

WARMUP_QUERIES = 10
# Each sentence of the pool is embedded once with the real model; about 12k sentences take a few
# minutes on two cores, while all ~71k of SciFact + COVID-QA take half an hour on a busy machine.
DEFAULT_SENTENCES = 12_288


class Command(BaseCommand):
    help = "Time bm25, vector, hybrid search and reranking on synthetic corpora of N chunks (own database)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sources", nargs="+", required=True, type=Path,
                            help="corpus folders (corpus.jsonl[.gz]; questions from queries.jsonl / qa-*.jsonl)")
        parser.add_argument("--chunks", nargs="+", type=int, default=[100_000], help="collection sizes to build and time")
        parser.add_argument("--queries", type=int, default=200, help="questions timed per size (after 10 warm-up ones)")
        parser.add_argument("--seed", type=int, default=13)
        parser.add_argument("--sentences", type=int, default=DEFAULT_SENTENCES,
                            help="distinct sentences drawn from the sources and embedded once each (0: all)")
        parser.add_argument("--database", default="footnote_bench", help="database of the synthetic collections")
        parser.add_argument("--work-dir", type=Path, help="sentence vectors and the cross-encoder (default var/bench/retrieval-latency)")
        parser.add_argument("--fresh", action="store_true", help="drop the benchmark database first")
        parser.add_argument("--rerank-queries", type=int, default=50, help="questions whose 20 candidates are reranked (at the largest size)")
        parser.add_argument("--no-rerank", action="store_true", help="skip the rerank timing")
        parser.add_argument("--build-only", action="store_true", help="build the collections, time nothing")
        parser.add_argument("--index-memory", default="1GB",
                            help="maintenance_work_mem for the HNSW build (the graph of 1M chunks needs about 4GB)")
        parser.add_argument("--engines", nargs="+", choices=[PG_TEXTSEARCH, SQL], default=[PG_TEXTSEARCH, SQL],
                            help="BM25 engines to time side by side (default both; pg_textsearch where it loads)")
        parser.add_argument("--json", type=Path, help="also write the results as JSON here")

    def handle(self, *args: Any, **options: Any) -> None:
        sources: list[Path] = [s.resolve() for s in options["sources"]]
        for source in sources:
            try:
                corpus_file(source)
            except FileNotFoundError as exc:
                raise CommandError(str(exc)) from None
        database = check_database_name(options["database"])
        work_dir: Path = options["work_dir"] or settings.VAR_DIR / "bench" / "retrieval-latency"
        work_dir.mkdir(parents=True, exist_ok=True)
        questions = questions_load(sources, count=options["queries"] + WARMUP_QUERIES, seed=options["seed"])
        if len(questions) <= WARMUP_QUERIES and not options["build_only"]:
            raise CommandError("the sources hold too few questions (queries.jsonl or qa-*.jsonl)")
        warmup, timed = questions[:WARMUP_QUERIES], questions[WARMUP_QUERIES:]
        if options["fresh"]:
            database_drop(database)
        log = self.stdout.write
        self.stdout.write(f"chunk vectors: {VECTOR_METHOD}")
        skip_rerank = options["no_rerank"] or options["build_only"]
        rerankers = {} if skip_rerank else benchmark_rerankers(work_dir, log=log)
        results: dict[int, dict[str, dict[str, float]]] = {}
        report: dict[str, Any] = {}
        with separate_database(database):
            engines = self._engines(options["engines"])
            sizes = sorted(options["chunks"])
            for size in sizes:
                collection = synthetic_collection_build(
                    slug=f"latency-{size}", sources=sources, count=size, seed=options["seed"], cache_dir=work_dir, log=log,
                    sentences=options["sentences"] or None, index_memory=options["index_memory"],
                    keyword_index=PG_TEXTSEARCH in engines, postings=SQL in engines,
                )
                if options["build_only"]:
                    continue
                self._engine_for_writes(engines)
                latencies = latency_measure(
                    # Reranking 20 passages does not depend on the collection's size: timed at the largest.
                    collection_id=collection.id, queries=timed, warmup=warmup,
                    rerankers=rerankers if size == sizes[-1] else {},
                    rerank_queries=options["rerank_queries"], engines=engines,
                )
                results[size] = latencies.summary()
                report[str(size)] = {
                    "modes": results[size],
                    "hybrid_stages": {k: summarise(v) for k, v in latencies.hybrid_stages.items()},
                    "load_average_1min": {"before": round(latencies.load_before, 2), "after": round(latencies.load_after, 2)},
                    "build_signature": collection.build_signature,
                    "engines": engines,
                }
                self.stdout.write(
                    f"{size:,} chunks: load average {latencies.load_before:.2f} before, {latencies.load_after:.2f} after"
                    f" (torch threads: {_torch_threads()})"
                )
        if options["build_only"]:
            return
        self.stdout.write(format_table(results))
        if options["json"]:
            options["json"].write_text(json.dumps(self._document(options, sources, report), indent=2))
            self.stdout.write(f"wrote {options['json']}")

    def _engines(self, wanted: list[str]) -> list[str]:
        """The engines to time, the benchmark database set up for them: with sql, its engine is sql
        (indexing writes postings; switching builds them from the chunks' tokens) and the bm25
        indexes are built beside them where pg_textsearch loads."""
        from django.db import connection

        with connection.cursor() as cursor:
            unavailable = textsearch_unavailable_reason(cursor)
        engines = [e for e in wanted if not (e == PG_TEXTSEARCH and unavailable)]
        if unavailable and PG_TEXTSEARCH in wanted:
            self.stdout.write(f"pg_textsearch skipped: {unavailable}")
        if not engines:
            raise CommandError("no BM25 engine to time")
        if not unavailable and engine_current() != PG_TEXTSEARCH:
            # Builds write no postings per document (each collection's are built once at its end).
            engine_record(PG_TEXTSEARCH, "")
        return engines

    def _engine_for_writes(self, engines: list[str]) -> None:
        """Once every collection has what each timed engine reads: the database's engine, which
        decides what a write keeps, is sql when sql is timed (a write then keeps the postings, and
        PostgreSQL keeps the bm25 indexes), else pg_textsearch."""
        if SQL in engines:
            if engine_current() != SQL:
                engine_record(SQL, "benchmark database: postings and bm25 indexes kept side by side")
        elif engine_current() != PG_TEXTSEARCH:
            self.stdout.write(f"benchmark database: {engine_switch(PG_TEXTSEARCH)}")

    def _document(self, options: dict[str, Any], sources: list[Path], report: dict[str, Any]) -> dict[str, Any]:
        return {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": sys.version.split()[0]},
            "command": " ".join(sys.argv),
            "database": options["database"],
            "sources": [str(s) for s in sources],
            "chunk_vectors": VECTOR_METHOD,
            "sentences": options["sentences"] or "all",
            "torch_threads": _torch_threads(),
            "sizes": report,
        }


def _torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())
