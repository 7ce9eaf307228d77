"""Synthetic corpora for latency benchmarks, resampled from real text.

The sentences of real corpora (BEIR-style `corpus.jsonl[.gz]` files: SciFact, COVID-QA) are
shuffled into new chunks, each filled like the chunker fills prose (whole sentences up to the
embedding model's window), so the vocabulary, term frequencies and chunk lengths behave like
real text at any size. The build is deterministic for a seed and resumable: documents are
written through ingestion's own writers (the per-document one of uploads, or on a pg_textsearch
database its bulk writer, the postings of the sql engine built at the end from the chunks' tokens),
and a re-run continues where the last one stopped.

Embedding shortcut (said so in every report): each distinct sentence is embedded once with the
real model, and a chunk's vector is the normalised mean of its sentences' vectors. Embedding
100,000 chunks of 256 tokens on two shared cores would take about an hour; the index, the
vectors' dimension and their count, which are what search latency depends on, are the same.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection, transaction

from bench.collections import fresh_collection, reused
from ingestion.chunking import _SENTENCE_END, ChunkDraft
from ingestion.embedding import get_embedder
from ingestion.index_writer import documents_store_prepared_bulk
from ingestion.keyword_index import keyword_index_exists, postings_build, postings_drop, writes_postings
from ingestion.models import ChunkTerm, Collection, CollectionStats, Document
from ingestion.services import (
    collection_build_signature_set,
    collection_bulk_load_finish,
    collection_bulk_load_start,
    document_store_prepared,
)
from ingestion.vector_index import vector_index_exists

BUILD_VERSION = "synthetic-v1"
CHUNKS_PER_DOCUMENT = 20
MIN_SENTENCE_WORDS = 3
EMBED_BLOCK = 4096
# Documents written per transaction: through the same writer as an upload (one savepoint each)
# when the database keeps postings, else streamed in bulk (ingestion's bulk writer).
COMMIT_EVERY = 50
BULK_DOCUMENTS = 500
SHORTEST_LAST_CHUNK = 32  # model tokens: a document's last chunk is shorter, as in real documents
VECTOR_METHOD = "mean of the chunk's sentence vectors (each distinct sentence embedded once with the real model)"

Log = Callable[[str], None]


def corpus_file(source: Path) -> Path:
    """The corpus file of a source: the path itself, or corpus.jsonl[.gz] inside a folder."""
    if source.is_file():
        return source
    for name in ("corpus.jsonl.gz", "corpus.jsonl"):
        if (source / name).exists():
            return source / name
    raise FileNotFoundError(f"no corpus.jsonl[.gz] in {source}")


def _rows(path: Path) -> Iterator[dict[str, Any]]:
    opener: Callable[..., Any] = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def sources_signature(sources: list[Path]) -> str:
    parts = []
    for source in sources:
        file = corpus_file(source)
        parts.append(f"{file.name}:{file.stat().st_size}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]


@dataclass
class SentencePool:
    texts: list[str]
    tokens: np.ndarray  # model tokens of each sentence, special tokens excluded
    signature: str


_pools: dict[tuple[str, ...], SentencePool] = {}


def sentence_pool_load(
    sources: list[Path], *, embedder: Any, max_tokens: int, sample: int | None = None, seed: int = 0
) -> SentencePool:
    """The distinct sentences of the sources (split where the chunker splits prose), or a seeded
    random `sample` of them; kept for the process (every size of one run draws from one pool)."""
    key = (*[str(s) for s in sources], sources_signature(sources), embedder.label, str(max_tokens), str(sample), str(seed))
    if key not in _pools:
        _pools[key] = _sentence_pool_read(sources, embedder=embedder, max_tokens=max_tokens, sample=sample, seed=seed)
    return _pools[key]


def _sentence_pool_read(
    sources: list[Path], *, embedder: Any, max_tokens: int, sample: int | None, seed: int
) -> SentencePool:
    seen: dict[str, None] = {}
    for source in sources:
        for row in _rows(corpus_file(source)):
            for field in ("title", "text"):
                for sentence in _SENTENCE_END.split(str(row.get(field) or "")):
                    sentence = " ".join(sentence.split())
                    if len(sentence.split()) >= MIN_SENTENCE_WORDS:
                        seen.setdefault(sentence, None)
    texts = list(seen)
    tokenizer = embedder.tokenizer
    counts: list[int] = []
    for start in range(0, len(texts), 2048):
        encoded = tokenizer(texts[start : start + 2048], add_special_tokens=False, truncation=False)["input_ids"]
        counts.extend(len(ids) for ids in encoded)
    tokens = np.asarray(counts, dtype=np.int32)
    keep = tokens <= max_tokens
    texts = [t for t, k in zip(texts, keep) if k]
    tokens = tokens[keep]
    if sample is not None and sample < len(texts):
        chosen = np.sort(np.random.default_rng(seed).choice(len(texts), size=sample, replace=False))
        texts = [texts[i] for i in chosen]
        tokens = tokens[chosen]
    signature = hashlib.sha256(
        f"{sources_signature(sources)}|{embedder.label}|{len(texts)}|{MIN_SENTENCE_WORDS}|{sample}|{seed}".encode()
    ).hexdigest()[:12]
    return SentencePool(texts=texts, tokens=tokens, signature=signature)


def sentence_vectors(pool: SentencePool, *, embedder: Any, cache_dir: Path, log: Log) -> np.ndarray:
    """The real model's vector of every sentence, embedded once; cached in blocks (resumable)."""
    folder = cache_dir / f"sentences-{pool.signature}"
    folder.mkdir(parents=True, exist_ok=True)
    blocks = []
    started = time.monotonic()
    for number, start in enumerate(range(0, len(pool.texts), EMBED_BLOCK)):
        file = folder / f"block-{number:04d}.npy"
        if not file.exists():
            vectors = embedder.embed(pool.texts[start : start + EMBED_BLOCK])
            np.save(folder / "partial.npy", vectors)
            (folder / "partial.npy").rename(file)
            done = min(start + EMBED_BLOCK, len(pool.texts))
            log(f"  embedded sentences {done}/{len(pool.texts)} ({time.monotonic() - started:.0f} s)")
        blocks.append(np.load(file))
    return np.concatenate(blocks) if blocks else np.zeros((0, embedder.dimensions), dtype=np.float32)


