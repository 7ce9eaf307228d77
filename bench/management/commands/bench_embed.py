"""Embedding throughput: our Embedder against a plain `SentenceTransformer.encode`, side by side.

    python manage.py bench_embed --dataset $DATA/scifact [--limit N] [--rounds R] [--json FILE]
        [--backend B] [--batch-size N] [--threads N] [--sweep]

The corpus is chunked with the real chunker. Both models are loaded (load time excluded) and
warmed up, run with the same number of intra-op threads, then timed on the same chunks in
alternating order for R rounds (the machine is shared, so one run compares them under the same
load). Plain encode uses default arguments (batch 32, torch, fp32). --sweep also times our
embedder at other batch sizes and without length sorting (one pass each).

$DATA: where you downloaded the datasets (docs/benchmarks.md, "Running them", says from where).
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from bench.retrieval_evaluation import BeirDataset
from ingestion.embedding import BACKENDS, Embedder, configured_model
from ingestion.parsing import Element
from ingestion.services import chunker_for
from runtime.threads import configured_threads


def corpus_chunks(path: Path, embedder: Embedder, limit: int | None) -> list[str]:
    """Embedding inputs of the BEIR corpus at `path`, chunked as ingestion chunks them."""
    chunker = chunker_for(embedder)
    texts: list[str] = []
    for doc in BeirDataset(path=path, queries={}, qrels={}).corpus():
        elements = [Element(kind="Title", text=doc.get("title", "").strip()),
                    Element(kind="NarrativeText", text=doc.get("text", "").strip())]
        _, drafts = chunker.run([e for e in elements if e.text])
        texts.extend(d.embedding_input for d in drafts)
        if limit is not None and len(texts) >= limit:
            return texts[:limit]
    return texts


def timed(run: Any, texts: list[str]) -> tuple[float, np.ndarray]:
    started = time.perf_counter()
    vectors = run(texts)
    return time.perf_counter() - started, np.asarray(vectors, dtype=np.float32)


class Command(BaseCommand):
    help = "Compare our embedder's chunks/s with plain SentenceTransformer.encode on a BEIR corpus."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", required=True, type=Path, help="BEIR folder (corpus.jsonl[.gz])")
        parser.add_argument("--limit", type=int, help="at most this many chunks (default: all)")
        parser.add_argument("--rounds", type=int, default=3)
        parser.add_argument("--backend", choices=BACKENDS, default=settings.EMBEDDING_BACKEND)
        parser.add_argument("--batch-size", type=int, default=settings.EMBEDDING_BATCH_SIZE)
        parser.add_argument("--threads", type=int, default=None, help="default: EMBEDDING_THREADS / the cores")
        parser.add_argument("--sweep", action="store_true", help="also time other batch sizes and no sorting")
        parser.add_argument("--json", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        # Heavy libraries, loaded only when the benchmark runs.
        import torch
        from sentence_transformers import SentenceTransformer

        if not options["dataset"].is_dir():
            raise CommandError(f"{options['dataset']} is not a folder")
        threads = options["threads"] if options["threads"] is not None else configured_threads()
        label, name_or_path = configured_model()
        ours = Embedder(label=label, name_or_path=name_or_path, batch_size=options["batch_size"],
                        backend=options["backend"], threads=threads)
        ours.warm_up()
        torch.set_num_threads(threads)  # the same thread count for both (torch's is process-wide)
        plain = SentenceTransformer(name_or_path, device="cpu")
        texts = corpus_chunks(options["dataset"], ours, options["limit"])
        self.stdout.write(f"{len(texts)} chunks, {threads} threads, our backend {ours.backend}, batch {ours.batch_size}")
        plain.encode(texts[:64])
        ours.embed(texts[:64])
        plain_times, our_times = [], []
        plain_vectors = our_vectors = np.zeros((0, 0), dtype=np.float32)
        for number in range(options["rounds"]):
            runs = [("plain", plain.encode), ("ours", ours.embed)]
            for name, run in runs if number % 2 == 0 else runs[::-1]:
                seconds, vectors = timed(run, texts)
                if name == "plain":
                    plain_times.append(seconds)
                    plain_vectors = vectors
                else:
                    our_times.append(seconds)
                    our_vectors = vectors
                self.stdout.write(f"  round {number + 1}: {name} {len(texts) / seconds:.1f} chunks/s")
        result = self._result(texts, threads, ours, plain_times, our_times, plain_vectors, our_vectors)
        if options["sweep"]:
            result["sweep"] = self._sweep(texts, ours)
        self.stdout.write(self._table(result))
        if options["json"]:
            options["json"].write_text(json.dumps(result, indent=2))
            self.stdout.write(f"wrote {options['json']}")

    def _result(self, texts: list[str], threads: int, ours: Embedder, plain_times: list[float],
                our_times: list[float], plain_vectors: np.ndarray, our_vectors: np.ndarray) -> dict[str, Any]:
        plain_vectors = plain_vectors / np.linalg.norm(plain_vectors, axis=1, keepdims=True)
        difference = 1.0 - (plain_vectors * our_vectors).sum(axis=1)
        plain_rate = len(texts) / statistics.median(plain_times)
        our_rate = len(texts) / statistics.median(our_times)
        return {
            "chunks": len(texts), "threads": threads, "backend": ours.backend, "label": ours.label,
            "batch_size_ours": ours.batch_size, "batch_size_plain": 32, "rounds": len(plain_times),
            "plain_chunks_per_s": round(plain_rate, 2), "ours_chunks_per_s": round(our_rate, 2),
            "ratio": round(our_rate / plain_rate, 2),
            "ratios_per_round": [round(p / o, 2) for p, o in zip(plain_times, our_times)],
            "cosine_difference_max": float(round(difference.max(), 5)),
            "cosine_difference_mean": float(round(difference.mean(), 5)),
        }

    def _sweep(self, texts: list[str], ours: Embedder) -> list[dict[str, Any]]:
        rows = []
        encoder: Any = ours.encoder
        for batch_size, sort in [(8, True), (16, True), (32, True), (64, True), (ours.batch_size, False)]:
            if not sort and not hasattr(encoder, "sort_by_length"):
                continue
            if hasattr(encoder, "sort_by_length"):
                encoder.sort_by_length = sort
            started = time.perf_counter()
            encoder.encode(texts, batch_size=batch_size)
            rate = len(texts) / (time.perf_counter() - started)
            rows.append({"batch_size": batch_size, "sorted_by_length": sort, "chunks_per_s": round(rate, 2)})
            self.stdout.write(f"  sweep: batch {batch_size}, sorted {sort}: {rate:.1f} chunks/s")
        if hasattr(encoder, "sort_by_length"):
            encoder.sort_by_length = True
        return rows

    def _table(self, r: dict[str, Any]) -> str:
        lines = [
            "", "| embedder | chunks/s | batch | threads |", "|---|---|---|---|",
            f"| plain SentenceTransformer.encode (torch fp32) | {r['plain_chunks_per_s']:.1f} | {r['batch_size_plain']} | {r['threads']} |",
            f"| Embedder ({r['backend']}) | {r['ours_chunks_per_s']:.1f} | {r['batch_size_ours']} | {r['threads']} |",
            "", f"ratio of the median times over {r['rounds']} rounds: {r['ratio']:.2f}x; per round: {r['ratios_per_round']}",
            f"cosine difference to plain encode over {r['chunks']} chunks: max {r['cosine_difference_max']:.5f}, "
            f"mean {r['cosine_difference_mean']:.5f}",
        ]
        for row in r.get("sweep", []):
            lines.append(f"sweep: batch {row['batch_size']}, sorted {row['sorted_by_length']}: {row['chunks_per_s']:.1f} chunks/s")
        return "\n".join(lines)
