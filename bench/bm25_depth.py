"""How the BM25 index query alone grows with the depth it reads (top k) and with the question's
length, on one collection: where keyword search's tail latency comes from.

Each question is run at every depth, the depths interleaved, after the warm-up questions; the
question's length is its number of tokens after the project's analysis (stop-words removed)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from bench.latency import summarise
from ingestion.tokenize import default_tokenizer
from retrieval.bm25 import BM25Retriever

# Question lengths (tokens after analysis) reported apart: (label, shortest, longest).
LENGTHS = (("1-7 tokens", 1, 7), ("8-12 tokens", 8, 12), ("13+ tokens", 13, 10_000))


def bm25_depth_measure(collection_id: int, questions: Sequence[str], *, depths: Sequence[int], warmup: int = 10,
                       engine: str | None = None) -> dict[str, object]:
    """p50/p95 of the index query at each depth, overall and per question length, and the
    slowest questions at the deepest depth."""
    retriever = BM25Retriever(engine=engine)
    tokenizer = default_tokenizer()
    for question in questions[:warmup]:
        retriever.run(question, collection_ids=[collection_id], top_k=max(depths))
    timed = list(questions[warmup:])
    times: dict[int, list[tuple[float, int, str]]] = {depth: [] for depth in depths}
    for question in timed:
        length = len(tokenizer(question))
        for depth in depths:
            started = time.perf_counter()
            retriever.run(question, collection_ids=[collection_id], top_k=depth)
            times[depth].append(((time.perf_counter() - started) * 1000, length, question))
    rows: dict[str, dict[str, float]] = {}
    for depth in depths:
        rows[f"top {depth}, all"] = summarise([ms for ms, _, _ in times[depth]])
        for label, low, high in LENGTHS:
            values = [ms for ms, n, _ in times[depth] if low <= n <= high]
            if values:
                rows[f"top {depth}, {label}"] = summarise(values)
    deepest = sorted(times[max(depths)], reverse=True)[:5]
    return {"rows": rows, "slowest": [{"ms": round(ms, 1), "tokens": n, "question": q} for ms, n, q in deepest],
            "engine": retriever.last_engine}


def format_depth_table(result: dict[str, object]) -> str:
    rows: dict[str, dict[str, float]] = result["rows"]  # type: ignore[assignment]
    lines = ["| depth, question length | n | p50 ms | p95 ms |", "|---|---:|---:|---:|"]
    lines += [f"| {name} | {row['n']} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} |" for name, row in rows.items()]
    slowest: list[dict[str, object]] = result["slowest"]  # type: ignore[assignment]
    lines += ["", "slowest at the deepest depth:"]
    lines += [f"- {s['ms']} ms, {s['tokens']} tokens: {str(s['question'])[:100]}" for s in slowest]
    return "\n".join(lines)
