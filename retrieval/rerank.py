"""Cross-encoder reranking with a remembered failure.

The model (RERANK_MODEL, a name or a path) loads once per process. A hub name is read from the
folder `manage.py models fetch` wrote, or the Hugging Face cache (runtime/model_store.py); the
hub itself is never asked at run time. When the model is not here or cannot load, the failure is
remembered for RERANK_RETRY_SECONDS: searches skip the stage at once instead of trying again per
request, and say why (in the search response's notices and the answer's notice).

RERANK_BACKEND picks how the model runs:
- `torch`: sentence-transformers' CrossEncoder.predict;
- `onnx`: its sequence-classification model exported to ONNX (fused attention) and run by
  onnxruntime, with the activation predict applies (sigmoid for one-label models); the default
  (scores equal to torch's, about twice as fast here);
- `onnx-int8`: that export with int8 dynamic quantisation (faster again; its effect on ranking
  quality is measured by `evaluate_retrieval --rerank-model PATH --rerank-backends ...`).
The exports are made locally on first use and cached under EMBEDDING_CACHE_DIR, as the embedding
model's are (runtime/onnx_export.py). A model that cannot be loaded or exported is a failure
like any other: remembered, and search runs without reranking.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

from runtime.batching import graph_inputs, length_ordered_batches, padded_feeds
from runtime.model_store import ModelEntry, Presence, is_local, presence, resolve
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
            found = self.presence()
            if not found.present:
                self._fail(f"the reranker model is not available: {found.reason}")
            try:
                self._model = self._load()
                self._failure = ""
            except Exception as exc:
                self._fail(f"the reranker model {self.model_name!r} ({self.backend}) could not be loaded "
                           f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]})")

    def _fail(self, reason: str) -> None:
        self._failure = reason
        self._failed_at = time.monotonic()
        logger.warning("%s", reason)
        raise RerankUnavailable(reason) from None

    def _cache_dir(self) -> Path:
        return self.cache_dir if self.cache_dir is not None else Path(settings.EMBEDDING_CACHE_DIR)

    def presence(self) -> Presence:
        """Whether the model's files are here (nothing is loaded)."""
        return presence(self.model_name, self._cache_dir())

    def _load(self) -> Any:
        source = resolve(self.model_name, self._cache_dir())
        if self.backend == "torch":
            from sentence_transformers import CrossEncoder  # heavy: only the torch backend needs it

            torch_threads_apply()
            return CrossEncoder(source, device="cpu")
        folder = ensure_export(
            source=source, label=self.model_name, backend=self.backend, cache_dir=self._cache_dir(),
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
        """For /health. `ok` only once the model has loaded: a model that is not here is
        `unavailable` with the reason at once, and one that is here but not tried yet says so."""
        common = {"model": self.model_name, "backend": self.backend}
        if self._model is not None:
            return {"ok": True, "status": "loaded", **common}
        failure = self._failure
        if not failure:
            found = self.presence()
            failure = "" if found.present else f"the reranker model is not available: {found.reason}"
        if failure:
            return {"ok": False, "optional": True, "status": "unavailable", **common, "error": failure,
                    "note": "search works without reranking, and says so"}
        return {"ok": False, "optional": True, "status": "not loaded yet", **common,
                "note": "present; loads at start-up or on first search"}


_reranker: CrossEncoderReranker | None = None
_reranker_lock = threading.Lock()
_override = threading.local()
_overrides: dict[tuple[str, str], CrossEncoderReranker] = {}


@contextlib.contextmanager
def reranker_override(model: str, backend: str) -> Iterator[CrossEncoderReranker]:
    """Within the block, in this thread, searches rerank with `model` run by `backend` instead of
    the configured reranker (evaluations comparing models or backends side by side). Each
    (model, backend) loads once per process; a failure is remembered as for the configured one."""
    key = (model, backend)
    with _reranker_lock:
        if key not in _overrides:
            _overrides[key] = CrossEncoderReranker(model=model, retry_seconds=settings.RERANK_RETRY_SECONDS,
                                                   backend=backend)
        reranker = _overrides[key]
    previous = getattr(_override, "reranker", None)
    _override.reranker = reranker
    try:
        yield reranker
    finally:
        _override.reranker = previous


def get_reranker() -> CrossEncoderReranker:
    overridden = getattr(_override, "reranker", None)
    if overridden is not None:
        return overridden
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


def reranker_model() -> ModelEntry:
    """The configured reranker, for `manage.py models`."""
    reranker = get_reranker()
    name = reranker.model_name
    source = "a local path (RERANK_MODEL)" if is_local(name) else (
        "the Hugging Face hub (RERANK_MODEL), not shipped: `manage.py models fetch reranker` downloads it")
    return ModelEntry(role="reranker", name=name, source=source, presence=reranker.presence())


def reranker_warm_up_if_present() -> None:
    """Load the reranker now when its files are here (the web process's start-up), so /health
    and the first search know at once whether it works. A failure is remembered, not raised."""
    reranker = get_reranker()
    if reranker.presence().present:
        with contextlib.suppress(RerankUnavailable):
            reranker.warm_up()
