"""Check the company question sets against the documents as the product parses them.

    .venv/bin/python bench/check_question_sets.py [--docs ../shared/data/docs] \
        [--qa bench/data/company-qa.jsonl] [--unanswerable bench/data/company-unanswerable.jsonl] \
        [--max-bytes N]

Every document is put through the product's own upload check and parser (`check_upload`,
`parse_file`, `parsed_text_of`); parsed texts are cached under var/question-set-texts/ (a file
whose bytes change is parsed again). Answerable: the quote is in its document's parsed text
(whitespace-normalised, case-sensitive) and `also_in` lists exactly the other documents that hold
it; every answer and row value is in the quote (case-insensitive, as whole words/numbers); row
headers are in the document. Unanswerable: each `absent` regex matches no parsed document, each
`topic` regex matches the near document; the hits of both are printed for review. Exits 1 on
any failure."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Only the parser runs: no database is opened, but the settings want one named.
os.environ.setdefault("DATABASE_URL", "postgres://check@localhost/check")
os.environ.setdefault("SECRET_KEY", "check-question-sets")
django.setup()

from bench.documents import DEFAULT_MAX_BYTES  # noqa: E402  (needs django.setup())
from ingestion.checks import Rejected, check_upload  # noqa: E402
from ingestion.chunking import parsed_text_of  # noqa: E402
from ingestion.parsing import ParseError, parse_file  # noqa: E402

CACHE = ROOT / "var" / "question-set-texts"
UNREADABLE = "\x00unreadable\x00"  # cached for files the product refuses or cannot parse


@dataclass
class Report:
    checked: int = 0
    passed: int = 0
    first_check: int = 0  # answerable: quote found; unanswerable: no absent pattern hit
    second_check: int = 0  # answerable: every answer in its quote; unanswerable: topic in near doc
    failures: list[str] = field(default_factory=list)

    def add(self, label: str, first: list[str], second: list[str]) -> None:
        self.checked += 1
        self.first_check += not first
        self.second_check += not second
        if first or second:
            self.failures.append(f"{label}: {'; '.join(first + second)}")
        else:
            self.passed += 1


def normalised(text: str) -> str:
    # Spreadsheet headers carry literal "\\n" today (issue 12 will remove them): count as a space.
    return " ".join(text.replace("\\n", " ").split())


def contains_token(text: str, phrase: str) -> bool:
    """`phrase` in `text`, case-insensitive, not inside a longer word or number ("2" is not in "2023")."""
    pattern = rf"(?<![0-9A-Za-z]){re.escape(normalised(phrase))}(?![0-9A-Za-z])"
    return re.search(pattern, normalised(text), re.IGNORECASE) is not None


def parsed_text(path: Path, docs: Path) -> str | None:
    """The parsed text of `path` as the product indexes it, or None when it refuses the file."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    cached = CACHE / f"{path.relative_to(docs).as_posix().replace('/', '__')}.{digest}.txt"
    if cached.exists():
        text = cached.read_text(encoding="utf-8")
        return None if text == UNREADABLE else text
    try:
        content_type = check_upload(path, path.name)
        text, _ = parsed_text_of(parse_file(path, filename=path.name, content_type=content_type).elements)
    except (Rejected, ParseError) as exc:
        print(f"  unreadable: {path.relative_to(docs)}: {str(exc)[:100]}", file=sys.stderr)
        text = UNREADABLE
    CACHE.mkdir(parents=True, exist_ok=True)
    cached.write_text(text, encoding="utf-8")
    return None if text == UNREADABLE else text


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def check_answerable(item: dict, text: str | None, texts: dict[str, str]) -> tuple[list[str], list[str]]:
    """(quote problems, answer/row problems) of one answerable question; `texts` are normalised."""
    if text is None:
        return ["document unreadable by the product"], []
    quote, body = normalised(item["quote"]), normalised(text)
    missing = [] if quote in body else ["quote not in parsed text"]
    elsewhere = {name for name, other in texts.items() if name != item["document"] and quote in other}
    if elsewhere != set(item.get("also_in", [])) & texts.keys():
        missing.append(f"also_in should be {sorted(elsewhere)}")
    problems: list[str] = []
    for answer in item["answers"]:
        if not contains_token(quote, answer):
            problems.append(f"answer {answer!r} not in quote")
    for header, value in (item.get("row") or {}).items():
        if not contains_token(quote, value):
            problems.append(f"row value {value!r} not in quote")
        if normalised(header) not in body:
            problems.append(f"column header {header!r} not in parsed text")
    if item["kind"] == "followup" and not item.get("history"):
        problems.append("follow-up without history")
    return missing, problems


