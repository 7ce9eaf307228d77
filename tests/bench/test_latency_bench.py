"""The retrieval latency benchmark runs end to end in a database of its own."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pytest
from django.core.management import call_command

from bench.database import database_drop, separate_database
from bench.latency import format_table
from ingestion.keyword_index import keyword_index_exists
from ingestion.models import Chunk, ChunkTerm, Collection, CollectionStats
from ingestion.services import collection_create

pytestmark = pytest.mark.slow

BENCH_DATABASE = "test_footnote_latency_bench"
NOUNS = "virus cell protein patient vaccine receptor antibody mouse tissue gene enzyme trial".split()
VERBS = "binds inhibits activates reduces increases regulates blocks predicts".split()
ADJECTIVES = "viral human chronic acute novel mutant elderly infected".split()


def write_tiny_sources(folder: Path) -> Path:
    """A BEIR-style folder: 80 generated abstracts of 6 sentences, and 20 questions."""
    rng = random.Random(7)
    folder.mkdir()

    def sentence() -> str:
        return (f"The {rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {rng.choice(VERBS)} the "
                f"{rng.choice(NOUNS)} in {rng.randint(2, 900)} {rng.choice(NOUNS)} samples.")

    with (folder / "corpus.jsonl").open("w") as out:
        for number in range(80):
            out.write(json.dumps({"_id": str(number), "title": "", "text": " ".join(sentence() for _ in range(6))}) + "\n")
    with (folder / "queries.jsonl").open("w") as out:
        for number in range(20):
            out.write(json.dumps({"_id": str(number), "text": f"Which {rng.choice(NOUNS)} {rng.choice(VERBS)} the {rng.choice(NOUNS)}?"}) + "\n")
    return folder


@pytest.fixture
def bench_database(transactional_db, monkeypatch):  # type: ignore[no-untyped-def]
    # The benchmark's collections live in another database: start from a fresh retriever cache
    # and put the one of the other tests back afterwards.
    monkeypatch.setattr("retrieval.stages._components", None)
    database_drop(BENCH_DATABASE)
    yield BENCH_DATABASE
    database_drop(BENCH_DATABASE)


def test_it_builds_the_corpus_in_its_own_database_and_prints_the_table(bench_database, tmp_path):
    user_collection = collection_create(slug="users-own", name="Users' own")
    before = sorted(Collection.objects.values_list("slug", flat=True))
    sources = write_tiny_sources(tmp_path / "tiny")
    report = tmp_path / "latency.json"
    out = io.StringIO()
    call_command(
        "bench_retrieval_latency", "--sources", str(sources), "--chunks", "200", "--queries", "4",
        "--database", bench_database, "--work-dir", str(tmp_path / "work"), "--json", str(report), stdout=out,
    )
    text = out.getvalue()
    for mode in ("bm25 [pg_textsearch]", "bm25 [sql]", "vector", "hybrid [pg_textsearch]", "hybrid [sql]",
                 "bm25 after a write [pg_textsearch]", "bm25 after a write [sql]",
                 "rerank@20", "rerank@20 onnx", "rerank@20 onnx-int8"):
        assert f"| 200 | {mode} | 4 |" in text, text
    assert "| 200 | pg_textsearch |" in text and "| 200 | sql |" in text  # bm25 p95 over vector p95
    assert json.loads(report.read_text())["sizes"]["200"]["modes"]["hybrid [sql]"]["n"] == 4

    # The user's database is untouched: same collections, no synthetic chunk or posting.
    assert sorted(Collection.objects.values_list("slug", flat=True)) == before
    assert not Chunk.objects.exists() and not ChunkTerm.objects.exists()
    assert Collection.objects.get(pk=user_collection.pk).slug == "users-own"

    with separate_database(bench_database):
        synthetic = Collection.objects.get(slug="latency-200")
        assert synthetic.kind == Collection.Kind.EVALUATION
        assert CollectionStats.objects.get(collection=synthetic).chunk_count == 200
        assert Chunk.objects.filter(collection=synthetic).count() == 200
        # Both engines' indexes for the same chunks; the writes timed "after a write" are gone.
        assert ChunkTerm.objects.filter(collection=synthetic).exists()
        assert keyword_index_exists(synthetic.id)
        assert not Collection.objects.filter(slug="users-own").exists()

    again = io.StringIO()
    call_command(
        "bench_retrieval_latency", "--sources", str(sources), "--chunks", "200", "--queries", "2", "--no-rerank",
        "--database", bench_database, "--work-dir", str(tmp_path / "work"), stdout=again,
    )
    assert "latency-200: reusing 200 chunks" in again.getvalue()
    assert "| 200 | hybrid [pg_textsearch] | 2 |" in again.getvalue()


def test_the_table_gives_each_sizes_growth_over_the_next_smaller_one():
    def row(p50: float, p95: float) -> dict[str, float]:
        return {"n": 5, "p50_ms": p50, "p95_ms": p95}

    table = format_table({
        10_000: {"bm25 [sql]": row(10, 20)},
        100_000: {"bm25 [sql]": row(30, 80), "vector": row(10, 40), "rerank@20": row(400, 450)},
        1_000_000: {"bm25 [sql]": row(90, 400)},
    })
    assert "| 100,000 | rerank@20 | 5 | 400.0 | 450.0 | <= 500 ms: met |" in table
    assert "| 100,000 | bm25 [sql] | 5 | 30.0 | 80.0 | <= 30 ms: MISSED |" in table
    assert "| 100,000 | sql | 2.00 |  |" in table
    assert "| mode | p50 100,000/10,000 | p95 100,000/10,000 |" in table
    assert "| mode | p50 1,000,000/100,000 | p95 1,000,000/100,000 |" in table
    growth = table.split("p95 1,000,000/100,000 |")[1]
    assert "| bm25 [sql] | 3.00 | 5.00 |" in growth
