from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser

from chat import llm
from config.commands import AppCommand
from feedback.evaluation import golden_evaluate


class Command(AppCommand):
    help = "Run the current retrieval and answer pipeline over the reviewed (golden) examples."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--k", type=int, default=10, help="recall@k of the labelled sources")
        parser.add_argument("--backend", choices=llm.BACKENDS, help="default: the configured backend")
        parser.add_argument("--json", type=Path, help='write {"n", "recall@k", "answer_f1"} here')

    def handle(self, *args: Any, **options: Any) -> None:
        summary, rows = golden_evaluate(k=options["k"], backend=options["backend"])
        self.stdout.write(f"{'answer':>7}  {'hit/labels':>10}  {'F1':>6}  question")
        for row in rows:
            f1 = f"{row.f1:.3f}" if row.f1 is not None else "–"
            self.stdout.write(f"{row.answer_id:>7}  {f'{row.hit}/{row.labels}':>10}  {f1:>6}  {row.question[:60]}")
        for key, value in summary.items():
            self.stdout.write(f"{key:>10}  {value}")
        if options["json"]:
            options["json"].write_text(json.dumps(summary, indent=2))
