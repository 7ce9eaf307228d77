"""Collections, documents and their chunks. Only ingestion writes these."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from pgvector.django import VectorField


class Collection(models.Model):
    class Kind(models.TextChoices):
        USER = "user", "User documents"
        EVALUATION = "evaluation", "Evaluation corpus (hidden from users)"

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.USER)
    # The embedding model every chunk of this collection was embedded with: one index never
    # mixes vectors of two models (set when the first chunk is written).
    embedding_model = models.CharField(max_length=500, blank=True)
    # Set while `manage.py reindex` re-embeds the chunks with this label (ingestion/reindex.py):
    # chunks with id <= reindex_through already carry it, the others still `embedding_model`'s.
    # Uploads are refused meanwhile; blank when no re-index is under way.
    reindex_to = models.CharField(max_length=500, blank=True)
    reindex_through = models.BigIntegerField(default=0)
    # Free-form settings of evaluation collections (chunker and model), to know when to rebuild.
    build_signature = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Archived: hidden from pickers, not searchable, not uploadable; the documents are kept.
    archived_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.slug


class Document(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        PROCESSING = "processing"
        INDEXED = "indexed"
        FAILED = "failed"

    collection = models.ForeignKey(Collection, on_delete=models.PROTECT, related_name="documents")
    original_filename = models.CharField(max_length=255)
    stored_name = models.CharField(max_length=100, unique=True)
    content_type = models.CharField(max_length=100)
    size_bytes = models.BigIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    page_count = models.PositiveIntegerField(null=True, blank=True)
    chunk_count = models.PositiveIntegerField(default=0)
    # What parsing found: element counts by type, headings, tables (shown on the document page).
    parse_summary = models.JSONField(default=dict, blank=True)
    parsed_text = models.TextField(blank=True)
    embedding_model = models.CharField(max_length=500, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="documents"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    processing_started_at = models.DateTimeField(null=True, blank=True)
    # The worker child that holds a processing document (machine and pid), so a redelivered or
    # swept task can tell a live holder from a dead one (ingestion.holders).
    worker_host = models.CharField(max_length=255, blank=True)
    worker_pid = models.PositiveIntegerField(null=True, blank=True)
    # When its task was last sent: the sweep sends it again if it is still queued long after.
    dispatched_at = models.DateTimeField(default=timezone.now)
    indexed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["collection", "sha256"])]
        # What duplicate detection counts (ingestion.services._live_duplicate): one live document
        # per content and collection, so two uploads of one file at once cannot both get in.
        constraints = [
            models.UniqueConstraint(
                fields=["collection", "sha256"], condition=~models.Q(status="failed"), name="document_live_content_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.original_filename} ({self.status})"


class Chunk(models.Model):
    """A passage of a document: verbatim text of the parsed document plus where it came from."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="chunks")
    # Denormalised from the document so both retrievers filter by collection inside their SQL.
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="chunks")
    ordinal = models.PositiveIntegerField()
    text = models.TextField()
    page_start = models.PositiveIntegerField(null=True, blank=True)
    page_end = models.PositiveIntegerField(null=True, blank=True)
    heading_path = models.JSONField(default=list, blank=True)
    char_start = models.PositiveIntegerField()
    char_end = models.PositiveIntegerField()
    token_count = models.PositiveIntegerField()
    is_table = models.BooleanField(default=False)
    embedding = VectorField(dimensions=settings.EMBEDDING_DIMENSIONS)
    # Number of BM25 tokens of the chunk (its length in Okapi BM25).
    bm25_length = models.PositiveIntegerField(default=0)
    # The chunk's BM25 tokens (ingestion.tokenize: stop-words dropped, stemmed), space-separated:
    # what the pg_textsearch index reads, with the `simple` configuration, so that PostgreSQL's
    # parser and stop list never decide what a term is (ingestion.keyword_index).
    bm25_text = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["document_id", "ordinal"]
        constraints = [models.UniqueConstraint(fields=["document", "ordinal"], name="chunk_document_ordinal")]

    def __str__(self) -> str:
        return f"{self.document_id}#{self.ordinal}"


class ChunkTerm(models.Model):
    """A posting of the BM25 keyword index: term frequency of one term in one chunk."""

    chunk = models.ForeignKey(Chunk, on_delete=models.CASCADE, related_name="terms")
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="+")
    term = models.CharField(max_length=64)
    tf = models.PositiveIntegerField()
    doc_length = models.PositiveIntegerField()

    class Meta:
        # Covering index: a query term's postings are read by an index-only scan.
        indexes = [
            models.Index(
                fields=["collection", "term"], include=["chunk", "tf", "doc_length"], name="chunkterm_coll_term"
            )
        ]


class CollectionTerm(models.Model):
    """Document frequency of one term in one collection: how many chunks hold it.

    Kept in the same transaction as the postings (ChunkTerm), so BM25 reads a query term's df
    with one index lookup instead of counting its postings, and the collection's mean idf over
    its vocabulary instead of grouping every posting."""

    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="+")
    term = models.CharField(max_length=64)
    df = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["collection", "term"], include=["df"], name="collectionterm_coll_term")
        ]


class KeywordEngine(models.Model):
    """Which BM25 engine this database keeps and searches (one row): `pg_textsearch` (a bm25 index
    per collection on Chunk.bm25_text) or `sql` (the postings tables, ChunkTerm and CollectionTerm).
    Changed only by `manage.py bm25_engine`, which rebuilds what the other engine needs."""

    class Engine(models.TextChoices):
        PG_TEXTSEARCH = "pg_textsearch", "pg_textsearch (bm25 index)"
        SQL = "sql", "SQL over postings"

    engine = models.CharField(max_length=16, choices=Engine.choices)
    # Why this engine: e.g. that the extension was not available when the database was made.
    reason = models.TextField(blank=True)
    changed_at = models.DateTimeField(auto_now=True)


class CollectionStats(models.Model):
    """Running BM25 corpus statistics of a collection, kept in the same transaction as chunks."""

    collection = models.OneToOneField(Collection, on_delete=models.CASCADE, primary_key=True, related_name="stats")
    chunk_count = models.BigIntegerField(default=0)
    total_length = models.BigIntegerField(default=0)
    generation = models.BigIntegerField(default=0)


class WorkerHeartbeat(models.Model):
    """Written by each running worker every few seconds; /health reads the newest."""

    hostname = models.CharField(max_length=255, unique=True)
    pid = models.PositiveIntegerField()
    seen_at = models.DateTimeField()
