"""Re-embed a collection's chunks with the configured embedder (`python manage.py reindex`).

A collection records the label (model + backend) its vectors were made with, and ingestion
refuses to add vectors of another label to it. After EMBEDDING_MODEL or EMBEDDING_BACKEND
changes, a re-index replaces every chunk's vector in place; chunks, their ids, text, postings
and everything that refers to them (feedback, answer traces) stay as they are.

- What is embedded is what ingestion embedded: `chunking.embedding_input(heading_path, text)`.
  Both are stored on the chunk, the heading path as the chunker shortened it, so a re-embedded
  chunk gets exactly the vector a fresh upload of its text would get from the new model. (The
  chunk boundaries are the old model's: a new model with a smaller window than the chunks'
  `token_count` truncates their input; re-upload the documents to re-chunk them.)
- Resumable: `Collection.reindex_to` names the label being written and `reindex_through` the
  highest chunk id already written with it. Chunks go in id order, a batch at a time; each batch
  is embedded outside any transaction, then its vectors and the advanced marker are written in
  one. An interrupted run loses at most the batch in flight, and the next run resumes after the
  marker (or starts over, if the configured label changed in between).
- No silent mixing: while the marker is set the collection's label is still the old one, its
  chunks are of two labels, and new documents are refused with a message naming the re-index.
  Only when every chunk is done are the collection's and its documents' labels set to the new
  one and the marker cleared, in one transaction.
- The per-collection HNSW index stays and is updated row by row (pgvector indexes each new row
  version), so searches keep using it and other collections' uploads are never blocked by an
  index build; the dead row versions go with the next (auto)vacuum. Measured in
  docs/benchmarks.md ("Re-index").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from ingestion.chunking import embedding_input
from ingestion.embedding import Embedder
from ingestion.models import Chunk, Collection, Document

DEFAULT_BATCH_SIZE = 256


class ReindexError(RuntimeError):
    """The re-index cannot go on: another run moved the marker, or the model does not fit the column."""


@dataclass(frozen=True)
class ReindexPlan:
    """What a re-index of one collection would do: `chunks` in all, `done` of them already written
    with `to_label` by an interrupted run."""

    slug: str
    from_label: str
    to_label: str
    chunks: int
    done: int

    @property
    def remaining(self) -> int:
        return self.chunks - self.done


@dataclass(frozen=True)
class ReindexProgress:
    slug: str
    done: int
    total: int
    seconds: float  # since this run started
    embedded: int  # chunks embedded by this run

    @property
    def rate(self) -> float:
        return self.embedded / self.seconds if self.seconds > 0 else 0.0


def collection_reindex_plan(*, collection: Collection, label: str) -> ReindexPlan | None:
    """The re-index `collection` needs to carry vectors of `label` only, or None when it does."""
    resuming = collection.reindex_to == label
    if not collection.reindex_to and collection.embedding_model in ("", label):
        return None  # up to date, or never indexed (its first document sets the label)
    chunks = Chunk.objects.filter(collection=collection)
    done = chunks.filter(id__lte=collection.reindex_through).count() if resuming else 0
    return ReindexPlan(
        slug=collection.slug, from_label=collection.embedding_model, to_label=label, chunks=chunks.count(), done=done
    )


def collection_reindex(
    *,
    collection: Collection,
    embedder: Embedder,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_progress: Callable[[ReindexProgress], None] | None = None,
) -> int:
    """Re-embed every chunk of `collection` not yet carrying `embedder.label`, then relabel the
    collection and its documents. Returns the number of chunks embedded by this call (0 when the
    collection was up to date). Raises ReindexError (see there)."""
    if collection_reindex_plan(collection=Collection.objects.get(pk=collection.id), label=embedder.label) is None:
        return 0  # without loading the model
    if embedder.dimensions != settings.EMBEDDING_DIMENSIONS:
        raise ReindexError(
            f"'{embedder.label}' makes {embedder.dimensions}-dimensional vectors, but the chunk column holds "
            f"{settings.EMBEDDING_DIMENSIONS} (EMBEDDING_DIMENSIONS)"
        )
    begun = _reindex_begin(collection_id=collection.id, label=embedder.label)
    if begun is None:
        return 0
    through, plan = begun
    started, embedded = time.monotonic(), 0
    while True:
        rows = list(
            Chunk.objects.filter(collection_id=collection.id, id__gt=through)
            .order_by("id")
            .values_list("id", "heading_path", "text")[:batch_size]
        )
        if not rows:
            break
        vectors = embedder.embed([embedding_input(path, text) for _, path, text in rows])
        through = _reindex_batch_write(
            collection_id=collection.id, label=embedder.label, after=through,
            updates=[Chunk(id=chunk_id, embedding=vector) for (chunk_id, _, _), vector in zip(rows, vectors)],
        )
        embedded += len(rows)
        if on_progress is not None:
            on_progress(ReindexProgress(slug=collection.slug, done=plan.done + embedded, total=plan.chunks,
                                        seconds=time.monotonic() - started, embedded=embedded))
    _reindex_finish(collection_id=collection.id, label=embedder.label, through=through)
    return embedded


@transaction.atomic
def _reindex_begin(*, collection_id: int, label: str) -> tuple[int, ReindexPlan] | None:
    """Set the marker (kept when resuming a re-index to the same label). Returns the chunk id to
    continue after and the plan from there, or None when there is nothing to do."""
    collection = Collection.objects.select_for_update().get(pk=collection_id)
    if collection_reindex_plan(collection=collection, label=label) is None:
        return None
    if collection.reindex_to != label:
        # A new re-index, or one towards a label that is no longer configured: from the start.
        collection.reindex_to = label
        collection.reindex_through = 0
        collection.save(update_fields=["reindex_to", "reindex_through"])
    plan = collection_reindex_plan(collection=collection, label=label)
    assert plan is not None  # the marker is set: a plan always exists
    return collection.reindex_through, plan


@transaction.atomic
def _reindex_batch_write(*, collection_id: int, label: str, after: int, updates: list[Chunk]) -> int:
    collection = Collection.objects.select_for_update().get(pk=collection_id)
    if collection.reindex_to != label or collection.reindex_through != after:
        raise ReindexError(
            f"the re-index marker of '{collection.slug}' moved (to '{collection.reindex_to}' through chunk "
            f"{collection.reindex_through}, expected '{label}' through {after}): is another re-index running?"
        )
    # Chunks deleted since they were read (their document was deleted) are simply not updated.
    Chunk.objects.bulk_update(updates, ["embedding"])
    collection.reindex_through = max(chunk.id for chunk in updates)
    collection.save(update_fields=["reindex_through"])
    return collection.reindex_through


@transaction.atomic
def _reindex_finish(*, collection_id: int, label: str, through: int) -> None:
    collection = Collection.objects.select_for_update().get(pk=collection_id)
    if collection.reindex_to != label or collection.reindex_through != through:
        raise ReindexError(f"the re-index marker of '{collection.slug}' moved: is another re-index running?")
    if Chunk.objects.filter(collection_id=collection_id, id__gt=through).exists():
        # Cannot happen while uploads are refused during a re-index; checked, not assumed.
        raise ReindexError(f"chunks of '{collection.slug}' appeared behind the re-index marker: run it again")
    collection.embedding_model = label
    collection.reindex_to = ""
    collection.reindex_through = 0
    collection.save(update_fields=["embedding_model", "reindex_to", "reindex_through"])
    # Documents that were never indexed (failed, queued) carry no label and keep none.
    Document.objects.filter(collection_id=collection_id).exclude(embedding_model="").update(embedding_model=label)
