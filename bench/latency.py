"""Latency of each retrieval stage on a large collection, through the same search() the API uses.

Measured per query, the modes interleaved so that a burst of load on a shared machine hits them
all alike: bm25 and hybrid with each BM25 engine (pg_textsearch's bm25 index and the sql engine's
postings, both kept for the same chunks), vector (query embedding included), all without rerank
and with the API's default top_k, each timed around `retrieval.search.search()`; bm25 again as
the first query after a write (a one-chunk document indexed just before, deleted after: the
index's in-memory part and everything cached for the collection's generation are new); and the
reranking of 20 hybrid candidates by the app's `CrossEncoderReranker`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ingestion.chunking import ChunkDraft
from ingestion.embedding import default_model_path, get_embedder
from ingestion.models import Chunk, Document
from ingestion.services import document_delete, document_store_prepared
from retrieval.bm25 import engine_override
from retrieval.rerank import CrossEncoderReranker
from retrieval.search import search

SEARCH_MODES = ("bm25", "vector", "hybrid")
# BM25 as the first query after a write: a one-chunk document is indexed just before (and deleted
# after, untimed), so the index's newest part is fresh and nothing cached per generation serves it.
AFTER_WRITE_MODE = "bm25 after a write"
RERANK_MODE = "rerank@20"
RERANK_ONNX_MODE = "rerank@20 onnx"
RERANK_ONNX_INT8_MODE = "rerank@20 onnx-int8"
RERANK_CANDIDATES = 20
# p95 goals on a 2-core machine: at 1M chunks for bm25 and hybrid (issue 14), rerank at any size.
GOALS_MS = {"bm25": 30.0, "hybrid": 80.0, RERANK_MODE: 500.0, RERANK_ONNX_MODE: 500.0, RERANK_ONNX_INT8_MODE: 500.0}
TOP_K = 10


def timed_modes(engines: list[str]) -> list[str]:
    """The timed modes, "mode [engine]" for the BM25 ones; vector once."""
    return [*(f"{m} [{e}]" for e in engines for m in ("bm25", "hybrid")), "vector",
            *(f"{AFTER_WRITE_MODE} [{e}]" for e in engines)]


def mode_parts(mode: str) -> tuple[str, str | None]:
    """("bm25 after a write", "sql") for "bm25 after a write [sql]"; ("vector", None) for "vector"."""
    if mode.endswith("]") and " [" in mode:
        base, engine = mode[:-1].rsplit(" [", 1)
        return base, engine
    return mode, None

Log = Callable[[str], None]


@dataclass
class Latencies:
    samples: dict[str, list[float]] = field(default_factory=dict)
    # Stage timings inside hybrid searches, as search() reports them (for profiling).
    hybrid_stages: dict[str, list[float]] = field(default_factory=dict)
    load_before: float = 0.0
    load_after: float = 0.0

    def add(self, mode: str, milliseconds: float) -> None:
        self.samples.setdefault(mode, []).append(milliseconds)

    # The timed search modes in the order of the table (then the rerankers).
    order: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, dict[str, float]]:
        """Per mode, search modes in `order` first, then the rerankers."""
        modes = sorted(self.samples, key=lambda m: (self.order.index(m) if m in self.order else len(self.order), m))
        return {mode: summarise(self.samples[mode]) for mode in modes}


def summarise(values: list[float]) -> dict[str, float]:
    array = np.asarray(values, dtype=float)
    return {
        "n": int(array.size),
        "p50_ms": round(float(np.percentile(array, 50)), 1),
        "p95_ms": round(float(np.percentile(array, 95)), 1),
    }


def questions_load(sources: list[Path], *, count: int, seed: int) -> list[str]:
    """Real questions of the sources, interleaved: BEIR `queries.jsonl` ("text") and QA files
    `qa-*.jsonl` ("question"), each source's shuffled with `seed`."""
    rng = np.random.default_rng(seed)
    per_source: list[list[str]] = []
    for source in sources:
        folder = source if source.is_dir() else source.parent
        found: list[str] = []
        for file in sorted([*folder.glob("queries.jsonl"), *folder.glob("qa-*.jsonl")]):
            with file.open(encoding="utf-8") as handle:
                for line in handle:
                    if line.strip():
                        row = json.loads(line)
                        text = str(row.get("text") or row.get("question") or "").strip()
                        if text:
                            found.append(text)
        rng.shuffle(found)
        per_source.append(found)
    interleaved = [q for group in zip(*per_source) for q in group] if per_source and all(per_source) else []
    leftovers = [q for group in per_source for q in group if q not in set(interleaved)]
    return (interleaved + leftovers)[:count]


def benchmark_rerankers(folder: Path, *, log: Log) -> dict[str, CrossEncoderReranker]:
    """Cross-encoders of MiniLM-L6's shape: the shipped all-MiniLM-L6-v2 weights with a fresh
    (random, seeded) one-label scoring head, saved once under `folder` and loaded by the app's
    class with each RERANK_BACKEND: torch (fp32), onnx and onnx-int8 (exports cached under `folder`).

    Their scores mean nothing; their cost per pair is that of cross-encoder/ms-marco-MiniLM-L-6-v2."""
    path = folder / "minilm-l6-cross-encoder"
    if not (path / "config.json").exists():
        # Heavy libraries, needed only the first time (the model is saved under `folder`).
        import torch
        from sentence_transformers import CrossEncoder

        torch.manual_seed(0)
        CrossEncoder(default_model_path(), num_labels=1, device="cpu").save(str(path))
        log(f"built the benchmark cross-encoder in {path}")
    return {
        RERANK_MODE: CrossEncoderReranker(model=str(path), retry_seconds=0, backend="torch"),
        RERANK_ONNX_MODE: CrossEncoderReranker(
            model=str(path), retry_seconds=0, backend="onnx", cache_dir=folder / "models"
        ),
        RERANK_ONNX_INT8_MODE: CrossEncoderReranker(
            model=str(path), retry_seconds=0, backend="onnx-int8", cache_dir=folder / "models"
        ),
    }


