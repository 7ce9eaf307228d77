"""The exact answer cache: a repeated question gets the answer made for it before, when nothing
that shapes the answer has changed since.

The key holds everything that changes an answer: the question and its standalone query (which
carries the conversation's context), the collection and its index generation (moved by every
upload, delete and re-index: ingestion.index_writer), the version of feedback's ranking signals
and learned tuning (retrieval.feedback_port), the backend, its model and the prompt's version,
and the settings of retrieval and answering. Nothing is ever invalidated: a change makes a new
key, and the old entries expire (ANSWER_CACHE_SECONDS).

Access: an entry is per collection and is looked up only for a conversation its user may read
(chat.services.conversation_open checks that), and every document of a collection is readable
by whoever may read the collection; so a cached answer is never shown to someone who may not
read its sources.

Stored in Django's cache (Redis in production, the database cache otherwise), as the answer's
text, citations and trace; a hit is stored as a new Answer with that trace marked as a hit, so
votes and reviews work as for any answer.
"""

from __future__ import annotations

import hashlib
import json
import logging
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.db import DatabaseCache
from django.db import connection, transaction

from chat import llm
from chat.prompts import ANSWER_PROMPT_NAME, ANSWER_PROMPT_VERSION
from ingestion.models import CollectionStats
from retrieval.feedback_port import ranking_feedback
from runtime.metrics import ANSWER_CACHE_HITS, ANSWER_CACHE_MISSES

logger = logging.getLogger(__name__)

# The settings a cached answer depends on, besides what the key names explicitly.
_SETTINGS = ("CHAT_PASSAGES", "CHAT_PASSAGE_WINDOW", "CHAT_WIDEN_TOP", "CHAT_CONTEXT_TOKENS", "CHAT_CANDIDATE_CHUNKS",
             "CHAT_SURE_VECTOR_SCORE", "CHAT_MIN_VECTOR_SCORE", "CHAT_MIN_KEYWORD_COVERAGE", "RETRIEVAL_CANDIDATES",
             "RERANK_MODEL", "RERANK_TOP_N", "RERANK_BACKEND", "BM25_K1", "BM25_B", "BM25_STEMMER", "BM25_STOPWORDS",
             "EMBEDDING_MODEL", "EMBEDDING_BACKEND", "LLM_MAX_OUTPUT_TOKENS", "LLM_MODEL", "LLM_BASE_URL")


@dataclass(frozen=True)
class CachedAnswer:
    text: str
    citations: list[dict[str, Any]]
    abstained: bool
    backend: str
    model: str
    trace: dict[str, Any]
    answer_id: int  # the answer it was made for


def answer_cache_key(*, collection_id: int, question: str, standalone_query: str, backend: str) -> str:
    generation = CollectionStats.objects.filter(collection_id=collection_id).values_list("generation", flat=True).first()
    parts = {
        "question": question, "standalone_query": standalone_query, "collection": collection_id,
        "generation": generation, "ranking": ranking_feedback().version(), "backend": backend,
        "model": llm.get_backend(backend).model, "prompt": f"{ANSWER_PROMPT_NAME}/{ANSWER_PROMPT_VERSION}",
        "settings": [getattr(settings, name, None) for name in _SETTINGS],
    }
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
    return f"footnote:answer:{digest}"


def cached_answer(key: str) -> CachedAnswer | None:
    """The answer kept for `key`, if any. A cache that fails (Redis down, no cache table yet)
    only costs the hit: the answer is made as if nothing were cached."""
    if not settings.ANSWER_CACHE_SECONDS:
        return None
    try:
        with _guarded():
            found = cache.get(key)
    except Exception as exc:  # whatever the cache backend raises: never the answer's failure
        logger.warning("answer cache unavailable, answering without it: %s", exc)
        return None
    (ANSWER_CACHE_HITS if found is not None else ANSWER_CACHE_MISSES).inc()
    return CachedAnswer(**found) if found is not None else None


def answer_cache_put(key: str, answer: CachedAnswer) -> None:
    """Keep an answer for its key; answers that fell back (an endpoint down, the token budget
    spent) or were cut short are never kept: the chosen backend may answer next time."""
    trace = answer.trace
    if settings.ANSWER_CACHE_SECONDS and not (trace.get("fallback") or trace.get("truncated")):
        try:
            with _guarded():
                cache.set(key, answer.__dict__, timeout=settings.ANSWER_CACHE_SECONDS)
        except Exception as exc:  # as in cached_answer: the answer stands without the cache
            logger.warning("answer cache unavailable, answer not kept: %s", exc)


def _guarded() -> AbstractContextManager[object]:
    """A savepoint around the database cache's queries inside a transaction, so that its failure
    (no cache table) does not abort the transaction around it; nothing for other caches."""
    if isinstance(caches[DEFAULT_CACHE_ALIAS], DatabaseCache) and connection.in_atomic_block:
        return transaction.atomic()
    return nullcontext()
