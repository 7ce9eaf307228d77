from __future__ import annotations

import json

import pytest
from django.core.management import call_command

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
    assert result.rerank.applied is False and "could not be loaded" in result.rerank.reason
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


def test_evaluate_retrieval_on_a_beir_folder(tmp_path):
    (tmp_path / "qrels").mkdir()
    docs = [("d1", "Cats", "Cats purr and sleep on warm mats."), ("d2", "Dogs", "Dogs bark at the postman."),
            ("d3", "Revenue", "Revenue grew ten percent this quarter.")]
    (tmp_path / "corpus.jsonl").write_text("".join(json.dumps({"_id": i, "title": t, "text": x}) + "\n" for i, t, x in docs))
    (tmp_path / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "why do cats purr"}) + "\n"
                                            + json.dumps({"_id": "q2", "text": "barking dogs"}) + "\n")
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t2\n")
    out = tmp_path / "report.json"
    call_command("evaluate_retrieval", dataset=tmp_path, json=out, modes=["bm25", "vector", "hybrid"])
    report = json.loads(out.read_text())
    assert report["dataset"] == str(tmp_path)
    for mode in ("bm25", "vector", "hybrid"):
        assert report["modes"][mode]["ndcg@10"] == 1.0
        assert set(report["modes"][mode]) >= {"ndcg@10", "recall@10", "recall@100", "mrr@10", "p50_ms", "p95_ms"}
    call_command("evaluate_retrieval", dataset=tmp_path, modes=["bm25"])  # second run reuses the collection
    from ingestion.models import Collection

    assert Collection.objects.filter(kind="evaluation").count() == 1


def test_an_int8_reranker_quantises_its_linear_layers_and_scores_close_to_fp32(tiny_cross_encoder):
    passages = ["Hotel nights in Zurich are reimbursed.", "Laptops are replaced every four years.", "Lunch at noon."]
    full = CrossEncoderReranker(model=tiny_cross_encoder, retry_seconds=60)
    quantised = CrossEncoderReranker(model=tiny_cross_encoder, retry_seconds=60, int8=True)
    expected = full.run("hotel in Zurich", passages)
    scores = quantised.run("hotel in Zurich", passages)
    assert any("quantized" in type(module).__module__ for module in quantised._model.modules())
    assert not any("quantized" in type(module).__module__ for module in full._model.modules())
    assert scores == pytest.approx(expected, abs=0.05)
    assert quantised.status()["int8"] is True
