from __future__ import annotations

import pytest

from retrieval.rerank import CrossEncoderReranker, RerankUnavailable
from retrieval.search import search
from tests.retrieval.helpers import collection_with_texts

pytestmark = pytest.mark.django_db

TEXTS = {
    "travel.txt": "Travel policy. Hotel nights in Zurich are reimbursed up to 240 francs.",
    "it.txt": "IT policy. Laptops are replaced every four years.",
    "food.txt": "Cafeteria. Lunch is served from noon until two.",
}


@pytest.fixture(scope="session")
def tiny_cross_encoder(tmp_path_factory):
    """A CrossEncoder of random weights, built here: exercises the real loading and scoring path."""
    from sentence_transformers import CrossEncoder
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from ingestion.embedding import default_model_path

    path = tmp_path_factory.mktemp("tiny-cross-encoder")
    tokenizer = AutoTokenizer.from_pretrained(default_model_path())
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=1)
    BertForSequenceClassification(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    CrossEncoder(str(path))  # loads
    return str(path)


def test_reranker_scores_every_candidate_and_search_reports_it(settings, tiny_cross_encoder, monkeypatch):
    import retrieval.rerank as rerank

    monkeypatch.setattr(rerank, "_reranker", CrossEncoderReranker(model=tiny_cross_encoder, retry_seconds=60))
    collection = collection_with_texts("rr", TEXTS)
    result = search("hotel in Zurich", collection_ids=[collection.id], top_k=3, rerank=True)
    assert result.rerank.applied is True
    assert all(hit.scores.rerank is not None for hit in result.results)
    reranked = [hit.scores.rerank for hit in result.results]
    assert reranked == sorted(reranked, reverse=True)


def test_a_reranker_that_cannot_load_is_skipped_and_remembered(tmp_path, monkeypatch):
    import retrieval.rerank as rerank

    broken = CrossEncoderReranker(model=str(tmp_path / "no-such-model"), retry_seconds=3600)
    monkeypatch.setattr(rerank, "_reranker", broken)
    collection = collection_with_texts("rr2", TEXTS)
    result = search("laptop replacement", collection_ids=[collection.id], top_k=3, rerank=True)
    assert result.rerank.applied is False and "is not available: nothing at" in result.rerank.reason
    assert result.results and result.results[0].filename == "it.txt"
    loads = []
    monkeypatch.setattr("sentence_transformers.CrossEncoder", lambda *a, **k: loads.append(1))
    with pytest.raises(RerankUnavailable):
        broken.warm_up()
    assert loads == []  # remembered: no second load attempt
    assert broken.status()["optional"] is True


@pytest.mark.parametrize("mode", ["bm25", "vector", "hybrid"])
def test_search_api_returns_scores_of_every_stage(api, mode):
    collection_with_texts("default-like", TEXTS)
    from ingestion.models import Collection

    Collection.objects.filter(slug="default").delete()
    Collection.objects.filter(slug="default-like").update(slug="default")
    response = api.post("/api/v1/search", {"query": "hotel Zurich francs", "mode": mode, "rerank": False, "top_k": 2},
                        content_type="application/json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["results"][0]["filename"] == "travel.txt"
    assert set(body["timings_ms"]) >= {"bm25", "vector", "fusion", "rerank", "total"}
    scores = body["results"][0]["scores"]
    assert (scores["bm25"] is not None) == (mode in ("bm25", "hybrid"))
    assert (scores["vector"] is not None) == (mode in ("vector", "hybrid"))
    assert body["rerank"] == {"applied": False, "reason": "not requested"}


def test_search_api_answers_404_for_an_unknown_collection(api):
    response = api.post("/api/v1/search", {"query": "x", "collection": "nope"}, content_type="application/json")
    assert response.status_code == 404


PASSAGES = ["Hotel nights in Zurich are reimbursed up to 240 francs.", "Laptops are replaced every four years.",
            "Lunch is served from noon until two.", "Zurich", "Travel policy: trains are booked in second class "
            "unless the journey takes longer than three hours, then first class is allowed."]


@pytest.fixture(scope="session")
def spread_cross_encoder(tmp_path_factory):
    """Like tiny_cross_encoder, with larger (seeded) random weights: its scores differ between
    passages by far more than int8 rounding, so the ordering is something int8 can keep or break."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from ingestion.embedding import default_model_path

    path = tmp_path_factory.mktemp("spread-cross-encoder")
    tokenizer = AutoTokenizer.from_pretrained(default_model_path())
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=1, initializer_range=0.3)
    BertForSequenceClassification(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


def test_onnx_rerankers_score_like_the_torch_cross_encoder(spread_cross_encoder, tmp_path):
    import numpy as np
    from scipy.stats import spearmanr

    def reranker(backend):
        return CrossEncoderReranker(model=spread_cross_encoder, retry_seconds=60, backend=backend, cache_dir=tmp_path)

    expected = reranker("torch").run("hotel in Zurich", PASSAGES)
    onnx = reranker("onnx").run("hotel in Zurich", PASSAGES)
    int8 = reranker("onnx-int8").run("hotel in Zurich", PASSAGES)
    assert max(expected) - min(expected) > 0.1  # scores that differ: the ordering means something
    assert all(0.0 < score < 1.0 for score in onnx)  # the sigmoid CrossEncoder.predict applies to one label
    assert onnx == pytest.approx(expected, abs=1e-5)
    assert int8 == pytest.approx(expected, abs=0.05)
    assert spearmanr(int8, expected)[0] > 0.8
    assert int(np.argmax(int8)) == int(np.argmax(expected))
    assert reranker("onnx").run("hotel", []) == []


def test_an_onnx_reranker_exports_once_and_reuses_the_cache(tiny_cross_encoder, tmp_path, monkeypatch):
    import runtime.onnx_export as onnx_export

    first = CrossEncoderReranker(model=tiny_cross_encoder, retry_seconds=60, backend="onnx-int8", cache_dir=tmp_path)
    scores = first.run("hotel in Zurich", PASSAGES)
    folders = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert len(folders) == 1 and (folders[0] / "model.onnx").exists()
    assert first.status()["backend"] == "onnx-int8"

    monkeypatch.setattr(onnx_export, "_export_cross_encoder", lambda **kwargs: pytest.fail("exported again"))
    second = CrossEncoderReranker(model=tiny_cross_encoder, retry_seconds=60, backend="onnx-int8", cache_dir=tmp_path)
    assert second.run("hotel in Zurich", PASSAGES) == pytest.approx(scores, abs=1e-6)


def test_an_onnx_reranker_that_cannot_export_is_remembered(tmp_path, monkeypatch):
    import runtime.onnx_export as onnx_export

    folder = tmp_path / "broken-model"  # looks like a model folder, but its weights are not weights
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"not weights")
    broken = CrossEncoderReranker(model=str(folder), retry_seconds=3600, backend="onnx", cache_dir=tmp_path / "cache")
    with pytest.raises(RerankUnavailable, match="could not be loaded"):
        broken.warm_up()
    attempts = []
    monkeypatch.setattr(onnx_export, "ensure_export", lambda **kwargs: attempts.append(1))
    with pytest.raises(RerankUnavailable):
        broken.run("hotel", ["a passage"])
    assert attempts == []  # remembered: no second export attempt
    assert broken.status()["ok"] is False


def test_an_unknown_reranker_backend_is_refused():
    with pytest.raises(ValueError, match="torch, onnx, onnx-int8"):
        CrossEncoderReranker(model="x", retry_seconds=1, backend="tensorrt")


def test_search_and_health_say_when_a_collections_vectors_are_of_another_model(api):
    from django.test import Client

    from ingestion.models import Collection

    collection_with_texts("default-like", TEXTS)
    Collection.objects.filter(slug="default").delete()
    Collection.objects.filter(slug="default-like").update(slug="default")

    def notices(mode: str) -> list[str]:
        body = {"query": "hotel Zurich francs", "mode": mode, "rerank": False}
        response = api.post("/api/v1/search", body, content_type="application/json")
        assert response.status_code == 200, response.content
        return response.json()["notices"]

    assert notices("hybrid") == []
    assert Client().get("/api/v1/health").json()["checks"]["collection_vectors"] == {"ok": True}

    Collection.objects.filter(slug="default").update(embedding_model="another/model [torch]")
    [notice] = notices("hybrid")
    assert "another/model [torch]" in notice and "python manage.py reindex --collection default" in notice
    assert notices("bm25") == []  # keyword search does not use the vectors
    check = Client().get("/api/v1/health").json()["checks"]["collection_vectors"]
    assert check["ok"] is False and check["optional"] is True and "reindex --collection default" in check["error"]

    Collection.objects.filter(slug="default").update(reindex_to="yet/another [onnx]")
    [notice] = notices("vector")
    assert "being re-indexed with 'yet/another [onnx]'" in notice