def _timed(function: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = function()
    return value, (time.perf_counter() - started) * 1000


def _write_one_chunk(source_ids: list[int], number: int) -> int:
    """Index a one-chunk document (a copy of one of the collection's chunks, text and vector)."""
    source = Chunk.objects.select_related("collection").get(pk=source_ids[number % len(source_ids)])
    draft = ChunkDraft(text=source.text, char_start=0, char_end=len(source.text), page_start=None, page_end=None,
                       heading_path=[], token_count=source.token_count)
    return document_store_prepared(
        collection=source.collection, name=f"after-write-{number}.txt", parsed_text=source.text,
        chunks=[(draft, np.asarray(source.embedding, dtype=np.float32))],
    )


def latency_measure(
    *,
    collection_id: int,
    queries: list[str],
    warmup: list[str],
    rerankers: dict[str, CrossEncoderReranker],
    rerank_queries: int,
    engines: list[str],
) -> Latencies:
    """Time every mode (with each of `engines`) on every query (after the warm-up queries, which
    are not counted); the rerankers on the first `rerank_queries` only (a second or more each on a
    busy machine)."""
    get_embedder().warm_up()
    for reranker in rerankers.values():
        reranker.warm_up()
    scope = [collection_id]
    modes = timed_modes(engines)
    sources = list(Chunk.objects.filter(collection_id=collection_id).order_by("id").values_list("id", flat=True)[:1000])
    latencies = Latencies()
    for number, query in enumerate([*warmup, *queries]):
        counted = number >= len(warmup)
        if counted and number == len(warmup):
            latencies = Latencies(load_before=os.getloadavg()[0], order=modes)
        # The mode that reads a question's postings first finds them on disk rather than in
        # memory (at 1M chunks the postings outgrow the page cache): each mode goes first in turn.
        shift = number % len(modes)
        for mode in modes[shift:] + modes[:shift]:
            search_mode, engine = mode_parts(mode)
            written = None
            if search_mode == AFTER_WRITE_MODE:
                written = _write_one_chunk(sources, number)
                search_mode = "bm25"
            with engine_override(engine) if engine else nullcontext():
                result, elapsed = _timed(
                    lambda: search(query, collection_ids=scope, top_k=TOP_K, mode=search_mode, rerank=False)  # type: ignore[arg-type]
                )
            if written is not None:
                document_delete(document=Document.objects.get(pk=written))
            latencies.add(mode, elapsed)
            if search_mode == "hybrid":
                for stage in ("bm25", "vector", "fusion"):
                    latencies.hybrid_stages.setdefault(f"{stage} [{engine}]", []).append(result.timings_ms[stage])
        if rerankers and number < len(warmup) + rerank_queries:
            candidates = search(query, collection_ids=scope, top_k=RERANK_CANDIDATES, mode="hybrid", rerank=False)
            texts = [c.text for c in candidates.results]
            for mode, reranker in rerankers.items():
                _, elapsed = _timed(lambda: reranker.run(query, texts))
                latencies.add(mode, elapsed)
    latencies.load_after = os.getloadavg()[0]
    return latencies


def format_table(results: dict[int, dict[str, dict[str, float]]]) -> str:
    """Markdown table: chunks, mode, n queries, p50 ms, p95 ms, goal; bm25 p95 over vector p95 in
    the same run; then growth ratios."""
    lines = ["| chunks | mode | n queries | p50 ms | p95 ms | p95 goal |", "|---:|---|---:|---:|---:|---|"]
    for size, modes in sorted(results.items()):
        for mode, row in modes.items():
            goal = GOALS_MS.get(mode_parts(mode)[0])
            verdict = f"<= {goal:.0f} ms: {'met' if row['p95_ms'] <= goal else 'MISSED'}" if goal else ""
            lines.append(f"| {size:,} | {mode} | {row['n']} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} | {verdict} |")
    lines += ["", "| chunks | engine | bm25 p95 / vector p95 | bm25 after a write p95 / bm25 p95 |", "|---:|---|---:|---:|"]
    for size, modes in sorted(results.items()):
        vector = modes.get("vector")
        for mode, row in modes.items():
            base, engine = mode_parts(mode)
            if base != "bm25" or vector is None:
                continue
            after = modes.get(f"{AFTER_WRITE_MODE} [{engine}]")
            after_ratio = f"{after['p95_ms'] / max(row['p95_ms'], 1e-9):.2f}" if after else ""
            lines.append(f"| {size:,} | {engine} | {row['p95_ms'] / max(vector['p95_ms'], 1e-9):.2f} | {after_ratio} |")
    sizes = sorted(results)
    # Growth of each mode from each size to the next (10k -> 100k -> 1M: two ratio tables).
    for small, large in zip(sizes, sizes[1:]):
        lines += ["", f"| mode | p50 {large:,}/{small:,} | p95 {large:,}/{small:,} |", "|---|---:|---:|"]
        for mode in results[large]:
            if mode in results[small]:
                a, b = results[small][mode], results[large][mode]
                lines.append(
                    f"| {mode} | {b['p50_ms'] / max(a['p50_ms'], 1e-9):.2f} | {b['p95_ms'] / max(a['p95_ms'], 1e-9):.2f} |"
                )
    return "\n".join(lines)
