"""Retrieval evaluation on BEIR-format folders, driving the same search() the API uses.

Layout: corpus.jsonl[.gz] ({_id, title, text}), queries.jsonl ({_id, text}), qrels/test.tsv
(query-id, corpus-id, score; header row; graded or binary).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from bench.collections import fresh_collection, reused
from ingestion.embedding import get_embedder
from ingestion.keyword_index import (
    PG_TEXTSEARCH,
    SQL,
    engine_current,
    keyword_index_build,
    keyword_index_drop,
    keyword_index_exists,
    postings_build,
    postings_drop,
)
from ingestion.models import Collection
from ingestion.parsing import Element
from ingestion.services import collection_build_signature_set, documents_index_elements
from retrieval.bm25 import engine_override
from retrieval.metrics import mrr_at, ndcg_at, recall_at
from retrieval.rerank import reranker_override
from retrieval.search import search


@dataclass
class BeirDataset:
    path: Path
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]

    def corpus(self) -> Iterator[dict[str, Any]]:
        for name in ("corpus.jsonl.gz", "corpus.jsonl"):
            file = self.path / name
            if file.exists():
                opener: Callable[..., Any] = gzip.open if name.endswith(".gz") else open
                with opener(file, "rt", encoding="utf-8") as handle:
                    for line in handle:
                        if line.strip():
                            yield json.loads(line)
                return
        raise FileNotFoundError(f"no corpus.jsonl[.gz] in {self.path}")


def load_beir(path: Path, *, split: str = "test") -> BeirDataset:
    queries: dict[str, str] = {}
    with open(path / "queries.jsonl", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                queries[str(row["_id"])] = row["text"]
    qrels: dict[str, dict[str, int]] = {}
    with open(path / "qrels" / f"{split}.tsv", encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or (number == 0 and not parts[2].strip().lstrip("-").isdigit()):
                continue  # header
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    return BeirDataset(path=path, queries={q: t for q, t in queries.items() if q in qrels}, qrels=qrels)


# -- latency ------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[index]


# -- the evaluation collection ----------------------------------------------------------------------


def build_signature(dataset_path: Path) -> str:
    parts = [str(dataset_path.resolve()), get_embedder().label, f"overlap={settings.CHUNK_OVERLAP_TOKENS}",
             f"stemmer={settings.BM25_STEMMER}", f"stopwords={settings.BM25_STOPWORDS}", "chunker=v1"]
    return "|".join(parts)


def evaluation_collection(dataset: BeirDataset, *, log: Callable[[str], None] = print) -> Collection:
    """The dataset's own collection (kind evaluation), rebuilt only when the signature changed."""
    signature = build_signature(dataset.path)
    slug = "eval-" + hashlib.sha256(str(dataset.path.resolve()).encode()).hexdigest()[:12]
    existing = Collection.objects.filter(slug=slug).first()
    if existing is not None and existing.build_signature == signature:
        log(f"reusing collection {slug} ({existing.documents.count()} documents)")
        return reused(existing, log)
    if existing is not None:
        log(f"settings changed since {slug} was built: rebuilding it")
    collection = fresh_collection(slug, f"Evaluation: {dataset.path.name}")  # the old one is deleted
    batch: list[tuple[str, list[Element]]] = []
    started, count = time.perf_counter(), 0
    for doc in dataset.corpus():
        elements = []
        if doc.get("title", "").strip():
            elements.append(Element(kind="Title", text=doc["title"].strip()))
        if doc.get("text", "").strip():
            elements.append(Element(kind="NarrativeText", text=doc["text"].strip()))
        batch.append((str(doc["_id"]), elements))
        if len(batch) == 256:
            count += len(documents_index_elements(collection=collection, items=batch))
            batch = []
            log(f"  indexed {count} documents ({count / (time.perf_counter() - started):.1f}/s)")
    if batch:
        count += len(documents_index_elements(collection=collection, items=batch))
    collection_build_signature_set(collection=collection, signature=signature)
    log(f"indexed {count} documents in {time.perf_counter() - started:.0f} s")
    return collection


# -- running ------------------------------------------------------------------------------------------

MODES = {
    "bm25": {"mode": "bm25", "rerank": False},
    "vector": {"mode": "vector", "rerank": False},
    "hybrid": {"mode": "hybrid", "rerank": False},
    "hybrid+rerank": {"mode": "hybrid", "rerank": True},
}


