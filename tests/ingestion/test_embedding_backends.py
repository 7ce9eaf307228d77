"""Embedding backends: torch, ONNX fp32 and ONNX int8 embed alike, exports are cached and reused,
the backend is part of the label a collection records, and a bad backend name fails clearly."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

import ingestion.embedding as embedding
import runtime.onnx_export as onnx_export
from bench.retrieval_evaluation import build_signature
from config.env import ImproperlyConfiguredEnv, env_choice
from ingestion.embedding import Embedder, EmbeddingBackendError, configured_model
from ingestion.models import Document
from ingestion.services import document_ingest, document_process
from tests.factories.files import upload
from tests.retrieval.helpers import collection_with_texts

SENTENCES = [
    "Hotel nights in Zurich are reimbursed up to 240 francs.",
    "Aspirin lowers the risk of a second heart attack in some patients.",
    "Laptops are replaced every four years.",
    "ok",
]


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> str:  # type: ignore[no-untyped-def]
    """A sentence-transformers model of random weights (BERT, 2 layers, mean pooling, normalised),
    built here so exports run in seconds."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Normalize, Pooling, Transformer
    from transformers import AutoTokenizer, BertConfig, BertModel

    from ingestion.embedding import default_model_path

    bert = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = AutoTokenizer.from_pretrained(default_model_path())
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64)
    BertModel(config).save_pretrained(bert)
    tokenizer.save_pretrained(bert)
    transformer = Transformer(str(bert), max_seq_length=64)
    model = SentenceTransformer(modules=[transformer, Pooling(32, "mean"), Normalize()], device="cpu")
    path = tmp_path_factory.mktemp("tiny-st")
    model.save(str(path))
    return str(path)


def tiny_embedder(path: str, backend: str, cache_dir: Path) -> Embedder:
    return Embedder(label="tiny", name_or_path=path, batch_size=2, backend=backend, threads=1, cache_dir=cache_dir)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1)


def test_onnx_backends_embed_the_tiny_model_like_torch(tiny_model, tmp_path):
    torch_vectors = tiny_embedder(tiny_model, "torch", tmp_path).embed(SENTENCES)
    onnx = tiny_embedder(tiny_model, "onnx", tmp_path)
    assert np.allclose(np.linalg.norm(onnx.embed(SENTENCES), axis=1), 1.0, atol=1e-5)
    assert cosines(onnx.embed(SENTENCES), torch_vectors).min() > 0.9999
    assert cosines(tiny_embedder(tiny_model, "onnx-int8", tmp_path).embed(SENTENCES), torch_vectors).min() > 0.9
    assert (onnx.dimensions, onnx.max_tokens) == (32, 64)


def test_an_export_is_made_once_and_reused_by_the_next_load(tiny_model, tmp_path, monkeypatch):
    calls = []
    real_export = onnx_export._export
    monkeypatch.setattr(onnx_export, "_export", lambda **kw: (calls.append(kw["out"]), real_export(**kw)))
    first = tiny_embedder(tiny_model, "onnx-int8", tmp_path)
    first.warm_up()
    folders = [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    assert len(calls) == 1 and len(folders) == 1 and (folders[0] / "model.onnx").exists()
    second = tiny_embedder(tiny_model, "onnx-int8", tmp_path)
    assert np.allclose(second.embed(SENTENCES), first.embed(SENTENCES), atol=1e-6)
    assert len(calls) == 1  # loaded from the cache, not exported again
    tiny_embedder(tiny_model, "onnx", tmp_path).warm_up()
    assert len(calls) == 2  # another backend is another export, in a folder of its own
    assert len([p for p in tmp_path.iterdir() if not p.name.startswith(".")]) == 2


def test_loads_that_start_at_once_export_once(tiny_model, tmp_path, monkeypatch):
    calls = []
    real_export = onnx_export._export
    monkeypatch.setattr(onnx_export, "_export", lambda **kw: (calls.append(1), real_export(**kw)))
    errors: list[BaseException] = []

    def load() -> None:
        try:
            onnx_export.ensure_export(source=tiny_model, label="tiny", backend="onnx", cache_dir=tmp_path)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=load) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(calls) == 1
    assert not [p for p in tmp_path.iterdir() if p.is_dir() and p.name.startswith(".")]  # no half-made folder left


