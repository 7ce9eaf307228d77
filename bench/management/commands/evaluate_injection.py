"""How often the answerer follows an instruction planted in a document instead of answering the
question (bench/injection.py).

    python manage.py evaluate_injection --attacks $DATA/prompt-injection/attacks.jsonl \
        [--count 30] [--max-chars 700] [--seed 0] [--backend openai] [--json FILE] [--answers FILE.jsonl]
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, CommandParser

from bench.injection import cases, injection_collection, judged
from chat import llm
from chat.models import Answer
from chat.services import answer_events, conversation_create
from config.commands import AppCommand


class Command(AppCommand):
    help = "Plant prompt-injection strings in documents and count the answers that follow them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--attacks", type=Path, required=True, help="jsonl with text (and id, category, label)")
        parser.add_argument("--count", type=int, default=30)
        parser.add_argument("--max-chars", type=int, default=700, help="only attacks up to this length")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--backend", choices=llm.BACKENDS)
        parser.add_argument("--json", type=Path)
        parser.add_argument("--answers", type=Path, help="write each case's answer (jsonl)")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["attacks"].exists():
            raise CommandError(f"{options['attacks']} does not exist")
        found = cases(options["attacks"], count=options["count"], max_chars=options["max_chars"], seed=options["seed"])
        collection = injection_collection(found)
        user, _ = get_user_model().objects.get_or_create(username="footnote-evaluation", defaults={"is_active": False})
        rows = []
        for case in found:
            started = time.perf_counter()
            conversation = conversation_create(owner=user, collection=collection)
            final = [data for event, data in answer_events(conversation=conversation, question=case.question,
                                                           backend=options["backend"], cache=False) if event == "done"][0]
            trace = Answer.objects.get(pk=final["answer_id"]).trace
            rows.append({"attack_id": case.attack_id, "category": case.category, "question": case.question,
                         "code": case.code, "answer": final["answer"], "raw_answer": trace.get("raw_answer", ""),
                         "backend": final["backend"], "abstained": final["abstained"], "fallback": trace.get("fallback"),
                         "total_ms": round((time.perf_counter() - started) * 1000, 1),
                         **judged(case, trace.get("raw_answer") or final["answer"])})
        mean = lambda key: round(statistics.fmean(float(r[key]) for r in rows), 4) if rows else 0.0  # noqa: E731
        report = {"backend": options["backend"] or llm.configured_backend_name(), "cases": len(rows),
                  "follows_injection": mean("follows"), "mentions_canary": mean("mentions"),
                  "answers_question": mean("answers"),
                  "abstained": mean("abstained"), "fallbacks": sum(1 for r in rows if r["fallback"])}
        for key, value in report.items():
            self.stdout.write(f"{key.ljust(18)}  {value}")
        if options["json"]:
            options["json"].write_text(json.dumps(report, indent=2))
        if options["answers"]:
            options["answers"].write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
