"""Answer quality of one LLM backend on a corpus with gold answers (and off-corpus questions).

    python manage.py evaluate_answers --corpus $DATA/covid-qa/corpus.jsonl \
        --questions $DATA/covid-qa/qa-dev.jsonl [--unanswerable bench/data/offcorpus-questions.jsonl] \
        [--backend extractive] [--limit N] [--unanswerable-limit N] [--json FILE] [--answers FILE.jsonl]
    python manage.py evaluate_answers --documents $DATA/docs \
        --questions bench/data/company-qa.jsonl --unanswerable bench/data/company-unanswerable.jsonl [-v 2]

With `-v 2`, each question's outcome and why (the answerability check's verdict: which constraint
was met by which sentence or row, or what the nearest one lacks) is printed before the report.

`--corpus` is a jsonl of texts (`_id`, `text`, optional `title`); `--documents` a folder of files,
each uploaded through the product's own check and parser (bench/documents.py). A question with a
`history` ([[question, answer], ...]) is asked as a follow-up in a conversation that holds it.

$DATA: where you downloaded the datasets (docs/benchmarks.md, "Running them", says from where).
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, CommandParser

from bench.answers import (
    answers_collection,
    best_f1,
    claim_support_counts,
    exact_match,
    first_claim,
    gold_in,
    jsonl,
    lead_sentence,
    raw_citation_checks,
    spurious_marker,
)
from bench.documents import DEFAULT_MAX_BYTES, documents_collection
from bench.retrieval_evaluation import percentile
from chat import llm
from chat.claims import claims, without_markers
from chat.models import Answer
from chat.selectors import answer_trace
from chat.services import answer_events, conversation_create
from config.commands import AppCommand


def _percentile(values: list[float], q: float) -> float:
    return round(percentile(values, q), 1)


def _answer_row(question: dict[str, Any], row: dict[str, Any], *, answerable: bool) -> dict[str, Any]:
    final, trace = row["final"], row["trace"]
    return {"question": question["question"], "answers": question.get("answers", []), "answerable": answerable,
            "answer": final["answer"], "raw_answer": trace.raw_answer, "backend": final["backend"],
            "abstained": final["abstained"], "fallback": trace.fallback, "tokens": trace.tokens,
            "ttft_ms": round(row["ttft"], 1), "total_ms": round(row["total"], 1)}


def claims_with_markers(raw: str) -> list[str]:
    """The sentences of a backend's own text that carry at least one [n]."""
    return [c.body for c in claims(raw) if c.markers]