@contextmanager
def engine_structures(collection_id: int, engines: list[str], *, log: Callable[[str], None] = print) -> Iterator[None]:
    """For the block, what each of `engines` needs for one (evaluation) collection beside what the
    database's own engine keeps: the sql engine's postings, or the collection's bm25 index. Removed
    afterwards, so the database stays as its engine keeps it."""
    database_engine = engine_current()
    built: list[str] = []
    if SQL in engines and database_engine != SQL:
        log(f"sql engine: {postings_build(collection_id)} postings written for the evaluation collection")
        built.append(SQL)
    if PG_TEXTSEARCH in engines and database_engine != PG_TEXTSEARCH and not keyword_index_exists(collection_id):
        keyword_index_build(collection_id)
        log("pg_textsearch engine: the evaluation collection's bm25 index built")
        built.append(PG_TEXTSEARCH)
    try:
        yield
    finally:
        if SQL in built:
            postings_drop(collection_id)
        if PG_TEXTSEARCH in built:
            keyword_index_drop(collection_id)


def evaluate(
    dataset: BeirDataset, collection_id: int, modes: list[str], *, depth: int = 100, engines: list[str] | None = None,
    rerank_model: str | None = None, rerank_backends: list[str] | None = None,
) -> dict[str, Any]:
    """Each mode's quality and latency; with `engines`, the modes that use BM25 once per engine
    ("bm25 [sql]", "hybrid [pg_textsearch]", ...); with `rerank_model` (a name or a path), the
    reranking mode with that cross-encoder, once per backend of `rerank_backends`
    ("hybrid+rerank [onnx-int8]": int8 beside fp32 on the same questions)."""
    if rerank_model:
        plain = [name for name in modes if not MODES[name]["rerank"]]
        report: dict[str, Any] = evaluate(dataset, collection_id, plain, depth=depth, engines=engines) if plain else {}
        for name in (name for name in modes if MODES[name]["rerank"]):
            for backend in rerank_backends or [settings.RERANK_BACKEND]:
                with reranker_override(rerank_model, backend):
                    report[f"{name} [{backend}]"] = evaluate(dataset, collection_id, [name], depth=depth)[name]
        return report
    if engines:
        report = {}
        for name in modes:
            if MODES[name]["mode"] == "vector":
                report.update(evaluate(dataset, collection_id, [name], depth=depth))
                continue
            for engine in engines:
                with engine_override(engine):
                    report[f"{name} [{engine}]"] = evaluate(dataset, collection_id, [name], depth=depth)[name]
        return report
    report = {}
    for name in modes:
        options = MODES[name]
        per_query: list[tuple[float, float, float, float]] = []
        latencies: list[float] = []
        skipped = ""
        for query_id, text in dataset.queries.items():
            started = time.perf_counter()
            result = search(text, collection_ids=[collection_id], top_k=depth, candidates=depth, **options)  # type: ignore[arg-type]
            latencies.append((time.perf_counter() - started) * 1000)
            if options["rerank"] and not result.rerank.applied:
                skipped = result.rerank.reason
                break
            ranked = best_chunk_per_document([hit.filename for hit in result.results])
            relevant = dataset.qrels[query_id]
            per_query.append((ndcg_at(ranked, relevant, 10), recall_at(ranked, relevant, 10),
                              recall_at(ranked, relevant, 100), mrr_at(ranked, relevant, 10)))
        if skipped:
            report[name] = {"skipped": skipped}
            continue
        columns = list(zip(*per_query))
        report[name] = {
            "ndcg@10": round(statistics.fmean(columns[0]), 4),
            "recall@10": round(statistics.fmean(columns[1]), 4),
            "recall@100": round(statistics.fmean(columns[2]), 4),
            "mrr@10": round(statistics.fmean(columns[3]), 4),
            "p50_ms": round(percentile(latencies, 50), 1),
            "p95_ms": round(percentile(latencies, 95), 1),
            "queries": len(per_query),
        }
    return report


def best_chunk_per_document(document_ids: list[str]) -> list[str]:
    """Chunk hits (best first) to document ids, each document at the rank of its best chunk."""
    seen: set[str] = set()
    ranked = []
    for doc in document_ids:
        if doc not in seen:
            seen.add(doc)
            ranked.append(doc)
    return ranked


def format_table(report: dict[str, Any]) -> str:
    header = "| mode | nDCG@10 | Recall@10 | Recall@100 | MRR@10 | p50 ms | p95 ms |\n|---|---|---|---|---|---|---|"
    rows = []
    for name, values in report.items():
        if "skipped" in values:
            rows.append(f"| {name} | skipped: {values['skipped']} | | | | | |")
        else:
            rows.append(
                f"| {name} | {values['ndcg@10']:.4f} | {values['recall@10']:.4f} | {values['recall@100']:.4f} | "
                f"{values['mrr@10']:.4f} | {values['p50_ms']:.1f} | {values['p95_ms']:.1f} |"
            )
    return "\n".join([header, *rows])
