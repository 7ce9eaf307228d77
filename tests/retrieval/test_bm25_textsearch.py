"""The pg_textsearch engine (the embedded PostgreSQL 18 has the extension preloaded)."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from django.db import connection
from rank_bm25 import BM25Okapi

from ingestion.chunking import embedding_input
from ingestion.keyword_index import (
    PG_TEXTSEARCH,
    SQL,
    engine_current,
    engine_status,
    engine_switch,
    keyword_index_exists,
    textsearch_unavailable_reason,
)
from ingestion.models import Chunk, ChunkTerm, CollectionStats, CollectionTerm, Document, KeywordEngine
from ingestion.tokenize import default_tokenizer
from retrieval.bm25 import BM25Retriever, engine_override
from tests.retrieval.helpers import collection_with_texts

pytestmark = pytest.mark.django_db

# Top-10 overlap with rank-bm25 that the index must reach on the generated corpus below: the
# scores differ by design (idf without rank-bm25's negative-idf floor, float4 scores), so the
# rankings may differ where a very common term or a near tie decides.
MIN_MEAN_TOP10_OVERLAP = 0.8


def _ids(hits):  # type: ignore[no-untyped-def]
    return [h.chunk_id for h in hits]


def test_the_embedded_database_uses_pg_textsearch_and_writes_no_postings():
    collection = collection_with_texts("ts-default", {"a.txt": "Quarterly revenue grew in the third quarter."})
    assert engine_current() == PG_TEXTSEARCH and engine_status()["status"] == "ok"
    assert keyword_index_exists(collection.id)
    assert not ChunkTerm.objects.filter(collection=collection).exists()
    assert not CollectionTerm.objects.filter(collection=collection).exists()
    stats = CollectionStats.objects.get(collection=collection)
    chunk = Chunk.objects.get(collection=collection)
    assert stats.chunk_count == 1 and stats.total_length == chunk.bm25_length > 0 and stats.generation >= 1
    hits = BM25Retriever().run("revenue quarter", collection_ids=[collection.id], top_k=5)
    assert _ids(hits) == [chunk.id] and hits[0].score > 0


def test_the_index_sees_exactly_the_projects_tokens():
    """PostgreSQL's parser with the `simple` configuration keeps each of our tokens as it is."""
    text = ("The naïve café's résumé: COVID-19 cases rose 12.5% in 2020 (x3 vs. 1e5 baseline); "
            "Straße, ελληνικά, 中文, O'Brien's co-operation and e-mail@example.com http://x.org/a_b")
    collection = collection_with_texts("ts-tokens", {"t.txt": text})
    chunk = Chunk.objects.get(collection=collection)
    ours = Counter(default_tokenizer()(embedding_input(chunk.heading_path, chunk.text)))
    assert Counter(chunk.bm25_text.split(" ")) == ours
    with connection.cursor() as cursor:
        cursor.execute("SELECT word, nentry FROM ts_stat($$SELECT to_tsvector('simple', bm25_text) FROM "
                       f"ingestion_chunk WHERE id = {chunk.id}$$)")
        theirs = dict(cursor.fetchall())
    assert theirs == dict(ours)


def _generated_texts(seed: int, count: int) -> dict[str, str]:
    rng = random.Random(seed)
    vocabulary = [f"w{i}" for i in range(300)]
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]  # Zipf, as real text
    return {f"doc{i:03d}.txt": " ".join(rng.choices(vocabulary, weights, k=rng.randint(8, 60))) + "."
            for i in range(count)}


def test_rankings_agree_with_rank_bm25_on_a_small_corpus():
    collection = collection_with_texts("ts-overlap", _generated_texts(3, 120))
    chunks = list(Chunk.objects.filter(collection=collection).order_by("id"))
    tokenizer = default_tokenizer()
    reference = BM25Okapi([tokenizer(embedding_input(c.heading_path, c.text)) for c in chunks], k1=0.9, b=0.4)
    rng = random.Random(11)
    overlaps = []
    for _ in range(30):
        query = " ".join(f"w{rng.randint(0, 120)}" for _ in range(rng.randint(1, 4)))
        scores = reference.get_scores(tokenizer(query))
        expected = [chunks[i].id for i in sorted(range(len(chunks)), key=lambda i: -scores[i]) if scores[i] > 0][:10]
        got = _ids(BM25Retriever(engine=PG_TEXTSEARCH).run(query, collection_ids=[collection.id], top_k=10))
        if expected:
            overlaps.append(len(set(got) & set(expected)) / len(expected))
    assert overlaps and sum(overlaps) / len(overlaps) >= MIN_MEAN_TOP10_OVERLAP


