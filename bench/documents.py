"""A folder of real documents (PDF, Word, spreadsheets, e-mail, ...) as an evaluation collection.

Every file goes through the product's own upload check and parser (`check_upload`,
`parse_file`) and is indexed through the real chunk + embed + store path; files the product
refuses or cannot parse are skipped and counted, as an upload of them would fail. Each
document is named by its path relative to the folder, so a question set can name it.

Parsing the shipped folder takes many minutes on two cores, so the parsed elements are kept
under var/bench-parsed/ by the file's sha256 and a digest of the parser's source (a parser
change parses again); the collection is rebuilt only when its signature (the files, the
parser, the embedder and the chunk settings) changed.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Callable
from pathlib import Path

from bench.collections import fresh_collection, reused
from bench.retrieval_evaluation import build_signature
from config.embedded_db import var_dir_of
from ingestion import chunking, parsing, tables
from ingestion.checks import Rejected, check_upload
from ingestion.models import Collection
from ingestion.parsing import Element, ParseError, parse_file
from ingestion.services import collection_build_signature_set, documents_index_elements

DEFAULT_MAX_BYTES = 2_500_000  # skips the three books of the shipped folder (25 min of parsing)


def _parser_digest() -> str:
    sources = [Path(m.__file__ or "").read_bytes() for m in (parsing, tables, chunking)]
    return hashlib.sha256(b"".join(sources)).hexdigest()[:16]


def document_files(folder: Path, *, max_bytes: int) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.stat().st_size <= max_bytes)


def parsed_elements(path: Path, name: str, *, cache: Path, parser: str) -> list[Element] | str:
    """The file's elements as the product parses them, or the reason it is not indexed."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    cached = cache / f"{digest}-{parser}.pickle"
    if cached.exists():
        result: list[Element] | str = pickle.loads(cached.read_bytes())
        return result
    try:
        content_type = check_upload(path, name)
        result = parse_file(path, filename=name, content_type=content_type).elements
    except (Rejected, ParseError) as exc:
        result = str(exc)
    cache.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(pickle.dumps(result))
    return result


def documents_collection(folder: Path, *, max_bytes: int = DEFAULT_MAX_BYTES,
                         log: Callable[[str], None] = print) -> Collection:
    """The folder's own collection (kind evaluation), rebuilt only when its signature changed."""
    files = document_files(folder, max_bytes=max_bytes)
    parser = _parser_digest()
    listing = "\n".join(f"{p.relative_to(folder)}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files)
    signature = "|".join([build_signature(folder), f"parser={parser}", f"max_bytes={max_bytes}",
                          hashlib.sha256(listing.encode()).hexdigest()[:16]])
    slug = "docs-" + hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:12]
    existing = Collection.objects.filter(slug=slug).first()
    if existing is not None and existing.build_signature == signature:
        log(f"reusing collection {slug} ({existing.documents.count()} documents)")
        return reused(existing, log)
    collection = fresh_collection(slug, f"Documents: {folder.name}")
    cache = var_dir_of(os.environ) / "bench-parsed"
    indexed = skipped = 0
    for i, path in enumerate(files, start=1):
        name = str(path.relative_to(folder))
        elements = parsed_elements(path, name, cache=cache, parser=parser)
        if isinstance(elements, str):
            skipped += 1
            continue
        indexed += len(documents_index_elements(collection=collection, items=[(name, elements)]))
        if i % 20 == 0:
            log(f"  {i}/{len(files)} files: {indexed} indexed, {skipped} refused or unreadable")
    log(f"indexed {indexed} of {len(files)} files ({skipped} refused or unreadable, duplicates skipped)")
    return collection_build_signature_set(collection=collection, signature=signature)
