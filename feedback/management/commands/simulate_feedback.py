from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from feedback.simulation import format_table, simulate
from retrieval.evaluation import evaluation_collection, load_beir


class Command(BaseCommand):
    help = ("Simulate reviewed feedback on a BEIR dataset (qrels as reviewers): votes and reviews for half the "
            "queries, learning, nDCG@10 on the other half before and after. Rolls back everything it writes.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", required=True, type=Path, help="folder with corpus.jsonl[.gz], queries.jsonl, qrels/")
        parser.add_argument("--splits", type=int, default=5)
        parser.add_argument("--users-per-query", type=int, default=2, help="simulated users asking each question (of 5)")
        parser.add_argument("--json", type=Path, help="also write the results as JSON here")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["dataset"]
        if not (path / "queries.jsonl").exists():
            raise CommandError(f"{path} is not a BEIR folder (no queries.jsonl)")
        dataset = load_beir(path)
        collection = evaluation_collection(dataset, log=self.stdout.write)
        report = simulate(dataset, collection, splits=options["splits"], users_per_query=options["users_per_query"],
                          log=self.stdout.write)
        self.stdout.write(format_table(report))
        if options["json"]:
            options["json"].write_text(json.dumps({"dataset": str(path), **report}, indent=2))
            self.stdout.write(f"wrote {options['json']}")
