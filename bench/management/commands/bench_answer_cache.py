"""Replay repeated questions through the answer cache while the collection changes (bench/answer_cache_replay.py).

    python manage.py bench_answer_cache --corpus $DATA/covid-qa/corpus.jsonl \
        --questions $DATA/covid-qa/qa-dev.jsonl [--count 500] [--distinct 100] [--exponent 1.1] [--seed 0]

The corpus is indexed into an evaluation collection of the replay's own (evaluate_answers' is
left alone); the replay's upload, hidden chunk and re-index stay in it, so it is indexed again
before each run. $DATA: where you downloaded the datasets (docs/benchmarks.md, "Running them").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, CommandParser

from bench.answer_cache_replay import replay, zipf_draws
from bench.answers import answers_collection, jsonl
from bench.retrieval_evaluation import percentile
from config.commands import AppCommand
from ingestion.services import collection_build_signature_set


class Command(AppCommand):
    help = "Replay repeated questions through the answer cache with an upload, a hidden chunk and a re-index midway."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--corpus", type=Path, required=True, help="jsonl with _id, text (and optional title)")
        parser.add_argument("--questions", type=Path, required=True, help="jsonl with question")
        parser.add_argument("--count", type=int, default=500)
        parser.add_argument("--distinct", type=int, default=100, help="questions drawn from (the first N)")
        parser.add_argument("--exponent", type=float, default=1.1, help="Zipf exponent of the draws")
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args: Any, **options: Any) -> None:
        for key in ("corpus", "questions"):
            if not options[key].exists():
                raise CommandError(f"{options[key]} does not exist")
        # A collection of its own (the replay changes it), indexed again before every run.
        collection = answers_collection(options["corpus"], log=self.stdout.write, prefix="replay-")
        # The replay changes the collection: it is indexed again next time.
        collection_build_signature_set(collection=collection, signature="changed by bench_answer_cache")
        user, _ = get_user_model().objects.get_or_create(username="footnote-evaluation", defaults={"is_active": False})
        questions = [q["question"] for q in jsonl(options["questions"])]
        draws = zipf_draws(questions, count=options["count"], distinct=options["distinct"],
                           exponent=options["exponent"], seed=options["seed"])
        self.stdout.write(f"{len(draws)} questions, {len(set(draws))} distinct (Zipf s={options['exponent']} over the "
                          f"first {options['distinct']}, seed {options['seed']})")
        result = replay(user, collection, draws, log=self.stdout.write)
        for event in result.events:
            self.stdout.write(f"  change at question {event}")
        rows = [("hits", result.hits), ("misses", result.misses)]
        self.stdout.write(f"{'':8}{'count':>7}{'p50 ms':>9}{'p95 ms':>9}")
        for name, values in rows:
            p50 = percentile(values, 50) if values else 0.0
            p95 = percentile(values, 95) if values else 0.0
            self.stdout.write(f"{name:8}{len(values):>7}{p50:>9.1f}{p95:>9.1f}")
        self.stdout.write(f"hit rate {len(result.hits) / len(draws):.3f}; stale hits {len(result.stale)}")
        for question in result.stale:
            self.stdout.write(f"  stale: {question}")