def test_a_collection_never_scores_with_another_collections_statistics_or_chunks():
    mine = collection_with_texts("ts-mine", {"m.txt": "budget spreadsheet for marketing", "n.txt": "travel policy"})
    before = {h.chunk_id: h.score for h in BM25Retriever().run("budget spreadsheet", collection_ids=[mine.id], top_k=10)}
    # Another collection where the same words are everywhere: were its statistics shared, mine's
    # idf of "budget" would fall.
    theirs = collection_with_texts(
        "ts-theirs", {f"t{i}.txt": f"budget spreadsheet salary secret number {i}" for i in range(12)}
    )
    after = BM25Retriever().run("budget spreadsheet salary", collection_ids=[mine.id], top_k=10)
    assert {Chunk.objects.get(pk=h.chunk_id).collection_id for h in after} == {mine.id}
    assert {h.chunk_id: h.score for h in after} == pytest.approx(before)
    both = BM25Retriever().run("salary", collection_ids=[mine.id, theirs.id], top_k=50)
    assert {Chunk.objects.get(pk=h.chunk_id).collection_id for h in both} == {theirs.id}


def test_a_small_collection_inside_a_large_table_gets_its_full_top_k():
    collection_with_texts("ts-large", {f"l{i:03d}.txt": f"annual budget review number {i}" for i in range(150)})
    small = collection_with_texts("ts-small", {f"s{i}.txt": f"budget plan {i}" for i in range(3)})
    hits = BM25Retriever().run("budget", collection_ids=[small.id], top_k=10)
    assert len(hits) == 3 and set(_ids(hits)) == set(Chunk.objects.filter(collection=small).values_list("id", flat=True))


def test_deletes_and_re_indexing_are_reflected_at_once():
    from ingestion.services import document_delete, document_process

    collection = collection_with_texts("ts-changes", {"a.txt": "zebra crossing rules", "b.txt": "giraffe feeding times"})
    assert len(BM25Retriever().run("zebra giraffe", collection_ids=[collection.id], top_k=10)) == 2
    document_delete(document=Document.objects.get(collection=collection, original_filename="a.txt"))
    hits = BM25Retriever().run("zebra giraffe", collection_ids=[collection.id], top_k=10)
    assert [Chunk.objects.get(pk=h.chunk_id).document.original_filename for h in hits] == ["b.txt"]
    # Re-indexing a document replaces its chunks (the same text: the old ones must not linger).
    document = Document.objects.get(collection=collection, original_filename="b.txt")
    Document.objects.filter(pk=document.pk).update(status=Document.Status.QUEUED)
    document_process(document_id=document.pk)
    hits = BM25Retriever().run("giraffe", collection_ids=[collection.id], top_k=10)
    assert _ids(hits) == list(Chunk.objects.filter(document=document).values_list("id", flat=True))


def test_switching_to_sql_and_back_keeps_the_same_results():
    collection = collection_with_texts("ts-switch", _generated_texts(5, 40))
    queries = ["w1 w7", "w20", "w3 w50 w90", "w0"]

    def results() -> list[set[int]]:
        return [set(_ids(BM25Retriever().run(q, collection_ids=[collection.id], top_k=5))) for q in queries]

    indexed = results()
    assert "postings written" in engine_switch(SQL)
    assert engine_current() == SQL and not keyword_index_exists(collection.id)
    assert ChunkTerm.objects.filter(collection=collection).exists()
    counted = dict(CollectionTerm.objects.filter(collection=collection).values_list("term", "df"))
    assert counted["w1"] == sum("w1" in set(c.bm25_text.split()) for c in Chunk.objects.filter(collection=collection))
    on_sql = results()
    # A new document on the sql engine writes postings.
    collection_with_texts("ts-switch-2", {"x.txt": "w1 w2"})
    engine_switch(PG_TEXTSEARCH)
    assert keyword_index_exists(collection.id) and not ChunkTerm.objects.exists() and not CollectionTerm.objects.exists()
    back = results()
    assert back == indexed
    overlap = sum(len(a & b) for a, b in zip(indexed, on_sql)) / sum(len(a) for a in indexed)
    assert overlap >= MIN_MEAN_TOP10_OVERLAP


def test_chunks_indexed_before_the_column_get_their_tokens_from_their_postings():
    """Searched in the switch's own transaction: the indexes are built before the rows' tokens are
    filled in, so that no broken HOT chain keeps them from older transactions (indcheckxmin)."""
    engine_switch(SQL)
    collection = collection_with_texts("ts-old", {"a.txt": "alpha beta beta gamma"})
    Chunk.objects.filter(collection=collection).update(bm25_text="")  # as a database from before
    engine_switch(PG_TEXTSEARCH)
    chunk = Chunk.objects.get(collection=collection)
    assert sorted(chunk.bm25_text.split(" ")) == ["alpha", "beta", "beta", "gamma"]
    assert _ids(BM25Retriever().run("beta", collection_ids=[collection.id], top_k=3)) == [chunk.id]
    with connection.cursor() as cursor:
        cursor.execute("SELECT indcheckxmin FROM pg_index WHERE indexrelid = %s::regclass",
                       [f"chunk_bm25_c{collection.id}"])
        assert cursor.fetchone()[0] is False


