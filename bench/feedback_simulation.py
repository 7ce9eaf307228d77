"""Feedback simulation on a BEIR dataset (a benchmark, not a test): the qrels stand in for reviewers.

For each split of the queries into halves (fixed seeds): simulated users ask the first half
through the chat answer pipeline and vote through the real API, a staff reviewer marks the
relevant documents with a quote through review_submit, learn_from_feedback's step runs, and
nDCG@10 is measured on the other half before and after, with each learned part alone and all
together. Every split runs inside a transaction that is rolled back: nothing stays behind.
"""

from __future__ import annotations

import functools
import random
import re
import statistics
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import Client

from accounts.services import api_token_create, membership_set
from bench.retrieval_evaluation import BeirDataset, best_chunk_per_document
from chat.models import Answer
from chat.selectors import answer_trace
from chat.services import answer_create, conversation_create
from feedback.learning import feedback_learn
from feedback.ranking import learned_tuning
from feedback.services import ReviewSource, ranking_state_reset, review_submit
from ingestion.embedding import get_embedder
from ingestion.models import Collection, Document
from ingestion.services import collection_kind_set
from ingestion.tokenize import default_tokenizer
from retrieval.metrics import ndcg_at
from retrieval.search import search
from retrieval.types import Tuning

SEED = 2026
USERS = 5