def chunk_plan(pool: SentencePool, *, count: int, seed: int, max_tokens: int) -> list[list[int]]:
    """Sentence ids of each chunk: random sentences packed whole up to `max_tokens` model tokens.

    Every CHUNKS_PER_DOCUMENT-th chunk (a document's last) stops at a random shorter length."""
    rng = np.random.default_rng(seed)
    draws = _draws(rng, len(pool.texts))
    plan: list[list[int]] = []
    pending: int | None = None
    for number in range(count):
        last_of_document = number % CHUNKS_PER_DOCUMENT == CHUNKS_PER_DOCUMENT - 1
        target = int(rng.integers(SHORTEST_LAST_CHUNK, max_tokens + 1)) if last_of_document else max_tokens
        chunk: list[int] = []
        used = 0
        while True:
            sentence = pending if pending is not None else next(draws)
            pending = None
            cost = int(pool.tokens[sentence])
            if chunk and used + cost > target:
                pending = sentence
                break
            chunk.append(sentence)
            used += cost
        plan.append(chunk)
    return plan


def _draws(rng: np.random.Generator, size: int) -> Iterator[int]:
    while True:
        yield from rng.integers(0, size, size=65536).tolist()


def build_signature(
    *, sources: list[Path], count: int, seed: int, max_tokens: int, model: str, sentences: int | None
) -> str:
    return (
        f"{BUILD_VERSION} sources={sources_signature(sources)} sentences={sentences or 'all'} chunks={count} seed={seed} "
        f"max_tokens={max_tokens} model={model} bm25={settings.BM25_STEMMER}/{settings.BM25_STOPWORDS}"
    )


