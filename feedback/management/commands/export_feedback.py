from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser

from config.commands import AppCommand
from feedback.exports import KINDS, export_rows


class Command(AppCommand):
    help = "Export reviewed feedback as JSON lines: sft, preferences or retrieval triples."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--kind", choices=KINDS, required=True)
        parser.add_argument("--out", type=Path, required=True, help="the .jsonl file to write")
        parser.add_argument("--redact-pii", action="store_true", help="mask e-mail addresses and phone numbers")

    def handle(self, *args: Any, **options: Any) -> None:
        count = 0
        with options["out"].open("w", encoding="utf-8") as out:
            for row in export_rows(kind=options["kind"], redact_pii=options["redact_pii"]):
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
        self.stdout.write(f"wrote {count} {options['kind']} rows to {options['out']}")