def regex_hits(pattern: str, texts: dict[str, str]) -> list[str]:
    compiled = re.compile(pattern, re.IGNORECASE | re.DOTALL)
    return [name for name, text in texts.items() if compiled.search(text)]


def check_unanswerable(item: dict, texts: dict[str, str]) -> tuple[list[str], list[str]]:
    """(absent patterns that hit some document, topic patterns missing from the near document)."""
    if item["near_document"] not in texts:
        return [], ["near document unreadable by the product or not parsed"]
    found: list[str] = []
    for pattern in item["absent"]:
        hits = regex_hits(pattern, texts)
        print(f"  {item['id']} absent {pattern!r}: {len(hits)} hits {hits[:5]}")
        if hits:
            found.append(f"absent pattern {pattern!r} found in {hits[:3]}")
    off_topic: list[str] = []
    for pattern in item["topic"]:
        hits = regex_hits(pattern, texts)
        print(f"  {item['id']} topic  {pattern!r}: {len(hits)} hits {hits[:5]}")
        if item["near_document"] not in hits:
            off_topic.append(f"topic pattern {pattern!r} not in near document")
    return found, off_topic


def all_texts(docs: Path, max_bytes: int) -> tuple[dict[str, str], list[str]]:
    """Normalised parsed texts of every document up to `max_bytes` (bigger ones: skipped)."""
    texts: dict[str, str] = {}
    skipped: list[str] = []
    for path in sorted((p for p in docs.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size):
        name = path.relative_to(docs).as_posix()
        if path.stat().st_size > max_bytes:
            skipped.append(name)
            continue
        text = parsed_text(path, docs)
        if text is not None:
            texts[name] = normalised(text)
    return texts, skipped


def run(path: Path, check: Callable[[dict], tuple[list[str], list[str]]], document_key: str) -> Report:
    report = Report()
    for item in read_jsonl(path):
        report.add(f"{item['id']} ({item[document_key]})", *check(item))
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=Path, default=ROOT.parent / "shared" / "data" / "docs")
    parser.add_argument("--qa", type=Path, default=ROOT / "bench" / "data" / "company-qa.jsonl")
    parser.add_argument("--unanswerable", type=Path, default=ROOT / "bench" / "data" / "company-unanswerable.jsonl")
    parser.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES,
                        help="documents bigger than this are not searched, as evaluate_answers --documents "
                             "does not index them (default: %(default)s; reported as skipped)")
    args = parser.parse_args()
    docs = args.docs.resolve()
    texts, skipped = all_texts(docs, args.max_bytes)
    print(f"searching {len(texts)} parsed documents (the product refuses the others); "
          f"skipped as bigger than --max-bytes: {skipped or 'none'}")
    answerable = run(args.qa, lambda item: check_answerable(
        item, parsed_text(docs / item["document"], docs), texts), "document")
    unanswerable = run(args.unanswerable, lambda item: check_unanswerable(item, texts), "near_document")
    print(f"\n{'set':<22}{'questions':>10}{'quote found':>13}{'answers in quote':>18}{'passed':>8}")
    print(f"{'company-qa':<22}{answerable.checked:>10}{answerable.first_check:>13}"
          f"{answerable.second_check:>18}{answerable.passed:>8}")
    print(f"\n{'set':<22}{'questions':>10}{'no doc answers':>16}{'near doc on topic':>19}{'passed':>8}")
    print(f"{'company-unanswerable':<22}{unanswerable.checked:>10}{unanswerable.first_check:>16}"
          f"{unanswerable.second_check:>19}{unanswerable.passed:>8}")
    for failure in answerable.failures + unanswerable.failures:
        print(f"FAIL {failure}")
    return 1 if answerable.failures or unanswerable.failures else 0


if __name__ == "__main__":
    sys.exit(main())