def synthetic_collection_build(
    *,
    slug: str,
    sources: list[Path],
    count: int,
    seed: int,
    cache_dir: Path,
    log: Log,
    sentences: int | None = None,
    index_memory: str = "1GB",
    keyword_index: bool = False,
    postings: bool = False,
) -> Collection:
    """A collection of `count` synthetic chunks (built, resumed, or reused as it is), with its
    pg_textsearch bm25 index when `keyword_index` and the sql engine's postings when `postings`,
    whatever the database's engine (each built once at the end, from the chunks' tokens: the
    per-document upserts of document frequencies made a 1M build take hours).

    Call it inside bench.database.separate_database: it writes tens of millions of rows."""
    embedder = get_embedder()
    max_tokens = embedder.max_tokens - 2
    signature = build_signature(
        sources=sources, count=count, seed=seed, max_tokens=max_tokens, model=embedder.label, sentences=sentences
    )
    collection = Collection.objects.filter(slug=slug).first()
    if collection is not None and collection.build_signature != signature:
        log(f"{slug}: built with other settings, rebuilding")
        collection = None
    if collection is None:
        collection = fresh_collection(slug, f"Synthetic latency corpus ({count} chunks)")
        collection_build_signature_set(collection=collection, signature=signature)
    stats = CollectionStats.objects.get(collection=collection)
    if stats.chunk_count == count and vector_index_exists(collection.id):
        if keyword_index and not keyword_index_exists(collection.id):
            log(f"{slug}: building its bm25 index")
            started = time.monotonic()
            collection_bulk_load_finish(collection=collection, maintenance_work_mem=index_memory, keyword_index=True)
            log(f"{slug}: bm25 index built in {time.monotonic() - started:.0f} s")
        _postings_ensure(collection, postings, log)
        log(f"{slug}: reusing {count} chunks ({signature})")
        return reused(collection, log)
    collection_bulk_load_start(collection=collection)  # the HNSW and bm25 indexes are built once, at the end
    if postings and not writes_postings():
        postings_drop(collection.id)  # those of a resumed build's first part: all are built at the end
    pool = sentence_pool_load(sources, embedder=embedder, max_tokens=max_tokens, sample=sentences, seed=seed)
    log(f"{slug}: {len(pool.texts)} distinct sentences from {', '.join(str(s) for s in sources)}")
    vectors = sentence_vectors(pool, embedder=embedder, cache_dir=cache_dir, log=log)
    plan = chunk_plan(pool, count=count, seed=seed, max_tokens=max_tokens)
    done = Document.objects.filter(collection=collection).count()
    documents = (count + CHUNKS_PER_DOCUMENT - 1) // CHUNKS_PER_DOCUMENT
    if done:
        log(f"{slug}: resuming after {done} of {documents} documents")
    started = time.monotonic()
    with connection.cursor() as cursor:
        # A benchmark corpus is rebuilt, not recovered: no waiting for each commit to reach disk.
        cursor.execute("SET synchronous_commit TO off")
    report_every = max(1, documents // 20)
    bulk = not writes_postings()  # the database keeps no postings: chunks are streamed in bulk
    step = BULK_DOCUMENTS if bulk else COMMIT_EVERY
    for first in range(done, documents, step):
        numbers = range(first, min(first + step, documents))
        prepared = []
        for number in numbers:
            ids = plan[number * CHUNKS_PER_DOCUMENT : (number + 1) * CHUNKS_PER_DOCUMENT]
            parsed_text, chunks = _document_chunks(pool, vectors, ids)
            prepared.append((f"synthetic-{number:06d}.txt", parsed_text, chunks))
        if bulk:
            documents_store_prepared_bulk(collection=collection, documents=prepared)
        else:
            with transaction.atomic():
                for name, parsed_text, chunks in prepared:
                    document_store_prepared(collection=collection, name=name, parsed_text=parsed_text, chunks=chunks)
        written = numbers.stop
        if written // report_every > first // report_every or written == documents:
            rate = (written - done) / max(time.monotonic() - started, 1e-9)
            log(f"  {slug}: {written}/{documents} documents ({rate:.1f}/s)")
    _postings_ensure(collection, postings, log)
    log(f"{slug}: building the HNSW index" + (" and the bm25 index" if keyword_index else ""))
    finishing = time.monotonic()
    collection_bulk_load_finish(collection=collection, maintenance_work_mem=index_memory, keyword_index=keyword_index)
    log(f"{slug}: indexes built in {time.monotonic() - finishing:.0f} s")
    log(f"{slug}: built {count} chunks in {time.monotonic() - started:.0f} s ({signature})")
    return collection


def _postings_ensure(collection: Collection, wanted: bool, log: Log) -> None:
    """The sql engine's postings of the whole collection, from its chunks' tokens (once)."""
    if not wanted or ChunkTerm.objects.filter(collection=collection).exists():
        return
    started = time.monotonic()
    with transaction.atomic():
        written = postings_build(collection.id)
    log(f"{collection.slug}: {written} postings written in {time.monotonic() - started:.0f} s")


def _document_chunks(pool: SentencePool, vectors: np.ndarray, plan: list[list[int]]) -> tuple[str, list]:  # type: ignore[type-arg]
    texts = [" ".join(pool.texts[i] for i in ids) for ids in plan]
    parsed_text = "\n\n".join(texts)
    chunks = []
    position = 0
    for text, ids in zip(texts, plan):
        mean = vectors[ids].mean(axis=0)
        draft = ChunkDraft(
            text=text,
            char_start=position,
            char_end=position + len(text),
            page_start=None,
            page_end=None,
            heading_path=[],
            token_count=int(pool.tokens[ids].sum()),
        )
        chunks.append((draft, mean / max(float(np.linalg.norm(mean)), 1e-12)))
        position += len(text) + 2
    return parsed_text, chunks
