"""Cross-encoder reranking with a remembered failure.

The model (RERANK_MODEL, a name or a path) loads once per process. When it cannot load (no hub
access, a wrong path) the failure is remembered for RERANK_RETRY_SECONDS: searches skip the
stage at once instead of trying again per request, and say why.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)


class RerankUnavailable(Exception):
    pass


class CrossEncoderReranker:
    def __init__(self, *, model: str, retry_seconds: float, batch_size: int = 32, int8: bool = False) -> None:
        self.model_name = model
        self.retry_seconds = retry_seconds
        self.batch_size = batch_size
        # Dynamic int8 quantisation of the linear layers (CPU): about twice as fast on x86 with
        # VNNI, at some cost in score precision (check the evaluation before turning it on).
        self.int8 = int8
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
                from sentence_transformers import CrossEncoder

                from ingestion.embedding import torch_threads_apply

                torch_threads_apply()
                model = CrossEncoder(self.model_name, device="cpu")
                self._model = _quantized(model) if self.int8 else model
                self._failure = ""
            except Exception as exc:
                self._failure = f"the reranker model {self.model_name!r} could not be loaded ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})"
                self._failed_at = time.monotonic()
                logger.warning("%s", self._failure)
                raise RerankUnavailable(self._failure) from None

    def run(self, query: str, passages: list[str]) -> list[float]:
        """Relevance score of each passage for the query (higher is better)."""
        self.warm_up()
        if not passages:
            return []
        scores = self._model.predict([(query, p) for p in passages], batch_size=self.batch_size, show_progress_bar=False)
        return [float(s) for s in scores]

    def status(self) -> dict[str, Any]:
        if self._model is not None:
            return {"ok": True, "model": self.model_name, "loaded": True, "int8": self.int8}
        if self._failure:
            return {"ok": False, "optional": True, "model": self.model_name, "error": self._failure,
                    "note": "search works without reranking"}
        return {"ok": True, "model": self.model_name, "loaded": False, "note": "loads on first search"}


def _quantized(model: Any) -> Any:
    import torch

    return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


_reranker: CrossEncoderReranker | None = None
_reranker_lock = threading.Lock()


def get_reranker() -> CrossEncoderReranker:
    global _reranker
    if _reranker is None:
        with _reranker_lock:
            if _reranker is None:
                _reranker = CrossEncoderReranker(
                    model=settings.RERANK_MODEL, retry_seconds=settings.RERANK_RETRY_SECONDS, int8=settings.RERANK_INT8
                )
    return _reranker


def reranker_status() -> dict[str, Any]:
    return get_reranker().status()
