"""Every retrieval mode on a BEIR-format dataset: nDCG@10, recall, MRR and latency, as a table.

    python manage.py evaluate_retrieval --dataset $DATA/scifact [--modes bm25 ...] [--json FILE]
        [--bm25-engines pg_textsearch sql] [--rerank-model PATH --rerank-backends onnx onnx-int8]

`--rerank-model` evaluates the reranking mode with that cross-encoder (a folder or a hub name
`manage.py models fetch` fetched) instead of RERANK_MODEL, once per backend: the int8 export's
nDCG beside fp32's on the same questions. Without a loadable model the mode says why it was skipped.

$DATA: where you downloaded the datasets (docs/benchmarks.md, "Running them", says from where).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from bench.retrieval_evaluation import (
    MODES,
    engine_structures,
    evaluate,
    evaluation_collection,
    format_table,
    load_beir,
)
from config.commands import AppCommand
from ingestion.keyword_index import PG_TEXTSEARCH, SQL
from retrieval.rerank import BACKENDS


class Command(AppCommand):
    help = "Evaluate every retrieval mode on a BEIR-format dataset folder (nDCG@10, recall, MRR, latency)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", required=True, type=Path, help="folder with corpus.jsonl[.gz], queries.jsonl, qrels/")
        parser.add_argument("--json", type=Path, help="also write the results as JSON here")
        parser.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
        parser.add_argument("--split", default="test", help="qrels file name (default: test)")
        parser.add_argument("--bm25-engines", nargs="+", choices=[PG_TEXTSEARCH, SQL],
                            help="evaluate the BM25 modes with each engine side by side (default: the database's engine)")
        parser.add_argument("--rerank-model", help="cross-encoder (folder or fetched hub name) for the reranking mode")
        parser.add_argument("--rerank-backends", nargs="+", choices=list(BACKENDS),
                            help="with --rerank-model: evaluate the reranking mode once per backend (default: RERANK_BACKEND)")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["dataset"]
        if not (path / "queries.jsonl").exists():
            raise CommandError(f"{path} is not a BEIR folder (no queries.jsonl)")
        dataset = load_beir(path, split=options["split"])
        self.stdout.write(f"{path}: {len(dataset.queries)} queries with judgments")
        collection = evaluation_collection(dataset, log=self.stdout.write)
        engines = options["bm25_engines"]
        modes = options["modes"]
        rerank = {"rerank_model": options["rerank_model"], "rerank_backends": options["rerank_backends"]}
        if options["rerank_backends"] and not options["rerank_model"]:
            raise CommandError("--rerank-backends needs --rerank-model")
        if options["rerank_model"] and "hybrid+rerank" not in modes:
            modes = [*modes, "hybrid+rerank"]
        if engines:
            with engine_structures(collection.id, engines, log=self.stdout.write):
                report = evaluate(dataset, collection.id, modes, engines=engines, **rerank)
        else:
            report = evaluate(dataset, collection.id, modes, **rerank)
        self.stdout.write(format_table(report))
        if options["json"]:
            options["json"].write_text(json.dumps({"dataset": str(path), "modes": report}, indent=2))
            self.stdout.write(f"wrote {options['json']}")