def simulate(dataset: BeirDataset, collection: Collection, *, splits: list[int], users_per_query: int = 2,
             log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the given splits (numbered from 1; split n shuffles with seed SEED + n - 1)."""
    # The same questions are embedded again and again (asked by several users, then measured in every
    # variant): remember each query's embedding for this run (the embedding is deterministic).
    embedder = get_embedder()
    embedder.embed_query = functools.lru_cache(maxsize=8192)(embedder.embed_query)  # type: ignore[method-assign]
    try:
        return _simulate(dataset, collection, splits=splits, users_per_query=users_per_query, log=log)
    finally:
        del embedder.embed_query  # back to the class's method


def _simulate(dataset: BeirDataset, collection: Collection, *, splits: list[int], users_per_query: int,
              log: Callable[[str], None]) -> dict[str, Any]:
    documents = {d.original_filename: d for d in Document.objects.filter(collection=collection, status="indexed")}
    query_ids = sorted(q for q, rel in dataset.qrels.items()
                       if q in dataset.queries and any(g > 0 and d in documents for d, g in rel.items()))
    results = []
    for split in splits:
        order = list(query_ids)
        random.Random(SEED + split - 1).shuffle(order)
        train, test = order[: len(order) // 2], order[len(order) // 2:]
        with transaction.atomic():
            results.append({"split": split, **_one_split(dataset, collection, documents, train, test,
                                                         seed=SEED + split - 1, users_per_query=users_per_query,
                                                         log=log)})
            transaction.set_rollback(True)  # reset every signal and learned row for the next split
        log(format_row(split, results[-1]))
    return summarise({"queries": len(query_ids), "users": USERS, "users_per_query": users_per_query,
                      "splits": results})


def summarise(report: dict[str, Any]) -> dict[str, Any]:
    """The report with the mean over its splits (also for reports of separate runs put together)."""
    results = sorted(report["splits"], key=lambda r: r["split"])
    variants = results[0]["after"].keys()
    mean = {"before": _mean(r["before"] for r in results),
            "after": {v: _mean(r["after"][v] for r in results) for v in variants}}
    return {**report, "splits": results, "mean": mean}


def _one_split(dataset: BeirDataset, collection: Collection, documents: dict[str, Document], train: list[str],
               test: list[str], *, seed: int, users_per_query: int, log: Callable[[str], None]) -> dict[str, Any]:
    ranking_state_reset()
    before = heldout_ndcg(dataset, test, collection, tuning=Tuning(), signals=False)
    feed(dataset, train, collection, documents, rng=random.Random(seed), users_per_query=users_per_query,
         prefix=f"simulated-{seed}")
    rows = feedback_learn(log=log)
    learned = learned_tuning()
    after = {
        "signals only": heldout_ndcg(dataset, test, collection, tuning=Tuning(), signals=True),
        "fusion weights only": heldout_ndcg(dataset, test, collection, signals=False,
                                         tuning=Tuning(fusion_weights=learned.fusion_weights)),
        "adapter only": heldout_ndcg(dataset, test, collection, signals=False,
                                  tuning=Tuning(query_adapter=learned.query_adapter)),
        "all": heldout_ndcg(dataset, test, collection, tuning=None, signals=True),
    }
    return {"train": len(train), "test": len(test), "before": before, "after": after,
            "learned": {row.kind: {"active": row.active, "params": row.params, "metrics": row.metrics} for row in rows}}


def feed(dataset: BeirDataset, train: list[str], collection: Collection, documents: dict[str, Document], *,
         rng: random.Random, users_per_query: int, prefix: str) -> None:
    """Each question is asked by `users_per_query` of the simulated users through the chat pipeline;
    each votes through the API (up when a relevant document was retrieved, else down with
    wrong_source), and a reviewer marks the relevant documents with a quote from each."""
    User = get_user_model()
    # Names per split, so that splits can run side by side in separate processes.
    users = [User.objects.create_user(username=f"{prefix}-user-{i}") for i in range(USERS)]
    clients = {user.id: Client(HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=user, name='simulation')[1]}")
               for user in users}
    reviewer = User.objects.create_user(username=f"{prefix}-reviewer", is_staff=True)
    # The API serves votes only on answers from collections the voter may read, and evaluation
    # collections are hidden from users: inside the split's transaction (rolled back afterwards)
    # the collection is opened as a user collection the simulated users are viewers of.
    collection_kind_set(collection=collection, kind=Collection.Kind.USER)
    for user in users:
        membership_set(collection=collection, role="viewer", actor=reviewer, user=user)
    for query_id in train:
        question = dataset.queries[query_id]
        relevant = [documents[d] for d, g in dataset.qrels[query_id].items() if g > 0 and d in documents]
        sources = [ReviewSource(document_id=d.id, quote=best_sentence(d.parsed_text, question)) for d in relevant]
        for user in rng.sample(users, users_per_query):
            answer_id = answer_create(conversation=conversation_create(owner=user, collection=collection),
                                      question=question, backend="extractive", cache=False)["answer_id"]
            answer = Answer.objects.get(pk=answer_id)
            good = any(p.document_id in {d.id for d in relevant} for p in answer_trace(answer).retrieved)
            vote = {"rating": "up"} if good else {"rating": "down", "reasons": ["wrong_source"]}
            response = clients[user.id].post(f"/api/v1/answers/{answer_id}/feedback", vote,
                                             content_type="application/json")
            assert response.status_code == 200, response.content
            review_submit(answer=answer, reviewer=reviewer, verdict="correct" if good else "wrong", sources=sources)


def best_sentence(text: str, question: str) -> str:
    """The sentence of `text` that shares the most keywords with the question (a reviewer's quote)."""
    tokenizer = default_tokenizer()
    terms = set(tokenizer(question))
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]
    return max(sentences, key=lambda s: len(terms & set(tokenizer(s))))


def heldout_ndcg(dataset: BeirDataset, query_ids: list[str], collection: Collection, *, tuning: Tuning | None,
              signals: bool) -> float:
    """Mean nDCG@10 in hybrid mode through search(), each document at its best chunk's rank."""
    scores = []
    for query_id in query_ids:
        result = search(dataset.queries[query_id], collection_ids=[collection.id], top_k=100, candidates=100,
                        mode="hybrid", rerank=False, tuning=tuning, signals=signals)
        ranked = best_chunk_per_document([hit.filename for hit in result.results])
        scores.append(ndcg_at(ranked, dataset.qrels[query_id], 10))
    return round(statistics.fmean(scores), 4)


def _mean(values: Any) -> float:
    return round(statistics.fmean(values), 4)


def format_row(split: int | str, result: dict[str, Any]) -> str:
    after = result["after"]
    cells = [f"{after[v]:.4f} ({after[v] - result['before']:+.4f})" for v in after]
    return f"| {split} | {result['before']:.4f} | " + " | ".join(cells) + " |"


def format_table(report: dict[str, Any]) -> str:
    variants = list(report["mean"]["after"])
    header = "| split | before | " + " | ".join(variants) + " |\n|---|---|" + "---|" * len(variants)
    rows = [format_row(r["split"], r) for r in report["splits"]]
    rows.append(format_row("mean", report["mean"]))
    return "\n".join([header, *rows])
