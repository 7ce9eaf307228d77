"""Vector search on the real pgvector HNSW indexes."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from ingestion.models import Chunk, Document
from ingestion.services import collection_create
from retrieval.vector import VectorRetriever

pytestmark = pytest.mark.django_db


def _fill(collection, vectors: np.ndarray) -> list[int]:
    document = Document.objects.create(
        collection=collection, original_filename="synthetic", stored_name=f"s-{collection.slug}",
        content_type="text/plain", size_bytes=1, sha256=uuid.uuid4().hex * 2, status="indexed",
    )
    rows = Chunk.objects.bulk_create(
        Chunk(document=document, collection=collection, ordinal=i, text=f"chunk {i}", char_start=0, char_end=1,
              token_count=1, embedding=v)
        for i, v in enumerate(vectors)
    )
    return [r.id for r in rows]


def _unit(rng, n: int, dims: int = 384) -> np.ndarray:
    v = rng.standard_normal((n, dims)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_a_small_collection_inside_a_big_one_gets_its_full_top_k():
    rng = np.random.default_rng(7)
    big = collection_create(slug="big", name="big")
    small = collection_create(slug="small", name="small")
    _fill(big, _unit(rng, 3000))
    small_ids = set(_fill(small, _unit(rng, 30)))
    query = _unit(rng, 1)[0]
    hits = VectorRetriever(ef_search_min=40).run(query, collection_ids=[small.id], top_k=20)
    assert len(hits) == 20
    assert {h.chunk_id for h in hits} <= small_ids


def test_results_are_the_exact_nearest_neighbours_on_a_small_collection():
    rng = np.random.default_rng(3)
    collection = collection_create(slug="exact", name="exact")
    vectors = _unit(rng, 200)
    ids = _fill(collection, vectors)
    query = _unit(rng, 1)[0]
    expected = [ids[i] for i in np.argsort(-(vectors @ query))[:10]]
    hits = VectorRetriever().run(query, collection_ids=[collection.id], top_k=10)
    assert [h.chunk_id for h in hits] == expected
    assert hits[0].score == pytest.approx(float(vectors[ids.index(expected[0])] @ query), abs=1e-4)


def test_it_never_returns_another_collections_chunks():
    rng = np.random.default_rng(5)
    mine = collection_create(slug="mine-v", name="mine")
    theirs = collection_create(slug="theirs-v", name="theirs")
    mine_ids = set(_fill(mine, _unit(rng, 5)))
    _fill(theirs, _unit(rng, 500))
    hits = VectorRetriever().run(_unit(rng, 1)[0], collection_ids=[mine.id], top_k=50)
    assert {h.chunk_id for h in hits} == mine_ids


def test_a_member_of_a_small_collection_gets_its_full_top_k_through_the_search_api(owner):
    """1% of the chunks, searched by a viewer through ingestion.access and the API: a full top-k."""
    from accounts.models import Role
    from accounts.services import membership_set
    from tests.conftest import bearer_client

    rng = np.random.default_rng(11)
    big = collection_create(slug="big-api", name="big")
    small = collection_create(slug="small-api", name="small")
    _fill(big, _unit(rng, 3000))
    small_ids = set(_fill(small, _unit(rng, 30)))
    membership_set(collection=small, role=Role.VIEWER, user=owner, actor=None)
    client = bearer_client(owner)
    body = {"query": "chunk", "collection": "small-api", "mode": "vector", "rerank": False, "top_k": 20}
    results = client.post("/api/v1/search", body, content_type="application/json").json()["results"]
    assert len(results) == 20 and {r["chunk_id"] for r in results} <= small_ids
    body["collection"] = "big-api"
    assert client.post("/api/v1/search", body, content_type="application/json").status_code == 404
