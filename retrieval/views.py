from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.limits import rate_limit_hit
from ingestion.access import collection_readable, collections_readable
from ingestion.selectors import vectors_notice
from retrieval.search import search


@staff_member_required
def lab(request: HttpRequest) -> HttpResponse:
    """Retrieval lab: one query, every stage's list side by side, and where each hit moved."""
    query = request.GET.get("q", "").strip()
    slug = request.GET.get("collection", "default")
    context: dict[str, object] = {"query": query, "collections": collections_readable(request.user), "slug": slug}
    collection = collection_readable(request.user, slug)
    if query and collection is not None:
        rate_limit_hit(user=request.user, scope="search")
        result = search(query, collection_ids=[collection.id], top_k=10, mode="hybrid", rerank=True)
        columns = [("BM25", result.stages.get("bm25", []), "bm25"), ("Vector", result.stages.get("vector", []), "vector"),
                   ("Fused (RRF)", result.stages.get("fused", []), "fused")]
        columns.append(("Reranked" if result.rerank.applied else "Final (rerank skipped)", result.results, "rerank"))
        context.update(columns=columns, result=result, vectors_notice=vectors_notice(collection))
    return render(request, "retrieval/lab.html", context)
