"""Latency of each retrieval stage on a large collection, through the same search() the API uses.

Measured per query, the modes interleaved so that a burst of load on a shared machine hits them
all alike: bm25, vector (query embedding included) and hybrid, all without rerank and with
the API's default top_k, each timed around `retrieval.search.search()`; bm25 again as the first
query after the collection changed (nothing cached for the collection's generation can serve
it); and the reranking of 20 hybrid candidates by the app's `CrossEncoderReranker`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ingestion.embedding import default_model_path, get_embedder
from ingestion.models import Collection
from ingestion.services import collection_generation_advance
from retrieval.rerank import CrossEncoderReranker
from retrieval.search import search

SEARCH_MODES = ("bm25", "vector", "hybrid")
# BM25 as the first query after the collection changed: its generation is moved first, as every
# indexed or deleted document moves it, so that nothing cached per generation can serve it.
AFTER_WRITE_MODE = "bm25 after a write"
TIMED_MODES = (*SEARCH_MODES, AFTER_WRITE_MODE)
RERANK_MODE = "rerank@20"
RERANK_ONNX_MODE = "rerank@20 onnx"
RERANK_ONNX_INT8_MODE = "rerank@20 onnx-int8"
RERANK_CANDIDATES = 20
# p95 goals on a 2-core machine at 100k chunks
GOALS_MS = {"hybrid": 100.0, RERANK_MODE: 500.0, RERANK_ONNX_MODE: 500.0, RERANK_ONNX_INT8_MODE: 500.0}
TOP_K = 10

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

    def summary(self) -> dict[str, dict[str, float]]:
        """Per mode, in a fixed order (search modes first, then rerankers)."""
        modes = sorted(self.samples, key=lambda m: (TIMED_MODES.index(m) if m in TIMED_MODES else len(TIMED_MODES), m))
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


def latency_measure(
    *,
    collection_id: int,
    queries: list[str],
    warmup: list[str],
    rerankers: dict[str, CrossEncoderReranker],
    rerank_queries: int,
) -> Latencies:
    """Time every mode on every query (after the warm-up queries, which are not counted); the
    rerankers on the first `rerank_queries` only (a second or more each on a busy machine)."""
    get_embedder().warm_up()
    for reranker in rerankers.values():
        reranker.warm_up()
    scope = [collection_id]
    collection = Collection.objects.get(pk=collection_id)
    latencies = Latencies()
    for number, query in enumerate([*warmup, *queries]):
        counted = number >= len(warmup)
        if counted and number == len(warmup):
            latencies = Latencies(load_before=os.getloadavg()[0])
        # The mode that reads a question's postings first finds them on disk rather than in
        # memory (at 1M chunks the postings outgrow the page cache): each mode goes first in turn.
        shift = number % len(TIMED_MODES)
        for mode in TIMED_MODES[shift:] + TIMED_MODES[:shift]:
            search_mode = mode
            if mode == AFTER_WRITE_MODE:
                collection_generation_advance(collection=collection)  # as a write does; chunks stay
                search_mode = "bm25"
            result, elapsed = _timed(
                lambda: search(query, collection_ids=scope, top_k=TOP_K, mode=search_mode, rerank=False)  # type: ignore[arg-type]
            )
            latencies.add(mode, elapsed)
            if mode == "hybrid":
                for stage in ("bm25", "vector", "fusion"):
                    latencies.hybrid_stages.setdefault(stage, []).append(result.timings_ms[stage])
        if rerankers and number < len(warmup) + rerank_queries:
            candidates = search(query, collection_ids=scope, top_k=RERANK_CANDIDATES, mode="hybrid", rerank=False)
            texts = [c.text for c in candidates.results]
            for mode, reranker in rerankers.items():
                _, elapsed = _timed(lambda: reranker.run(query, texts))
                latencies.add(mode, elapsed)
    latencies.load_after = os.getloadavg()[0]
    return latencies


def format_table(results: dict[int, dict[str, dict[str, float]]]) -> str:
    """Markdown table: chunks, mode, n queries, p50 ms, p95 ms, goal; then growth ratios."""
    lines = ["| chunks | mode | n queries | p50 ms | p95 ms | p95 goal |", "|---:|---|---:|---:|---:|---|"]
    for size, modes in sorted(results.items()):
        for mode, row in modes.items():
            goal = GOALS_MS.get(mode)
            verdict = f"<= {goal:.0f} ms: {'met' if row['p95_ms'] <= goal else 'MISSED'}" if goal else ""
            lines.append(f"| {size:,} | {mode} | {row['n']} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} | {verdict} |")
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
