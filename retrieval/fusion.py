"""Fusing ranked lists: reciprocal rank fusion (default) or a normalised weighted sum."""

from __future__ import annotations

from collections.abc import Sequence


def reciprocal_rank_fusion(
    lists: Sequence[Sequence[int]], *, k: float = 60.0, weights: Sequence[float] | None = None
) -> list[tuple[int, float]]:
    """Fuse lists of ids (best first): score(id) = sum_i w_i / (k + rank_i(id)), ranks from 1."""
    weights = weights if weights is not None else [1.0] * len(lists)
    if len(weights) != len(lists):
        raise ValueError("one weight per list")
    scores: dict[int, float] = {}
    for ranked, weight in zip(lists, weights):
        for rank, item in enumerate(ranked, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))


def weighted_sum_fusion(
    lists: Sequence[Sequence[tuple[int, float]]], *, weights: Sequence[float] | None = None
) -> list[tuple[int, float]]:
    """Fuse (id, score) lists after min-max normalising each list's scores to [0, 1]."""
    weights = weights if weights is not None else [1.0] * len(lists)
    if len(weights) != len(lists):
        raise ValueError("one weight per list")
    scores: dict[int, float] = {}
    for scored, weight in zip(lists, weights):
        if not scored:
            continue
        values = [score for _, score in scored]
        low, high = min(values), max(values)
        span = high - low
        for item, score in scored:
            normalised = (score - low) / span if span > 0 else 1.0
            scores[item] = scores.get(item, 0.0) + weight * normalised
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))
