"""Cross-encoder reranking with a remembered failure.

The model (RERANK_MODEL, a name or a path) loads once per process. When it cannot load (no hub
access, a wrong path) the failure is remembered for RERANK_RETRY_SECONDS: searches skip the
stage at once instead of trying again per request, and say why.

RERANK_BACKEND picks how the model runs:
- `torch`: sentence-transformers' CrossEncoder.predict;
- `onnx`: its sequence-classification model exported to ONNX (fused attention) and run by
  onnxruntime, with the activation predict applies (sigmoid for one-label models);
- `onnx-int8`: that export with int8 dynamic quantisation (the default; see docs/benchmarks.md).
The exports are made locally on first use and cached under EMBEDDING_CACHE_DIR, as the embedding
model's are (runtime/onnx_export.py). A model that cannot be loaded or exported is a failure
like any other: remembered, and search runs without reranking.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

from runtime.batching import graph_inputs, length_ordered_batches, padded_feeds
from runtime.onnx_export import ensure_export, export_load
from runtime.threads import configured_threads, torch_threads_apply

logger = logging.getLogger(__name__)


BACKENDS = ("torch", "onnx", "onnx-int8")


class RerankUnavailable(Exception):
    pass


class OnnxCrossEncoder:
    """An exported cross-encoder run by onnxruntime: tokenise the (query, passage) pairs as
    CrossEncoder does (truncated to the model's maximum length), sort them by length so each batch
    pads little, run the model, apply the activation CrossEncoder.predict applies."""

    def __init__(self, folder: Path, *, threads: int) -> None:
        self.folder = folder
        self.meta, self.tokenizer, self.session = export_load(folder, threads=threads)
        self.max_tokens = int(self.meta["max_seq_length"])
        self._pad_id = int(self.tokenizer.pad_token_id or 0)

    def predict(self, pairs: list[tuple[str, str]], *, batch_size: int) -> np.ndarray:
        encoded = self.tokenizer(
            [q for q, _ in pairs], [p for _, p in pairs], truncation=True, max_length=self.max_tokens, padding=False
        )
        ids: list[list[int]] = encoded["input_ids"]
        types: list[list[int]] | None = encoded.get("token_type_ids")
        logits = np.empty(len(pairs), dtype=np.float32)
        for rows in length_ordered_batches(ids, batch_size):
            logits[rows] = self._run([ids[i] for i in rows], [types[i] for i in rows] if types is not None else None)
        if self.meta["activation"] == "Sigmoid":
            return 1.0 / (1.0 + np.exp(-logits))
        return logits

    def _run(self, ids: list[list[int]], types: list[list[int]] | None) -> np.ndarray:
        feeds = graph_inputs(padded_feeds(ids, types, pad_id=self._pad_id), self.meta["input_names"])
        return self.session.run(None, feeds)[0].reshape(len(ids))


class CrossEncoderReranker:
    def __init__(
        self, *, model: str, retry_seconds: float, batch_size: int | None = None, backend: str = "torch",
        cache_dir: Path | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(
                f"RERANK_BACKEND={backend!r} is not a known reranker backend: use one of {', '.join(BACKENDS)}"
            )
        self.model_name = model
        self.retry_seconds = retry_seconds
        # onnxruntime on CPU gains nothing from batching pairs and loses to padding: one pair per run
        # scored 20 passages of 40-190 words 2.2x faster than one batch of 20 (int8, one thread).
        self.batch_size = batch_size if batch_size is not None else (32 if backend == "torch" else 1)
        self.backend = backend
        self.cache_dir = cache_dir
        self._model: Any = None
        self._failure: str = ""
        self._failed_at: float = 0.0
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Load the model, or raise RerankUnavailable (remembered for retry_seconds)."""
        if self._model is not None:
            return
        with self._lock:
            if self._model is not None:
                return
            if self._failure and time.monotonic() - self._failed_at < self.retry_seconds:
                raise RerankUnavailable(self._failure)
            try:
                self._model = self._load()
                self._failure = ""
            except Exception as exc:
                self._failure = f"the reranker model {self.model_name!r} ({self.backend}) could not be loaded ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})"
                self._failed_at = time.monotonic()
                logger.warning("%s", self._failure)
                raise RerankUnavailable(self._failure) from None

    def _load(self) -> Any:
        if self.backend == "torch":
            from sentence_transformers import CrossEncoder  # heavy: only the torch backend needs it

            torch_threads_apply()
            return CrossEncoder(self.model_name, device="cpu")
        cache_dir = self.cache_dir if self.cache_dir is not None else Path(settings.EMBEDDING_CACHE_DIR)
        folder = ensure_export(
            source=self.model_name, label=self.model_name, backend=self.backend, cache_dir=cache_dir,
            kind="cross-encoder",
        )
        return OnnxCrossEncoder(folder, threads=configured_threads())

    def run(self, query: str, passages: list[str]) -> list[float]:
        """Relevance score of each passage for the query (higher is better)."""
        self.warm_up()
        if not passages:
            return []
        pairs = [(query, p) for p in passages]
        if isinstance(self._model, OnnxCrossEncoder):
            scores = self._model.predict(pairs, batch_size=self.batch_size)
        else:
            scores = self._model.predict(pairs, batch_size=self.batch_size, show_progress_bar=False)
        return [float(s) for s in scores]

    def status(self) -> dict[str, Any]:
        if self._model is not None:
            return {"ok": True, "model": self.model_name, "loaded": True, "backend": self.backend}
        if self._failure:
            return {"ok": False, "optional": True, "model": self.model_name, "error": self._failure,
                    "note": "search works without reranking"}
        return {"ok": True, "model": self.model_name, "loaded": False, "backend": self.backend,
                "note": "loads on first search"}


_reranker: CrossEncoderReranker | None = None
_reranker_lock = threading.Lock()


def get_reranker() -> CrossEncoderReranker:
    global _reranker
    if _reranker is None:
        with _reranker_lock:
            if _reranker is None:
                _reranker = CrossEncoderReranker(
                    model=settings.RERANK_MODEL, retry_seconds=settings.RERANK_RETRY_SECONDS,
                    backend=settings.RERANK_BACKEND,
                )
    return _reranker


def reranker_status() -> dict[str, Any]:
    return get_reranker().status()