def test_the_backend_is_part_of_the_label_and_the_evaluation_signature(settings, monkeypatch, tmp_path):
    label, path = configured_model()
    labels, signatures = set(), set()
    for backend in ("torch", "onnx", "onnx-int8"):
        settings.EMBEDDING_BACKEND = backend
        monkeypatch.setattr(embedding, "_embedder", None)
        labels.add(embedding.get_embedder().label)
        signatures.add(build_signature(tmp_path))
    assert len(labels) == 3 and len(signatures) == 3
    assert Embedder(label=label, name_or_path=path, batch_size=8, backend="torch").label == label


@pytest.mark.slow
@pytest.mark.django_db
def test_a_collection_indexed_with_one_backend_refuses_vectors_of_another(settings, monkeypatch):
    collection = collection_with_texts("one-backend", {"travel.txt": "Hotel nights in Zurich: 240 francs."})
    first_label = collection.documents.get().embedding_model
    other = "torch" if embedding.get_embedder().backend != "torch" else "onnx"
    label, path = configured_model()
    replacement = Embedder(label=label, name_or_path=path, batch_size=8, backend=other)
    monkeypatch.setattr(embedding, "_embedder", replacement)
    outcome = document_ingest(collection=collection, uploaded_by=None, file=upload("it.txt", b"Laptops: four years."), enqueue=False)
    assert outcome.document is not None
    document_process(document_id=outcome.document.id)
    document = Document.objects.get(pk=outcome.document.id)
    assert document.status == "failed"
    assert f"'{first_label}'" in document.error and f"'{replacement.label}'" in document.error
    assert "python manage.py reindex --collection one-backend" in document.error
    assert collection.chunks.count() == 1


def test_an_unknown_backend_fails_with_the_choices(monkeypatch):
    label, path = configured_model()
    with pytest.raises(EmbeddingBackendError, match="torch, onnx, onnx-int8"):
        Embedder(label=label, name_or_path=path, batch_size=8, backend="onnx-fp16")
    monkeypatch.setenv("EMBEDDING_BACKEND", "tensorrt")
    with pytest.raises(ImproperlyConfiguredEnv, match="EMBEDDING_BACKEND='tensorrt' is not one of torch, onnx, onnx-int8"):
        env_choice("EMBEDDING_BACKEND", "onnx-int8", ["torch", "onnx", "onnx-int8"])


@pytest.mark.slow
def test_the_shipped_model_embeds_alike_with_every_backend(settings):
    label, path = configured_model()
    embedders = {b: Embedder(label=label, name_or_path=path, batch_size=8, backend=b) for b in embedding.BACKENDS}
    reference = embedders["torch"].embed(SENTENCES)
    assert cosines(embedders["onnx"].embed(SENTENCES), reference).min() > 0.9999
    int8 = cosines(embedders["onnx-int8"].embed(SENTENCES), reference)
    assert int8.min() > 0.95 and int8.mean() > 0.98  # a two-letter input is the worst case (0.965)
    for embedder in embedders.values():
        assert (embedder.dimensions, embedder.max_tokens) == (384, 256)
        assert embedder.count_tokens(SENTENCES[0]) == embedders["torch"].count_tokens(SENTENCES[0])


def test_a_repeated_query_is_embedded_once():
    from ingestion.embedding import get_embedder
    from runtime.metrics import QUERY_EMBEDDING_CACHE

    embedder = get_embedder()
    hits = QUERY_EMBEDDING_CACHE.labels("hit")._value.get()
    first = embedder.embed_query("Where is the archive room of 1987?")
    again = embedder.embed_query("Where is the archive room of 1987?")
    assert again is first and not again.flags.writeable
    assert QUERY_EMBEDDING_CACHE.labels("hit")._value.get() == hits + 1
    assert embedder.embed_query("Where is the archive room of 1988?") is not first
