"""Batches for onnxruntime: texts tokenised once, ordered by length so each batch pads little,
padded into the arrays a transformer's graph takes. Shared by the ONNX embedder and reranker."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def length_ordered_batches(ids: list[list[int]], batch_size: int, *, by_length: bool = True) -> Iterator[np.ndarray]:
    """Row indices of `ids` in batches of `batch_size`, longest first when `by_length`."""
    order = np.argsort([-len(row) for row in ids], kind="stable") if by_length else np.arange(len(ids))
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def padded_feeds(ids: list[list[int]], types: list[list[int]] | None, *, pad_id: int) -> dict[str, np.ndarray]:
    """input_ids (padded with `pad_id`), attention_mask and token_type_ids (zeros where `types` is
    None); pass a session only the inputs its graph declares (`graph_inputs`)."""
    width = max(len(row) for row in ids)
    input_ids = np.full((len(ids), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(ids), width), dtype=np.int64)
    token_types = np.zeros((len(ids), width), dtype=np.int64)
    for i, row in enumerate(ids):
        input_ids[i, : len(row)] = row
        mask[i, : len(row)] = 1
        if types is not None:
            token_types[i, : len(row)] = types[i]
    return {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": token_types}


def graph_inputs(feeds: dict[str, np.ndarray], input_names: list[str]) -> dict[str, np.ndarray]:
    return {name: feeds[name] for name in input_names}