def test_without_the_extension_the_sql_engine_is_the_fallback(monkeypatch):
    from config import health
    from ingestion import keyword_index

    reason = "the pg_textsearch extension is not installed on this PostgreSQL server"
    monkeypatch.setattr(keyword_index, "textsearch_unavailable_reason", lambda cursor: reason)
    KeywordEngine.objects.all().delete()  # a database made now takes the engine the server can load
    with connection.cursor() as cursor:
        cursor.execute("DROP EXTENSION IF EXISTS pg_textsearch CASCADE")
    assert engine_current() == SQL
    with pytest.raises(ValueError, match="not installed"):
        engine_switch(PG_TEXTSEARCH)
    collection = collection_with_texts("ts-fallback", {"a.txt": "invoice approval workflow"})
    assert ChunkTerm.objects.filter(collection=collection).exists()  # the sql engine's postings
    assert _ids(BM25Retriever().run("invoice", collection_ids=[collection.id], top_k=3))
    check = health._check_keyword_index()
    assert check["ok"] and check["engine"] == SQL and "not installed" in check["fallback"]


def test_the_extension_check_reads_a_server_without_it():
    """The check's SQL against a real PostgreSQL without pg_textsearch (this machine's 15, if any)."""
    psycopg = pytest.importorskip("psycopg")
    try:
        server = psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", connect_timeout=2)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL without pg_textsearch on 127.0.0.1:5432 ({exc})")
    with server, server.cursor() as cursor:
        assert "not installed" in textsearch_unavailable_reason(cursor)  # type: ignore[arg-type]
    with connection.cursor() as ours:
        assert textsearch_unavailable_reason(ours) == ""


def test_benchmarks_can_name_the_engine_for_a_block():
    collection = collection_with_texts("ts-override", {"a.txt": "ledger reconciliation"})
    retriever = BM25Retriever()
    with engine_override(SQL):
        assert retriever.run("ledger", collection_ids=[collection.id], top_k=3) == []  # no postings kept
        assert retriever.last_engine == SQL
    assert _ids(retriever.run("ledger", collection_ids=[collection.id], top_k=3))
    assert retriever.last_engine == PG_TEXTSEARCH


def test_the_bulk_writer_stores_searchable_chunks_and_statistics():
    import numpy as np

    from ingestion.chunking import ChunkDraft
    from ingestion.index_writer import documents_store_prepared_bulk
    from ingestion.services import collection_create
    from retrieval.vector import VectorRetriever

    collection = collection_create(slug="ts-bulk", name="bulk", kind="evaluation")
    rng = np.random.default_rng(1)

    def chunk(text: str) -> tuple[ChunkDraft, np.ndarray]:
        vector = rng.normal(size=384).astype(np.float32)
        return ChunkDraft(text=text, char_start=0, char_end=len(text), page_start=None, page_end=None,
                          heading_path=["Policies"], token_count=5), vector / np.linalg.norm(vector)

    documents = [("a.txt", "hotel budget", [chunk("hotel budget per night"), chunk("travel by train")]),
                 ("b.txt", "expenses", [chunk("expense claims within thirty days")])]
    assert documents_store_prepared_bulk(collection=collection, documents=documents) == 3
    chunks = list(Chunk.objects.filter(collection=collection).order_by("document_id", "ordinal"))
    assert [c.ordinal for c in chunks] == [0, 1, 0] and chunks[0].heading_path == ["Policies"]
    assert chunks[0].bm25_text == " ".join(default_tokenizer()(embedding_input(["Policies"], "hotel budget per night")))
    stats = CollectionStats.objects.get(collection=collection)
    assert stats.chunk_count == 3 and stats.total_length == sum(c.bm25_length for c in chunks)
    assert Document.objects.filter(collection=collection, status="indexed").count() == 2
    assert _ids(BM25Retriever().run("expense claims", collection_ids=[collection.id], top_k=3)) == [chunks[2].id]
    nearest = VectorRetriever().run(documents[0][2][1][1], collection_ids=[collection.id], top_k=1)
    assert [h.chunk_id for h in nearest] == [chunks[1].id]
    engine_switch(SQL)
    with pytest.raises(RuntimeError, match="no postings"):
        documents_store_prepared_bulk(collection=collection, documents=documents[:1])



def test_the_keyword_index_probe_passes_healthy_collections_and_health_names_a_blind_one(monkeypatch):
    import config.health as health
    from ingestion.keyword_index import keyword_indexes_blind

    first = collection_with_texts("ts-probe-a", {"a.txt": "Quarterly revenue grew in the third quarter."})
    collection_with_texts("ts-probe-b", {"b.txt": "The canteen serves soup on Mondays."})
    collection_with_texts("ts-probe-empty", {})
    assert keyword_indexes_blind() == [] and health._check_keyword_index()["ok"]
    # How /health reports one that finds nothing (seen once on a real index, not reproducible on demand).
    monkeypatch.setattr(health, "keyword_indexes_blind", lambda: [(first.id, "ts-probe-a")])
    check = health._check_keyword_index()
    assert not check["ok"] and check["blind"] == ["ts-probe-a"]
    assert "bm25_engine --repair" in check["error"] and f"chunk_bm25_c{first.id}" in check["error"]
