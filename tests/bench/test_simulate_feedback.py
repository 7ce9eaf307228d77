"""The feedback simulation runs the real vote, review and learning path on a small BEIR folder."""

from __future__ import annotations

import gzip
import json

import pytest
from django.core.management import call_command

from feedback.models import LearnedRanking

pytestmark = pytest.mark.django_db


def beir_folder(root):  # type: ignore[no-untyped-def]
    """A small BEIR-format dataset: 12 topics, 3 documents each, one question per topic."""
    topics = ["otters", "glaciers", "volcanoes", "tulips", "comets", "beetles", "violins", "lighthouses",
              "cheese", "bridges", "falcons", "deserts"]
    corpus, queries, qrels = [], [], ["query-id\tcorpus-id\tscore"]
    for t, topic in enumerate(topics):
        for k in range(3):
            corpus.append({"_id": f"d{t}-{k}", "title": f"{topic.title()} note {k}",
                           "text": f"This note {k} is about {topic}. Facts on {topic} number {k * 7 + t}."})
        queries.append({"_id": f"q{t}", "text": f"Which note explains {topic} facts number {t}?"})
        qrels.append(f"q{t}\td{t}-0\t1")
    root.mkdir()
    (root / "qrels").mkdir()
    with gzip.open(root / "corpus.jsonl.gz", "wt") as handle:
        handle.write("\n".join(json.dumps(row) for row in corpus))
    (root / "queries.jsonl").write_text("\n".join(json.dumps(row) for row in queries))
    (root / "qrels" / "test.tsv").write_text("\n".join(qrels) + "\n")
    return root


def test_the_simulation_runs_the_real_path_and_leaves_nothing_behind(tmp_path, settings):
    settings.FEEDBACK_LEARN_MIN_EXAMPLES = 4
    out = tmp_path / "simulation.json"
    call_command("simulate_feedback", "--dataset", str(beir_folder(tmp_path / "tiny")), "--splits", "1",
                 "--users-per-query", "2", "--json", str(out))
    report = json.loads(out.read_text())
    split = report["splits"][0]
    assert split["train"] == 6 and split["test"] == 6
    assert set(split["after"]) == {"signals only", "fusion weights only", "adapter only", "all"}
    assert {"fusion", "adapter"} == set(split["learned"])
    assert "cv_gain_per_fold" in split["learned"]["fusion"]["metrics"]
    assert not LearnedRanking.objects.exists()  # every split is rolled back
