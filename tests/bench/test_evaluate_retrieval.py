from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from ingestion.models import Collection

pytestmark = pytest.mark.django_db


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
    assert Collection.objects.filter(kind="evaluation").count() == 1


def _tiny_beir(tmp_path):
    (tmp_path / "qrels").mkdir(parents=True)
    docs = [("d1", "Cats", "Cats purr and sleep on warm mats."), ("d2", "Dogs", "Dogs bark at the postman.")]
    (tmp_path / "corpus.jsonl").write_text("".join(json.dumps({"_id": i, "title": t, "text": x}) + "\n" for i, t, x in docs))
    (tmp_path / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "why do cats purr"}) + "\n")
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    return tmp_path


def test_a_rerank_model_is_evaluated_once_per_backend(tmp_path):
    from tests.factories.models import tiny_cross_encoder_save

    dataset = _tiny_beir(tmp_path / "beir")
    model = tiny_cross_encoder_save(tmp_path / "cross-encoder")
    out = tmp_path / "report.json"
    call_command("evaluate_retrieval", dataset=dataset, json=out, modes=["hybrid"], rerank_model=str(model),
                 rerank_backends=["onnx", "onnx-int8"])
    modes = json.loads(out.read_text())["modes"]
    assert set(modes) == {"hybrid", "hybrid+rerank [onnx]", "hybrid+rerank [onnx-int8]"}
    for name in ("hybrid+rerank [onnx]", "hybrid+rerank [onnx-int8]"):
        assert modes[name]["queries"] == 1, modes[name]  # ran: not skipped
        assert 0.0 <= modes[name]["ndcg@10"] <= 1.0


def test_a_rerank_model_that_cannot_load_is_reported_skipped_with_its_reason(tmp_path):
    dataset = _tiny_beir(tmp_path / "beir")
    out = tmp_path / "report.json"
    call_command("evaluate_retrieval", dataset=dataset, json=out, modes=["bm25"], rerank_model=str(tmp_path / "nothing"))
    modes = json.loads(out.read_text())["modes"]
    assert "not available" in modes["hybrid+rerank [onnx]"]["skipped"]
