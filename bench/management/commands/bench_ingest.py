"""Ingest a folder through the real pipeline and measure it; compare outcomes with a table.

    python manage.py bench_ingest DIR [--expected docs/ingest-expected.md] [--write-expected FILE] [--json FILE]

Each file goes through document_ingest (the upload checks) and document_process (parse, chunk,
embed, store) in this process, which plays the worker: its peak memory is the worker's.
"""

from __future__ import annotations

import json
import re
import resource
import signal
import statistics
import time
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import CommandError, CommandParser

from bench.collections import fresh_collection
from config.commands import AppCommand
from ingestion.embedding import get_embedder
from ingestion.models import Document
from ingestion.parsing import bridge_spacy_model
from ingestion.services import document_ingest, document_process

CATEGORIES = [
    ("password-protected", "encrypted"),
    ("is encrypted", "encrypted"),
    ("zip bomb", "zip-bomb"),
    ("XML entities", "xml-entities"),
    ("LibreOffice", "needs-libreoffice"),
    ("needs OCR", "needs-ocr"),
    ("OCR could not read", "ocr-unsure"),
    ("cannot be indexed", "unsupported"),
    ("type could not be determined", "unsupported"),
    ("but its content is", "mislabeled"),
    ("empty", "empty"),
    ("No text was found", "no-text"),
    ("OCR found no text", "no-text"),
    ("took longer", "timeout"),
    ("stopped the worker", "crashed-worker"),
    ("damaged", "corrupt"),
    ("corrupt or truncated", "corrupt"),
    ("could not be read", "corrupt"),
]


def category(message: str) -> str:
    for needle, name in CATEGORIES:
        if needle.lower() in message.lower():
            return name
    return "other"


def read_expected(path: Path) -> dict[str, str]:
    expected: dict[str, str] = {}
    for line in path.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0] and not set(cells[0]) <= {"-"} and cells[0] != "file":
            expected[cells[0].strip("`")] = cells[1]
    return expected


class Command(AppCommand):
    help = "Ingest every file of DIR through the real pipeline; print outcomes, throughput and peak memory."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path)
        parser.add_argument("--expected", type=Path, help="markdown table of expected outcomes to compare with")
        parser.add_argument("--write-expected", type=Path, help="write this run's outcomes as that table")
        parser.add_argument("--json", type=Path)
        parser.add_argument("--timeout", type=int, default=settings.WORKER_SOFT_TIME_LIMIT, help="seconds per file")

    def handle(self, *args: Any, **options: Any) -> None:
        root: Path = options["directory"]
        if not root.is_dir():
            raise CommandError(f"{root} is not a folder")
        files = sorted(p for p in root.rglob("*") if p.is_file())
        collection = fresh_collection("bench-ingest", "Ingestion benchmark")
        outcomes: dict[str, str] = {}
        details: dict[str, str] = {}
        timings: list[float] = []
        chunks = pages = 0

        def on_alarm(*_: Any) -> None:
            raise SoftTimeLimitExceeded()

        signal.signal(signal.SIGALRM, on_alarm)
        # Load the models first, as a running worker has them: load time is not ingestion time.
        get_embedder().warm_up()
        bridge_spacy_model()
        started = time.perf_counter()
        for number, path in enumerate(files, start=1):
            name = str(path.relative_to(root))
            t = time.perf_counter()
            upload = SimpleUploadedFile(path.name, path.read_bytes())
            outcome = document_ingest(collection=collection, uploaded_by=None, file=upload, enqueue=False)
            if outcome.status == "rejected":
                outcomes[name], details[name] = f"rejected: {category(outcome.error)}", outcome.error
            elif outcome.status == "duplicate":
                outcomes[name], details[name] = "duplicate", outcome.error
            else:
                assert outcome.document is not None
                signal.alarm(options["timeout"])
                try:
                    document_process(document_id=outcome.document.id)
                finally:
                    signal.alarm(0)
                document = Document.objects.get(pk=outcome.document.id)
                if document.status == Document.Status.INDEXED:
                    outcomes[name] = "indexed"
                    chunks += document.chunk_count
                    pages += document.page_count or 1
                    timings.append(time.perf_counter() - t)
                else:
                    outcomes[name], details[name] = f"{document.status}: {category(document.error)}", document.error
            self.stdout.write(f"[{number}/{len(files)}] {name}: {outcomes[name]} ({time.perf_counter() - t:.1f} s)")
        elapsed = time.perf_counter() - started
        stuck = Document.objects.filter(collection=collection, status__in=["queued", "processing"]).count()
        summary = self._summary(outcomes, timings, chunks, pages, elapsed, stuck)
        self.stdout.write(summary["table"])
        if options["write_expected"]:
            self._write_expected(options["write_expected"], outcomes, details, folder=options["directory"])
        mismatches = []
        if options["expected"]:
            expected = read_expected(options["expected"])
            for name in sorted(set(expected) | set(outcomes)):
                if expected.get(name) != outcomes.get(name):
                    mismatches.append(f"{name}: expected {expected.get(name)!r}, got {outcomes.get(name)!r}")
            self.stdout.write(f"\noutcomes differing from {options['expected']}: {len(mismatches)}")
            for line in mismatches:
                self.stdout.write(f"  {line}")
        if options["json"]:
            options["json"].write_text(json.dumps({**summary["numbers"], "outcomes": outcomes, "mismatches": mismatches}, indent=2))
        if mismatches or stuck:
            raise CommandError(f"{len(mismatches)} outcome(s) differ from the table, {stuck} document(s) left unfinished")

    def _summary(self, outcomes: dict[str, str], timings: list[float], chunks: int, pages: int, elapsed: float, stuck: int) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for value in outcomes.values():
            counts[value] = counts.get(value, 0) + 1
        indexed = counts.get("indexed", 0)
        ordered = sorted(timings)
        p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if ordered else 0.0
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        numbers = {
            "files": len(outcomes), "indexed": indexed, "left_unfinished": stuck, "seconds": round(elapsed, 1),
            "documents_per_s": round(len(outcomes) / elapsed, 2) if elapsed else 0.0,
            "chunks_per_s": round(chunks / elapsed, 1) if elapsed else 0.0,
            "pages_per_s": round(pages / elapsed, 2) if elapsed else 0.0,
            "p50_s_per_indexed_document": round(statistics.median(ordered), 2) if ordered else 0.0,
            "p95_s_per_indexed_document": round(p95, 2), "peak_memory_mb": round(peak_mb), "outcome_counts": counts,
        }
        lines = ["", "| outcome | files |", "|---|---|"] + [f"| {k} | {v} |" for k, v in sorted(counts.items())]
        lines += ["", "| measure | value |", "|---|---|"] + [
            f"| {k} | {v} |" for k, v in numbers.items() if k != "outcome_counts"
        ]
        return {"numbers": numbers, "table": "\n".join(lines)}

    def _write_expected(self, path: Path, outcomes: dict[str, str], details: dict[str, str], *, folder: Path) -> None:
        rows = ["| file | expected outcome | reason given to the user |", "|---|---|---|"]
        for name in sorted(outcomes):
            reason = re.sub(r"\s+", " ", details.get(name, "")).replace("|", "/")[:160]
            rows.append(f"| `{name}` | {outcomes[name]} | {reason} |")
        path.write_text(
            f"# Expected ingestion outcome of each file in {folder}\n\n"
            f"Checked by `python manage.py bench_ingest {folder} --expected {path}`.\n\n"
            + "\n".join(rows) + "\n"
        )
