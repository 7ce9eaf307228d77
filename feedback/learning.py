"""Learning what transfers between questions from reviewed feedback.

Per-document signals help the question that was asked again; they barely carry over to new ones.
Two things here do: the weight of each retriever in reciprocal rank fusion, and a linear adapter
on the query embedding (the corpus is not re-embedded). Both are trained on the labelled queries
(reviewed answers whose right sources were marked) and replace the defaults only when they win in
cross-validation on those queries; either way a row records what was tried and why.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction

from feedback.models import LearnedRanking, Review, ReviewLabel
from feedback.signals import review_evidence_record
from ingestion.embedding import configured_model, get_embedder
from ingestion.models import Chunk
from retrieval.fusion import reciprocal_rank_fusion
from retrieval.metrics import ndcg_at
from retrieval.search import search
from retrieval.types import Tuning

FOLDS = 5
DEPTH = 100
# Weight of the vector list relative to BM25 (RRF only sees their ratio).
VECTOR_WEIGHTS = (0.25, 0.4, 0.5, 0.67, 0.8, 1.0, 1.25, 1.5, 2.0, 2.5, 4.0)
ADAPTER_L2 = (0.01, 0.1, 1.0)
HARD_NEGATIVES = 20
MIN_CROSS_VALIDATED = 2


@dataclass
class LabelledQuery:
    query: str
    collection_id: int
    relevant: set[int]  # document ids the reviewers marked
    positives: set[int] = field(default_factory=set)  # chunks holding a marked quote
    # Filled by the baseline search: (chunk id, document id), best first.
    bm25: list[tuple[int, int]] = field(default_factory=list)
    vector: list[tuple[int, int]] = field(default_factory=list)


def labelled_queries() -> list[LabelledQuery]:
    """One example per distinct (question, collection) that reviewers gave right sources to."""
    merged: dict[tuple[str, int], LabelledQuery] = {}
    labelled: list[tuple[LabelledQuery, ReviewLabel]] = []
    reviews = Review.objects.filter(not_in_documents=False).select_related("answer__conversation")
    for review in reviews.prefetch_related("labels").order_by("id"):
        labels = [label for label in review.labels.all() if label.document_id is not None]
        if not labels:
            continue
        key = (review.answer.standalone_query.strip(), review.answer.conversation.collection_id)
        example = merged.setdefault(key, LabelledQuery(query=key[0], collection_id=key[1], relevant=set()))
        example.relevant.update(label.document_id for label in labels if label.document_id is not None)
        labelled += [(example, label) for label in labels]
    # The chunks of every labelled document in one query; each example's positives are those
    # that overlap one of its labels' spans.
    spans: dict[int, list[tuple[int, int, int]]] = {}
    rows = Chunk.objects.filter(document_id__in={label.document_id for _, label in labelled})
    for chunk_id, document_id, start, end in rows.values_list("id", "document_id", "char_start", "char_end"):
        spans.setdefault(document_id, []).append((chunk_id, start, end))
    for example, label in labelled:
        example.positives.update(chunk_id for chunk_id, start, end in spans.get(label.document_id or 0, [])
                                 if start < label.char_end and label.char_start < end)
    return list(merged.values())


def ndcg(chunk_ranking: Iterable[int], documents: dict[int, int], relevant: set[int]) -> float:
    """nDCG@10 of a chunk ranking scored per document (each document at its best chunk's rank)."""
    ranked: list[str] = []
    for chunk_id in chunk_ranking:
        doc = str(documents[chunk_id])
        if doc not in ranked:
            ranked.append(doc)
            if len(ranked) == 10:
                break
    return ndcg_at(ranked, {str(d): 1 for d in relevant}, 10)


def fused_ndcg(example: LabelledQuery, vector_weight: float, vector: list[tuple[int, int]] | None = None) -> float:
    vector = vector if vector is not None else example.vector
    documents = dict(example.bm25 + vector)
    fused = reciprocal_rank_fusion([[c for c, _ in example.bm25], [c for c, _ in vector]], k=settings.RRF_K,
                                   weights=[1.0, vector_weight])
    return ndcg((c for c, _ in fused), documents, example.relevant)


def baseline_lists(examples: list[LabelledQuery]) -> None:
    """Each example's BM25 and vector candidates with the defaults (no learned tuning, no signals)."""
    for example in examples:
        result = search(example.query, collection_ids=[example.collection_id], top_k=DEPTH, candidates=DEPTH,
                        mode="hybrid", rerank=False, tuning=Tuning(), signals=False)
        example.bm25 = [(h.chunk_id, h.document_id) for h in result.stages.get("bm25", [])]
        example.vector = [(h.chunk_id, h.document_id) for h in result.stages.get("vector", [])]


def folds(n: int, *, seed: int = 0) -> list[list[int]]:
    """Held-out index sets: FOLDS of them, or one per example when there are fewer (never empty)."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    count = min(FOLDS, n)
    return [order[i::count] for i in range(count)]


def _too_few(n: int) -> dict[str, Any] | None:
    """Why `n` examples cannot be cross-validated (each fold needs one to test and one to train on)."""
    if n >= MIN_CROSS_VALIDATED:
        return None
    return {"kept": False, "why": f"{n} labelled queries: fewer than {MIN_CROSS_VALIDATED} to cross-validate"}


def verdict(default: list[float], learned: list[float]) -> tuple[bool, dict[str, Any]]:
    """Keep a candidate only when its mean held-out gain reaches FEEDBACK_LEARN_MIN_GAIN and it loses
    on no more than half of the folds."""
    gains = [b - a for a, b in zip(default, learned)]
    mean_gain = statistics.fmean(gains)
    losing = sum(1 for g in gains if g < 0)
    keep = mean_gain >= settings.FEEDBACK_LEARN_MIN_GAIN and losing <= len(gains) // 2
    return keep, {"cv_default_ndcg@10": round(statistics.fmean(default), 4),
                  "cv_learned_ndcg@10": round(statistics.fmean(learned), 4),
                  "cv_gain_per_fold": [round(g, 4) for g in gains], "kept": keep,
                  "why": "wins in cross-validation" if keep else "does not clearly beat the defaults"}


# -- fusion weights -----------------------------------------------------------------------------


def best_vector_weight(examples: list[LabelledQuery]) -> float:
    """The grid weight with the best mean nDCG@10 (ties: the one closest to the default 1.0)."""
    def mean(weight: float) -> float:
        return statistics.fmean(fused_ndcg(e, weight) for e in examples)

    return max(VECTOR_WEIGHTS, key=lambda w: (round(mean(w), 6), -abs(np.log(w))))


def learn_fusion(examples: list[LabelledQuery]) -> tuple[dict[str, float], bool, dict[str, Any]]:
    too_few = _too_few(len(examples))
    if too_few is not None:
        return {}, False, too_few
    default, learned = [], []
    for held_out in folds(len(examples)):
        train = [e for i, e in enumerate(examples) if i not in set(held_out)]
        weight = best_vector_weight(train)
        test = [examples[i] for i in held_out]
        default.append(statistics.fmean(fused_ndcg(e, 1.0) for e in test))
        learned.append(statistics.fmean(fused_ndcg(e, weight) for e in test))
    keep, metrics = verdict(default, learned)
    return {"bm25": 1.0, "vector": best_vector_weight(examples)}, keep, metrics


# -- query adapter --------------------------------------------------------------------------------


@dataclass
class AdapterData:
    """Query embeddings, one positive passage each, HARD_NEGATIVES retrieved wrong passages each, and
    the stored embedding of every candidate (the corpus is not embedded again)."""

    queries: np.ndarray
    positives: np.ndarray
    negatives: np.ndarray
    vectors: dict[int, np.ndarray]


def adapter_data(examples: list[LabelledQuery]) -> AdapterData:
    wanted = {c for e in examples for c in e.positives} | {c for e in examples for c, _ in e.bm25 + e.vector}
    vectors = {cid: np.asarray(v, dtype=np.float32)
               for cid, v in Chunk.objects.filter(id__in=wanted).values_list("id", "embedding")}
    negatives_of = [[c for c, d in (e.vector + e.bm25) if d not in e.relevant][:HARD_NEGATIVES] for e in examples]
    queries = get_embedder().embed([e.query for e in examples])
    dims = queries.shape[1]
    pad = [np.zeros(dims, np.float32)]
    return AdapterData(
        queries=queries, vectors=vectors,
        positives=np.stack([vectors[min(e.positives)] for e in examples]),
        negatives=np.stack([np.stack([vectors[c] for c in negs] + pad * (HARD_NEGATIVES - len(negs)))
                            for negs in negatives_of]),
    )


def train_adapter(queries: np.ndarray, positives: np.ndarray, negatives: np.ndarray, *, l2: float,
                  steps: int = 150, temperature: float = 0.05) -> np.ndarray:
    """W minimising softmax cross-entropy of the positive against the negatives (cosine of W q with
    each passage, over `temperature`) + l2 x ||W - I||^2: a ranking loss held near the identity."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: more threads only wait on each other on a busy machine
    try:
        torch.manual_seed(0)
        q, p, n = (torch.from_numpy(a) for a in (queries, positives, negatives))
        passages = torch.cat([p.unsqueeze(1), n], dim=1)  # positive first
        identity = torch.eye(q.shape[1])
        weight = torch.nn.Parameter(identity.clone())
        optimizer = torch.optim.Adam([weight], lr=1e-3)
        target = torch.zeros(len(q), dtype=torch.long)
        for _ in range(steps):
            optimizer.zero_grad()
            adapted = torch.nn.functional.normalize(q @ weight.T, dim=1)
            logits = torch.einsum("bd,bkd->bk", adapted, passages) / temperature
            loss = torch.nn.functional.cross_entropy(logits, target) + l2 * ((weight - identity) ** 2).sum()
            loss.backward()
            optimizer.step()
        return weight.detach().numpy().astype(np.float32)
    finally:
        torch.set_num_threads(threads)


def rescored_vector_list(example: LabelledQuery, query: np.ndarray, adapter: np.ndarray | None,
                         vectors: dict[int, np.ndarray]) -> list[tuple[int, int]]:
    """The example's candidates ordered by cosine with the (adapted) query: what the vector retriever
    would return, estimated without an index search per fold (the identity gives back its list)."""
    adapted = Tuning(query_adapter=adapter).adapt(query)
    documents = dict(example.bm25 + example.vector)
    ranked = sorted(documents, key=lambda c: (-float(vectors[c] @ adapted), c))[:DEPTH]
    return [(c, documents[c]) for c in ranked]


def learn_adapter(
    examples: list[LabelledQuery], vector_weight: float
) -> tuple[np.ndarray | None, bool, dict[str, Any]]:
    """Cross-validate each regularisation strength (hybrid nDCG@10 with `vector_weight`), keep the
    best; no adapter when too few examples have a positive chunk to cross-validate."""
    too_few = _too_few(len(examples))
    if too_few is not None:
        return None, False, too_few
    data = adapter_data(examples)
    arrays = (data.queries, data.positives, data.negatives)

    def held_out_ndcg(i: int, adapter: np.ndarray | None) -> float:
        vector = rescored_vector_list(examples[i], data.queries[i], adapter, data.vectors)
        return fused_ndcg(examples[i], vector_weight, vector)

    best: tuple[float, float, bool, dict[str, Any]] | None = None
    for l2 in ADAPTER_L2:
        default, learned = [], []
        for held_out in folds(len(examples)):
            train = [i for i in range(len(examples)) if i not in set(held_out)]
            adapter = train_adapter(*(a[train] for a in arrays), l2=l2)
            default.append(statistics.fmean(held_out_ndcg(i, None) for i in held_out))
            learned.append(statistics.fmean(held_out_ndcg(i, adapter) for i in held_out))
        keep, metrics = verdict(default, learned)
        metrics["l2"] = l2
        if best is None or metrics["cv_learned_ndcg@10"] > best[0]:
            best = (metrics["cv_learned_ndcg@10"], l2, keep, metrics)
    assert best is not None
    _, l2, keep, metrics = best
    return train_adapter(*arrays, l2=l2), keep, metrics


# -- the whole step -----------------------------------------------------------------------------------


def feedback_learn(*, log: Callable[[str], None] = print) -> list[LearnedRanking]:
    """Rebuild vote evidence, then learn fusion weights and the query adapter from the labelled
    queries and store them (active only when they win in cross-validation). Returns the new rows."""
    for review in Review.objects.select_related("answer"):
        review_evidence_record(answer=review.answer)
    examples = labelled_queries()
    log(f"{len(examples)} labelled queries")
    if len(examples) < settings.FEEDBACK_LEARN_MIN_EXAMPLES:
        why = {"kept": False, "why": f"fewer than {settings.FEEDBACK_LEARN_MIN_EXAMPLES} labelled queries"}
        return _store([(LearnedRanking.Kind.FUSION, {}, None, False, why),
                       (LearnedRanking.Kind.ADAPTER, {}, None, False, why)], examples=len(examples))
    baseline_lists(examples)
    weights, fusion_kept, fusion_metrics = learn_fusion(examples)
    log(f"fusion weights {weights}: {fusion_metrics}")
    vector_weight = weights["vector"] if fusion_kept else 1.0
    adapter, adapter_kept, adapter_metrics = learn_adapter([e for e in examples if e.positives], vector_weight)
    log(f"query adapter: {adapter_metrics}")
    adapter_params = {"dimensions": int(adapter.shape[0])} if adapter is not None else {}
    return _store([(LearnedRanking.Kind.FUSION, weights, None, fusion_kept, fusion_metrics),
                   (LearnedRanking.Kind.ADAPTER, adapter_params, adapter.tobytes() if adapter is not None else None,
                    adapter_kept, adapter_metrics)], examples=len(examples), embedding_model=configured_model()[0])


@transaction.atomic
def _store(rows: list[tuple[str, dict[str, Any], bytes | None, bool, dict[str, Any]]], *, examples: int,
           embedding_model: str = "") -> list[LearnedRanking]:
    return [LearnedRanking.objects.create(kind=kind, params=params, matrix=matrix, active=active, metrics=metrics,
                                          examples=examples, embedding_model=embedding_model)
            for kind, params, matrix, active, metrics in rows]
