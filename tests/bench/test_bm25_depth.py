"""The BM25 depth benchmark times the index query at each depth and question length."""

from __future__ import annotations

import pytest

from bench.bm25_depth import bm25_depth_measure, format_depth_table
from tests.retrieval.helpers import collection_with_texts

pytestmark = pytest.mark.django_db


def test_it_reports_each_depth_and_length_and_the_slowest_questions():
    collection = collection_with_texts("depth", {
        "a.txt": "Masks reduce the transmission of respiratory viruses in hospitals.",
        "b.txt": "Hand washing with soap removes most bacteria from the skin.",
    })
    questions = ["masks", "soap bacteria", "Do masks and hand washing with soap reduce transmission of viruses and "
                 "bacteria in hospitals, clinics, schools, offices and homes during winter epidemics?"] * 3
    result = bm25_depth_measure(collection.id, questions, depths=[10, 2], warmup=2)
    rows = result["rows"]
    assert rows["top 10, all"]["n"] == 7 and rows["top 2, all"]["n"] == 7  # 9 questions, 2 to warm up
    assert rows["top 10, 1-7 tokens"]["n"] == 4 and rows["top 10, 13+ tokens"]["n"] == 3
    assert len(result["slowest"]) == 5 and result["slowest"][0]["ms"] >= result["slowest"][-1]["ms"]
    table = format_depth_table(result)
    assert "| top 2, all | 7 |" in table and "slowest at the deepest depth:" in table
