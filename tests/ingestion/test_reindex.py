"""`manage.py reindex`: a collection embedded under another label gets the configured embedder's
vectors for the very text ingestion embedded, its labels follow, it takes uploads again, an
interrupted run resumes (refusing uploads meanwhile), and a second run changes nothing."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from ingestion.chunking import embedding_input
from ingestion.embedding import backend_label, configured_model, get_embedder
from ingestion.models import Chunk, Collection, Document
from ingestion.services import collection_create, document_ingest, document_process
from tests.factories.files import docx_bytes, upload

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

RULES = [
    "Hotel nights in Zurich are reimbursed up to 240 francs per night.",
    "Laptops are replaced every four years; phones every three.",
    "Train travel in first class needs a manager's approval beforehand.",
]
# Long enough for several chunks under one heading: those after the first do not start with the
# heading, so ingestion embedded "heading\ntext", not the text alone.
PARAGRAPHS = [f"Rule {n}: {RULES[n % len(RULES)]}" for n in range(40)]


def other_label() -> str:
    """A label of the configured model under a backend that is not the configured one."""
    model_label, _ = configured_model()
    other = "torch" if get_embedder().backend != "torch" else "onnx-int8"
    return backend_label(model_label, other)


def ingest(collection: Collection, name: str, content: bytes) -> Document:
    outcome = document_ingest(collection=collection, uploaded_by=None, file=upload(name, content), enqueue=False)
    assert outcome.document is not None, outcome.error
    document_process(document_id=outcome.document.id)
    return Document.objects.get(pk=outcome.document.id)


@pytest.fixture
def stale_collection() -> Collection:
    """Two indexed documents, relabelled as if embedded by another backend, with vectors that are
    not the configured embedder's (random unit vectors)."""
    collection = collection_create(slug="policies", name="Policies")
    for number in range(2):
        document = ingest(collection, f"policy-{number}.docx", docx_bytes(f"Travel policy {number}", PARAGRAPHS))
        assert document.status == "indexed", document.error
    old = other_label()
    Collection.objects.filter(pk=collection.pk).update(embedding_model=old)
    collection.documents.update(embedding_model=old)
    rng = np.random.default_rng(7)
    for chunk in collection.chunks.all():
        vector = rng.normal(size=get_embedder().dimensions)
        chunk.embedding = vector / np.linalg.norm(vector)
        chunk.save(update_fields=["embedding"])
    collection.refresh_from_db()
    return collection


def assert_same_vectors(stored: np.ndarray, expected: np.ndarray) -> None:
    """Row by row the same vectors, up to the int8 backend's noise: onnxruntime's dynamic
    quantisation scales each batch's activations (padding included) together, so one text's vector
    moves a little with the texts it is batched with (cosine 0.99+; fp32 backends match exactly)."""
    assert stored.shape == expected.shape
    assert (stored * expected).sum(axis=1).min() > 0.99


def vectors_of(collection: Collection) -> dict[int, np.ndarray]:
    return {c.id: np.asarray(c.embedding) for c in Chunk.objects.filter(collection=collection)}


def reindex(*args: str) -> str:
    out = io.StringIO()
    call_command("reindex", *args, stdout=out)
    return out.getvalue()


def test_it_re_embeds_the_ingested_input_and_relabels_the_collection(stale_collection):
    embedder = get_embedder()
    chunks = list(Chunk.objects.filter(collection=stale_collection).order_by("id"))
    assert any(c.heading_path for c in chunks)  # the heading trail is part of what was embedded

    output = reindex("--collection", "policies")

    assert f"re-embedding {len(chunks)} of {len(chunks)} chunks from '{other_label()}'" in output
    assert f"{len(chunks)}/{len(chunks)} chunks" in output
    expected = embedder.embed([embedding_input(c.heading_path, c.text) for c in chunks])
    stored = np.stack([np.asarray(Chunk.objects.get(pk=c.id).embedding) for c in chunks])
    assert_same_vectors(stored, expected)
    # Chunks that do not start with their heading were embedded with it, and are again.
    headed = [i for i, c in enumerate(chunks) if embedding_input(c.heading_path, c.text) != c.text]
    text_only = embedder.embed([chunks[i].text for i in headed])
    assert headed and np.all((stored[headed] * text_only).sum(axis=1) < (stored[headed] * expected[headed]).sum(axis=1))
    stale_collection.refresh_from_db()
    assert (stale_collection.embedding_model, stale_collection.reindex_to) == (embedder.label, "")
    assert set(stale_collection.documents.values_list("embedding_model", flat=True)) == {embedder.label}


