from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from bench.feedback_simulation import format_table, simulate, summarise
from bench.retrieval_evaluation import evaluation_collection, load_beir
from config.commands import AppCommand


class Command(AppCommand):
    help = ("Simulate reviewed feedback on a BEIR dataset (qrels as reviewers): votes and reviews for half the "
            "queries, learning, nDCG@10 on the other half before and after. Rolls back everything it writes.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", type=Path, help="folder with corpus.jsonl[.gz], queries.jsonl, qrels/")
        parser.add_argument("--splits", type=int, default=5)
        parser.add_argument("--only", type=int, nargs="+", help="run only these splits (1..splits), e.g. in parallel")
        parser.add_argument("--combine", type=Path, nargs="+", help="put together the --json files of separate runs")
        parser.add_argument("--users-per-query", type=int, default=2, help="simulated users asking each question (of 5)")
        parser.add_argument("--json", type=Path, help="also write the results as JSON here")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["combine"]:
            parts = [json.loads(file.read_text()) for file in options["combine"]]
            report = summarise({**parts[0], "splits": [s for part in parts for s in part["splits"]]})
            return self._report(report, options["json"])
        path: Path | None = options["dataset"]
        if path is None or not (path / "queries.jsonl").exists():
            raise CommandError(f"{path} is not a BEIR folder (no queries.jsonl)")
        dataset = load_beir(path)
        collection = evaluation_collection(dataset, log=self.stdout.write)
        splits = options["only"] or list(range(1, options["splits"] + 1))
        report = simulate(dataset, collection, splits=splits, users_per_query=options["users_per_query"],
                          log=self.stdout.write)
        self._report({"dataset": str(path), **report}, options["json"])

    def _report(self, report: dict[str, Any], json_path: Path | None) -> None:
        self.stdout.write(format_table(report))
        if json_path:
            json_path.write_text(json.dumps(report, indent=2))
            self.stdout.write(f"wrote {json_path}")
