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
