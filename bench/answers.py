"""Answer-quality evaluation: context recall, answer rate, token F1 / exact match against gold
answers (SQuAD normalisation), a lead-sentence baseline, citation validity before and after the
post-check, abstention on off-corpus questions, and latency."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.collections import fresh_collection, reused
from bench.retrieval_evaluation import build_signature
from chat.citations import check_citations
from chat.claims import claims, without_markers
from chat.markers import MARKER, plain
from chat.metrics import normalize, token_f1
from chat.sentences import sentences
from chat.support import support
from ingestion.models import Collection
from ingestion.parsing import Element
from ingestion.services import collection_build_signature_set, documents_index_elements
from retrieval.types import ScoredChunk


def best_f1(prediction: str, golds: list[str]) -> float:
    return max((token_f1(prediction, g) for g in golds), default=0.0)


def exact_match(prediction: str, golds: list[str]) -> float:
    return float(any(normalize(prediction) == normalize(g) for g in golds))


def raw_citation_checks(raw: str, passages: list[str]) -> tuple[int, int]:
    """(valid, total) citations of the backend's own text: [n] must name a passage and the
    sentence carrying it must appear verbatim in that passage (a document's own brackets
    neutralised in the answer compared as the document has them)."""
    valid = total = 0
    for claim in claims(raw):
        body = plain(claim.body)
        for n in claim.markers:
            total += 1
            valid += int(1 <= n <= len(passages) and bool(body) and body in passages[n - 1])
    return valid, total


def claim_support_counts(raw: str, passages: list[str]) -> tuple[int, int]:
    """(supported, all) sentences of the backend's own text, cited or not, as the citation check
    judges them before it removes or renumbers anything: a sentence is supported when a passage
    it cites holds a quote with its numbers, names and most content words."""
    given = [ScoredChunk(chunk_id=i, document_id=i, collection_id=0, filename="", page_start=None, page_end=None,
                         heading_path=[], text=text) for i, text in enumerate(passages, start=1)]
    judged = check_citations(raw, given).claims
    return sum(c.supported for c in judged), len(judged)


def spurious_marker(answer: str, citations: list[dict[str, Any]]) -> bool:
    """Whether the answer shown carries a marker that is not an assigned citation: its number
    names no citation, or its citation's quote does not support the sentence that carries it
    (as a document's own "[2]" left as a link would not)."""
    quotes = {c["n"]: c.get("quote", "") for c in citations}
    for claim in claims(answer):
        for match in MARKER.finditer(claim.text):
            n = int(match.group(1))
            if n not in quotes:
                return True
            body = plain(claim.body)
            if quotes[n] not in body and not support(body, quotes[n]).supported:
                return True
    return False


def gold_in(text: str, golds: list[str]) -> bool:
    """Whether a normalised gold answer lies inside the normalised text as whole tokens: a gold
    number must match a whole number token ("2" is not found in "2023")."""
    padded = f" {normalize(without_markers(text))} "
    return any(normalize(g) and f" {normalize(g)} " in padded for g in golds)


def first_claim(answer: str) -> str:
    found = claims(answer)
    return found[0].body if found else ""


def lead_sentence(passage: str) -> str:
    found = sentences(passage)
    return found[0] if found else passage[:200]


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def answers_collection(corpus: Path, *, log: Callable[[str], None], prefix: str = "answers-") -> Collection:
    """The corpus's own collection (kind evaluation; `_id`, `text` split into paragraphs at line
    breaks, optional `title`), rebuilt only when the signature changed."""
    slug = prefix + hashlib.sha256(str(corpus.resolve()).encode()).hexdigest()[:12]
    signature = build_signature(corpus)
    existing = Collection.objects.filter(slug=slug).first()
    if existing is not None and existing.build_signature == signature:
        return reused(existing, log)
    collection = fresh_collection(slug, f"Answers: {corpus.name}")  # an outdated one is deleted
    items = []
    for doc in jsonl(corpus):
        elements = [Element(kind="Title", text=doc["title"])] if doc.get("title") else []
        elements += [Element(kind="NarrativeText", text=p.strip()) for p in doc["text"].split("\n") if p.strip()]
        items.append((str(doc["_id"]), elements))
    for start in range(0, len(items), 16):
        documents_index_elements(collection=collection, items=items[start : start + 16])
        log(f"  indexed {min(start + 16, len(items))}/{len(items)} documents")
    return collection_build_signature_set(collection=collection, signature=signature)