def test_after_a_reindex_the_collection_takes_uploads_and_a_second_run_is_a_no_op(stale_collection):
    reindex("--collection", "policies")
    document = ingest(stale_collection, "phones.docx", docx_bytes("Phones", ["Phones are replaced every three years."]))
    assert document.status == "indexed", document.error
    before = vectors_of(stale_collection)

    output = reindex("--all")

    assert f"policies: up to date ({get_embedder().label})" in output
    after = vectors_of(stale_collection)
    assert after.keys() == before.keys() and all(np.array_equal(after[k], before[k]) for k in before)


def test_a_dry_run_says_what_it_would_do_and_changes_nothing(stale_collection):
    before = vectors_of(stale_collection)
    output = reindex("--collection", "policies", "--dry-run")
    assert f"policies: would re-embed {len(before)} of {len(before)} chunks" in output
    stale_collection.refresh_from_db()
    assert (stale_collection.embedding_model, stale_collection.reindex_to) == (other_label(), "")
    after = vectors_of(stale_collection)
    assert all(np.array_equal(after[k], before[k]) for k in before)


class Interrupted(Exception):
    pass


def test_an_interrupted_reindex_refuses_uploads_and_resumes_where_it_stopped(stale_collection):
    from ingestion.reindex import collection_reindex

    queued = document_ingest(collection=stale_collection, uploaded_by=None, enqueue=False,
                             file=upload("queued.docx", docx_bytes("Queued", ["Queued before the re-index."])))
    first_id = Chunk.objects.filter(collection=stale_collection).order_by("id").values_list("id", flat=True)[0]

    def stop(progress):  # type: ignore[no-untyped-def]
        raise Interrupted

    with pytest.raises(Interrupted):
        collection_reindex(collection=stale_collection, embedder=get_embedder(), batch_size=1, on_progress=stop)

    stale_collection.refresh_from_db()
    assert (stale_collection.reindex_to, stale_collection.reindex_through) == (get_embedder().label, first_id)
    assert stale_collection.embedding_model == other_label()  # not relabelled half-way
    refused = document_ingest(collection=stale_collection, uploaded_by=None, enqueue=False,
                              file=upload("new.docx", docx_bytes("New", ["Uploaded during the re-index."])))
    assert (refused.status, refused.http_status) == ("rejected", 409)
    assert "python manage.py reindex --collection policies" in refused.error
    assert queued.document is not None
    document_process(document_id=queued.document.id)
    failed = Document.objects.get(pk=queued.document.id)
    assert failed.status == "failed" and "is being re-indexed" in failed.error

    total = stale_collection.chunks.count()
    output = reindex("--collection", "policies")

    assert f"re-embedding {total - 1} of {total} chunks" in output and "resuming after 1 done" in output
    stale_collection.refresh_from_db()
    assert (stale_collection.embedding_model, stale_collection.reindex_to) == (get_embedder().label, "")
    chunks = list(Chunk.objects.filter(collection=stale_collection).order_by("id"))
    expected = get_embedder().embed([embedding_input(c.heading_path, c.text) for c in chunks])
    assert_same_vectors(np.stack([np.asarray(c.embedding) for c in chunks]), expected)


def test_it_needs_a_collection_that_exists():
    with pytest.raises(CommandError, match="no collection nowhere"):
        reindex("--collection", "nowhere")
    with pytest.raises(CommandError):
        reindex()