class Command(AppCommand):
    help = "Evaluate answers on a corpus with gold answers (and off-corpus questions) for one backend."

    def add_arguments(self, parser: CommandParser) -> None:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--corpus", type=Path, help="jsonl with _id, text (and optional title)")
        source.add_argument("--documents", type=Path, help="a folder of documents (PDF, Word, spreadsheets, ...)")
        parser.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES,
                            help="--documents: skip files larger than this (default: %(default)s)")
        parser.add_argument("--questions", type=Path, required=True, help="jsonl with question, answers")
        parser.add_argument("--unanswerable", type=Path, help="jsonl with question (off-corpus)")
        parser.add_argument("--backend", choices=llm.BACKENDS)
        parser.add_argument("--json", type=Path)
        parser.add_argument("--limit", type=int, help="evaluate only the first N questions")
        parser.add_argument("--unanswerable-limit", type=int, help="ask only the first N off-corpus questions")
        parser.add_argument("--answers", type=Path, help="write each question's answer, raw text and timings (jsonl)")

    def handle(self, *args: Any, **options: Any) -> None:
        for key in ("corpus", "documents", "questions", "unanswerable"):
            if options[key] is not None and not options[key].exists():
                raise CommandError(f"{options[key]} does not exist")
        if options["documents"] is not None:
            collection = documents_collection(options["documents"], max_bytes=options["max_bytes"], log=self.stdout.write)
        else:
            collection = answers_collection(options["corpus"], log=self.stdout.write)
        user, _ = get_user_model().objects.get_or_create(username="footnote-evaluation", defaults={"is_active": False})
        questions = jsonl(options["questions"])[: options["limit"]]
        rows = [self._ask(user, collection, q["question"], options["backend"], q.get("history")) for q in questions]
        unanswerable = jsonl(options["unanswerable"])[: options["unanswerable_limit"]] if options["unanswerable"] else []
        off = [self._ask(user, collection, q["question"], options["backend"]) for q in unanswerable]
        if options["verbosity"] >= 2:
            self._explain(questions, rows, off, unanswerable)
        report = self._report(questions, rows, off, options["backend"] or llm.configured_backend_name())
        width = max(len(k) for k in report)
        for key, value in report.items():
            self.stdout.write(f"{key.ljust(width)}  {value}")
        if options["json"]:
            options["json"].write_text(json.dumps(report, indent=2))
        if options["answers"]:
            asked = [(q, r, True) for q, r in zip(questions, rows)] + [(q, r, False) for q, r in zip(unanswerable, off)]
            with options["answers"].open("w", encoding="utf-8") as out:
                for question, row, answerable in asked:
                    out.write(json.dumps(_answer_row(question, row, answerable=answerable), ensure_ascii=False) + "\n")

    def _ask(self, user: Any, collection: Any, question: str, backend: str | None,
             history: list[list[str]] | None = None) -> dict[str, Any]:
        conversation = conversation_create(owner=user, collection=collection)
        started = time.perf_counter()
        ttft = None
        final: dict[str, Any] = {}
        earlier = [(q, a) for q, a in history] if history else None
        for event, data in answer_events(conversation=conversation, question=question, backend=backend, history=earlier,
                                         cache=False):
            if event == "token" and ttft is None:
                ttft = (time.perf_counter() - started) * 1000
            if event == "done":
                final = data
        total = (time.perf_counter() - started) * 1000
        trace = answer_trace(Answer.objects.get(pk=final["answer_id"]))
        return {"final": final, "trace": trace, "ttft": ttft if ttft is not None else total, "total": total}

    def _explain(self, questions: list[dict[str, Any]], rows: list[dict[str, Any]], off: list[dict[str, Any]],
                 unanswerable: list[dict[str, Any]]) -> None:
        """Per question (-v 2): answered or abstained, and why: the answerability check's verdict
        (which constraint was met where, or what the nearest sentence or row lacks) or the gate's."""
        for label, asked, answers in (("answerable", questions, rows), ("unanswerable", unanswerable, off)):
            for question, row in zip(asked, answers):
                trace = row["trace"]
                why = (trace.answerability or {}).get("why") or trace.abstained_because or trace.relevance or ""
                outcome = "abstained" if row["final"]["abstained"] else "answered"
                self.stdout.write(f"{label} {question.get('id', '')} {outcome}: {question['question']}\n    {why}")

    def _report(self, questions: list[dict[str, Any]], rows: list[dict[str, Any]], off: list[dict[str, Any]], backend: str) -> dict[str, Any]:
        recall, answered, f1, em, lead, raw_valid, raw_total, post_valid, post_total = [], [], [], [], [], 0, 0, 0, 0
        in_answer, in_first, spurious, supported, claims_total = [], [], 0, 0, 0
        # The texts the backend itself wrote (no fallback; also those the checks then turned into an
        # abstention): how many carry a [n].
        own = [r for r in rows + off if r["final"]["backend"] == backend and r["trace"].raw_answer]
        for question, row in zip(questions, rows):
            golds = [g for g in question["answers"] if g]
            passages = [p.text for p in row["trace"].passages]
            recall.append(float(any(g.lower() in p.lower() for g in golds for p in passages)))
            answered.append(float(not row["final"]["abstained"]))
            text = without_markers(row["final"]["answer"])
            f1.append(best_f1(text, golds))
            in_answer.append(float(gold_in(row["final"]["answer"], golds)))
            in_first.append(float(gold_in(first_claim(row["final"]["answer"]), golds)))
            em.append(exact_match(text, golds))
            lead.append(best_f1(lead_sentence(passages[0]), golds) if passages else 0.0)
            valid, total = raw_citation_checks(row["trace"].raw_answer, passages)
            if not row["final"]["abstained"]:
                held, judged = claim_support_counts(row["trace"].raw_answer, passages)
                supported, claims_total = supported + held, claims_total + judged
            spurious += spurious_marker(row["final"]["answer"], row["final"]["citations"])
            raw_valid, raw_total = raw_valid + valid, raw_total + total
            for citation in row["final"]["citations"]:
                post_total += 1
                cited = citation.get("passage") or citation["n"]  # citations before claim-level ones: n was the passage
                post_valid += int(1 <= cited <= len(passages) and citation["quote"] in passages[cited - 1])
        mean = lambda values: round(statistics.fmean(values), 4) if values else 0.0  # noqa: E731
        ttfts = [r["ttft"] for r in rows + off]
        return {
            "backend": backend, "questions": len(rows), "unanswerable": len(off),
            "context_recall": mean(recall), "answer_rate": mean(answered), "f1": mean(f1), "exact_match": mean(em),
            "lead_f1": mean(lead), "gold_in_answer": mean(in_answer), "gold_in_first_sentence": mean(in_first),
            "claim_support": round(supported / claims_total, 4) if claims_total else None,
            "spurious_markers": spurious,
            "backend_answers": len(own),
            "markers_emitted": mean([float(bool(claims_with_markers(r["trace"].raw_answer))) for r in own]),
            "fallbacks": sum(1 for r in rows + off if r["trace"].fallback),
            "citation_validity_raw": round(raw_valid / raw_total, 4) if raw_total else None,
            "citation_validity": round(post_valid / post_total, 4) if post_total else None,
            "abstention_rate": mean([float(r["final"]["abstained"]) for r in off]) if off else None,
            "ttft_p50_ms": _percentile(ttfts, 50), "ttft_p95_ms": _percentile(ttfts, 95),
            "total_p95_ms": _percentile([r["total"] for r in rows + off], 95),
        }
